//! Server-only code: database, sessions, secrets. Compiled only with the `ssr` feature, so none of
//! it (nor sqlx, argon2, ...) reaches the WASM bundle.

pub mod auth;
pub mod crypto;
pub mod db;
pub mod mail;
pub mod oauth;
pub mod providers;
pub mod refresh;
pub mod state;

pub use state::AppState;

use crate::error::AppError;

/// Finishes a server function: on error, sets the HTTP status that goes with it.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(
                http::StatusCode::from_u16(err.status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
    }
    result
}

/// Logs an unexpected failure with its cause and hands the browser only a generic message.
pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "{context}");
    AppError::Internal
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

/// The shared state, taken from the request's Leptos context.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| internal("application state missing from context", "no AppState"))
}
