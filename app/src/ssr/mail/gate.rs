//! How often and how many connection tests run: one at a time per account and protocol (a
//! second click joins the running one) and a bound on tests running at once
//! (`MAILBRIDGE_MAIL_TEST_CONCURRENCY`) in this instance; and, counted in the database so that
//! every instance applies them together, a per-user rate (`MAILBRIDGE_MAIL_TEST_PER_MINUTE`), at
//! most one forced token refresh per account a minute, and — since a password account's test
//! is a login at the mail server with a password the user typed — failed password logins
//! counted per user like the sign-in page counts them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::domain::{Protocol, ProtocolResult};
use crate::error::AppError;
use crate::ssr::db::rate_events;
use crate::ssr::db::Pool;

pub type Running = Shared<BoxFuture<'static, Result<ProtocolResult, AppError>>>;

/// A forced refresh of an account is not repeated within this many seconds.
pub const FORCED_REFRESH_EVERY_SECS: i64 = 60;

/// The limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct GateLimits {
    pub concurrency: usize,
    pub per_minute: usize,
    /// Failed password logins a user may cause per window (the sign-in page's per-address limit).
    pub password_failures: usize,
    pub password_window_secs: i64,
}

impl Default for GateLimits {
    fn default() -> Self {
        GateLimits {
            concurrency: 8,
            per_minute: 20,
            password_failures: 5,
            password_window_secs: 15 * 60,
        }
    }
}

pub struct TestGate {
    pub limits: GateLimits,
    overall: Arc<tokio::sync::Semaphore>,
    running: Arc<Mutex<HashMap<(i64, Protocol), Running>>>,
}

impl Default for TestGate {
    fn default() -> Self {
        TestGate::new(GateLimits::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the counts in `rate_events` are of.
mod kind {
    pub const TEST: &str = "mail_test";
    pub const PASSWORD_ATTEMPT: &str = "mail_test_password_attempt";
    pub const FORCED_REFRESH: &str = "forced_refresh";
}

impl TestGate {
    pub fn new(limits: GateLimits) -> Self {
        TestGate {
            limits,
            overall: Arc::new(tokio::sync::Semaphore::new(limits.concurrency.max(1))),
            running: Arc::default(),
        }
    }

    /// Counts a test started by `user`, or refuses it when they started too many this minute
    /// or caused too many failed password logins. The counts are in the database, so every
    /// instance sharing it applies the same limits.
    pub async fn admit(
        &self,
        pool: &Pool,
        user: i64,
        now: i64,
        password: bool,
    ) -> Result<(), AppError> {
        let per_minute = self.limits.per_minute as i64;
        if !rate_events::record_within(pool, kind::TEST, user, now, now - 60, per_minute).await? {
            let (_, first) = rate_events::count_since(pool, kind::TEST, user, now - 60).await?;
            let retry = first.map(|t| t + 60 - now).unwrap_or(60).max(1);
            return Err(too_many(
                &format!(
                    "Too many connection tests: at most {per_minute} a minute. Try again in {retry} s."
                ),
                retry,
            ));
        }
        // Counted before the login is tried, like a sign-in, and given back when it was not a
        // refused password: 20 tests started at once cannot be 20 guesses.
        if password {
            let window = self.limits.password_window_secs;
            let limit = self.limits.password_failures as i64;
            let attempt = kind::PASSWORD_ATTEMPT;
            if !rate_events::record_within(pool, attempt, user, now, now - window, limit).await? {
                // This test does not run: it does not count against the minute either.
                rate_events::give_back(pool, kind::TEST, user).await?;
                let (_, first) =
                    rate_events::count_since(pool, attempt, user, now - window).await?;
                return Err(too_many(
                    "Too many failed password logins from your tests; wait before testing a password mailbox again.",
                    first.map(|t| t + window - now).unwrap_or(60),
                ));
            }
        }
        Ok(())
    }

    /// Gives back the password attempt `admit` counted: the mail server did not refuse the
    /// password.
    pub async fn password_not_refused(&self, pool: &Pool, user: i64) -> Result<(), AppError> {
        Ok(rate_events::give_back(pool, kind::PASSWORD_ATTEMPT, user).await?)
    }

    /// Whether account `id` may have its token refreshed by force now; if so, that counts.
    pub async fn may_force_refresh(
        &self,
        pool: &Pool,
        id: i64,
        now: i64,
    ) -> Result<bool, AppError> {
        let since = now - FORCED_REFRESH_EVERY_SECS;
        Ok(rate_events::record_within(pool, kind::FORCED_REFRESH, id, now, since, 1).await?)
    }

    /// Drops the counts no window needs any more.
    pub async fn forget_before(&self, pool: &Pool, now: i64) -> Result<u64, AppError> {
        let window = self
            .limits
            .password_window_secs
            .max(60)
            .max(FORCED_REFRESH_EVERY_SECS);
        Ok(rate_events::delete_before(pool, now - window).await?)
    }

    /// Starts `test` for `(account, protocol)` — or joins the run already going — within the
    /// overall bound; the answer is the returned future's.
    pub fn start(
        &self,
        account: i64,
        protocol: Protocol,
        test: BoxFuture<'static, Result<ProtocolResult, AppError>>,
    ) -> Running {
        let key = (account, protocol);
        let shared = {
            let mut running = lock(&self.running);
            match running.get(&key) {
                Some(r) => r.clone(),
                None => {
                    // A task of its own: it finishes (and frees its slot) even when every
                    // caller has gone away, and takes itself off the list when done.
                    let overall = self.overall.clone();
                    let list = self.running.clone();
                    let task = tokio::spawn(async move {
                        // Off the list however the task ends, a panic included.
                        let _off = OffTheList { list, key };
                        match overall.acquire_owned().await {
                            Ok(_permit) => test.await,
                            Err(_) => Err(AppError::Internal),
                        }
                    });
                    let r = async move { task.await.unwrap_or(Err(AppError::Internal)) }
                        .boxed()
                        .shared();
                    running.insert(key, r.clone());
                    r
                }
            }
        };
        shared
    }
}

/// Takes a finished run off the list when dropped.
struct OffTheList {
    list: Arc<Mutex<HashMap<(i64, Protocol), Running>>>,
    key: (i64, Protocol),
}

impl Drop for OffTheList {
    fn drop(&mut self) {
        lock(&self.list).remove(&self.key);
    }
}

fn too_many(message: &str, retry_after_secs: i64) -> AppError {
    AppError::RateLimited {
        message: message.to_string(),
        retry_after_secs: retry_after_secs.max(1) as u64,
    }
}
