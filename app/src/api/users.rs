//! The Users page: admins list, create and edit accounts of this Mailbridge.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
}

#[cfg(feature = "ssr")]
const USER_COLUMNS: &str = "id, email, display_name, role, active, last_sign_in_at, created_at";

#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY email_key"
            ))
            .fetch_all(&st.pool)
            .await
            .map_err(|e| internal("listing users", e))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "get_user")]
pub async fn get_user(id: i64) -> Result<UserRow, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                .bind(id)
                .fetch_optional(&st.pool)
                .await
                .map_err(|e| internal("reading a user", e))?
                .ok_or_else(|| AppError::NotFound("The user".into()))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "create_user")]
pub async fn create_user(
    email: String,
    name: String,
    role: String,
    password: String,
) -> Result<i64, AppError> {
    use crate::domain::{DisplayName, Email, Password, Role};
    use crate::ssr::{auth, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let email = Email::parse(&email).map_err(|m| AppError::field(Email::LABEL, m))?;
            let name =
                DisplayName::parse(&name).map_err(|m| AppError::field(DisplayName::LABEL, m))?;
            let role = Role::parse(&role).map_err(|m| AppError::field(Role::LABEL, m))?;
            let password =
                Password::parse(&password).map_err(|m| AppError::field(Password::LABEL, m))?;
            let st = state()?;
            let id = auth::insert_user(&st.pool, &email, &name, role, &password).await?;
            tracing::info!(user_id = id, role = role.as_str(), "user created");
            Ok(id)
        }
        .await,
    )
}

pub const LAST_ADMIN: &str = "cannot demote or deactivate the last active admin";

#[server(prefix = "/api", endpoint = "update_user")]
pub async fn update_user(
    id: i64,
    name: String,
    role: String,
    active: bool,
) -> Result<(), AppError> {
    use crate::domain::{DisplayName, Role};
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let name = DisplayName::parse(&name).map_err(|m| AppError::field(DisplayName::LABEL, m))?;
            let role = Role::parse(&role).map_err(|m| AppError::field(Role::LABEL, m))?;
            let st = state()?;
            let mut tx = st.pool.begin().await.map_err(|e| internal("starting a transaction", e))?;
            // One statement, so the last-admin check and the change cannot interleave with
            // another admin's change.
            let res = sqlx::query(
                "UPDATE users SET display_name = ?1, role = ?2, active = ?3, updated_at = ?4
                 WHERE id = ?5 AND NOT (
                   role = 'admin' AND active = 1 AND (?2 != 'admin' OR ?3 = 0)
                   AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?5) = 0)",
            )
            .bind(name.as_str())
            .bind(role.as_str())
            .bind(active)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| internal("updating a user", e))?;
            if res.rows_affected() == 0 {
                let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = ?1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| internal("reading a user", e))?;
                return Err(match exists {
                    None => AppError::NotFound("The user".into()),
                    Some(_) if !active => AppError::field("Active", LAST_ADMIN),
                    Some(_) => AppError::field(Role::LABEL, LAST_ADMIN),
                });
            }
            if !active {
                // Deactivation ends every session of the user at once.
                sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| internal("ending sessions", e))?;
            }
            tx.commit().await.map_err(|e| internal("committing a user update", e))?;
            tracing::info!(user_id = id, role = role.as_str(), active, "user updated");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "set_user_password")]
pub async fn set_user_password(id: i64, password: String) -> Result<(), AppError> {
    use crate::domain::Password;
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let password =
                Password::parse(&password).map_err(|m| AppError::field("New password", m))?;
            let hash = auth::hash_password(&password).await?;
            let st = state()?;
            let mut tx = st
                .pool
                .begin()
                .await
                .map_err(|e| internal("starting a transaction", e))?;
            let res =
                sqlx::query("UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")
                    .bind(hash)
                    .bind(now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| internal("setting a password", e))?;
            if res.rows_affected() == 0 {
                return Err(AppError::NotFound("The user".into()));
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| internal("ending sessions", e))?;
            tx.commit()
                .await
                .map_err(|e| internal("committing a password", e))?;
            tracing::info!(user_id = id, "password set by an admin");
            Ok(())
        }
        .await,
    )
}
