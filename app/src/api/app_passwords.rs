//! A mailbox's app passwords (its owner or an admin): list, create (answered once), revoke.

use leptos::prelude::*;

use crate::domain::{AppPasswordView, CreatedAppPassword};
use crate::error::AppError;

#[server(prefix = "/api", endpoint = "list_app_passwords")]
pub async fn list_app_passwords(account_id: i64) -> Result<Vec<AppPasswordView>, AppError> {
    use crate::{api::guard, ssr::service::app_passwords};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        app_passwords::list(&st, &me, account_id).await
    })
    .await
}

/// Creates a password; the answer holds it in full, the only time it is shown.
#[server(prefix = "/api", endpoint = "create_app_password")]
pub async fn create_app_password(
    account_id: i64,
    name: String,
) -> Result<CreatedAppPassword, AppError> {
    use crate::{api::guard, ssr::service::app_passwords};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        app_passwords::create(&st, &me, account_id, &name).await
    })
    .await
}

/// Revokes a password: the next login with it is refused.
#[server(prefix = "/api", endpoint = "revoke_app_password")]
pub async fn revoke_app_password(account_id: i64, id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::app_passwords};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        app_passwords::revoke(&st, &me, account_id, id).await
    })
    .await
}
