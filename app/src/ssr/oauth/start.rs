//! Starting an authorisation: a single-use `state` and a PKCE verifier are stored (sealed), and
//! the browser is sent to the provider.

use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use tracing::instrument;

use super::client;
use crate::domain::SessionUser;
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::providers::extra_auth_params;
use crate::ssr::sessions::{random_token, token_hash};
use crate::ssr::{db, AppState};

pub const STATE_TTL_SECS: i64 = 600;

/// Starts an authorisation for `account_id` by `user`: returns the provider URL to send the
/// browser to.
#[instrument(skip_all, fields(account_id = account_id, user_id = user.id))]
pub async fn start(
    state: &AppState,
    account_id: i64,
    user: &SessionUser,
) -> Result<String, AppError> {
    let account = db::mail_accounts::get(&state.pool, account_id)
        .await?
        .ok_or_else(|| AppError::NotFound("The mail account".into()))?;
    if account.status == crate::domain::AccountStatus::Disabled {
        return Err(AppError::Refused(
            "This mailbox is disabled because its owner was deactivated; activate the owner first."
                .into(),
        ));
    }
    let server = client::load(state, account.mail_server_id).await?;
    if !server.active {
        return Err(AppError::Refused("This mail server is not active.".into()));
    }
    if server.redirect_uri.is_empty() {
        return Err(AppError::Refused(
            "This mail server has no application (Redirect URI) chosen.".into(),
        ));
    }
    let client = server.client().map_err(|m| {
        AppError::Refused(format!(
            "This mail server's OAuth settings are unusable: {m}"
        ))
    })?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state_token = random_token();
    // OpenID Connect: the id_token must carry this nonce, so one issued for another request
    // cannot be replayed into this callback.
    let nonce = random_token();
    let mut req = client
        .authorize_url(|| CsrfToken::new(state_token.clone()))
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", account.login.clone())
        .add_extra_param("nonce", nonce.clone());
    for s in &server.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    for (k, v) in extra_auth_params(server.kind) {
        req = req.add_extra_param(*k, *v);
    }
    let (url, _) = req.url();
    // Expired rows are purged by `housekeeping`.
    let t = state.clock.now();
    let hash = token_hash(&state_token);
    let new = db::oauth_states::NewState {
        state_hash: &hash,
        account_id,
        user_id: user.id,
        verifier_enc: state
            .secrets
            .seal_str(verifier.secret(), &aad::PKCE_VERIFIER.row(&hash)),
        nonce_enc: state.secrets.seal_str(&nonce, &aad::NONCE.row(&hash)),
        destination: &server.destination,
        created_at: t,
        expires_at: t + STATE_TTL_SECS,
    };
    db::oauth_states::insert(&state.pool, new).await?;
    tracing::info!("authorisation started");
    Ok(url.to_string())
}
