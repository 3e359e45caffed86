//! Presentational pieces shared by pages.

pub mod account;
pub mod app_passwords;
pub mod copy;
pub mod field;
pub mod layout;
pub mod mail_test;
pub mod pager;
pub mod ready;
pub mod route;
pub mod server_fields;
pub mod time;
pub mod webhook_fields;
