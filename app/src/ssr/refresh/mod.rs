//! Keeping access tokens fresh: a background task refreshes accounts before their tokens
//! expire, and every use of a token refreshes it first when needed. One refresh per account at
//! a time; a rotated refresh token is saved in the same statement as the new access token.

mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use oauth2::{RefreshToken, RequestTokenError, TokenResponse};
use tracing::instrument;

pub use worker::{run_pass, spawn, StopSignal, Worker};

use super::crypto::aad;
use super::db::{self, mail_accounts::MailAccountRow};
use super::metrics::RefreshOutcome;
use super::oauth::client::{self, describe_token_error, ProviderClient, ServerOAuth};
use super::oauth::Outcome;
use super::webhooks::Change;
use super::{provider_text, AppState};
use crate::domain::{AccountStatus, EventKind};

/// Refresh settings (`MAILBRIDGE_REFRESH_*`).
#[derive(Debug, Clone)]
pub struct RefreshSettings {
    pub before_secs: i64,
    pub interval_secs: u64,
    pub concurrency: usize,
    /// How long an instance holds an account's refresh lease at most
    /// (`MAILBRIDGE_REFRESH_LEASE_SECS`): past it, a holder that died is taken over from.
    pub lease_secs: i64,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            before_secs: 300,
            interval_secs: 60,
            concurrency: 8,
            lease_secs: 60,
        }
    }
}

/// Per-account locks (the fast path within one instance), this instance's name for the
/// database leases (across instances), and a count of refresh requests sent (for tests and
/// metrics).
pub struct Refresher {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    pub instance: String,
    pub calls: AtomicU64,
}

impl Default for Refresher {
    fn default() -> Self {
        Refresher {
            locks: Mutex::default(),
            instance: super::sessions::random_token(),
            calls: AtomicU64::new(0),
        }
    }
}

impl Refresher {
    fn lock_for(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(account_id).or_default().clone()
    }

