//! One file per page.

pub mod application_edit;
pub mod applications;
pub mod dashboard;
pub mod login;
pub mod mail_accounts;
pub mod mail_server_form;
pub mod mail_servers;
pub mod not_found;
pub mod profile;
pub mod user_edit;
pub mod users;
