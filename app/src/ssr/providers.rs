//! Built-in OAuth providers (Google, Microsoft 365) and OpenID/OAuth discovery for generic ones.

use std::collections::HashMap;

use crate::domain::{HttpUrl, ProviderKind};

/// Where to send the user and where to trade codes and tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub auth_url: String,
    pub token_url: String,
    pub userinfo_url: Option<String>,
    pub revocation_url: Option<String>,
    /// Who signs the ID tokens and where its keys are; without both an id_token is not
    /// trusted and the identity comes from the userinfo endpoint only. Microsoft's issuer holds
    /// `{tenantid}`, the signed-in account's tenant (its `tid` claim).
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
}

/// The built-in endpoints, each overridable by an environment variable (for tests and private
/// clouds). Microsoft's contain `{tenant}`, replaced by the mail server's tenant.
#[derive(Debug, Clone)]
pub struct BuiltIn {
    pub google: Endpoints,
    pub microsoft: Endpoints,
}

pub const OVERRIDE_VARS: [&str; 12] = [
    "MAILBRIDGE_GOOGLE_AUTH_URL",
    "MAILBRIDGE_GOOGLE_TOKEN_URL",
    "MAILBRIDGE_GOOGLE_USERINFO_URL",
    "MAILBRIDGE_GOOGLE_REVOKE_URL",
    "MAILBRIDGE_GOOGLE_ISSUER",
    "MAILBRIDGE_GOOGLE_JWKS_URL",
    "MAILBRIDGE_MICROSOFT_AUTH_URL",
    "MAILBRIDGE_MICROSOFT_TOKEN_URL",
    "MAILBRIDGE_MICROSOFT_USERINFO_URL",
    "MAILBRIDGE_MICROSOFT_REVOKE_URL",
    "MAILBRIDGE_MICROSOFT_ISSUER",
    "MAILBRIDGE_MICROSOFT_JWKS_URL",
];

impl BuiltIn {
    /// Reads the overrides; a value that is not an http(s) URL is an error naming its variable.
    pub fn from_overrides(vars: &HashMap<String, String>) -> Result<Self, String> {
        let pick = |name: &str, default: &str| -> Result<String, String> {
            match vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(default.to_string()),
                Some(v) => HttpUrl::parse(v)
                    .map(|u| u.as_str().to_string())
                    .map_err(|m| format!("{name}: {m}")),
            }
        };
        let opt = |name: &str, default: Option<&str>| -> Result<Option<String>, String> {
            match vars.get(name).map(|v| v.trim()) {
                Some("") => Ok(None),
                Some(_) => pick(name, "").map(Some),
                None => Ok(default.map(str::to_string)),
            }
        };
        // A provider whose authorisation or token endpoint was moved (a private cloud, a test
        // server) is not the one whose issuer and keys are built in: its ID tokens are checked
        // only against an issuer and key set given with it, and otherwise not trusted at all —
        // the userinfo endpoint then says who consented.
        let moved = |prefix: &str| {
            ["AUTH_URL", "TOKEN_URL"].iter().any(|k| {
                vars.get(&format!("MAILBRIDGE_{prefix}_{k}"))
                    .is_some_and(|v| !v.trim().is_empty())
            })
        };
        let unless_moved =
            |prefix: &str, default: &'static str| (!moved(prefix)).then_some(default);
        Ok(BuiltIn {
            google: Endpoints {
                auth_url: pick(
                    "MAILBRIDGE_GOOGLE_AUTH_URL",
                    "https://accounts.google.com/o/oauth2/v2/auth",
                )?,
                token_url: pick(
                    "MAILBRIDGE_GOOGLE_TOKEN_URL",
                    "https://oauth2.googleapis.com/token",
                )?,
                userinfo_url: opt(
                    "MAILBRIDGE_GOOGLE_USERINFO_URL",
                    Some("https://openidconnect.googleapis.com/v1/userinfo"),
                )?,
                revocation_url: opt(
                    "MAILBRIDGE_GOOGLE_REVOKE_URL",
                    Some("https://oauth2.googleapis.com/revoke"),
                )?,
                issuer: opt(
                    "MAILBRIDGE_GOOGLE_ISSUER",
                    unless_moved("GOOGLE", "https://accounts.google.com"),
                )?,
                jwks_url: opt(
                    "MAILBRIDGE_GOOGLE_JWKS_URL",
                    unless_moved("GOOGLE", "https://www.googleapis.com/oauth2/v3/certs"),
                )?,
            },
            microsoft: Endpoints {
                auth_url: pick(
                    "MAILBRIDGE_MICROSOFT_AUTH_URL",
                    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
                )?,
                token_url: pick(
                    "MAILBRIDGE_MICROSOFT_TOKEN_URL",
                    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                )?,
                userinfo_url: opt(
                    "MAILBRIDGE_MICROSOFT_USERINFO_URL",
                    Some("https://graph.microsoft.com/oidc/userinfo"),
                )?,
                // Microsoft offers no token revocation endpoint.
                revocation_url: opt("MAILBRIDGE_MICROSOFT_REVOKE_URL", None)?,
                issuer: opt(
                    "MAILBRIDGE_MICROSOFT_ISSUER",
                    unless_moved(
                        "MICROSOFT",
                        "https://login.microsoftonline.com/{tenantid}/v2.0",
                    ),
                )?,
                jwks_url: opt(
                    "MAILBRIDGE_MICROSOFT_JWKS_URL",
                    unless_moved(
                        "MICROSOFT",
                        "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
                    ),
                )?,
            },
        })
    }

    /// The endpoints for a built-in provider; `None` for a generic one (stored per server).
    pub fn endpoints(&self, kind: ProviderKind, tenant: &str) -> Option<Endpoints> {
        let t = if tenant.is_empty() { "common" } else { tenant };
        let sub = |s: &String| s.replace("{tenant}", t);
        match kind {
            ProviderKind::Google => Some(self.google.clone()),
            ProviderKind::Microsoft => Some(Endpoints {
                auth_url: sub(&self.microsoft.auth_url),
                token_url: sub(&self.microsoft.token_url),
                userinfo_url: self.microsoft.userinfo_url.as_ref().map(sub),
                revocation_url: self.microsoft.revocation_url.as_ref().map(sub),
                issuer: self.microsoft.issuer.clone(),
                jwks_url: self.microsoft.jwks_url.as_ref().map(sub),
            }),
            ProviderKind::Generic => None,
        }
    }
}