    /// Holds account `account_id`'s lock: no refresh of it runs until the guard is dropped.
    /// Unlinking, deleting and storing a new grant take it too.
    pub async fn hold(&self, account_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        self.lock_for(account_id).lock_owned().await
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the account is not linked (status {}); authorize it again", .0.code())]
    NotLinked(AccountStatus),
    #[error("the provider refused the refresh token: {0}")]
    Refused(String),
    #[error("refreshing failed, will retry: {0}")]
    Transient(String),
    #[error("the account was unlinked or authorised again while refreshing; the new tokens were revoked")]
    Superseded,
    #[error("a stored token could not be decrypted; authorize the mailbox again")]
    Undecryptable,
    #[error("another instance is refreshing this account")]
    Busy,
    #[error("{0}")]
    Other(String),
}

/// What the owner reads when a sealed value of their account does not open with its row's
/// associated data (copied from another row, or altered).
pub const UNDECRYPTABLE: &str = "A stored token of this mailbox could not be decrypted: it does not belong to this account. Authorize the mailbox again.";

async fn read_tokens(state: &AppState, id: i64) -> Result<MailAccountRow, RefreshError> {
    db::mail_accounts::get(&state.pool, id)
        .await
        .map_err(|e| RefreshError::Other(format!("database: {e}")))?
        .ok_or_else(|| RefreshError::Other("the mail account no longer exists".into()))
}

fn is_fresh(row: &MailAccountRow, now: i64, margin_secs: i64) -> bool {
    row.status == AccountStatus::Linked && row.access_expires_at.unwrap_or(0) > now + margin_secs
}

fn open_access(state: &AppState, id: i64, blob: &[u8]) -> Result<String, RefreshError> {
    state
        .secrets
        .open_str(blob, &aad::ACCESS_TOKEN.row(id))
        .map_err(|_| RefreshError::Undecryptable)
}

/// A usable access token for `account_id`, refreshed first if it expires within `margin_secs`.
pub async fn ensure_fresh(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
) -> Result<String, RefreshError> {
    let row = read_tokens(state, account_id).await?;
    if is_fresh(&row, state.clock.now(), margin_secs) {
        if let Some(blob) = &row.access_token_enc {
            // An access token that does not open is replaced by a refresh.
            if let Ok(token) = open_access(state, account_id, blob) {
                return Ok(token);
            }
            refresh(state, account_id, margin_secs, true).await?;
            return fresh_token(state, account_id).await;
        }
    }
    refresh(state, account_id, margin_secs, false).await?;
    fresh_token(state, account_id).await
}

async fn fresh_token(state: &AppState, account_id: i64) -> Result<String, RefreshError> {
    let row = read_tokens(state, account_id).await?;
    if row.status != AccountStatus::Linked {
        return Err(RefreshError::NotLinked(row.status));
    }
    let blob = row
        .access_token_enc
        .ok_or(RefreshError::NotLinked(row.status))?;
    open_access(state, account_id, &blob)
}

/// OAuth clients by mail server, built once per refresh pass: a pass over thousands of accounts
/// on a few servers would otherwise read and decrypt the same server row for every account. A
/// server edited during a pass is picked up by the next one.
#[derive(Default)]
struct ClientCache {
    clients: tokio::sync::Mutex<HashMap<i64, Provider>>,
}

/// A server's OAuth settings and the client built from them, kept together: a grant that
/// loses its race is revoked where it was issued, with these same settings.
type Provider = Arc<(ServerOAuth, ProviderClient)>;

impl ClientCache {
    async fn get(&self, state: &AppState, server_id: i64) -> Result<Provider, RefreshError> {
        let mut map = self.clients.lock().await;
        if let Some(c) = map.get(&server_id) {
            return Ok(c.clone());
        }
        let provider = build_client(state, server_id).await?;
        map.insert(server_id, provider.clone());
        Ok(provider)
    }
}

async fn build_client(state: &AppState, server_id: i64) -> Result<Provider, RefreshError> {
    let server = client::load(state, server_id)
        .await
        .map_err(|e| RefreshError::Other(e.to_string()))?;
    let built = server.client().map_err(RefreshError::Other)?;
    Ok(Arc::new((server, built)))
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

/// How often a caller waiting for another instance's refresh looks again.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Takes the account's lock in this instance, then its lease in the database, so that of all
/// instances exactly one refreshes it. The background pass (`clients` set) skips an account
/// another instance holds; a caller that needs the token waits for that refresh (at most one
/// lease period) and then uses its result.
#[instrument(skip_all, fields(account_id = account_id))]
async fn refresh_using(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
    force: bool,
    clients: Option<&ClientCache>,
) -> Result<(), RefreshError> {
    let me = state.refresher.instance.as_str();
    let lease = state.refresh.lease_secs.max(1);
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(lease as u64 + 5);
    loop {
        let lock = state.refresher.lock_for(account_id);
        let _guard = lock.lock().await;
        let now = state.clock.now();
        let taken = db::mail_accounts::take_lease(&state.pool, account_id, me, now, now + lease)
            .await
            .map_err(|e| RefreshError::Other(e.to_string()))?;
        if taken {
            let result = refresh_held(state, account_id, margin_secs, force, clients).await;
            if let Err(e) = db::mail_accounts::release_lease(&state.pool, account_id, me).await {
                // It expires on its own.
                tracing::warn!(error = %e, account_id, "releasing a refresh lease");
            }
            return result;
        }
        if clients.is_some() {
            return Err(RefreshError::Busy);
        }
        drop(_guard);
        if std::time::Instant::now() > give_up {
            return Err(RefreshError::Busy);
        }
        tokio::time::sleep(LEASE_POLL).await;
        // The other instance may have refreshed it meanwhile.
        let row = read_tokens(state, account_id).await?;
        if !force && is_fresh(&row, state.clock.now(), margin_secs) {
            return Ok(());
        }
    }
}

/// The refresh itself, with this instance's lock and the database lease held.
async fn refresh_held(
    state: &AppState,
    account_id: i64,
    margin_secs: i64,
    force: bool,
    clients: Option<&ClientCache>,
) -> Result<(), RefreshError> {
    // Whoever held the lock or the lease before may have refreshed already.
    let row = read_tokens(state, account_id).await?;
    if !force && is_fresh(&row, state.clock.now(), margin_secs) {
        return Ok(());
    }
    if !matches!(row.status, AccountStatus::Linked | AccountStatus::Error) {
        return Err(RefreshError::NotLinked(row.status));
    }
    let Some(refresh_blob) = row.refresh_token_enc else {
        return Err(RefreshError::NotLinked(row.status));
    };
    let Ok(refresh_token) = state
        .secrets
        .open_str(&refresh_blob, &aad::REFRESH_TOKEN.row(account_id))
    else {
        tracing::error!(
            account_id,
            "a stored refresh token does not open for its row"
        );
        mark_refused(
            state,
            account_id,
            &refresh_blob,
            UNDECRYPTABLE,
            state.clock.now(),
        )
        .await
        .map_err(|e| RefreshError::Other(e.to_string()))?;
        return Err(RefreshError::Undecryptable);
    };
    let provider = match clients {
        Some(cache) => cache.get(state, row.mail_server_id).await?,
        None => build_client(state, row.mail_server_id).await?,
    };
    let (server, client) = (&provider.0, &provider.1);
    // Read the account again after the server row (or the pass's cached client): a change of
    // destination withdraws the grants in the same transaction, so a grant still held here was
    // issued by the endpoint the client points at.
    let again = read_tokens(state, account_id).await?;
    if again.refresh_token_enc.as_deref() != Some(refresh_blob.as_slice()) {
        return Err(RefreshError::Superseded);
    }

    state.refresher.calls.fetch_add(1, Ordering::Relaxed);
    let asked = std::time::Instant::now();
    let result = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token))
        .request_async(&state.outbound.capped(super::outbound::cap::TOKEN))
        .await;
    let outcome = match &result {
        Ok(_) => RefreshOutcome::Ok,
        Err(RequestTokenError::ServerResponse(r)) if r.error().to_string() == "invalid_grant" => {
            RefreshOutcome::Refused
        }
        Err(_) => RefreshOutcome::Failed,
    };
    super::metrics::refresh(outcome, asked.elapsed().as_secs_f64());
    let t = state.clock.now();
    match result {
        Ok(token) => {
            let expires_at = t + token
                .expires_in()
                .map(|d| d.as_secs() as i64)
                .unwrap_or(3600);
            let rotated = token.refresh_token().map(|r| {
                state
                    .secrets
                    .seal_str(r.secret(), &aad::REFRESH_TOKEN.row(account_id))
            });
            let access = state.secrets.seal_str(
                token.access_token().secret(),
                &aad::ACCESS_TOKEN.row(account_id),
            );
            let saved = save_refreshed(
                state,
                (account_id, row.status),
                &refresh_blob,
                access,
                rotated,
                expires_at,
                t,
            )
            .await
            .map_err(|e| RefreshError::Other(e.to_string()))?;
            if !saved {
                // Unlinked (or linked anew) while the provider answered: the grant that lost
                // must not stay alive at the provider.
                tracing::warn!(
                    account_id,
                    "refresh lost to an unlink or a new grant; revoking"
                );
                super::oauth::revocation::revoke_unused(state, server, &token).await;
                return Err(RefreshError::Superseded);
            }
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
                provider_text(&desc, 300)
            );
            mark_refused(state, account_id, &refresh_blob, &message, t)
                .await
                .map_err(|e| RefreshError::Other(e.to_string()))?;
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
            let message_for_owner = format!("Refreshing failed ({kind}): {message}");
            mark_failed(
                state,
                (account_id, row.status),
                &refresh_blob,
                &message_for_owner,
                failures,
                t + backoff,
                t,
            )
            .await
            .map_err(|e| RefreshError::Other(e.to_string()))?;
            tracing::warn!(account_id, failures, "refresh failed; will retry");
            Err(RefreshError::Transient(message))
        }
    }
}

