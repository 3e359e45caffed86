//! Token revocation at the provider (RFC 7009), when it offers an endpoint.

use oauth2::TokenResponse;

use super::client::{ServerOAuth, TokenResp};
use crate::ssr::providers::describe_reqwest;
use crate::ssr::AppState;

/// Revokes a token at the provider. Returns a message on failure.
pub async fn revoke(
    state: &AppState,
    server: &ServerOAuth,
    token: &str,
    hint: &str,
) -> Result<(), String> {
    let Some(url) = &server.endpoints.revocation_url else {
        return Ok(());
    };
    let res = state
        .http
        .post(url)
        .basic_auth(&server.client_id, Some(server.client_secret()))
        .form(&[("token", token), ("token_type_hint", hint)])
        .send()
        .await
        .map_err(|e| {
            format!(
                "the revocation endpoint could not be reached ({})",
                describe_reqwest(&e)
            )
        })?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the revocation endpoint answered HTTP {}",
            res.status().as_u16()
        ))
    }
}

/// Revokes tokens just received and not kept (wrong identity, no refresh token): the grant
/// should not outlive the failed link.
pub async fn revoke_unused(state: &AppState, server: &ServerOAuth, token: &TokenResp) {
    let (t, hint) = match token.refresh_token() {
        Some(r) => (r.secret().clone(), "refresh_token"),
        None => (token.access_token().secret().clone(), "access_token"),
    };
    if let Err(m) = revoke(state, server, &t, hint).await {
        tracing::warn!("revoking unused tokens: {m}");
    }
}
