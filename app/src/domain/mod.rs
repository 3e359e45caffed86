//! Field types that parse, shared by the browser and the server so that both give the same
//! message for the same input. No server-only dependencies here.

pub mod text;
pub mod user;

pub use text::OrganisationName;
pub use user::{DisplayName, Email, Password, Role};
