//! `sign_in_failures`: recent wrong passwords, by address and by client, for the lock-out. A
//! row is written *before* the password is checked (a reservation) and deleted if it was right,
//! so parallel guesses cannot all pass the count before any failure is written.

use super::{Context, DbResult};
use crate::ssr::state::LoginLimits;

/// Records an attempt for (`email_key`, `client`) unless one of the limits is reached; returns
/// the row's id, or `None` when locked. One statement, under the locks of the address and of
/// the client, so that attempts running together (on any instance) cannot all pass the counts
/// before any of them is written.
pub async fn reserve(
    pool: &super::Pool,
    email_key: &str,
    client: &str,
    now: i64,
    limits: &LoginLimits,
) -> DbResult<Option<i64>> {
    let mut tx = pool.begin().await.context("reserving a sign-in attempt")?;
    super::serialize(
        &mut tx,
        &[
            &format!("sign_in_failures:email:{email_key}"),
            &format!("sign_in_failures:client:{client}"),
        ],
    )
    .await?;
    let id = sqlx::query_scalar(
        "INSERT INTO sign_in_failures (email_key, client_addr, at)
         SELECT $1, $2, $3
         WHERE (SELECT COUNT(*) FROM sign_in_failures
                WHERE email_key = $1 AND client_addr = $2 AND at > $3 - $4) < $5
           AND (SELECT COUNT(*) FROM sign_in_failures WHERE client_addr = $2 AND at > $3 - $4) < $6
           AND (SELECT COUNT(*) FROM sign_in_failures WHERE email_key = $1 AND at > $3 - $7) < $8
         RETURNING id",
    )
    .bind(email_key)
    .bind(client)
    .bind(now)
    .bind(limits.window_secs)
    .bind(limits.per_email)
    .bind(limits.per_client)
    .bind(limits.short_window_secs)
    .bind(limits.per_email_all_clients)
    .fetch_optional(&mut *tx)
    .await
    .context("reserving a sign-in attempt")?;
    tx.commit().await.context("reserving a sign-in attempt")?;
    Ok(id)
}

/// Gives a reservation back: the password was right.
pub async fn release(db: impl super::Executor<'_>, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .context("releasing a sign-in attempt")
        .map(|_| ())
}

pub async fn delete_before(db: impl super::Executor<'_>, before: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
        .bind(before)
        .execute(db)
        .await
        .context("pruning sign-in failures")
        .map(|r| r.rows_affected())
}

/// Forgets the failures of one address from one client (a right password), or from every
/// client (`client` None: the operator's `mailbridge unlock`). Returns how many were removed.
pub async fn clear(
    db: impl super::Executor<'_>,
    email_key: &str,
    client: Option<&str>,
) -> DbResult<u64> {
    sqlx::query(
        "DELETE FROM sign_in_failures WHERE email_key = $1 AND ($2 IS NULL OR client_addr = $2)",
    )
    .bind(email_key)
    .bind(client)
    .execute(db)
    .await
    .context("clearing sign-in failures")
    .map(|r| r.rows_affected())
}
