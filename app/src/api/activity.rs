//! The audit trail: the Activity page (admins) and a mail account's timeline.

use leptos::prelude::*;

use crate::domain::{AccountTimeline, ActivityQuery, ActivityView, Page};
use crate::error::AppError;

#[server(prefix = "/api", endpoint = "list_activity")]
pub async fn list_activity(
    query: ActivityQuery,
    page: i64,
) -> Result<Page<ActivityView>, AppError> {
    use crate::{api::guard, ssr::service::activity};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        activity::page(&st, &query, page).await
    })
    .await
}

/// An account's timeline, for its owner and admins.
#[server(prefix = "/api", endpoint = "account_timeline")]
pub async fn get_account_timeline(id: i64) -> Result<AccountTimeline, AppError> {
    use crate::{api::guard, ssr::service::activity};
    guard::answer(async {
        let (st, me) = guard::user().await?;
        activity::timeline(&st, &me, id).await
    })
    .await
}
