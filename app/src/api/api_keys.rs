//! API keys (admin): list, create (the key is answered once), revoke.

use leptos::prelude::*;

use crate::domain::{ApiKeyDraft, ApiKeyView, CreatedApiKey};
use crate::error::AppError;

#[server(prefix = "/api", endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, AppError> {
    use crate::{api::guard, ssr::service::api_keys};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        api_keys::list(&st).await
    })
    .await
}

/// Creates a key; the answer holds the key in full, the only time it is shown.
#[server(prefix = "/api", endpoint = "create_api_key")]
pub async fn create_api_key(draft: ApiKeyDraft) -> Result<CreatedApiKey, AppError> {
    use crate::{api::guard, ssr::service::api_keys};
    guard::answer(async {
        let (st, me) = guard::admin().await?;
        api_keys::create(&st, me.id, &draft).await
    })
    .await
}

/// Revokes a key: its next request is refused.
#[server(prefix = "/api", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::api_keys};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        api_keys::revoke(&st, id).await
    })
    .await
}
