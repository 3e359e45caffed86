//! Token revocation at the provider (RFC 7009), when it offers an endpoint.

use oauth2::TokenResponse;

use super::client::{ServerOAuth, TokenResp};
use crate::ssr::outbound::cap;
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
    use base64::Engine;
    // RFC 6749 §2.3.1: client id and secret form-encoded before they are joined.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc(&server.client_id),
        enc(server.client_secret())
    ));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", hint)
        .finish();
    let req = http::Request::post(url.as_str())
        .header(http::header::AUTHORIZATION, format!("Basic {basic}"))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.into_bytes())
        .map_err(|e| format!("the revocation request could not be built: {e}"))?;
    let res = state
        .outbound
        .send(req, cap::REVOCATION)
        .await
        .map_err(|e| format!("the revocation endpoint could not be reached ({e})"))?;
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