pub fn default_scopes(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Google => "https://mail.google.com/ openid email",
        ProviderKind::Microsoft => {
            "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send openid email"
        }
        ProviderKind::Generic => "",
    }
}

/// Extra authorisation parameters. Google sends a refresh token only with offline access, and
/// again on re-consent only with `prompt=consent`.
pub fn extra_auth_params(kind: ProviderKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ProviderKind::Google => &[("access_type", "offline"), ("prompt", "consent")],
        ProviderKind::Microsoft => &[("prompt", "select_account")],
        ProviderKind::Generic => &[("prompt", "consent")],
    }
}

/// An OpenID provider's metadata, with the revocation endpoint (RFC 7009) it may list.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct Revocation {
    revocation_endpoint: Option<String>,
}
impl openidconnect::AdditionalProviderMetadata for Revocation {}

type Metadata = openidconnect::ProviderMetadata<
    Revocation,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// Fetches the issuer's metadata — OpenID Connect discovery (the `openidconnect` crate, which
/// also checks that the document names this issuer), else an OAuth 2.0 server's RFC 8414
/// document (no ID tokens then: the identity comes from userinfo) — and returns its endpoints.
/// Each error says what was wrong, for the "Issuer URL" field.
pub async fn discover(out: &super::outbound::Outbound, issuer: &str) -> Result<Endpoints, String> {
    use super::outbound::{cap, OutboundError};
    let issuer = issuer.trim_end_matches('/');
    let issuer_url = openidconnect::IssuerUrl::new(issuer.to_string())
        .map_err(|e| format!("is not a URL: {e}"))?;
    let client = out.capped(cap::DISCOVERY);
    let oidc_err = match Metadata::discover_async(issuer_url, &client).await {
        Ok(m) => {
            let http = |v: &str, what: &str| -> Result<String, String> {
                HttpUrl::parse(v)
                    .map(|u| u.as_str().to_string())
                    .map_err(|m| format!("its {what} {m}"))
            };
            let token = m
                .token_endpoint()
                .ok_or("the discovery document has no token_endpoint")?;
            return Ok(Endpoints {
                auth_url: http(m.authorization_endpoint().as_str(), "authorization_endpoint")?,
                token_url: http(token.as_str(), "token_endpoint")?,
                userinfo_url: m
                    .userinfo_endpoint()
                    .map(|u| http(u.as_str(), "userinfo_endpoint"))
                    .transpose()?,
                revocation_url: m
                    .additional_metadata()
                    .revocation_endpoint
                    .as_deref()
                    .map(|u| http(u, "revocation_endpoint"))
                    .transpose()?,
                issuer: Some(issuer.to_string()),
                jwks_url: Some(http(m.jwks_uri().as_str(), "jwks_uri")?),
            });
        }
        Err(openidconnect::DiscoveryError::Request(OutboundError::TooLarge(_))) => {
            return Err(format!(
                "{issuer}/.well-known/openid-configuration is larger than 512 KB; not a discovery document"
            ))
        }
        Err(openidconnect::DiscoveryError::Request(e)) => {
            // The same host will not answer the RFC 8414 path either.
            return Err(format!(
                "could not reach {issuer}/.well-known/openid-configuration: {e}"
            ));
        }
        Err(e) => describe_discovery(&e),
    };
    oauth_metadata(out, issuer)
        .await
        .map_err(|m| format!("{oidc_err}; and {m}"))
}

