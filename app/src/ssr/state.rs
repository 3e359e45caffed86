use std::sync::Arc;

use crate::ssr::db::Pool;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

/// Settings the app itself needs at request time (the server crate parses them from the
/// environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `MAILBRIDGE_PUBLIC_URL` without a trailing slash: the base of every absolute URL.
    pub public_url: String,
    /// Idle time after which a session ends.
    pub session_idle_secs: i64,
    /// Age after which a session ends however busy (`MAILBRIDGE_SESSION_MAX_HOURS`).
    pub session_max_secs: i64,
    pub login: LoginLimits,
    /// `host:port` values a request's `Host` may carry: the public URL's, and for a loopback
    /// public URL its loopback aliases. Anything else is refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// A request body must arrive within this (`MAILBRIDGE_BODY_TIMEOUT_SECS`).
    pub body_timeout_secs: u64,
    /// `MAILBRIDGE_HEADER_TIMEOUT_SECS`, `MAILBRIDGE_MAX_CONNECTIONS`: see the server's serving.
    pub header_timeout_secs: u64,
    pub max_connections: usize,
    /// `MAILBRIDGE_TRUSTED_PROXIES`: peers whose forwarded-for headers name the client.
    pub trusted_proxies: crate::domain::CidrList,
    /// `MAILBRIDGE_API_RATE_PER_MINUTE`: REST requests one API key may make per minute.
    pub api_rate_per_minute: i64,
    /// The SHA-256 (hex) of `MAILBRIDGE_METRICS_TOKEN`: `/metrics` is served only when set.
    pub metrics_token_hash: Option<String>,
    /// `MAILBRIDGE_AUDIT_RETENTION_DAYS`: audit entries older than this are purged.
    pub audit_retention_days: i64,
    /// `MAILBRIDGE_NOTIFY_ERROR_AFTER_MINS`: an owner is told of an account in `error` this long.
    pub notify_error_after_mins: i64,
}

impl Settings {
    /// Cookies get `Secure` when the app is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Sign-in throttling: at most `per_email` failures for one address from one client, or
/// `per_client` from one client for any addresses, within `window_secs`; and, so that many
/// clients together cannot guess on, `per_email_all_clients` for one address from all clients
/// within the short window (a short lock the real user outlasts).
#[derive(Debug, Clone)]
pub struct LoginLimits {
    pub per_email: i64,
    pub per_client: i64,
    pub window_secs: i64,
    pub per_email_all_clients: i64,
    pub short_window_secs: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_email: 5,
            per_client: 20,
            window_secs: 15 * 60,
            per_email_all_clients: 100,
            short_window_secs: 5 * 60,
        }
    }
}

/// Everything a request handler or server function needs. Cloned on every `use_context` (and
/// so many times per rendered page): one reference-count increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub pool: Pool,
    pub clock: super::clock::Clock,
    pub settings: Arc<Settings>,
    pub secrets: Arc<super::crypto::SecretBox>,
    pub providers: Arc<super::providers::BuiltIn>,
    /// For provider calls: public addresses only, no redirects, answers capped.
    pub outbound: super::outbound::Outbound,
    pub refresher: Arc<super::refresh::Refresher>,
    pub refresh: super::refresh::RefreshSettings,
    /// The webhook delivery worker's settings and doorbell.
    pub webhooks: Arc<super::webhooks::Hub>,
    /// The background tasks' signs of life (`/readyz`).
    pub heartbeats: Arc<super::heartbeat::Heartbeats>,
    /// Password hashes running at once (`MAILBRIDGE_PASSWORD_HASH_CONCURRENCY`): each Argon2id
    /// takes 19 MiB and a core for tens of milliseconds.
    pub hashing: Arc<tokio::sync::Semaphore>,
    pub mail: Arc<super::mail::MailSettings>,
    pub mail_tests: Arc<super::mail::gate::TestGate>,
}

impl AppState {
    pub fn redirect_uri(&self, app_key: &str) -> String {
        format!("{}/oauth/callback/{app_key}", self.settings.public_url)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
