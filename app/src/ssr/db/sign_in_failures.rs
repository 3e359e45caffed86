//! `sign_in_failures`: recent wrong passwords, by address and by client, for the lock-out.

use sqlx::SqliteExecutor;

use super::{Context, DbResult};

/// Failures since `since` for this address and from this client.
pub async fn count_since(
    db: impl SqliteExecutor<'_>,
    email_key: &str,
    client: &str,
    since: i64,
) -> DbResult<(i64, i64)> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM sign_in_failures WHERE email_key = ?1 AND at > ?3),
                (SELECT COUNT(*) FROM sign_in_failures WHERE client_addr = ?2 AND at > ?3)",
    )
    .bind(email_key)
    .bind(client)
    .bind(since)
    .fetch_one(db)
    .await
    .context("counting sign-in failures")
}

pub async fn insert(
    db: impl SqliteExecutor<'_>,
    email_key: &str,
    client: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query("INSERT INTO sign_in_failures (email_key, client_addr, at) VALUES (?1, ?2, ?3)")
        .bind(email_key)
        .bind(client)
        .bind(now)
        .execute(db)
        .await
        .context("recording a sign-in failure")
        .map(|_| ())
}

pub async fn delete_before(db: impl SqliteExecutor<'_>, before: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE at < ?1")
        .bind(before)
        .execute(db)
        .await
        .context("pruning sign-in failures")
        .map(|_| ())
}

pub async fn clear_for_email(db: impl SqliteExecutor<'_>, email_key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email_key = ?1")
        .bind(email_key)
        .execute(db)
        .await
        .context("clearing sign-in failures")
        .map(|_| ())
}
