//! Mail servers: list, form, save (with discovery for generic providers), delete.

use leptos::prelude::*;

use crate::domain::{MailServerDraft, MailServerEdit, MailServerSummary, Page};
use crate::error::AppError;

/// One page of mail servers, sorted by Subject (`descending` reverses it).
#[server(prefix = "/api", endpoint = "list_mail_servers")]
pub async fn list_mail_servers(
    page: i64,
    descending: bool,
) -> Result<Page<MailServerSummary>, AppError> {
    use crate::{api::guard, domain::paging::clamp_page, ssr::service::mail_servers};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        mail_servers::list(&st, clamp_page(page), descending).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_mail_server")]
pub async fn get_mail_server(id: i64) -> Result<MailServerEdit, AppError> {
    use crate::{api::guard, ssr::service::mail_servers};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        mail_servers::edit_form(&st, id).await
    })
    .await
}

/// Creates (`id` empty) or updates a mail server; returns its id.
#[server(prefix = "/api", endpoint = "save_mail_server")]
pub async fn save_mail_server(id: String, draft: MailServerDraft) -> Result<i64, AppError> {
    use crate::{api::guard, ssr::service::mail_servers};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let id = guard::optional_id(&id, "The mail server")?;
        mail_servers::save(&st, id, &draft).await
    })
    .await
}

/// Deletes a mail server. With linked mail accounts, `confirm_accounts` must equal their number:
/// the admin saw how many mailboxes (and tokens) go with it and confirmed that.
#[server(prefix = "/api", endpoint = "delete_mail_server")]
pub async fn delete_mail_server(id: i64, confirm_accounts: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::mail_servers};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        mail_servers::delete(&st, id, confirm_accounts).await
    })
    .await
}
