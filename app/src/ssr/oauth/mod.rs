//! The OAuth authorisation-code flow, by concern: the provider client of a mail server, the
//! start (state + PKCE), the callback (checks, code exchange, storage), the identity check and
//! revocation.

pub mod callback;
pub mod client;
pub mod identity;
pub mod outcome;
pub mod revocation;
pub mod start;

pub use callback::{callback, CallbackQuery};
pub use outcome::Outcome;
