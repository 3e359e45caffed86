//! `users`: the people who sign in to Mailbridge.

use super::{Context, DbResult};
use crate::domain::{DisplayName, Email, Role, UserChoice, UserView};

const VIEW: &str = "id, email, display_name, role, active, last_sign_in_at, created_at";

pub async fn insert(
    db: impl super::Executor<'_>,
    email: &Email,
    name: &DisplayName,
    role: Role,
    password_hash: &str,
    now: i64,
) -> DbResult<i64> {
    sqlx::query(
        "INSERT INTO users (email, email_key, display_name, role, active, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, TRUE, $5, $6, $6) RETURNING id",
    )
    .bind(email.as_str())
    .bind(email.key())
    .bind(name.as_str())
    .bind(role)
    .bind(password_hash)
    .bind(now)
    .fetch_one(db)
    .await
    .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
    .context("creating a user")
}

pub async fn list(db: impl super::Executor<'_>) -> DbResult<Vec<UserView>> {
    sqlx::query_as(&format!("SELECT {VIEW} FROM users ORDER BY email_key"))
        .fetch_all(db)
        .await
        .context("listing users")
}

pub async fn get(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<UserView>> {
    sqlx::query_as(&format!("SELECT {VIEW} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading a user")
}

/// The id and password hash of the active user with this address key, for signing in.
pub async fn credentials(
    db: impl super::Executor<'_>,
    email_key: &str,
) -> DbResult<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, password_hash FROM users WHERE email_key = $1 AND active")
        .bind(email_key)
        .fetch_optional(db)
        .await
        .context("looking up a user to sign in")
}

/// The id of the active user with this address key.
pub async fn active_id_by_email(
    db: impl super::Executor<'_>,
    email_key: &str,
) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1 AND active")
        .bind(email_key)
        .fetch_optional(db)
        .await
        .context("looking up a user")
}

pub async fn password_hash(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading a password hash")
}

pub async fn set_password_hash(
    db: impl super::Executor<'_>,
    id: i64,
    hash: &str,
    now: i64,
) -> DbResult<bool> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("saving a password")
        .map(|r| r.rows_affected() == 1)
}

pub async fn record_sign_in(db: impl super::Executor<'_>, id: i64, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("recording a sign-in")
        .map(|_| ())
}

/// Updates name, role and active flag unless that would leave no active admin; `false` when
/// nothing was updated (no such user, or the last admin). One statement, so the check and the
/// change cannot interleave with another admin's change.
pub async fn update_unless_last_admin(
    db: impl super::Executor<'_>,
    id: i64,
    name: &DisplayName,
    role: Role,
    active: bool,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE users SET display_name = $1, role = $2, active = $3, updated_at = $4
         WHERE id = $5 AND NOT (
           role = 'admin' AND active AND ($2 != 'admin' OR NOT $3)
           AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND active AND id != $5) = 0)",
    )
    .bind(name.as_str())
    .bind(role)
    .bind(active)
    .bind(now)
    .bind(id)
    .execute(db)
    .await
    .context("updating a user")
    .map(|r| r.rows_affected() == 1)
}

pub async fn exists(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query_scalar::<_, super::Flag>("SELECT EXISTS(SELECT 1 FROM users WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
        .context("reading a user")
        .map(bool::from)
}

pub async fn is_active(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query_scalar::<_, super::Flag>(
        "SELECT EXISTS(SELECT 1 FROM users WHERE id = $1 AND active)",
    )
    .bind(id)
    .fetch_one(db)
    .await
    .context("reading a user")
    .map(bool::from)
}

/// Every active user, for an admin choosing a mailbox's owner.
pub async fn active_choices(db: impl super::Executor<'_>) -> DbResult<Vec<UserChoice>> {
    sqlx::query_as("SELECT id, email FROM users WHERE active ORDER BY email_key")
        .fetch_all(db)
        .await
        .context("listing users")
}

pub async fn count(db: impl super::Executor<'_>) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
        .context("counting users")
}
