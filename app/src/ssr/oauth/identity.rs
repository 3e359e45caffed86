//! Which account consented: the id_token's `email` (issued to this client), else the userinfo
//! endpoint's.

use oauth2::TokenResponse;

use super::client::{ServerOAuth, TokenResp};
use crate::ssr::outbound::cap;
use crate::ssr::AppState;

/// The e-mail address the tokens belong to: the id_token's `email` (its audience must be this
/// client), else the userinfo endpoint's.
pub async fn identity(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
) -> Result<String, String> {
    if let Some(id_token) = &token.extra_fields().id_token {
        let claims = decode_jwt_claims(id_token).ok_or("the id_token is malformed")?;
        let aud_ok = match &claims["aud"] {
            serde_json::Value::String(a) => a == &server.client_id,
            serde_json::Value::Array(list) => list
                .iter()
                .any(|a| a.as_str() == Some(server.client_id.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err("the id_token was issued to another client".into());
        }
        if let Some(email) = claims["email"].as_str() {
            return Ok(email.to_string());
        }
    }
    let url = server
        .endpoints
        .userinfo_url
        .clone()
        .ok_or("no id_token email and no userinfo endpoint")?;
    let res = state
        .outbound
        .get(&url, Some(token.access_token().secret()), cap::USERINFO)
        .await
        .map_err(|e| format!("userinfo: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("userinfo answered HTTP {}", res.status().as_u16()));
    }
    let body: serde_json::Value = serde_json::from_slice(res.body())
        .map_err(|_| "userinfo answered something that is not JSON".to_string())?;
    body["email"]
        .as_str()
        .or_else(|| body["preferred_username"].as_str())
        .or_else(|| body["upn"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "userinfo has no email".to_string())
}

/// The payload of a JWT, unverified. It came straight from the token endpoint over the
/// back channel, which OpenID Connect Core §3.1.3.7 allows to trust for this use.
fn decode_jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_read_from_the_payload() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"email":"a@b.test","aud":"x"}"#);
        let claims = decode_jwt_claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(claims["email"], "a@b.test");
        assert!(decode_jwt_claims("garbage").is_none());
    }
}
