//! Integration applications: each owns the Redirect URI the admin registers at the provider.

use leptos::prelude::*;

use crate::domain::ApplicationView;
use crate::error::AppError;

#[server(prefix = "/api", endpoint = "list_applications")]
pub async fn list_applications() -> Result<Vec<ApplicationView>, AppError> {
    use crate::{api::guard, ssr::service::applications};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        applications::list(&st, None).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_application")]
pub async fn get_application(id: i64) -> Result<ApplicationView, AppError> {
    use crate::{api::guard, ssr::service::applications};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        applications::get(&st, id).await
    })
    .await
}

/// Creates (`id` empty) or updates an application; returns its id.
#[server(prefix = "/api", endpoint = "save_application")]
pub async fn save_application(
    id: String,
    name: String,
    active: bool,
    allowed_ips: String,
) -> Result<i64, AppError> {
    use crate::{
        api::guard,
        domain::{application::label, AppName, CidrList},
        ssr::service::applications,
    };
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let id = guard::optional_id(&id, "The application")?;
        let name = AppName::parse(&name).map_err(|m| (label::NAME, m));
        let ips = CidrList::parse(&allowed_ips).map_err(|m| (label::ALLOWED_IPS, m));
        match (name, ips) {
            (Ok(name), Ok(ips)) => applications::save(&st, id, &name, active, &ips).await,
            (name, ips) => Err(AppError::fields(
                [name.err(), ips.err()].into_iter().flatten(),
            )),
        }
    })
    .await
}

/// A new key: the old Redirect URI stops working at once.
#[server(prefix = "/api", endpoint = "regenerate_application_key")]
pub async fn regenerate_application_key(id: i64) -> Result<String, AppError> {
    use crate::{api::guard, ssr::service::applications};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        applications::regenerate_key(&st, id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_application")]
pub async fn delete_application(id: i64) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::applications};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        applications::delete(&st, id).await
    })
    .await
}
