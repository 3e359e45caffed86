//! One file per page.

pub mod activity;
pub mod api_keys;
pub mod application_edit;
pub mod applications;
pub mod dashboard;
pub mod login;
pub mod mail_account;
pub mod mail_accounts;
pub mod mail_server_form;
pub mod mail_servers;
pub mod not_found;
pub mod oauth_result;
pub mod profile;
pub mod server_accounts;
pub mod settings;
pub mod user_edit;
pub mod users;
pub mod webhook;
pub mod webhooks;
