//! `sessions`: one row per signed-in browser, keyed by the hash of its cookie's token.

use super::{Context, DbResult};
use crate::domain::Role;

/// A session joined with its (active) user.
#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub async fn insert(
    db: impl super::Executor<'_>,
    token_hash: &str,
    user_id: i64,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .execute(db)
    .await
    .context("creating a session")
    .map(|_| ())
}

/// The session with this token hash, if its user is active.
pub async fn find(db: impl super::Executor<'_>, token_hash: &str) -> DbResult<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.display_name, u.role, s.created_at, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND u.active",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
    .context("looking up a session")
}

pub async fn touch(db: impl super::Executor<'_>, token_hash: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(db)
        .await
        .context("touching a session")
        .map(|_| ())
}

pub async fn delete(db: impl super::Executor<'_>, token_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await
        .context("ending a session")
        .map(|_| ())
}

/// Deletes sessions idle since before `idle_before` or created before `created_before`.
pub async fn delete_expired(
    db: impl super::Executor<'_>,
    idle_before: i64,
    created_before: i64,
) -> DbResult<u64> {
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(idle_before)
        .bind(created_before)
        .execute(db)
        .await
        .context("purging sessions")
        .map(|r| r.rows_affected())
}

/// Ends every session of a user except the one with `keep` (which may be empty: all of them).
pub async fn delete_for_user(
    db: impl super::Executor<'_>,
    user_id: i64,
    keep: &str,
) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash != $2")
        .bind(user_id)
        .bind(keep)
        .execute(db)
        .await
        .context("ending sessions")
        .map(|_| ())
}
