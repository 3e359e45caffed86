//! The business rules behind each page, one module per resource. Each function takes the state,
//! the caller where it matters, and already-parsed domain types; it returns domain types or an
//! [`AppError`](crate::error::AppError). No Leptos, no HTTP: the server functions, the CLI and
//! the tests call the same code.

pub mod activity;
pub mod api_keys;
pub mod app_passwords;
pub mod applications;
pub mod custody;
pub mod health;
pub mod mail_accounts;
pub mod mail_servers;
pub mod settings;
pub mod sign_in;
pub mod users;
pub mod webhooks;
