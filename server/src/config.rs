//! Configuration from environment variables. Every error names the variable and what was
//! expected, because that one line is all an operator sees when start-up fails.

use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub database_url: String,
    /// Without a trailing slash.
    pub public_url: String,
    pub log_format: LogFormat,
    /// Where cargo-leptos put the WASM, JS and CSS (`LEPTOS_SITE_ROOT`).
    pub site_root: String,
    /// cargo-leptos' list of content-hashed asset names (`LEPTOS_HASH_FILE_NAME`; absolute, or
    /// beside the server binary; default `hash.txt`).
    pub hash_file: Option<String>,
    pub session_idle_minutes: i64,
    pub session_max_hours: i64,
    pub header_timeout_secs: i64,
    pub body_timeout_secs: i64,
    pub max_connections: i64,
    /// `MAILBRIDGE_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: app::domain::CidrList,
    pub login_max_failures_per_email: i64,
    pub login_max_failures_per_client: i64,
    pub login_window_secs: i64,
    pub login_max_failures_per_email_all_clients: i64,
    pub login_short_window_secs: i64,
    /// Argon2id hashes running at once (`MAILBRIDGE_PASSWORD_HASH_CONCURRENCY`).
    pub password_hash_concurrency: i64,
    /// First-start admin, created only while no user exists.
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// `MAILBRIDGE_SECRET_KEY` (base64 of 32 bytes); else the key file is used.
    pub secret_key: Option<String>,
    pub secret_key_file: Option<std::path::PathBuf>,
    pub mail_timeout_secs: i64,
    /// Connection tests running at once (`MAILBRIDGE_MAIL_TEST_CONCURRENCY`).
    pub mail_test_concurrency: i64,
    /// Connection tests one user may start per minute (`MAILBRIDGE_MAIL_TEST_PER_MINUTE`).
    pub mail_test_per_minute: i64,
    /// REST requests one API key may make per minute (`MAILBRIDGE_API_RATE_PER_MINUTE`).
    pub api_rate_per_minute: i64,
    /// Webhook deliveries in flight at once per instance (`MAILBRIDGE_WEBHOOK_CONCURRENCY`).
    pub webhook_concurrency: i64,
    /// The SHA-256 of `MAILBRIDGE_METRICS_TOKEN` (the token itself is not kept): `/metrics`
    /// is served only when set.
    pub metrics_token_hash: Option<String>,
    /// `MAILBRIDGE_AUDIT_RETENTION_DAYS`: how long the audit trail is kept.
    pub audit_retention_days: i64,
    pub notify_error_after_mins: i64,
    pub ca_file: Option<std::path::PathBuf>,
    /// Private ranges outbound calls may reach (`MAILBRIDGE_ALLOW_PRIVATE_NETWORKS`).
    pub allow_private_networks: app::domain::CidrList,
    pub refresh_before_secs: i64,
    pub refresh_interval_secs: i64,
    pub refresh_concurrency: i64,
    /// `MAILBRIDGE_REFRESH_LEASE_SECS`: how long an instance may hold an account's refresh.
    pub refresh_lease_secs: i64,
    /// `MAILBRIDGE_SMTP_RELAY_ADDR`: the SMTP submission relay's address (off when unset).
    pub smtp_relay_addr: Option<SocketAddr>,
    /// `MAILBRIDGE_SMTP_RELAY_TLS=implicit`: TLS from the first byte instead of STARTTLS.
    pub smtp_relay_implicit_tls: bool,
    pub smtp_relay_max_bytes: i64,
    pub smtp_relay_max_connections: i64,
    /// `MAILBRIDGE_IMAP_PROXY_ADDR`: the IMAP proxy's address (off when unset).
    pub imap_proxy_addr: Option<SocketAddr>,
    pub imap_proxy_implicit_tls: bool,
    pub imap_proxy_max_connections: i64,
    /// `MAILBRIDGE_GATEWAY_IDLE_SECS`: a relay or proxy client silent this long is dropped.
    pub gateway_idle_secs: i64,
    /// `MAILBRIDGE_GATEWAY_RECHECK_SECS`: how often a proxied IMAP session re-checks its app
    /// password and mailbox.
    pub gateway_recheck_secs: i64,
    pub tls_cert_file: Option<std::path::PathBuf>,
    pub tls_key_file: Option<std::path::PathBuf>,
    /// `MAILBRIDGE_GOOGLE_*_URL` / `MAILBRIDGE_MICROSOFT_*_URL` overrides, as given.
    pub provider_overrides: std::collections::HashMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let addr_raw = var("LEPTOS_SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let site_addr: SocketAddr = addr_raw.parse().map_err(|_| {
            err(
                "LEPTOS_SITE_ADDR",
                format!("expected an IP address and port such as 127.0.0.1:3000, got '{addr_raw}'"),
            )
        })?;

        let database_url =
            var("MAILBRIDGE_DATABASE_URL").unwrap_or_else(|| "sqlite://data/mailbridge.db".into());
        if let Err(e) = app::ssr::db::Backend::of(&database_url) {
            return Err(err("MAILBRIDGE_DATABASE_URL", e.to_string()));
        }

        let public_url = match var("MAILBRIDGE_PUBLIC_URL") {
            Some(raw) => parse_public_url(&raw)?,
            None => format!("http://{site_addr}"),
        };

        let log_format = match var("MAILBRIDGE_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err(
                    "MAILBRIDGE_LOG_FORMAT",
                    format!("expected 'text' or 'json', got '{other}'"),
                ))
            }
        };

        let site_root = var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into());

        let metrics_token_hash = match var("MAILBRIDGE_METRICS_TOKEN") {
            None => None,
            Some(t) if t.len() < 16 => {
                return Err(err(
                    "MAILBRIDGE_METRICS_TOKEN",
                    "expected at least 16 characters (e.g. `openssl rand -hex 24`)".to_string(),
                ))
            }
            Some(t) => Some(app::ssr::sessions::token_hash(&t)),
        };
        let number = |name: &'static str, default: i64, min: i64| -> Result<i64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        err(
                            name,
                            format!("expected a whole number of at least {min}, got '{raw}'"),
                        )
                    }),
            }
        };

        let listen = |name: &'static str| -> Result<Option<SocketAddr>, ConfigError> {
            var(name)
                .map(|raw| {
                    raw.parse().map_err(|_| {
                        err(
                            name,
                            format!(
                                "expected an IP address and port such as 0.0.0.0:587, got '{raw}'"
                            ),
                        )
                    })
                })
                .transpose()
        };
        let implicit = |name: &'static str| -> Result<bool, ConfigError> {
            match var(name).as_deref() {
                None | Some("starttls") => Ok(false),
                Some("implicit") => Ok(true),
                Some(other) => Err(err(
                    name,
                    format!("expected 'starttls' or 'implicit', got '{other}'"),
                )),
            }
        };
        let smtp_relay_addr = listen("MAILBRIDGE_SMTP_RELAY_ADDR")?;
        let imap_proxy_addr = listen("MAILBRIDGE_IMAP_PROXY_ADDR")?;
        let tls_cert_file: Option<std::path::PathBuf> =
            var("MAILBRIDGE_TLS_CERT_FILE").map(Into::into);
        let tls_key_file: Option<std::path::PathBuf> =
            var("MAILBRIDGE_TLS_KEY_FILE").map(Into::into);
        if (smtp_relay_addr.is_some() || imap_proxy_addr.is_some()) && tls_cert_file.is_none() {
            return Err(err(
                "MAILBRIDGE_TLS_CERT_FILE",
                "the SMTP relay and the IMAP proxy take passwords only over TLS: set MAILBRIDGE_TLS_CERT_FILE and MAILBRIDGE_TLS_KEY_FILE",
            ));
        }
        if tls_cert_file.is_some() && tls_key_file.is_none() {
            return Err(err(
                "MAILBRIDGE_TLS_KEY_FILE",
                "expected the private key of MAILBRIDGE_TLS_CERT_FILE (PEM)",
            ));
        }

        let trusted_proxies =
            app::domain::CidrList::parse(&var("MAILBRIDGE_TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|m| err("MAILBRIDGE_TRUSTED_PROXIES", m))?;

        Ok(Config {
            site_addr,
            trusted_proxies,
            database_url,
            public_url,
            log_format,
            site_root,
            hash_file: var("LEPTOS_HASH_FILE_NAME"),
            session_idle_minutes: number("MAILBRIDGE_SESSION_IDLE_MINUTES", 12 * 60, 1)?,
            session_max_hours: number("MAILBRIDGE_SESSION_MAX_HOURS", 7 * 24, 1)?,
            header_timeout_secs: number("MAILBRIDGE_HEADER_TIMEOUT_SECS", 20, 1)?,
            body_timeout_secs: number("MAILBRIDGE_BODY_TIMEOUT_SECS", 30, 1)?,
            max_connections: number("MAILBRIDGE_MAX_CONNECTIONS", 1024, 1)?,
            login_max_failures_per_email: number("MAILBRIDGE_LOGIN_MAX_FAILURES_PER_EMAIL", 5, 1)?,
            login_max_failures_per_client: number(
                "MAILBRIDGE_LOGIN_MAX_FAILURES_PER_CLIENT",
                20,
                1,
            )?,
            login_window_secs: number("MAILBRIDGE_LOGIN_WINDOW_SECS", 15 * 60, 1)?,
            login_max_failures_per_email_all_clients: number(
                "MAILBRIDGE_LOGIN_MAX_FAILURES_PER_EMAIL_ALL_CLIENTS",
                100,
                1,
            )?,
            login_short_window_secs: number("MAILBRIDGE_LOGIN_SHORT_WINDOW_SECS", 5 * 60, 1)?,
            password_hash_concurrency: number(
                "MAILBRIDGE_PASSWORD_HASH_CONCURRENCY",
                std::thread::available_parallelism()
                    .map(|n| n.get() as i64)
                    .unwrap_or(2),
                1,
            )?,
            admin_email: var("MAILBRIDGE_ADMIN_EMAIL"),
            // Not trimmed: spaces may be part of a password.
            admin_password: get("MAILBRIDGE_ADMIN_PASSWORD").filter(|p| !p.is_empty()),
            mail_timeout_secs: number("MAILBRIDGE_MAIL_TIMEOUT_SECS", 15, 1)?,
            mail_test_concurrency: number("MAILBRIDGE_MAIL_TEST_CONCURRENCY", 8, 1)?,
            mail_test_per_minute: number("MAILBRIDGE_MAIL_TEST_PER_MINUTE", 20, 1)?,
            api_rate_per_minute: number("MAILBRIDGE_API_RATE_PER_MINUTE", 600, 1)?,
            webhook_concurrency: number("MAILBRIDGE_WEBHOOK_CONCURRENCY", 8, 1)?,
            metrics_token_hash,
            audit_retention_days: number("MAILBRIDGE_AUDIT_RETENTION_DAYS", 365, 1)?,
            notify_error_after_mins: number("MAILBRIDGE_NOTIFY_ERROR_AFTER_MINS", 60, 1)?,
            ca_file: var("MAILBRIDGE_CA_FILE").map(Into::into),
            allow_private_networks: app::domain::CidrList::parse(
                &var("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS").unwrap_or_default(),
            )
            .map_err(|m| err("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS", m))?,
            refresh_before_secs: number("MAILBRIDGE_REFRESH_BEFORE_SECS", 300, 0)?,
            refresh_interval_secs: number("MAILBRIDGE_REFRESH_INTERVAL_SECS", 60, 1)?,
            refresh_concurrency: number("MAILBRIDGE_REFRESH_CONCURRENCY", 8, 1)?,
            refresh_lease_secs: number("MAILBRIDGE_REFRESH_LEASE_SECS", 60, 5)?,
            smtp_relay_addr,
            smtp_relay_implicit_tls: implicit("MAILBRIDGE_SMTP_RELAY_TLS")?,
            smtp_relay_max_bytes: number(
                "MAILBRIDGE_SMTP_RELAY_MAX_BYTES",
                35 * 1024 * 1024,
                1024,
            )?,
            smtp_relay_max_connections: number("MAILBRIDGE_SMTP_RELAY_MAX_CONNECTIONS", 100, 1)?,
            imap_proxy_addr,
            imap_proxy_implicit_tls: implicit("MAILBRIDGE_IMAP_PROXY_TLS")?,
            imap_proxy_max_connections: number("MAILBRIDGE_IMAP_PROXY_MAX_CONNECTIONS", 500, 1)?,
            gateway_idle_secs: number("MAILBRIDGE_GATEWAY_IDLE_SECS", 300, 1)?,
            gateway_recheck_secs: number("MAILBRIDGE_GATEWAY_RECHECK_SECS", 60, 1)?,
            tls_cert_file,
            tls_key_file,
            secret_key: var("MAILBRIDGE_SECRET_KEY"),
            secret_key_file: var("MAILBRIDGE_SECRET_KEY_FILE").map(Into::into),
            provider_overrides: app::ssr::providers::OVERRIDE_VARS
                .iter()
                .filter_map(|k| get(k).map(|v| (k.to_string(), v)))
                .collect(),
        })
    }
}

