//! Field types that parse, shared by the browser and the server so that both give the same
//! message for the same input. No server-only dependencies here.

pub mod mail_account;
pub mod mail_server;
pub mod net;
pub mod text;
pub mod user;

pub use mail_account::AccountName;
pub use mail_server::{AppName, AuthMethod, MailServerDraft, ProviderKind, Subject};
pub use net::{CidrList, Encryption, Host, HttpUrl, Port};
pub use text::OrganisationName;
pub use user::{DisplayName, Email, Password, Role};
