//! "Run test": prove that a mail account's IMAP and SMTP logins work.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One line of the checklist: connect, TLS, authenticate, select / EHLO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestStep {
    pub name: String,
    pub ok: bool,
    pub millis: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolResult {
    pub protocol: String,
    pub ok: bool,
    pub steps: Vec<TestStep>,
    /// The outcome in a sentence; on failure the server's own words.
    pub message: String,
    /// What usually causes this failure.
    pub hint: Option<String>,
    pub inbox_count: Option<u32>,
    /// Authentication (not the connection) failed: a fresh token may help.
    pub auth_failed: bool,
}

/// Tests IMAP for the account: connect, TLS, authenticate, select INBOX, log out.
#[server(prefix = "/api", endpoint = "test_imap")]
pub async fn test_imap(id: i64) -> Result<ProtocolResult, AppError> {
    use crate::ssr::{auth, mail, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            crate::api::mail_accounts::imp::visible(&st, &me, id).await?;
            mail::run_account_test(&st, id, mail::Protocol::Imap).await
        }
        .await,
    )
}

/// Tests SMTP for the account: connect, TLS, EHLO, authenticate, QUIT. No mail is sent.
#[server(prefix = "/api", endpoint = "test_smtp")]
pub async fn test_smtp(id: i64) -> Result<ProtocolResult, AppError> {
    use crate::ssr::{auth, mail, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            crate::api::mail_accounts::imp::visible(&st, &me, id).await?;
            mail::run_account_test(&st, id, mail::Protocol::Smtp).await
        }
        .await,
    )
}
