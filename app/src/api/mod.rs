//! Server functions, one module per resource. Each authorises its caller, parses its input into
//! domain types and only then touches the database.

pub mod applications;
pub mod auth;
pub mod mail_accounts;
pub mod mail_servers;
pub mod mail_test;
pub mod settings;
pub mod users;