/// Saves refreshed tokens; an account that was in `error` is `recovered`, with its event in
/// the same transaction. The usual case (linked before and after) stays one statement.
async fn save_refreshed(
    state: &AppState,
    (account_id, before): (i64, AccountStatus),
    expected: &[u8],
    access_enc: Vec<u8>,
    rotated_enc: Option<Vec<u8>>,
    expires_at: i64,
    t: i64,
) -> Result<bool, db::QueryError> {
    if before != AccountStatus::Error {
        let saved = db::mail_accounts::save_refresh(
            &state.pool,
            account_id,
            expected,
            access_enc,
            rotated_enc,
            expires_at,
            t,
        )
        .await?;
        if saved {
            count_refresh(state, account_id, t).await;
        }
        return Ok(saved);
    }
    let mut change = Change::begin(&state.pool).await?;
    let saved = db::mail_accounts::save_refresh(
        &mut **change.tx(),
        account_id,
        expected,
        access_enc,
        rotated_enc,
        expires_at,
        t,
    )
    .await?;
    if saved {
        change
            .emit(EventKind::Recovered, account_id, None, t)
            .await?;
        change.commit(&state.webhooks).await?;
        count_refresh(state, account_id, t).await;
    }
    Ok(saved)
}

/// Counted on its day for the account's timeline; a refresh is not undone when the count
/// cannot be written.
async fn count_refresh(state: &AppState, account_id: i64, t: i64) {
    if let Err(e) = db::audit::count_refresh(&state.pool, account_id, t).await {
        tracing::warn!(error = %e, account_id, "counting a refresh");
    }
}

