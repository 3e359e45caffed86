//! Keeping access tokens fresh: a background task refreshes accounts before their tokens
//! expire, and every use of a token refreshes it first when needed. One refresh per account at
//! a time; a rotated refresh token is saved in the same statement as the new access token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{RefreshToken, RequestTokenError, TokenResponse};

use super::{
    db::now,
    oauth::{describe_token_error, load_server, Outcome, ProviderClient, AAD_ACCESS, AAD_REFRESH},
    AppState,
};

/// Refresh settings (`MAILBRIDGE_REFRESH_*`).
#[derive(Debug, Clone)]
pub struct RefreshSettings {
    pub before_secs: i64,
    pub interval_secs: u64,
    pub concurrency: usize,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            before_secs: 300,
            interval_secs: 60,
            concurrency: 8,
        }
    }
}

/// Per-account locks, and a count of refresh requests sent (for tests and metrics).
#[derive(Default)]
pub struct Refresher {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    pub calls: AtomicU64,
}

impl Refresher {
    fn lock_for(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(account_id).or_default().clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the account is not linked (status {0}); authorize it again")]
    NotLinked(String),
    #[error("the provider refused the refresh token: {0}")]
    Refused(String),
    #[error("refreshing failed, will retry: {0}")]
    Transient(String),
    #[error("{0}")]
    Other(String),
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    mail_server_id: i64,
    status: String,
    access_token_enc: Option<Vec<u8>>,
    refresh_token_enc: Option<Vec<u8>>,
    access_expires_at: Option<i64>,
    refresh_failures: i64,
}

async fn read_tokens(state: &AppState, id: i64) -> Result<TokenRow, RefreshError> {
    sqlx::query_as(
        "SELECT mail_server_id, status, access_token_enc, refresh_token_enc, access_expires_at, refresh_failures
         FROM mail_accounts WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| RefreshError::Other(format!("database: {e}")))?
    .ok_or_else(|| RefreshError::Other("the mail account no longer exists".into()))
}

/// A usable access token for `account_id`, refreshed first if it expires within `margin_secs`.
pub async fn ensure_fresh(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
) -> Result<String, RefreshError> {
    let row = read_tokens(state, account_id).await?;
    if row.access_expires_at.unwrap_or(0) > now() + margin_secs && row.status == "linked" {
        if let Some(blob) = &row.access_token_enc {
            return state
                .secrets
                .open_str(blob, AAD_ACCESS)
                .map_err(|_| RefreshError::Other("a stored token could not be decrypted".into()));
        }
    }
    refresh(state, account_id, margin_secs, false).await?;
    let row = read_tokens(state, account_id).await?;
    let blob = row
        .access_token_enc
        .ok_or_else(|| RefreshError::NotLinked(row.status.clone()))?;
    state
        .secrets
        .open_str(&blob, AAD_ACCESS)
        .map_err(|_| RefreshError::Other("a stored token could not be decrypted".into()))
}

/// OAuth clients by mail server, built once per refresh pass: a pass over thousands of accounts
/// on a few servers would otherwise read and decrypt the same server row for every account. A
/// server edited during a pass is picked up by the next one.
#[derive(Default)]
struct ClientCache {
    clients: tokio::sync::Mutex<HashMap<i64, Arc<ProviderClient>>>,
}

impl ClientCache {
    async fn get(
        &self,
        state: &AppState,
        server_id: i64,
    ) -> Result<Arc<ProviderClient>, RefreshError> {
        let mut map = self.clients.lock().await;
        if let Some(c) = map.get(&server_id) {
            return Ok(c.clone());
        }
        let client = Arc::new(build_client(state, server_id).await?);
        map.insert(server_id, client.clone());
        Ok(client)
    }
}

async fn build_client(state: &AppState, server_id: i64) -> Result<ProviderClient, RefreshError> {
    load_server(state, server_id)
        .await
        .map_err(|e| RefreshError::Other(e.to_string()))?
        .client()
        .map_err(RefreshError::Other)
}

/// Refreshes `account_id` unless (once its lock is held) the token is already good for more
/// than `margin_secs`, or `force` is set.
pub async fn refresh(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
    force: bool,
) -> Result<(), RefreshError> {
    refresh_using(state, account_id, margin_secs, force, None).await
}

async fn refresh_using(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
    force: bool,
    clients: Option<&ClientCache>,
) -> Result<(), RefreshError> {
    let lock = state.refresher.lock_for(account_id);
    let _guard = lock.lock().await;
    // Whoever held the lock before may have refreshed already.
    let row = read_tokens(state, account_id).await?;
    if !force && row.status == "linked" && row.access_expires_at.unwrap_or(0) > now() + margin_secs
    {
        return Ok(());
    }
    if !matches!(row.status.as_str(), "linked" | "error") {
        return Err(RefreshError::NotLinked(row.status));
    }
    let Some(refresh_blob) = row.refresh_token_enc else {
        return Err(RefreshError::NotLinked(row.status));
    };
    let refresh_token = state
        .secrets
        .open_str(&refresh_blob, AAD_REFRESH)
        .map_err(|_| RefreshError::Other("a stored token could not be decrypted".into()))?;
    let client = match clients {
        Some(cache) => cache.get(state, row.mail_server_id).await?,
        None => Arc::new(build_client(state, row.mail_server_id).await?),
    };

    state.refresher.calls.fetch_add(1, Ordering::Relaxed);
    let result = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token))
        .request_async(&state.http)
        .await;
    let t = now();
    match result {
        Ok(token) => {
            let expires_at = t + token
                .expires_in()
                .map(|d| d.as_secs() as i64)
                .unwrap_or(3600);
            // The access token and a rotated refresh token land together or not at all.
            let new_refresh = token
                .refresh_token()
                .map(|r| state.secrets.seal_str(r.secret(), AAD_REFRESH));
            sqlx::query(
                "UPDATE mail_accounts SET access_token_enc = ?1,
                    refresh_token_enc = COALESCE(?2, refresh_token_enc), access_expires_at = ?3,
                    status = 'linked', last_error = NULL, last_refresh_at = ?4, refresh_failures = 0,
                    next_retry_at = NULL, updated_at = ?4
                 WHERE id = ?5",
            )
            .bind(state.secrets.seal_str(token.access_token().secret(), AAD_ACCESS))
            .bind(new_refresh)
            .bind(expires_at)
            .bind(t)
            .bind(account_id)
            .execute(&state.pool)
            .await
            .map_err(|e| RefreshError::Other(format!("saving refreshed tokens: {e}")))?;
            tracing::debug!(
                account_id,
                rotated = token.refresh_token().is_some(),
                "access token refreshed"
            );
            Ok(())
        }
        Err(RequestTokenError::ServerResponse(r)) if r.error().to_string() == "invalid_grant" => {
            let desc = r
                .error_description()
                .cloned()
                .unwrap_or_else(|| "invalid_grant".into());
            let message = format!(
                "The provider refused the refresh token (invalid_grant: {}). Authorize again.",
                desc.chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect::<String>()
            );
            sqlx::query("UPDATE mail_accounts SET status = 'needs_reauth', last_error = ?1, updated_at = ?2 WHERE id = ?3")
                .bind(&message)
                .bind(t)
                .bind(account_id)
                .execute(&state.pool)
                .await
                .map_err(|e| RefreshError::Other(format!("saving a refresh failure: {e}")))?;
            tracing::warn!(
                account_id,
                "refresh refused by the provider; the account needs re-authorisation"
            );
            Err(RefreshError::Refused(desc))
        }
        Err(e) => {
            let (outcome, message) = describe_token_error(&e);
            let failures = row.refresh_failures + 1;
            // 30 s, 1 min, 2 min ... capped at one hour.
            let backoff = (30i64 << (failures - 1).clamp(0, 7)).min(3600);
            let kind = if outcome == Outcome::ProviderUnreachable {
                "network"
            } else {
                "provider"
            };
            sqlx::query(
                "UPDATE mail_accounts SET status = 'error', last_error = ?1, refresh_failures = ?2, next_retry_at = ?3,
                    updated_at = ?4 WHERE id = ?5",
            )
            .bind(format!("Refreshing failed ({kind}): {message}"))
            .bind(failures)
            .bind(t + backoff)
            .bind(t)
            .bind(account_id)
            .execute(&state.pool)
            .await
            .map_err(|e| RefreshError::Other(format!("saving a refresh failure: {e}")))?;
            tracing::warn!(account_id, failures, "refresh failed; will retry");
            Err(RefreshError::Transient(message))
        }
    }
}

