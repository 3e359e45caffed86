//! The mail-server form and the integration application form: what the admin types, parsed into
//! what is stored. The browser runs the same `parse` as the server, so messages match.

use serde::{Deserialize, Serialize};

use super::net::{Encryption, Host, HttpUrl, Port};
use super::provider::{AuthMethod, ProviderKind};
use super::text::bounded;

pub mod label {
    pub const SUBJECT: &str = "Subject";
    pub const AUTH_METHOD: &str = "Authorization method";
    pub const PROVIDER: &str = "OAuth provider";
    pub const CLIENT_ID: &str = "Client ID";
    pub const CLIENT_SECRET: &str = "Client secret";
    pub const REDIRECT_URI: &str = "Redirect URI";
    pub const TENANT: &str = "Tenant";
    pub const ISSUER_URL: &str = "Issuer URL";
    pub const SCOPES: &str = "Scopes";
    pub const IMAP_HOST: &str = "IMAP host";
    pub const IMAP_PORT: &str = "IMAP port";
    pub const IMAP_ENCRYPTION: &str = "IMAP encryption";
    pub const SMTP_HOST: &str = "SMTP host";
    pub const SMTP_PORT: &str = "SMTP port";
    pub const SMTP_ENCRYPTION: &str = "SMTP encryption";
    pub const VALIDATE_CERTIFICATE: &str = "Validate certificate";
    pub const ACTIVE: &str = "Active";
    pub const VISIBLE: &str = "Visible to users";
    pub const ALLOWED_DOMAINS: &str = "Allowed login domains";
    pub const SECRET_EXPIRES: &str = "Client secret expires on";
    pub const PUBLISHING: &str = "Publishing status";
}

/// Why "None" and an unvalidated certificate are refused for OAuth2 servers.
pub const OAUTH_NEEDS_TLS: &str =
    "must be SSL/TLS or STARTTLS for an OAuth2 server: a token sent in the clear is a full-mailbox key anyone on the way can copy";
pub const OAUTH_NEEDS_VALIDATION: &str =
    "must stay on for an OAuth2 server (for a private certificate authority, set MAILBRIDGE_CA_FILE): otherwise any machine on the way can pose as the mail server and take the token";

/// The domains a server's mailboxes may belong to; empty allows every domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginDomains(Vec<String>);

/// What a stored list that no longer parses (edited by hand) stands for: no domain at all —
/// failing open would admit every mailbox.
const UNREADABLE: &str = "(unreadable list: none)";

impl LoginDomains {
    /// Domains separated by spaces, commas or new lines, e.g. `example.com example.org`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut out: Vec<String> = vec![];
        for part in raw.split(|c: char| c.is_whitespace() || c == ',') {
            let part = part.trim().trim_start_matches('@');
            if part.is_empty() {
                continue;
            }
            let host = Host::parse(part)
                .ok()
                .filter(|h| {
                    h.as_str().contains('.') && h.as_str().parse::<std::net::IpAddr>().is_err()
                })
                .ok_or_else(|| {
                    format!(
                        "'{}' is not a domain such as example.com",
                        part.chars().take(60).collect::<String>()
                    )
                })?;
            if !out.iter().any(|d| d == host.as_str()) {
                out.push(host.as_str().to_string());
            }
        }
        if out.len() > 50 {
            return Err("may list at most 50 domains".into());
        }
        Ok(LoginDomains(out))
    }

    /// A stored list: what it says, or — when it does not parse — a list that admits nobody.
    pub fn stored(raw: &str) -> Self {
        LoginDomains::parse(raw).unwrap_or_else(|_| LoginDomains(vec![UNREADABLE.into()]))
    }

    /// Whether mailbox `login` (`user@domain`) is in one of the domains; every login is when the
    /// list is empty.
    pub fn allows(&self, login: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let domain = login.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        domain.is_some_and(|d| self.0.contains(&d))
    }

    /// As stored and shown: space-separated.
    pub fn joined(&self) -> String {
        self.0.join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A mail server's name, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 50).map(Subject)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A Microsoft tenant: `common`, `organizations`, `consumers`, a tenant id (GUID) or a domain.
pub fn parse_tenant(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok("common".into());
    }
    if v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err("must be common, organizations, consumers, a tenant id or a domain".into());
    }
    Ok(v.to_ascii_lowercase())
}

/// An OAuth/OpenID issuer: an http(s) URL without a query (RFC 8414 §2; https is enforced
/// when it is fetched, since plain http is allowed only inside an allowed private range).
pub fn parse_issuer(raw: &str) -> Result<HttpUrl, String> {
    let url = HttpUrl::parse(raw)?;
    if url.as_str().contains('?') {
        return Err("must not have a ?query: an issuer is a plain https address".into());
    }
    Ok(url)
}

