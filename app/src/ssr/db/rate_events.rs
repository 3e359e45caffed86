//! `rate_events`: one row per event a limit counts (a connection test started, a password
//! refused, a forced refresh), by kind and subject (a user or an account id).

use super::{Context, DbResult};

/// Records an event of `kind` for `subject` at `now` unless `limit` of them already happened
/// after `since`, in one statement under the subject's lock, so that requests and instances
/// sharing the database cannot slip under the limit together. `true` when recorded.
pub async fn record_within(
    pool: &super::Pool,
    kind: &str,
    subject: i64,
    now: i64,
    since: i64,
    limit: i64,
) -> DbResult<bool> {
    let mut tx = pool.begin().await.context("recording a counted event")?;
    super::serialize(&mut tx, &[&format!("rate_events:{kind}:{subject}")]).await?;
    let recorded = sqlx::query(
        "INSERT INTO rate_events (kind, subject, at)
         SELECT $1, $2, $3
         WHERE (SELECT COUNT(*) FROM rate_events WHERE kind = $1 AND subject = $2 AND at > $4) < $5",
    )
    .bind(kind)
    .bind(subject)
    .bind(now)
    .bind(since)
    .bind(limit)
    .execute(&mut *tx)
    .await
    .context("recording a counted event")?
    .rows_affected()
        == 1;
    tx.commit().await.context("recording a counted event")?;
    Ok(recorded)
}

/// How many events of `kind` for `subject` happened after `since`, and the earliest of them.
pub async fn count_since(
    db: impl super::Executor<'_>,
    kind: &str,
    subject: i64,
    since: i64,
) -> DbResult<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM rate_events WHERE kind = $1 AND subject = $2 AND at > $3",
    )
    .bind(kind)
    .bind(subject)
    .bind(since)
    .fetch_one(db)
    .await
    .context("counting events")
}

pub async fn delete_before(db: impl super::Executor<'_>, before: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM rate_events WHERE at <= $1")
        .bind(before)
        .execute(db)
        .await
        .context("pruning counted events")
        .map(|r| r.rows_affected())
}

/// Gives back the latest event of `kind` for `subject` (an attempt that turned out not to count),
/// under the subject's lock: two give-backs at once must remove two events, not the same one.
pub async fn give_back(pool: &super::Pool, kind: &str, subject: i64) -> DbResult<()> {
    let mut tx = pool.begin().await.context("giving back a counted event")?;
    super::serialize(&mut tx, &[&format!("rate_events:{kind}:{subject}")]).await?;
    sqlx::query(
        "DELETE FROM rate_events WHERE id = (SELECT id FROM rate_events
            WHERE kind = $1 AND subject = $2 ORDER BY at DESC, id DESC LIMIT 1)",
    )
    .bind(kind)
    .bind(subject)
    .execute(&mut *tx)
    .await
    .context("giving back a counted event")?;
    tx.commit().await.context("giving back a counted event")
}