/// The provider refused the grant: `needs_reauth`, and its event, together.
async fn mark_refused(
    state: &AppState,
    account_id: i64,
    expected: &[u8],
    message: &str,
    t: i64,
) -> Result<bool, db::QueryError> {
    let mut change = Change::begin(&state.pool).await?;
    let marked = db::mail_accounts::mark_refresh_refused(
        &mut **change.tx(),
        account_id,
        expected,
        message,
        t,
    )
    .await?;
    if marked {
        change
            .emit(EventKind::NeedsReauth, account_id, None, t)
            .await?;
        change.commit(&state.webhooks).await?;
    }
    Ok(marked)
}

/// A failed refresh to retry; the first failure after working is an `error` event.
#[allow(clippy::too_many_arguments)]
async fn mark_failed(
    state: &AppState,
    (account_id, before): (i64, AccountStatus),
    expected: &[u8],
    message: &str,
    failures: i64,
    retry_at: i64,
    t: i64,
) -> Result<(), db::QueryError> {
    if before == AccountStatus::Error {
        db::mail_accounts::mark_refresh_error(
            &state.pool,
            account_id,
            expected,
            message,
            failures,
            retry_at,
            t,
        )
        .await?;
        return Ok(());
    }
    let mut change = Change::begin(&state.pool).await?;
    let marked = db::mail_accounts::mark_refresh_error(
        &mut **change.tx(),
        account_id,
        expected,
        message,
        failures,
        retry_at,
        t,
    )
    .await?;
    if marked {
        change.emit(EventKind::Error, account_id, None, t).await?;
        change.commit(&state.webhooks).await?;
    }
    Ok(())
}

/// Accounts due for a refresh: linked ones expiring soon, and failed ones whose retry is due.
pub async fn due_accounts(state: &AppState, before_secs: i64) -> Result<Vec<i64>, db::QueryError> {
    let t = state.clock.now();
    db::mail_accounts::due_for_refresh(&state.pool, t + before_secs, t).await
}