/// Space-separated OAuth scopes (printable ASCII, no quotes or backslashes, RFC 6749 §3.3).
pub fn parse_scopes(raw: &str) -> Result<String, String> {
    let v = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.len() > 1000 {
        return Err("must be at most 1000 characters".into());
    }
    if v.chars()
        .any(|c| !('!'..='~').contains(&c) && c != ' ' || c == '"' || c == '\\')
    {
        return Err("must be scope names separated by spaces".into());
    }
    Ok(v)
}

/// A row of the Mail servers list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailServerSummary {
    pub id: i64,
    pub subject: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::ssr::db::Flag"))]
    pub active: bool,
    pub auth_method: AuthMethod,
    pub provider: Option<ProviderKind>,
    pub imap_host: String,
    pub smtp_host: String,
    pub linked_accounts: i64,
}

/// The edit form's content. The client secret itself never leaves the server: only whether
/// one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServerEdit {
    pub id: i64,
    pub draft: MailServerDraft,
    pub secret_set: bool,
}

/// Everything the mail-server form holds, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MailServerDraft {
    pub subject: String,
    pub auth_method: String,
    pub provider: String,
    pub client_id: String,
    /// Empty on edit means "keep the stored secret".
    pub client_secret: String,
    pub application_id: String,
    pub tenant: String,
    pub issuer_url: String,
    pub scopes: String,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_encryption: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_encryption: String,
    pub validate_certificate: bool,
    pub active: bool,
    pub visible_to_users: bool,
    pub allowed_domains: String,
    /// How many linked mail accounts the admin agreed to send back to authorisation when this
    /// save changes where their tokens go (0 until the page has asked).
    pub confirm_linked: i64,
    /// `YYYY-MM-DD`, or empty when not known (OAuth servers).
    pub client_secret_expires_on: String,
    /// Google only: `testing` or `production`, or empty.
    pub publishing_status: String,
}

/// A Google OAuth app's publishing status: in `Testing`, every grant ends after 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublishingStatus {
    Testing,
    Production,
}

impl PublishingStatus {
    pub fn code(self) -> &'static str {
        match self {
            PublishingStatus::Testing => "testing",
            PublishingStatus::Production => "production",
        }
    }

    /// Empty is "not given".
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        match raw.trim() {
            "" => Ok(None),
            "testing" => Ok(Some(PublishingStatus::Testing)),
            "production" => Ok(Some(PublishingStatus::Production)),
            other => Err(format!("'{other}' is not testing or production")),
        }
    }
}

/// How long a grant of a Google app in Testing lasts.
pub const TESTING_GRANT_SECS: i64 = 7 * 86_400;

/// A day typed as `YYYY-MM-DD` (empty: none), as the Unix time of its UTC midnight.
pub fn parse_day(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    time::Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
    .map_err(|_| "must be a date such as 2027-06-30".to_string())
}

