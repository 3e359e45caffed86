//! `GET /oauth/callback/{app_key}`: the provider sends the browser back here. Each step either
//! hands the next one what it needs or ends the callback with an [`Outcome`]; the provider's
//! own words go to the account's last error, never into a URL.

use std::net::IpAddr;

use oauth2::{AuthorizationCode, PkceCodeVerifier, TokenResponse};
use serde::Deserialize;
use tracing::instrument;

use super::client::{self, describe_token_error, ServerOAuth, TokenResp};
use super::identity::identity;
use super::revocation::revoke_unused;
use super::Outcome;
use crate::domain::{CidrList, EventKind, SessionUser};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::{self, mail_accounts::MailAccountRow, oauth_states::OAuthStateRow};
use crate::ssr::sessions::token_hash;
use crate::ssr::webhooks::Change;
use crate::ssr::{provider_text, AppState};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why a callback stopped before linking.
enum Halt {
    /// A known ending, and the account it concerns when the state identified one.
    Outcome(Outcome, Option<i64>),
    Error(AppError),
}

impl From<AppError> for Halt {
    fn from(e: AppError) -> Self {
        Halt::Error(e)
    }
}

impl From<db::QueryError> for Halt {
    fn from(e: db::QueryError) -> Self {
        Halt::Error(e.into())
    }
}

/// Handles the callback for the signed-in `user`. Returns the outcome and the account it
/// concerns, when the state identified one.
pub async fn callback(
    state: &AppState,
    app_key: &str,
    q: &CallbackQuery,
    client_ip: Option<IpAddr>,
    user: &SessionUser,
) -> (Outcome, Option<i64>) {
    match run(state, app_key, q, client_ip, user).await {
        Ok(id) => (Outcome::Linked, Some(id)),
        Err(Halt::Outcome(outcome, id)) => (outcome, id),
        Err(Halt::Error(e)) => {
            tracing::error!(error = %e, "oauth callback failed");
            (Outcome::Failed, None)
        }
    }
}

#[instrument(skip_all, fields(user_id = user.id, account_id = tracing::field::Empty))]
async fn run(
    state: &AppState,
    app_key: &str,
    q: &CallbackQuery,
    client_ip: Option<IpAddr>,
    user: &SessionUser,
) -> Result<i64, Halt> {
    let app_id = application(state, app_key, client_ip).await?;
    let (saved, account, server) = claim_state(state, app_id, q, user).await?;
    tracing::Span::current().record("account_id", account.id);
    let code = provider_answer(state, q, account.id).await?;
    let token = exchange(state, &server, &saved, code, account.id).await?;
    confirm_identity(state, &server, &token, &account, &saved).await?;
    store_grant(state, &server, &token, account.id).await?;
    tracing::info!(account_id = account.id, "mailbox linked");
    Ok(account.id)
}

/// Records the provider's (or our) explanation on the account and ends with `outcome`.
async fn fail(state: &AppState, account_id: i64, outcome: Outcome, message: &str) -> Halt {
    let clipped = provider_text(message, 500);
    if let Err(e) =
        db::mail_accounts::set_last_error(&state.pool, account_id, &clipped, state.clock.now())
            .await
    {
        tracing::error!(error = %e, account_id, "recording an account error");
    }
    Halt::Outcome(outcome, Some(account_id))
}

/// 1. The application: known, active, and reachable from this address.
async fn application(
    state: &AppState,
    app_key: &str,
    client_ip: Option<IpAddr>,
) -> Result<i64, Halt> {
    let Some(app) = db::applications::by_key(&state.pool, app_key).await? else {
        return Err(Halt::Outcome(Outcome::UnknownApplication, None));
    };
    if !app.active {
        return Err(Halt::Outcome(Outcome::DisabledApplication, None));
    }
    // A list that cannot be read admits nobody: failing open would admit everybody.
    let Ok(allowed) = CidrList::parse(&app.allowed_ips) else {
        tracing::warn!(
            application_id = app.id,
            "the allowed-address list cannot be read; callback refused"
        );
        return Err(Halt::Outcome(Outcome::AddressRefused, None));
    };
    if !allowed.is_empty() && !client_ip.map(|ip| allowed.allows(ip)).unwrap_or(false) {
        tracing::warn!(client = ?client_ip, application_id = app.id, "callback from an address outside the allowed list");
        return Err(Halt::Outcome(Outcome::AddressRefused, None));
    }
    Ok(app.id)
}

