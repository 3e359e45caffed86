//! Presentational pieces shared by pages.

pub mod field;
pub mod layout;
pub mod time;
