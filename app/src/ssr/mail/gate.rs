//! How often and how many connection tests run: one at a time per account and protocol (a
//! second click joins the running one), a bound on tests running at once
//! (`MAILBRIDGE_MAIL_TEST_CONCURRENCY`), a per-user rate (`MAILBRIDGE_MAIL_TEST_PER_MINUTE`), at
//! most one forced token refresh per account a minute, and — since a password account's test
//! is a login at the mail server with a password the user typed — failed password logins
//! counted per user like the sign-in page counts them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::domain::{Protocol, ProtocolResult};
use crate::error::AppError;

type Running = Shared<BoxFuture<'static, Result<ProtocolResult, AppError>>>;

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
    running: Mutex<HashMap<(i64, Protocol), Running>>,
    started: Mutex<HashMap<i64, VecDeque<i64>>>,
    password_failed: Mutex<HashMap<i64, VecDeque<i64>>>,
    forced: Mutex<HashMap<i64, i64>>,
}

impl Default for TestGate {
    fn default() -> Self {
        TestGate::new(GateLimits::default())
    }
}

/// Keeps the times of the last `window_secs` in `times` and says when the oldest leaves it.
fn within(times: &mut VecDeque<i64>, now: i64, window_secs: i64) {
    while times.front().is_some_and(|t| *t <= now - window_secs) {
        times.pop_front();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TestGate {
    pub fn new(limits: GateLimits) -> Self {
        TestGate {
            limits,
            overall: Arc::new(tokio::sync::Semaphore::new(limits.concurrency.max(1))),
            running: Mutex::default(),
            started: Mutex::default(),
            password_failed: Mutex::default(),
            forced: Mutex::default(),
        }
    }

    /// Counts a test started by `user`, or refuses it when they started too many this minute
    /// or caused too many failed password logins.
    pub fn admit(&self, user: i64, now: i64, password: bool) -> Result<(), AppError> {
        if password {
            let mut failed = lock(&self.password_failed);
            let times = failed.entry(user).or_default();
            within(times, now, self.limits.password_window_secs);
            if times.len() >= self.limits.password_failures {
                let retry = times
                    .front()
                    .map(|t| t + self.limits.password_window_secs - now);
                return Err(too_many(
                    "Too many failed password logins from your tests; wait before testing a password mailbox again.",
                    retry.unwrap_or(60),
                ));
            }
        }
        let mut started = lock(&self.started);
        let times = started.entry(user).or_default();
        within(times, now, 60);
        if times.len() >= self.limits.per_minute {
            let retry = times.front().map(|t| t + 60 - now).unwrap_or(60);
            return Err(too_many(
                &format!(
                    "Too many connection tests: at most {} a minute. Try again in {retry} s.",
                    self.limits.per_minute
                ),
                retry,
            ));
        }
        times.push_back(now);
        Ok(())
    }

    /// Records a password login the mail server refused, for `user`.
    pub fn password_refused(&self, user: i64, now: i64) {
        lock(&self.password_failed)
            .entry(user)
            .or_default()
            .push_back(now);
    }

    /// Whether account `id` may have its token refreshed by force now; if so, that counts.
    pub fn may_force_refresh(&self, id: i64, now: i64) -> bool {
        let mut forced = lock(&self.forced);
        match forced.get(&id) {
            Some(t) if *t > now - FORCED_REFRESH_EVERY_SECS => false,
            _ => {
                forced.insert(id, now);
                true
            }
        }
    }

    /// Drops the counts no window needs any more, so the maps do not grow with every user and
    /// account ever tested.
    pub fn forget_before(&self, now: i64) {
        let window = self.limits.password_window_secs.max(60);
        for map in [&self.started, &self.password_failed] {
            lock(map).retain(|_, times| {
                within(times, now, window);
                !times.is_empty()
            });
        }
        lock(&self.forced).retain(|_, t| *t > now - FORCED_REFRESH_EVERY_SECS);
    }

    /// Runs `test` for `(account, protocol)`, or joins the run already going, within the
    /// overall bound.
    pub async fn run(
        &self,
        account: i64,
        protocol: Protocol,
        test: BoxFuture<'static, Result<ProtocolResult, AppError>>,
    ) -> Result<ProtocolResult, AppError> {
        let key = (account, protocol);
        let shared = {
            let mut running = lock(&self.running);
            match running.get(&key) {
                Some(r) => r.clone(),
                None => {
                    let overall = self.overall.clone();
                    let r = async move {
                        let _permit = overall
                            .acquire_owned()
                            .await
                            .map_err(|_| AppError::Internal)?;
                        test.await
                    }
                    .boxed()
                    .shared();
                    running.insert(key, r.clone());
                    r
                }
            }
        };
        let result = shared.clone().await;
        // The first to finish removes the entry (only if it is still this run's).
        let mut running = lock(&self.running);
        if running.get(&key).is_some_and(|r| r.ptr_eq(&shared)) {
            running.remove(&key);
        }
        result
    }
}

fn too_many(message: &str, retry_after_secs: i64) -> AppError {
    AppError::RateLimited {
        message: message.to_string(),
        retry_after_secs: retry_after_secs.max(1) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_per_minute_tests_and_password_failures_are_capped() {
        let g = TestGate::new(GateLimits {
            per_minute: 3,
            password_failures: 2,
            ..GateLimits::default()
        });
        for _ in 0..3 {
            g.admit(1, 1000, false).unwrap();
        }
        assert!(matches!(
            g.admit(1, 1030, false),
            Err(AppError::RateLimited {
                retry_after_secs: 30,
                ..
            })
        ));
        g.admit(2, 1030, false).unwrap();
        g.admit(1, 1060, false).unwrap();
        g.password_refused(3, 1000);
        g.password_refused(3, 1001);
        assert!(g.admit(3, 1002, true).is_err());
        assert!(
            g.admit(3, 1002, false).is_ok(),
            "OAuth tests are not password guesses"
        );
        assert!(g.admit(3, 1000 + 15 * 60 + 1, true).is_ok());
        g.forget_before(1000 + 2 * 15 * 60 + 10);
        assert!(lock(&g.started).is_empty() && lock(&g.password_failed).is_empty());
    }

    #[test]
    fn a_forced_refresh_is_allowed_once_a_minute() {
        let g = TestGate::default();
        assert!(g.may_force_refresh(7, 100));
        assert!(!g.may_force_refresh(7, 159));
        assert!(g.may_force_refresh(8, 159));
        assert!(g.may_force_refresh(7, 160));
    }
}
