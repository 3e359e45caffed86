//! Server-only code, compiled only with the `ssr` feature so none of it (nor sqlx, argon2, ...)
//! reaches the WASM bundle. Services (`service`, `oauth`, `mail`, `refresh`) hold the rules;
//! `db` holds the SQL. Nothing here knows about Leptos or HTTP requests: the server functions
//! in `api` call in, the CLI and the tests too.

pub mod audit;
pub mod client;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod headers;
pub mod heartbeat;
pub mod housekeeping;
pub mod mail;
pub mod metrics;
pub mod notices;
pub mod oauth;
pub mod outbound;
pub mod passwords;
pub mod providers;
pub mod refresh;
pub mod service;
pub mod sessions;
pub mod state;
pub mod task;
pub mod webhooks;

pub use state::AppState;

use crate::error::AppError;

/// Logs an unexpected failure with its cause and hands the browser only a generic message.
pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "{context}");
    AppError::Internal
}

pub fn begin_failed(e: sqlx::Error) -> AppError {
    internal("starting a transaction", e)
}

pub fn commit_failed(e: sqlx::Error) -> AppError {
    internal("committing a transaction", e)
}

/// An error and its causes, outermost first ("error sending request: connection refused"):
/// many crates' Display shows only the outer layer, which tells an admin nothing.
pub fn error_chain(e: &dyn std::error::Error) -> Vec<String> {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts.dedup();
    parts
}

/// Text that came from a provider or a mail server (an error description, a greeting, an
/// identity), made safe to store and show: no control characters, at most `max` characters.
pub fn provider_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_drops_control_characters_and_clips() {
        assert_eq!(provider_text("a\r\nb\x1b[31mc", 100), "ab[31mc");
        assert_eq!(provider_text("héllo wörld", 5), "héllo");
    }
}
