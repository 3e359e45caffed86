//! One file per page.

pub mod applications;
pub mod dashboard;
pub mod mail_accounts;
pub mod mail_servers;
pub mod not_found;
pub mod users;
