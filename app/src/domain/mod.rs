//! Field types that parse, and the wire types the browser and the server share, so that both
//! give the same message for the same input. No server-only code here; with `ssr` the enums
//! also map to their database text (`sqlx::Type`) and the views to rows (`sqlx::FromRow`).

pub mod activity;
pub mod api_key;
pub mod app_password;
pub mod application;
pub mod health;
pub mod mail_account;
pub mod mail_server;
pub mod mail_test;
pub mod net;
pub mod paging;
pub mod provider;
pub mod redirect;
pub mod text;
pub mod user;
pub mod webhook;

pub use activity::{AccountTimeline, ActivityFilter, ActivityQuery, ActivityView, ActorKind};
pub use api_key::{ApiKeyDraft, ApiKeyView, CreatedApiKey};
pub use app_password::{AppPasswordView, CreatedAppPassword};
pub use application::{AppName, ApplicationView};
pub use health::{Checklist, DayOutcomes, Health, NotificationSettings, Warning};
pub use mail_account::{
    AccountChoices, AccountFilter, AccountName, AccountStatus, MailAccountView, NewAccountForm,
    ServerChoice, UserChoice,
};
pub use mail_server::{MailServerDraft, MailServerEdit, MailServerSummary, Subject};
pub use mail_test::{Protocol, ProtocolResult, TestStep};
pub use net::{CidrList, Encryption, Host, HttpUrl, Port};
pub use paging::{Page, PAGE_SIZE};
pub use provider::{AuthMethod, MailPreset, ProviderKind};
pub use text::OrganisationName;
pub use user::{DisplayName, Email, Password, Role, SessionUser, UserView};
pub use webhook::{
    CreatedWebhook, DeliveryState, DeliveryView, EventKind, WebhookDetail, WebhookDraft,
    WebhookView,
};
