//! Organisation-wide settings.

use crate::domain::health::SENDER_LABEL;
use crate::domain::{AccountStatus, NotificationSettings, OrganisationName};
use crate::error::AppError;
use crate::ssr::{db, AppState};

/// The organisation name, or an empty string when none was saved yet.
pub async fn organisation_name(st: &AppState) -> Result<String, AppError> {
    Ok(db::settings::get(&st.pool, db::settings::ORGANISATION_NAME)
        .await?
        .unwrap_or_default())
}

pub async fn set_organisation_name(
    st: &AppState,
    name: &OrganisationName,
) -> Result<String, AppError> {
    db::settings::set(
        &st.pool,
        db::settings::ORGANISATION_NAME,
        name.as_str(),
        st.clock.now(),
    )
    .await?;
    Ok(name.as_str().to_string())
}

pub async fn notification_settings(st: &AppState) -> Result<NotificationSettings, AppError> {
    Ok(NotificationSettings {
        sender: crate::ssr::notices::sender(&st.pool).await?,
        choices: db::dashboard::sender_choices(&st.pool).await?,
    })
}

/// Sets (or, with an empty value, clears) the mailbox notices are sent from: a linked one.
pub async fn set_notification_sender(st: &AppState, raw: &str) -> Result<(), AppError> {
    let now = st.clock.now();
    let (value, summary) = match raw.trim() {
        "" => (
            String::new(),
            "Notification sender cleared: no e-mail notices".to_string(),
        ),
        id => {
            let account = id.parse::<i64>().ok().and_then(|id| (id > 0).then_some(id));
            let view = match account {
                Some(id) => db::mail_accounts::view(&st.pool, id).await?,
                None => None,
            };
            let owner_is_admin = match &view {
                Some(v) => db::users::get(&st.pool, v.owner_id)
                    .await?
                    .is_some_and(|u| u.role == crate::domain::Role::Admin),
                None => false,
            };
            let Some(view) = view.filter(|v| v.status == AccountStatus::Linked && owner_is_admin)
            else {
                return Err(AppError::field(
                    SENDER_LABEL,
                    "choose a linked mailbox of an admin (it sends through its own SMTP server, and keeps what it sends)",
                ));
            };
            (
                view.id.to_string(),
                format!("Notification sender set to {}", view.login),
            )
        }
    };
    db::settings::set(&st.pool, db::settings::NOTIFICATION_SENDER, &value, now).await?;
    crate::ssr::audit::admin_did(&st.pool, "settings.changed", summary, (None, None), now).await;
    Ok(())
}