/// Accounts due for a refresh: linked ones expiring soon, and failed ones whose retry is due.
pub async fn due_accounts(state: &AppState, before_secs: i64) -> Result<Vec<i64>, sqlx::Error> {
    let t = now();
    sqlx::query_scalar(
        "SELECT id FROM mail_accounts
         WHERE refresh_token_enc IS NOT NULL AND (
            (status = 'linked' AND (access_expires_at IS NULL OR access_expires_at <= ?1))
            OR (status = 'error' AND (next_retry_at IS NULL OR next_retry_at <= ?2)))
         ORDER BY access_expires_at",
    )
    .bind(t + before_secs)
    .bind(t)
    .fetch_all(&state.pool)
    .await
}

/// One pass: refreshes every due account, at most `concurrency` at once, so one slow or failing
/// account does not hold up the others. Returns how many were started. Once `stop` turns true
/// no new refresh starts, but the ones already sent finish and save: with a rotating provider an
/// answer dropped on the floor is a lost grant.
async fn run_pass(
    state: &AppState,
    settings: &RefreshSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> usize {
    let due = match due_accounts(state, settings.before_secs).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "listing accounts to refresh");
            return 0;
        }
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0;
    let mut tally = Tally::default();
    let clients = Arc::new(ClientCache::default());
    for id in due {
        let permit = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            p = sem.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let state = state.clone();
        let before = settings.before_secs;
        let clients = clients.clone();
        started += 1;
        tasks.spawn(async move {
            let _permit = permit;
            refresh_using(&state, id, before, false, Some(&clients)).await
        });
        // Finished ones are counted as we go, so a long pass does not hold them all.
        while let Some(done) = tasks.try_join_next() {
            tally.count(done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally.count(done);
    }
    if started > 0 {
        // One line per pass: with thousands of mailboxes a line per refresh would drown the log.
        tracing::info!(
            due = started,
            refreshed = tally.refreshed,
            needs_reauth = tally.refused,
            failed = tally.failed,
            "refresh pass done"
        );
    }
    started
}

/// Outcomes of one refresh pass.
#[derive(Default)]
struct Tally {
    refreshed: usize,
    refused: usize,
    failed: usize,
}

impl Tally {
    fn count(&mut self, done: Result<Result<(), RefreshError>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(())) => self.refreshed += 1,
            Ok(Err(RefreshError::Refused(_) | RefreshError::NotLinked(_))) => self.refused += 1,
            Ok(Err(_)) | Err(_) => self.failed += 1,
        }
    }
}

/// The background task: a pass every `interval_secs` until [`Worker::stop`] — or until the
/// `Worker` is dropped, which also lets the refreshes already sent finish but does not wait.
#[must_use = "dropping the Worker stops the refresh task"]
pub struct Worker {
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    handle: tokio::task::JoinHandle<()>,
}

/// Tells a [`Worker`] to start no more refreshes, from wherever the shutdown is noticed.
#[derive(Clone)]
pub struct StopSignal(Arc<tokio::sync::watch::Sender<bool>>);

impl StopSignal {
    pub fn send(&self) {
        let _ = self.0.send(true);
    }
}

impl Worker {
    pub fn stop_signal(&self) -> StopSignal {
        StopSignal(self.stop.clone())
    }

    /// Asks the task to stop and waits for the refreshes already sent to be saved.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

pub fn spawn(state: AppState, settings: RefreshSettings) -> Worker {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let pass_stop = rx.clone();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.interval_secs.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = rx.wait_for(|s| *s) => return,
                _ = tick.tick() => {}
            }
            run_pass(&state, &settings, pass_stop.clone()).await;
        }
    });
    Worker {
        stop: Arc::new(tx),
        handle,
    }
}
