//! Which account consented. An id_token counts only once the `openidconnect` crate has checked
//! it: signature against the provider's published keys, issuer, audience (this client),
//! expiry and the nonce this authorisation sent. Without a checked id_token (or without an
//! address in it) only the userinfo endpoint's `email` counts. An address the provider marks
//! unverified is refused either way.

use oauth2::TokenResponse;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeySetUrl, Nonce};

use super::client::{ServerOAuth, TokenResp};
use crate::domain::ProviderKind;
use crate::ssr::outbound::{cap, OutboundError};
use crate::ssr::{provider_text, AppState};

/// The e-mail address the tokens belong to.
pub async fn identity(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
    nonce: &str,
) -> Result<String, String> {
    if let (Some(raw), Some(issuer), Some(jwks)) = (
        &token.extra_fields().id_token,
        &server.endpoints.issuer,
        &server.endpoints.jwks_url,
    ) {
        if let Some(email) = from_id_token(state, server, raw, issuer, jwks, nonce).await? {
            return Ok(email);
        }
    }
    from_userinfo(state, server, token).await
}

/// The address in a verified id_token (`None` when it carries none).
async fn from_id_token(
    state: &AppState,
    server: &ServerOAuth,
    raw: &str,
    issuer: &str,
    jwks_url: &str,
    nonce: &str,
) -> Result<Option<String>, String> {
    let id_token: CoreIdToken = raw
        .parse()
        .map_err(|e| format!("the id_token is malformed ({e})"))?;
    let url = JsonWebKeySetUrl::new(jwks_url.to_string())
        .map_err(|e| format!("the provider's key set URL is unusable ({e})"))?;
    let keys = CoreJsonWebKeySet::fetch_async(&url, &state.outbound.capped(cap::JWKS))
        .await
        .map_err(|e| match e {
            openidconnect::DiscoveryError::Request(OutboundError::TooLarge(_)) => {
                "the provider's key set is larger than 512 KB".to_string()
            }
            e => format!(
                "the provider's signing keys could not be read ({})",
                provider_text(&crate::ssr::error_chain(&e).join(": "), 300)
            ),
        })?;
    // Microsoft's multi-tenant issuer names the account's tenant: `{tenantid}` is checked
    // below against the token's own `tid`.
    let templated = issuer.contains("{tenantid}");
    let issuer_url = IssuerUrl::new(issuer.replace("{tenantid}", "tenant"))
        .map_err(|e| format!("the provider's issuer is unusable ({e})"))?;
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(server.client_id.clone()),
        ClientSecret::new(server.client_secret().to_string()),
        issuer_url,
        keys,
    )
    .require_issuer_match(!templated);
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_string()))
        .map_err(|e| {
            format!(
                "the id_token failed validation ({})",
                provider_text(&e.to_string(), 300)
            )
        })?;
    if templated {
        let tid = tenant_of(raw).ok_or("the id_token names no tenant (tid)")?;
        let expected = issuer.replace("{tenantid}", &tid);
        if claims.issuer().as_str() != expected {
            return Err(format!(
                "the id_token was issued by {}, not {expected}",
                provider_text(claims.issuer().as_str(), 200)
            ));
        }
    }
    match claims.email() {
        Some(email) => {
            let email = verified(email.as_str(), claims.email_verified())?;
            if server.kind == ProviderKind::Microsoft
                && claims.email_verified() != Some(true)
                && !domain_owner_verified(raw)
            {
                return Err(MICROSOFT_UNVERIFIED.into());
            }
            Ok(Some(email))
        }
        None => Ok(None),
    }
}

/// Any Microsoft Entra tenant can give its users any `email`, unverified ("nOAuth"): from
/// Microsoft an address counts only with `email_verified`, or `xms_edov` (the address's domain
/// is verified by the tenant that owns it), an optional claim of the app registration.
const MICROSOFT_UNVERIFIED: &str = "Microsoft did not confirm that this address belongs to the account (no xms_edov claim): add the optional claim xms_edov to the ID token in the app registration's Token configuration";

/// Whether a (verified) Microsoft id_token says its address's domain is verified (`xms_edov`).
fn domain_owner_verified(raw: &str) -> bool {
    use base64::Engine;
    let Some(payload) = raw.split('.').nth(1) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    matches!(&v["xms_edov"], serde_json::Value::Bool(true))
        || v["xms_edov"] == serde_json::json!(1)
        || v["xms_edov"] == serde_json::json!("1")
        || v["xms_edov"] == serde_json::json!("true")
}

/// The `tid` claim of an id_token whose signature has already been checked.
fn tenant_of(raw: &str) -> Option<String> {
    use base64::Engine;
    let payload = raw.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let tid = v["tid"].as_str()?;
    tid.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
        .then(|| tid.to_string())
}

/// The userinfo endpoint's `email` — and nothing else (`preferred_username` or `upn` are
/// names an account can choose, not addresses it proved).
async fn from_userinfo(
    state: &AppState,
    server: &ServerOAuth,
    token: &TokenResp,
) -> Result<String, String> {
    let url = server
        .endpoints
        .userinfo_url
        .clone()
        .ok_or("no verified id_token address and no userinfo endpoint")?;
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
    let email = body["email"]
        .as_str()
        .ok_or("userinfo has no email (the email scope may be missing)")?;
    let flag = match &body["email_verified"] {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => Some(s == "true"),
        _ => None,
    };
    if server.kind == ProviderKind::Microsoft && flag != Some(true) {
        return Err("Microsoft's userinfo does not say that the address is verified: let the ID token be checked (MAILBRIDGE_MICROSOFT_ISSUER and MAILBRIDGE_MICROSOFT_JWKS_URL when its endpoints are overridden)".into());
    }
    verified(email, flag)
}

/// An address counts unless the provider says it is not verified.
fn verified(email: &str, email_verified: Option<bool>) -> Result<String, String> {
    if email_verified == Some(false) {
        return Err(format!(
            "the provider says {} is not verified",
            provider_text(email, 254)
        ));
    }
    Ok(email.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unverified_address_is_refused() {
        assert_eq!(verified("a@b.test", Some(true)).unwrap(), "a@b.test");
        assert_eq!(verified("a@b.test", None).unwrap(), "a@b.test");
        assert!(verified("a@b.test", Some(false))
            .unwrap_err()
            .contains("not verified"));
    }

    #[test]
    fn microsoft_addresses_need_a_verified_domain() {
        use base64::Engine;
        let jwt = |p: &str| {
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p)
            )
        };
        assert!(domain_owner_verified(&jwt(r#"{"xms_edov":true}"#)));
        assert!(domain_owner_verified(&jwt(r#"{"xms_edov":"1"}"#)));
        assert!(!domain_owner_verified(&jwt(r#"{"xms_edov":false}"#)));
        assert!(!domain_owner_verified(&jwt(
            r#"{"email":"boss@corp.test"}"#
        )));
        assert!(!domain_owner_verified("garbage"));
    }

    #[test]
    fn the_tenant_is_read_and_must_look_like_one() {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = |p: &str| format!("h.{}.s", enc(p));
        assert_eq!(
            tenant_of(&jwt(r#"{"tid":"9188040d-6c67-4c5b-b112-36a304b66dad"}"#)).as_deref(),
            Some("9188040d-6c67-4c5b-b112-36a304b66dad")
        );
        assert_eq!(tenant_of(&jwt(r#"{"tid":"../evil"}"#)), None);
        assert_eq!(tenant_of("garbage"), None);
    }
}
