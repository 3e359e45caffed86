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
}

/// The built-in endpoints, each overridable by an environment variable (for tests and private
/// clouds). Microsoft's contain `{tenant}`, replaced by the mail server's tenant.
#[derive(Debug, Clone)]
pub struct BuiltIn {
    pub google: Endpoints,
    pub microsoft: Endpoints,
}

pub const OVERRIDE_VARS: [&str; 8] = [
    "MAILBRIDGE_GOOGLE_AUTH_URL",
    "MAILBRIDGE_GOOGLE_TOKEN_URL",
    "MAILBRIDGE_GOOGLE_USERINFO_URL",
    "MAILBRIDGE_GOOGLE_REVOKE_URL",
    "MAILBRIDGE_MICROSOFT_AUTH_URL",
    "MAILBRIDGE_MICROSOFT_TOKEN_URL",
    "MAILBRIDGE_MICROSOFT_USERINFO_URL",
    "MAILBRIDGE_MICROSOFT_REVOKE_URL",
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

/// Fetches the issuer's metadata (OpenID Connect discovery, else RFC 8414) and returns its
/// endpoints. Each error says what was wrong, for the "Issuer URL" field.
pub async fn discover(out: &super::outbound::Outbound, issuer: &str) -> Result<Endpoints, String> {
    let issuer = issuer.trim_end_matches('/');
    let candidates = [
        format!("{issuer}/.well-known/openid-configuration"),
        format!("{issuer}/.well-known/oauth-authorization-server"),
    ];
    let mut last_err = String::new();
    for url in &candidates {
        let res = match out.get(url, None, super::outbound::cap::DISCOVERY).await {
            Ok(r) => r,
            Err(super::outbound::OutboundError::TooLarge(_)) => {
                return Err(format!(
                    "{url} is larger than 512 KB; not a discovery document"
                ))
            }
            Err(e) => {
                last_err = format!("could not reach {url}: {e}");
                // The same host will not answer the second path either.
                break;
            }
        };
        if !res.status().is_success() {
            last_err = format!("{url} answered HTTP {}", res.status().as_u16());
            continue;
        }
        let body = res.body();
        let doc: serde_json::Value = serde_json::from_slice(body)
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
        let auth_url = endpoint("authorization_endpoint", true)?.unwrap_or_default();
        let token_url = endpoint("token_endpoint", true)?.unwrap_or_default();
        return Ok(Endpoints {
            auth_url,
            token_url,
            userinfo_url: endpoint("userinfo_endpoint", false)?,
            revocation_url: endpoint("revocation_endpoint", false)?,
        });
    }
    Err(last_err)
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
