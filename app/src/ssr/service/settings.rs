//! Organisation-wide settings.

use crate::domain::OrganisationName;
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