/// The `YYYY-MM-DD` of a Unix time (UTC).
pub fn day_text(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// OAuth settings of a valid draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub provider: ProviderKind,
    pub client_id: String,
    /// `None` keeps the stored secret (edit only).
    pub client_secret: Option<String>,
    pub application_id: i64,
    pub tenant: String,
    pub issuer_url: Option<String>,
    pub scopes: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMailServer {
    pub subject: Subject,
    pub auth_method: AuthMethod,
    pub oauth: Option<OAuthSettings>,
    pub imap_host: Host,
    pub imap_port: Port,
    pub imap_encryption: Encryption,
    pub smtp_host: Host,
    pub smtp_port: Port,
    pub smtp_encryption: Encryption,
    pub validate_certificate: bool,
    pub active: bool,
    pub visible_to_users: bool,
    pub allowed_domains: LoginDomains,
    pub client_secret_expires_at: Option<i64>,
    pub publishing_status: Option<PublishingStatus>,
}

pub type FieldErrors = Vec<(&'static str, String)>;

impl MailServerDraft {
    /// Parses the whole form, collecting a message for every bad field.
    /// `secret_stored` says whether an existing server already has a client secret.
    pub fn parse(&self, secret_stored: bool) -> Result<ValidMailServer, FieldErrors> {
        let mut errors: FieldErrors = vec![];
        let mut check = |label: &'static str, r: Result<(), String>| {
            if let Err(m) = r {
                errors.push((label, m));
            }
        };
        let subject = Subject::parse(&self.subject);
        check(label::SUBJECT, subject.clone().map(|_| ()));
        let auth_method = AuthMethod::parse(&self.auth_method);
        check(label::AUTH_METHOD, auth_method.clone().map(|_| ()));

        let mut oauth = None;
        if auth_method == Ok(AuthMethod::OAuth2) {
            let provider = ProviderKind::parse(&self.provider);
            check(label::PROVIDER, provider.clone().map(|_| ()));
            let client_id = bounded(&self.client_id, 1, 255);
            check(label::CLIENT_ID, client_id.clone().map(|_| ()));
            let secret = self.client_secret.trim();
            let client_secret = if secret.is_empty() {
                if secret_stored {
                    Ok(None)
                } else {
                    Err("is required".to_string())
                }
            } else {
                bounded(secret, 1, 500).map(Some)
            };
            check(label::CLIENT_SECRET, client_secret.clone().map(|_| ()));
            let application_id = self.application_id.trim().parse::<i64>().map_err(|_| {
                "choose the integration application whose Redirect URI you registered".to_string()
            });
            check(label::REDIRECT_URI, application_id.clone().map(|_| ()));
            let tenant = if provider == Ok(ProviderKind::Microsoft) {
                parse_tenant(&self.tenant)
            } else {
                Ok(String::new())
            };
            check(label::TENANT, tenant.clone().map(|_| ()));
            let issuer = if provider == Ok(ProviderKind::Generic) {
                parse_issuer(&self.issuer_url).map(|u| Some(u.as_str().to_string()))
            } else {
                Ok(None)
            };
            check(label::ISSUER_URL, issuer.clone().map(|_| ()));
            let scopes = parse_scopes(&self.scopes).and_then(|s| {
                if s.is_empty() && provider == Ok(ProviderKind::Generic) {
                    Err(
                        "is required for a generic provider (e.g. openid email offline_access)"
                            .into(),
                    )
                } else {
                    Ok(s)
                }
            });
            check(label::SCOPES, scopes.clone().map(|_| ()));
            if let (
                Ok(provider),
                Ok(client_id),
                Ok(client_secret),
                Ok(application_id),
                Ok(tenant),
                Ok(issuer_url),
                Ok(scopes),
            ) = (
                provider,
                client_id,
                client_secret,
                application_id,
                tenant,
                issuer,
                scopes,
            ) {
                oauth = Some(OAuthSettings {
                    provider,
                    client_id,
                    client_secret,
                    application_id,
                    tenant,
                    issuer_url,
                    scopes,
                });
            }
        }

        let imap_host = Host::parse(&self.imap_host);
        check(label::IMAP_HOST, imap_host.clone().map(|_| ()));
        let imap_port = Port::parse(&self.imap_port);
        check(label::IMAP_PORT, imap_port.clone().map(|_| ()));
        let imap_encryption = Encryption::parse(&self.imap_encryption);
        check(label::IMAP_ENCRYPTION, imap_encryption.clone().map(|_| ()));
        let smtp_host = Host::parse(&self.smtp_host);
        check(label::SMTP_HOST, smtp_host.clone().map(|_| ()));
        let smtp_port = Port::parse(&self.smtp_port);
        check(label::SMTP_PORT, smtp_port.clone().map(|_| ()));
        let smtp_encryption = Encryption::parse(&self.smtp_encryption);
        check(label::SMTP_ENCRYPTION, smtp_encryption.clone().map(|_| ()));
        if auth_method == Ok(AuthMethod::OAuth2) {
            if imap_encryption == Ok(Encryption::None) {
                check(label::IMAP_ENCRYPTION, Err(OAUTH_NEEDS_TLS.into()));
            }
            if smtp_encryption == Ok(Encryption::None) {
                check(label::SMTP_ENCRYPTION, Err(OAUTH_NEEDS_TLS.into()));
            }
            if !self.validate_certificate {
                check(
                    label::VALIDATE_CERTIFICATE,
                    Err(OAUTH_NEEDS_VALIDATION.into()),
                );
            }
        }
        let allowed_domains = LoginDomains::parse(&self.allowed_domains);
        check(label::ALLOWED_DOMAINS, allowed_domains.clone().map(|_| ()));
        let oauth2 = auth_method == Ok(AuthMethod::OAuth2);
        let google = oauth2 && ProviderKind::parse(&self.provider) == Ok(ProviderKind::Google);
        // Only where they mean something: a password server has no secret, only Google apps
        // have a publishing status.
        let secret_expires = if oauth2 {
            parse_day(&self.client_secret_expires_on)
        } else {
            Ok(None)
        };
        check(label::SECRET_EXPIRES, secret_expires.clone().map(|_| ()));
        let publishing = if google {
            PublishingStatus::parse(&self.publishing_status)
        } else {
            Ok(None)
        };
        check(label::PUBLISHING, publishing.clone().map(|_| ()));

        if !errors.is_empty() {
            return Err(errors);
        }
        // Every field parsed above; the unwraps below cannot fail, but stay defensive anyway.
        let fail = || vec![(label::SUBJECT, "could not be read".to_string())];
        Ok(ValidMailServer {
            subject: subject.map_err(|_| fail())?,
            auth_method: auth_method.map_err(|_| fail())?,
            oauth,
            imap_host: imap_host.map_err(|_| fail())?,
            imap_port: imap_port.map_err(|_| fail())?,
            imap_encryption: imap_encryption.map_err(|_| fail())?,
            smtp_host: smtp_host.map_err(|_| fail())?,
            smtp_port: smtp_port.map_err(|_| fail())?,
            smtp_encryption: smtp_encryption.map_err(|_| fail())?,
            validate_certificate: self.validate_certificate,
            active: self.active,
            visible_to_users: self.visible_to_users,
            allowed_domains: allowed_domains.map_err(|_| fail())?,
            client_secret_expires_at: secret_expires.map_err(|_| fail())?,
            publishing_status: publishing.map_err(|_| fail())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn google() -> MailServerDraft {
        MailServerDraft {
            subject: "Gmail".into(),
            auth_method: "oauth2".into(),
            provider: "google".into(),
            client_id: "id".into(),
            client_secret: "secret".into(),
            application_id: "1".into(),
            imap_host: "imap.gmail.com".into(),
            imap_port: "993".into(),
            imap_encryption: "ssl".into(),
            smtp_host: "smtp.gmail.com".into(),
            smtp_port: "465".into(),
            smtp_encryption: "ssl".into(),
            validate_certificate: true,
            active: true,
            visible_to_users: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_google_draft_parses() {
        let v = google().parse(false).unwrap();
        assert_eq!(v.oauth.unwrap().client_secret.as_deref(), Some("secret"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut d = google();
        d.subject = "".into();
        d.imap_port = "70000".into();
        d.client_secret = "".into();
        let errs = d.parse(false).unwrap_err();
        let labels: Vec<_> = errs.iter().map(|e| e.0).collect();
        assert_eq!(
            labels,
            vec![label::SUBJECT, label::CLIENT_SECRET, label::IMAP_PORT]
        );
        // On edit, an empty secret keeps the stored one.
        d.subject = "x".into();
        d.imap_port = "993".into();
        assert_eq!(d.parse(true).unwrap().oauth.unwrap().client_secret, None);
    }

    #[test]
    fn oauth_servers_refuse_plain_text_and_unvalidated_certificates() {
        let mut d = google();
        d.imap_encryption = "none".into();
        d.smtp_encryption = "none".into();
        d.validate_certificate = false;
        let labels: Vec<_> = d.parse(false).unwrap_err().iter().map(|e| e.0).collect();
        assert_eq!(
            labels,
            vec![
                label::IMAP_ENCRYPTION,
                label::SMTP_ENCRYPTION,
                label::VALIDATE_CERTIFICATE
            ]
        );
        // A password server may still use them (a test server on the local network).
        d.auth_method = "password".into();
        assert!(d.parse(false).is_ok());
    }

    #[test]
    fn login_domains_parse_and_match() {
        let d = LoginDomains::parse(" Example.com, @corp.test\nexample.com ").unwrap();
        assert_eq!(d.joined(), "example.com corp.test");
        assert!(d.allows("boss@CORP.test"));
        assert!(!d.allows("boss@evil.test"));
        assert!(!d.allows("boss@sub.corp.test"));
        assert!(!d.allows("no-at-sign"));
        assert!(LoginDomains::parse("").unwrap().allows("x@y.z"));
        assert!(LoginDomains::parse("not a/domain").is_err());
        assert!(LoginDomains::parse("127.0.0.1").is_err());
        // A stored list that no longer parses admits nobody.
        assert!(!LoginDomains::stored("not a/domain").allows("x@y.z"));
        assert!(LoginDomains::stored("").allows("x@y.z"));
    }

    #[test]
    fn password_servers_need_no_oauth_fields() {
        let mut d = google();
        d.auth_method = "password".into();
        d.client_id.clear();
        d.client_secret.clear();
        d.application_id.clear();
        assert!(d.parse(false).unwrap().oauth.is_none());
    }

    proptest! {
        #[test]
        fn subject_never_panics(s in "\\PC{0,80}") {
            if let Ok(v) = Subject::parse(&s) {
                prop_assert!(v.as_str().chars().count() <= 50);
                prop_assert_eq!(Subject::parse(v.as_str()).unwrap(), v);
            }
            let _ = parse_scopes(&s);
            let _ = parse_tenant(&s);
        }
    }
}