fn describe_discovery<E: std::error::Error + 'static>(
    e: &openidconnect::DiscoveryError<E>,
) -> String {
    let parts = super::error_chain(e);
    format!(
        "{issuer_doc} is not a usable OpenID discovery document ({})",
        super::provider_text(&parts.join(": "), 300),
        issuer_doc = "the issuer's /.well-known/openid-configuration"
    )
}

/// RFC 8414: an OAuth 2.0 authorization server's metadata, for providers without OpenID.
async fn oauth_metadata(
    out: &super::outbound::Outbound,
    issuer: &str,
) -> Result<Endpoints, String> {
    use super::outbound::{cap, OutboundError};
    let url = format!("{issuer}/.well-known/oauth-authorization-server");
    let res = match out.get(&url, None, cap::DISCOVERY).await {
        Ok(r) => r,
        Err(OutboundError::TooLarge(_)) => {
            return Err(format!(
                "{url} is larger than 512 KB; not a discovery document"
            ))
        }
        Err(e) => return Err(format!("could not reach {url}: {e}")),
    };
    if !res.status().is_success() {
        return Err(format!("{url} answered HTTP {}", res.status().as_u16()));
    }
    let doc: serde_json::Value = serde_json::from_slice(res.body())
        .map_err(|_| format!("{url} is not a JSON discovery document"))?;
    let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let doc_issuer = field("issuer").unwrap_or_default();
    if doc_issuer.trim_end_matches('/') != issuer {
        return Err(format!(
            "the document at {url} names issuer '{}', not '{issuer}'",
            doc_issuer.chars().take(200).collect::<String>()
        ));
    }
    let endpoint = |k: &str, required: bool| -> Result<Option<String>, String> {
        match field(k) {
            Some(v) => HttpUrl::parse(&v)
                .map(|u| Some(u.as_str().to_string()))
                .map_err(|m| format!("its {k} {m}")),
            None if required => Err(format!("the document at {url} has no {k}")),
            None => Ok(None),
        }
    };
    Ok(Endpoints {
        auth_url: endpoint("authorization_endpoint", true)?.unwrap_or_default(),
        token_url: endpoint("token_endpoint", true)?.unwrap_or_default(),
        userinfo_url: endpoint("userinfo_endpoint", false)?,
        revocation_url: endpoint("revocation_endpoint", false)?,
        issuer: None,
        jwks_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_defaults_and_tenant_is_substituted() {
        let mut vars = HashMap::new();
        vars.insert(
            "MAILBRIDGE_GOOGLE_TOKEN_URL".to_string(),
            "http://127.0.0.1:9090/token".to_string(),
        );
        vars.insert(
            "MAILBRIDGE_MICROSOFT_AUTH_URL".to_string(),
            "http://127.0.0.1:9090/{tenant}/auth".to_string(),
        );
        let b = BuiltIn::from_overrides(&vars).unwrap();
        assert_eq!(b.google.token_url, "http://127.0.0.1:9090/token");
        // Moved endpoints without their own issuer: the built-in keys do not apply.
        assert_eq!(b.google.issuer, None);
        assert_eq!(b.google.jwks_url, None);
        let untouched = BuiltIn::from_overrides(&HashMap::new()).unwrap();
        assert_eq!(
            untouched.google.issuer.as_deref(),
            Some("https://accounts.google.com")
        );
        assert_eq!(
            b.google.auth_url,
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        let ms = b
            .endpoints(ProviderKind::Microsoft, "contoso.onmicrosoft.com")
            .unwrap();
        assert_eq!(
            ms.auth_url,
            "http://127.0.0.1:9090/contoso.onmicrosoft.com/auth"
        );
        assert!(ms
            .token_url
            .contains("/contoso.onmicrosoft.com/oauth2/v2.0/token"));
        vars.insert(
            "MAILBRIDGE_GOOGLE_AUTH_URL".to_string(),
            "ftp://x".to_string(),
        );
        assert!(BuiltIn::from_overrides(&vars)
            .unwrap_err()
            .starts_with("MAILBRIDGE_GOOGLE_AUTH_URL"));
    }
}
