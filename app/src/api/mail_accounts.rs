//! Mail accounts: one user's mailbox on one mail server, its authorisation and its tokens.

use leptos::prelude::*;

use crate::domain::{AccountChoices, AccountStatus, MailAccountView, Page};
use crate::error::AppError;

/// One page (of `PAGE_SIZE`) of the mail accounts the caller may see, filtered; a filter that
/// does not parse is "any".
#[server(prefix = "/api", endpoint = "list_mail_accounts")]
pub async fn list_mail_accounts(
    server_id: String,
    owner_id: String,
    status: String,
    page: i64,
) -> Result<Page<MailAccountView>, AppError> {
    use crate::{
        api::guard,
        domain::{paging::clamp_page, AccountFilter},
        ssr::service::mail_accounts,
    };
    guard::answer(async {
        let (st, me) = guard::user().await?;
        let filter = AccountFilter {
            server_id: server_id.trim().parse().ok(),
            owner_id: owner_id.trim().parse().ok(),
            status: AccountStatus::parse(&status).ok(),
        };
        mail_accounts::list(&st, &me, filter, clamp_page(page)).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_mail_account")]
pub async fn get_mail_account(id: i64) -> Result<MailAccountView, AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::visible(&st, &me, id).await
    })
    .await
}

/// How often the account's access token was handed to programs (API keys, the CLI).
#[server(prefix = "/api", endpoint = "token_handouts")]
pub async fn token_handouts(id: i64) -> Result<crate::domain::api_key::HandoutSummary, AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::handouts(&st, &me, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "mail_account_choices")]
pub async fn mail_account_choices() -> Result<AccountChoices, AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::choices(&st, &me).await
    })
    .await
}

/// Creates a mail account. Users may create only their own, on active servers visible to them;
/// admins may choose any owner ("Link a user"). For a password server, `password` is required.
#[server(prefix = "/api", endpoint = "create_mail_account")]
pub async fn create_mail_account(
    name: String,
    mail_server_id: String,
    login: String,
    owner_id: String,
    password: String,
) -> Result<i64, AppError> {
    use crate::{api::guard, domain::NewAccountForm, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        let form = NewAccountForm::parse(&name, &mail_server_id, &login, &owner_id)
            .map_err(AppError::fields)?;
        mail_accounts::create(&st, &me, &form, &password).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_mail_account")]
pub async fn delete_mail_account(id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::delete(&st, &me, id).await
    })
    .await
}

/// Starts the OAuth flow; returns the provider URL the browser goes to.
#[server(prefix = "/api", endpoint = "start_authorization")]
pub async fn start_authorization(id: i64) -> Result<String, AppError> {
    use crate::{api::guard, ssr::oauth, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::visible(&st, &me, id).await?;
        oauth::start::start(&st, id, &me).await
    })
    .await
}

/// Revokes the refresh token at the provider (when it has a revocation endpoint), deletes the
/// tokens and sets the account back to `pending`. Returns a warning when revocation failed.
#[server(prefix = "/api", endpoint = "unlink_mail_account")]
pub async fn unlink_mail_account(id: i64) -> Result<Option<String>, AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::unlink(&st, &me, id).await
    })
    .await
}

/// Accounts by status for the dashboard: all for admins, one's own for users.
#[server(prefix = "/api", endpoint = "account_status_counts")]
pub async fn account_status_counts() -> Result<Vec<(AccountStatus, i64)>, AppError> {
    use crate::{api::guard, ssr::service::mail_accounts};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        mail_accounts::status_counts(&st, &me).await
    })
    .await
}

/// The caller's own mailboxes that need them (to be authorised again), for the banner every
/// page shows: `(id, login)`, at most five.
#[server(prefix = "/api", endpoint = "accounts_needing_me")]
pub async fn accounts_needing_me() -> Result<Vec<(i64, String)>, AppError> {
    use crate::{api::guard, ssr::db};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        Ok(db::mail_accounts::needing_owner(&st.pool, me.id, 5).await?)
    })
    .await
}