/// 2. The state: known, this user's, for a server using this application, unexpired, and
///    unused — claimed atomically, so of two racing callbacks only one goes on.
async fn claim_state(
    state: &AppState,
    app_id: i64,
    q: &CallbackQuery,
    user: &SessionUser,
) -> Result<(OAuthStateRow, MailAccountRow, ServerOAuth), Halt> {
    let raw = q.state.clone().unwrap_or_default();
    let hash = token_hash(&raw);
    let found = db::oauth_states::find(&state.pool, &hash).await?;
    let Some(saved) = found.filter(|_| !raw.is_empty()) else {
        return Err(Halt::Outcome(Outcome::InvalidState, None));
    };
    if saved.user_id != user.id {
        tracing::warn!("callback with another user's state");
        return Err(Halt::Outcome(Outcome::OtherUser, None));
    }
    if saved.used_at.is_some() {
        return Err(Halt::Outcome(Outcome::UsedState, Some(saved.account_id)));
    }
    if saved.expires_at <= state.clock.now() {
        return Err(Halt::Outcome(Outcome::ExpiredState, Some(saved.account_id)));
    }
    let account = db::mail_accounts::get(&state.pool, saved.account_id)
        .await?
        .ok_or_else(|| AppError::NotFound("The mail account".into()))?;
    let server = client::load(state, account.mail_server_id).await?;
    if server.application_id != app_id {
        return Err(Halt::Outcome(Outcome::InvalidState, None));
    }
    if !db::oauth_states::claim(&state.pool, &hash, state.clock.now()).await? {
        return Err(Halt::Outcome(Outcome::UsedState, Some(saved.account_id)));
    }
    // The code and the PKCE verifier go only to the token endpoint the authorisation started
    // with: a server changed in between ends here.
    if saved.destination.as_deref() != Some(server.destination.as_str()) {
        let message = "The mail server's settings changed during the authorisation; nothing was sent or stored. Authorize again.";
        return Err(fail(state, account.id, Outcome::ServerChanged, message).await);
    }
    Ok((saved, account, server))
}

/// 3. The provider's answer: a code, or its refusal.
async fn provider_answer(
    state: &AppState,
    q: &CallbackQuery,
    account_id: i64,
) -> Result<String, Halt> {
    if let Some(err) = &q.error {
        let desc = q
            .error_description
            .as_deref()
            .map(|d| format!(": {}", provider_text(d, 300)))
            .unwrap_or_default();
        let outcome = if err == "access_denied" {
            Outcome::AccessDenied
        } else {
            Outcome::ProviderError
        };
        let message = format!(
            "The provider refused the authorisation ({}){desc}",
            provider_text(err, 60)
        );
        return Err(fail(state, account_id, outcome, &message).await);
    }
    match q.code.clone().filter(|c| !c.is_empty()) {
        Some(code) => Ok(code),
        None => Err(fail(
            state,
            account_id,
            Outcome::ProviderError,
            "The provider returned neither a code nor an error.",
        )
        .await),
    }
}

/// 4. The code exchanged for tokens, with the PKCE verifier.
async fn exchange(
    state: &AppState,
    server: &ServerOAuth,
    saved: &OAuthStateRow,
    code: String,
    account_id: i64,
) -> Result<TokenResp, Halt> {
    let verifier = state
        .secrets
        .open_str(
            &saved.pkce_verifier_enc,
            &aad::PKCE_VERIFIER.row(&saved.state_hash),
        )
        .map_err(|e| crate::ssr::internal("decrypting a PKCE verifier", e))?;
    let client = match server.client() {
        Ok(c) => c,
        Err(m) => {
            let message = format!("The mail server's OAuth settings are unusable: {m}");
            return Err(fail(state, account_id, Outcome::ExchangeFailed, &message).await);
        }
    };
    match client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&state.outbound.capped(crate::ssr::outbound::cap::TOKEN))
        .await
    {
        Ok(token) => Ok(token),
        Err(e) => {
            let (outcome, message) = describe_token_error(&e);
            let message = format!("Exchanging the code failed: {message}");
            Err(fail(state, account_id, outcome, &message).await)
        }
    }
}

