//! `applications`: integration applications and the keys in their Redirect URIs.

use super::{Context, DbResult};
use crate::domain::{AppName, CidrList};

#[derive(sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: i64,
    pub name: String,
    pub app_key: String,
    #[sqlx(try_from = "super::Flag")]
    pub active: bool,
    pub allowed_ips: String,
}

const COLUMNS: &str = "id, name, app_key, active, allowed_ips";

/// All applications (or the one with `id`), by name.
pub async fn list(db: impl super::Executor<'_>, id: Option<i64>) -> DbResult<Vec<ApplicationRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE $1 IS NULL OR id = $1 ORDER BY name_key"
    ))
    .bind(id)
    .fetch_all(db)
    .await
    .context("listing applications")
}

pub async fn get(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<ApplicationRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading an application")
}

pub async fn by_key(db: impl super::Executor<'_>, key: &str) -> DbResult<Option<ApplicationRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE app_key = $1"
    ))
    .bind(key)
    .fetch_optional(db)
    .await
    .context("reading an application")
}

pub async fn insert(
    db: impl super::Executor<'_>,
    name: &AppName,
    key: &str,
    active: bool,
    ips: &CidrList,
    now: i64,
) -> DbResult<i64> {
    sqlx::query(
        "INSERT INTO applications (name, name_key, app_key, active, allowed_ips, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(name.as_str())
    .bind(name.key())
    .bind(key)
    .bind(active)
    .bind(ips.to_text())
    .bind(now)
    .fetch_one(db)
    .await
    .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
    .context("creating an application")
}

pub async fn update(
    db: impl super::Executor<'_>,
    id: i64,
    name: &AppName,
    active: bool,
    ips: &CidrList,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE applications SET name = $1, name_key = $2, active = $3, allowed_ips = $4, updated_at = $5
         WHERE id = $6",
    )
    .bind(name.as_str())
    .bind(name.key())
    .bind(active)
    .bind(ips.to_text())
    .bind(now)
    .bind(id)
    .execute(db)
    .await
    .context("updating an application")
    .map(|r| r.rows_affected() == 1)
}

pub async fn set_key(db: impl super::Executor<'_>, id: i64, key: &str, now: i64) -> DbResult<bool> {
    sqlx::query("UPDATE applications SET app_key = $1, updated_at = $2 WHERE id = $3")
        .bind(key)
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("regenerating an application key")
        .map(|r| r.rows_affected() == 1)
}

pub async fn delete(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query("DELETE FROM applications WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .context("deleting an application")
        .map(|r| r.rows_affected() == 1)
}
