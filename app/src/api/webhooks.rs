//! Webhooks (admin): list, one webhook with its deliveries, create (the secret is answered
//! once), change, delete, send a test event, redeliver.

use leptos::prelude::*;

use crate::domain::{CreatedWebhook, WebhookDetail, WebhookDraft, WebhookView};
use crate::error::AppError;

#[server(prefix = "/api", endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<Vec<WebhookView>, AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::list(&st).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_webhook")]
pub async fn get_webhook(id: i64) -> Result<WebhookDetail, AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::detail(&st, id).await
    })
    .await
}

/// Creates a webhook; the answer holds its signing secret, the only time it is shown.
#[server(prefix = "/api", endpoint = "create_webhook")]
pub async fn create_webhook(draft: WebhookDraft) -> Result<CreatedWebhook, AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, me) = guard::admin().await?;
        webhooks::create(&st, me.id, &draft).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "update_webhook")]
pub async fn update_webhook(id: i64, draft: WebhookDraft) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::update(&st, id, &draft).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_webhook")]
pub async fn delete_webhook(id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::delete(&st, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "send_test_event")]
pub async fn send_test_event(id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::send_test(&st, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "redeliver")]
pub async fn redeliver(webhook_id: i64, delivery_id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::webhooks};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        webhooks::redeliver(&st, webhook_id, delivery_id).await
    })
    .await
}
