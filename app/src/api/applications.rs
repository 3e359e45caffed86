//! Integration applications: each owns the Redirect URI the admin registers at the provider.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub allowed_ips: String,
    pub redirect_uri: String,
    /// Subjects of the mail servers using it.
    pub used_by: Vec<String>,
}

#[cfg(feature = "ssr")]
mod imp {
    use super::*;
    use crate::ssr::{internal, AppState};

    #[derive(sqlx::FromRow)]
    pub struct Row {
        pub id: i64,
        pub name: String,
        pub app_key: String,
        pub active: bool,
        pub allowed_ips: String,
    }

    pub async fn load(st: &AppState, id: Option<i64>) -> Result<Vec<ApplicationView>, AppError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, app_key, active, allowed_ips FROM applications
             WHERE ?1 IS NULL OR id = ?1 ORDER BY name_key",
        )
        .bind(id)
        .fetch_all(&st.pool)
        .await
        .map_err(|e| internal("listing applications", e))?;
        let users: Vec<(i64, String)> =
            sqlx::query_as("SELECT application_id, subject FROM mail_servers WHERE application_id IS NOT NULL ORDER BY subject_key")
                .fetch_all(&st.pool)
                .await
                .map_err(|e| internal("listing application users", e))?;
        Ok(rows
            .into_iter()
            .map(|r| ApplicationView {
                id: r.id,
                redirect_uri: st.redirect_uri(&r.app_key),
                used_by: users
                    .iter()
                    .filter(|(a, _)| *a == r.id)
                    .map(|(_, s)| s.clone())
                    .collect(),
                name: r.name,
                active: r.active,
                allowed_ips: r.allowed_ips,
            })
            .collect())
    }
}

#[server(prefix = "/api", endpoint = "list_applications")]
pub async fn list_applications() -> Result<Vec<ApplicationView>, AppError> {
    use crate::ssr::{auth, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            imp::load(&state()?, None).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "get_application")]
pub async fn get_application(id: i64) -> Result<ApplicationView, AppError> {
    use crate::ssr::{auth, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            imp::load(&state()?, Some(id))
                .await?
                .pop()
                .ok_or_else(|| AppError::NotFound("The application".into()))
        }
        .await,
    )
}

/// Creates (`id` empty) or updates an application; returns its id.
#[server(prefix = "/api", endpoint = "save_application")]
pub async fn save_application(
    id: String,
    name: String,
    active: bool,
    allowed_ips: String,
) -> Result<i64, AppError> {
    use crate::domain::{mail_server::label, AppName, CidrList};
    use crate::ssr::{auth, auth::random_token, db::now, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let name = AppName::parse(&name).map_err(|m| AppError::field(label::NAME, m))?;
            let ips = CidrList::parse(&allowed_ips).map_err(|m| AppError::field(label::ALLOWED_IPS, m))?;
            let st = state()?;
            let t = now();
            let unique = |e: sqlx::Error| match e {
                sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                    AppError::field(label::NAME, "an application with this name already exists")
                }
                e => internal("saving an application", e),
            };
            if id.trim().is_empty() {
                let r = sqlx::query(
                    "INSERT INTO applications (name, name_key, app_key, active, allowed_ips, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )
                .bind(name.as_str())
                .bind(name.key())
                .bind(random_token())
                .bind(active)
                .bind(ips.to_text())
                .bind(t)
                .execute(&st.pool)
                .await
                .map_err(unique)?;
                return Ok(r.last_insert_rowid());
            }
            let id: i64 = id.trim().parse().map_err(|_| AppError::NotFound("The application".into()))?;
            let r = sqlx::query(
                "UPDATE applications SET name = ?1, name_key = ?2, active = ?3, allowed_ips = ?4, updated_at = ?5
                 WHERE id = ?6",
            )
            .bind(name.as_str())
            .bind(name.key())
            .bind(active)
            .bind(ips.to_text())
            .bind(t)
            .bind(id)
            .execute(&st.pool)
            .await
            .map_err(unique)?;
            if r.rows_affected() == 0 {
                return Err(AppError::NotFound("The application".into()));
            }
            Ok(id)
        }
        .await,
    )
}

/// A new key: the old Redirect URI stops working at once.
#[server(prefix = "/api", endpoint = "regenerate_application_key")]
pub async fn regenerate_application_key(id: i64) -> Result<String, AppError> {
    use crate::ssr::{auth, auth::random_token, db::now, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let key = random_token();
            let r =
                sqlx::query("UPDATE applications SET app_key = ?1, updated_at = ?2 WHERE id = ?3")
                    .bind(&key)
                    .bind(now())
                    .bind(id)
                    .execute(&st.pool)
                    .await
                    .map_err(|e| internal("regenerating an application key", e))?;
            if r.rows_affected() == 0 {
                return Err(AppError::NotFound("The application".into()));
            }
            tracing::info!(application_id = id, "application key regenerated");
            Ok(st.redirect_uri(&key))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_application")]
pub async fn delete_application(id: i64) -> Result<(), AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let users: Vec<(String,)> = sqlx::query_as("SELECT subject FROM mail_servers WHERE application_id = ?1 ORDER BY subject_key")
                .bind(id)
                .fetch_all(&st.pool)
                .await
                .map_err(|e| internal("checking application use", e))?;
            if !users.is_empty() {
                let names: Vec<String> = users.into_iter().map(|u| u.0).collect();
                return Err(AppError::Refused(format!(
                    "This application is used by the mail server{} {}; choose another Redirect URI there first.",
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                )));
            }
            // The foreign key (ON DELETE RESTRICT) also refuses if a server appeared meanwhile.
            let r = sqlx::query("DELETE FROM applications WHERE id = ?1")
                .bind(id)
                .execute(&st.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
                        AppError::Refused("This application is used by a mail server.".into())
                    }
                    e => internal("deleting an application", e),
                })?;
            if r.rows_affected() == 0 {
                return Err(AppError::NotFound("The application".into()));
            }
            Ok(())
        }
        .await,
    )
}
