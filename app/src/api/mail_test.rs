//! "Run test": prove that a mail account's IMAP and SMTP logins work.

use leptos::prelude::*;

use crate::domain::{Protocol, ProtocolResult};
use crate::error::AppError;

/// Tests one protocol for the account. IMAP: connect, TLS, authenticate, select INBOX, log
/// out. SMTP: connect, TLS, EHLO, authenticate, QUIT; no mail is sent.
#[server(prefix = "/api", endpoint = "test_mail_account")]
pub async fn test_mail_account(id: i64, protocol: Protocol) -> Result<ProtocolResult, AppError> {
    use crate::{api::guard, ssr::mail, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::visible(&st, &me, id).await?;
        mail::run_for(&st, &me, id, protocol).await
    })
    .await
}
