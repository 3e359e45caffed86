//! Organisation-wide settings.

use leptos::prelude::*;

use crate::error::AppError;

/// The organisation name, or an empty string when none was saved yet.
#[server(prefix = "/api", endpoint = "get_organisation_name")]
pub async fn get_organisation_name() -> Result<String, AppError> {
    use crate::{api::guard, ssr::service::settings};
    guard::answer(async {
        let (st, _) = guard::user().await?;
        settings::organisation_name(&st).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_organisation_name")]
pub async fn set_organisation_name(name: String) -> Result<String, AppError> {
    use crate::{api::guard, domain::OrganisationName, ssr::service::settings};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        let name = OrganisationName::parse(&name)
            .map_err(|m| AppError::field(OrganisationName::LABEL, m))?;
        settings::set_organisation_name(&st, &name).await
    })
    .await
}

/// The dashboard's health page and first-run checklist (admins).
#[server(prefix = "/api", endpoint = "dashboard_health")]
pub async fn dashboard_health() -> Result<crate::domain::Health, AppError> {
    use crate::{api::guard, ssr::service::health};
    guard::answer(async {
        let (st, me) = guard::admin().await?;
        health::health(&st, &me).await
    })
    .await
}

/// The Settings page: the notification sender and the mailboxes it could be.
#[server(prefix = "/api", endpoint = "get_notification_settings")]
pub async fn get_notification_settings() -> Result<crate::domain::NotificationSettings, AppError> {
    use crate::{api::guard, ssr::service::settings};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        settings::notification_settings(&st).await
    })
    .await
}

/// Sets the notification sender (an account id; empty: none).
#[server(prefix = "/api", endpoint = "set_notification_sender")]
pub async fn set_notification_sender(account_id: String) -> Result<(), AppError> {
    use crate::{api::guard, ssr::service::settings};
    guard::answer(async {
        let (st, _) = guard::admin().await?;
        settings::set_notification_sender(&st, &account_id).await
    })
    .await
}
