use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;

/// Settings the app itself needs at request time (the server crate parses them from the
/// environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `MAILBRIDGE_PUBLIC_URL` without a trailing slash: the base of every absolute URL.
    pub public_url: String,
}

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: SqlitePool,
    pub settings: Arc<Settings>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
