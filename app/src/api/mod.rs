//! Server functions, one module per resource. Each is a few lines: guard (who is calling),
//! parse the input into domain types, call one service function, answer. The rules and the
//! SQL live below, in `ssr`.

pub mod activity;
pub mod api_keys;
pub mod app_passwords;
pub mod applications;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod guard;
pub mod mail_accounts;
pub mod mail_servers;
pub mod mail_test;
pub mod settings;
pub mod users;
pub mod webhooks;