/// 5. The identity that consented must be the mailbox's login; otherwise the tokens are
///    revoked, not kept.
async fn confirm_identity(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
    account: &MailAccountRow,
    saved: &OAuthStateRow,
) -> Result<(), Halt> {
    let nonce = saved
        .nonce_enc
        .as_ref()
        .and_then(|b| {
            state
                .secrets
                .open_str(b, &aad::NONCE.row(&saved.state_hash))
                .ok()
        })
        .unwrap_or_default();
    let message = match identity(state, server, token, &nonce).await {
        Ok(who) if who.eq_ignore_ascii_case(&account.login) => {
            if server.allowed_domains.allows(&who) {
                return Ok(());
            }
            revoke_unused(state, server, token).await;
            let message = format!(
                "This mail server accepts mailboxes of {} only.",
                server.allowed_domains.joined()
            );
            return Err(fail(state, account.id, Outcome::DomainRefused, &message).await);
        }
        Ok(who) => format!(
            "You consented as {}, but this mailbox is {}. Authorize again and choose {}.",
            provider_text(&who, 254),
            account.login,
            account.login
        ),
        Err(m) => format!("Could not tell which account consented: {m}"),
    };
    revoke_unused(state, server, token).await;
    Err(fail(state, account.id, Outcome::IdentityMismatch, &message).await)
}

/// 6. The tokens, sealed, with the account `linked`. Without a refresh token the link would
///    die within the hour, so that is a failure too.
async fn store_grant(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
    account_id: i64,
) -> Result<(), Halt> {
    let Some(refresh) = token.refresh_token() else {
        revoke_unused(state, server, token).await;
        return Err(fail(
            state,
            account_id,
            Outcome::NoRefreshToken,
            "The provider returned no refresh token. Remove Mailbridge's access in the account's security settings \
             (Google: myaccount.google.com/permissions) and authorize again; a generic provider may need the \
             offline_access scope.",
        )
        .await);
    };
    // The unlink of this account waits for the grant to be stored, and the other way round.
    let _held = state.refresher.hold(account_id).await;
    let t = state.clock.now();
    let expires_at = t + token
        .expires_in()
        .map(|d| d.as_secs() as i64)
        .unwrap_or(3600);
    let scopes = token
        .scopes()
        .map(|s| {
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| server.scopes.join(" "));
    let saved = save_linked(
        state,
        (server.server_id, server.destination_version),
        account_id,
        state.secrets.seal_str(
            token.access_token().secret(),
            &aad::ACCESS_TOKEN.row(account_id),
        ),
        state
            .secrets
            .seal_str(refresh.secret(), &aad::REFRESH_TOKEN.row(account_id)),
        expires_at,
        &provider_text(&scopes, 1000),
        t,
    )
    .await;
    match saved {
        Ok(true) => Ok(()),
        // The server's destination changed during the exchange: this grant was given for the
        // old one, so it is revoked there and not kept.
        Ok(false) => {
            revoke_unused(state, server, token).await;
            Err(fail(
                state,
                account_id,
                Outcome::ServerChanged,
                "The mail server's settings changed during the authorisation; nothing was stored. Authorize again.",
            )
            .await)
        }
        // Another account already holds this mailbox's grant on this server: the mailbox is
        // its owner's, whoever typed the address first.
        Err(e) if e.is_unique_violation() => {
            revoke_unused(state, server, token).await;
            Err(fail(
                state,
                account_id,
                Outcome::AlreadyLinked,
                "This mailbox is already linked on this mail server by another account. Nothing was stored.",
            )
            .await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores a grant and, in the same transaction, the `account.linked` event.
#[allow(clippy::too_many_arguments)]
async fn save_linked(
    state: &AppState,
    server: (i64, i64),
    account_id: i64,
    access_enc: Vec<u8>,
    refresh_enc: Vec<u8>,
    expires_at: i64,
    scopes: &str,
    now: i64,
) -> Result<bool, db::QueryError> {
    let mut change = Change::begin(&state.pool).await?;
    let saved = db::mail_accounts::save_grant_at_version(
        change.tx(),
        server,
        account_id,
        access_enc,
        refresh_enc,
        expires_at,
        scopes,
        now,
    )
    .await?;
    if saved {
        change
            .emit(EventKind::Linked, account_id, None, now)
            .await?;
        change.commit(&state.webhooks).await?;
    }
    Ok(saved)
}