/// An absolute http(s) URL with no query or fragment; a trailing slash is dropped so that
/// `{public_url}/oauth/callback/..` is always exactly one slash.
fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    const VAR: &str = "MAILBRIDGE_PUBLIC_URL";
    let url = url::Url::parse(raw).map_err(|e| {
        err(
            VAR,
            format!("expected an absolute URL such as https://mail.example.com, got '{raw}' ({e})"),
        )
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err(
            VAR,
            format!(
                "expected an http or https URL, got scheme '{}'",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(err(
            VAR,
            format!("expected scheme, host, optional port and path only, got '{raw}'"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = load(&[]).unwrap();
        assert_eq!(c.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/mailbridge.db");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn public_url_follows_site_addr_and_drops_trailing_slash() {
        assert_eq!(
            load(&[("LEPTOS_SITE_ADDR", "0.0.0.0:8080")])
                .unwrap()
                .public_url,
            "http://0.0.0.0:8080"
        );
        assert_eq!(
            load(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com/bridge/")])
                .unwrap()
                .public_url,
            "https://mail.example.com/bridge"
        );
    }

    #[test]
    fn either_backend_is_accepted() {
        for url in [
            "sqlite://x.db",
            "postgres://u@h/db",
            "postgresql://u:p@h:5433/db",
        ] {
            let c = load(&[("MAILBRIDGE_DATABASE_URL", url)]).unwrap();
            assert_eq!(c.database_url, url);
        }
    }

    #[test]
    fn a_relay_without_tls_files_does_not_start() {
        let e = load(&[("MAILBRIDGE_SMTP_RELAY_ADDR", "127.0.0.1:2587")]).unwrap_err();
        assert_eq!(e.var, "MAILBRIDGE_TLS_CERT_FILE");
        let e = load(&[
            ("MAILBRIDGE_IMAP_PROXY_ADDR", "127.0.0.1:2993"),
            ("MAILBRIDGE_TLS_CERT_FILE", "/x/cert.pem"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "MAILBRIDGE_TLS_KEY_FILE");
        let c = load(&[]).unwrap();
        assert_eq!(c.smtp_relay_addr, None);
        assert_eq!(c.smtp_relay_max_bytes, 35 * 1024 * 1024);
        assert_eq!(c.smtp_relay_max_connections, 100);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("MAILBRIDGE_DATABASE_URL", "mysql://x"),
            ("MAILBRIDGE_PUBLIC_URL", "ftp://x"),
            ("MAILBRIDGE_PUBLIC_URL", "not a url"),
            ("MAILBRIDGE_PUBLIC_URL", "https://x/?a=b"),
            ("MAILBRIDGE_LOG_FORMAT", "xml"),
            ("MAILBRIDGE_SESSION_IDLE_MINUTES", "0"),
            ("MAILBRIDGE_LOGIN_WINDOW_SECS", "soon"),
            ("MAILBRIDGE_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("MAILBRIDGE_SMTP_RELAY_ADDR", "localhost"),
            ("MAILBRIDGE_SMTP_RELAY_TLS", "always"),
            ("MAILBRIDGE_IMAP_PROXY_TLS", "yes"),
            ("MAILBRIDGE_SMTP_RELAY_MAX_BYTES", "10"),
        ] {
            let e = load(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var, "{value}");
            assert!(e.to_string().starts_with(var));
        }
    }
}
