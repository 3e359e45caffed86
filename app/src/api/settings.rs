use leptos::prelude::*;

use crate::error::AppError;

/// The organisation name, or an empty string when none was saved yet.
#[server(prefix = "/api", endpoint = "get_organisation_name")]
pub async fn get_organisation_name() -> Result<String, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(auth::require_user().await.map(|_| ()))?;
    let st = state()?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE key = 'organisation_name'")
            .fetch_optional(&st.pool)
            .await
            .map_err(|e| internal("reading the organisation name", e))?;
    Ok(row.map(|r| r.0).unwrap_or_default())
}

#[server(prefix = "/api", endpoint = "set_organisation_name")]
pub async fn set_organisation_name(name: String) -> Result<String, AppError> {
    use crate::domain::OrganisationName;
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(auth::require_admin().await.map(|_| ()))?;
    let name = respond(
        OrganisationName::parse(&name).map_err(|m| AppError::field(OrganisationName::LABEL, m)),
    )?;
    let st = state()?;
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ('organisation_name', ?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name.as_str())
    .bind(now())
    .execute(&st.pool)
    .await
    .map_err(|e| internal("saving the organisation name", e))?;
    Ok(name.as_str().to_string())
}
