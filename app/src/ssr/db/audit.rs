//! `audit_events` and `refresh_counts`: the trail of who did what, and the refreshes that
//! worked, counted per account and day.

use super::{Context, Counted, DbResult};
use crate::domain::{ActivityFilter, ActivityView, PAGE_SIZE};

/// One entry to write (the actor and the time are the writer's).
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub kind: &'static str,
    pub account_id: Option<i64>,
    pub server_id: Option<i64>,
    pub user_id: Option<i64>,
    pub summary: String,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: impl super::Executor<'_>,
    e: &NewEntry,
    actor_kind: &str,
    actor_id: Option<i64>,
    actor_label: &str,
    client_addr: Option<&str>,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor_kind, actor_id, actor_label, kind, account_id,
            server_id, user_id, summary, client_addr)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(now)
    .bind(actor_kind)
    .bind(actor_id)
    .bind(actor_label)
    .bind(e.kind)
    .bind(e.account_id)
    .bind(e.server_id)
    .bind(e.user_id)
    .bind(&e.summary)
    .bind(client_addr)
    .execute(db)
    .await
    .context("writing the audit trail")
    .map(|_| ())
}

const COLUMNS: &str = "id, at, actor_kind, actor_label, kind, account_id, server_id, user_id,
    summary, client_addr";

/// "Who": an entry by the user, or about them.
const FILTER: &str = "WHERE ($1 IS NULL OR (actor_kind = 'user' AND actor_id = $1) OR user_id = $1)
    AND ($2 IS NULL OR account_id = $2) AND ($3 IS NULL OR server_id = $3)
    AND ($4 IS NULL OR kind = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6)";

/// One page of entries, newest first, with the count of all that match.
pub async fn page(
    db: impl super::Executor<'_>,
    f: &ActivityFilter,
    page: i64,
) -> DbResult<Vec<Counted<ActivityView>>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM audit_events {FILTER}) AS total
         FROM audit_events {FILTER} ORDER BY at DESC, id DESC LIMIT $7 OFFSET $8"
    ))
    .bind(f.user_id)
    .bind(f.account_id)
    .bind(f.server_id)
    .bind(f.kind.as_deref())
    .bind(f.from)
    .bind(f.to)
    .bind(PAGE_SIZE)
    .bind(page * PAGE_SIZE)
    .fetch_all(db)
    .await
    .context("reading the audit trail")
}

/// How many entries match (for a page past the end, which carries no count).
pub async fn count(db: impl super::Executor<'_>, f: &ActivityFilter) -> DbResult<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM audit_events {FILTER}"))
        .bind(f.user_id)
        .bind(f.account_id)
        .bind(f.server_id)
        .bind(f.kind.as_deref())
        .bind(f.from)
        .bind(f.to)
        .fetch_one(db)
        .await
        .context("counting the audit trail")
}

/// Every entry that matches, newest first, at most `cap` (the CSV export).
pub async fn all(
    db: impl super::Executor<'_>,
    f: &ActivityFilter,
    cap: i64,
) -> DbResult<Vec<ActivityView>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_events {FILTER} ORDER BY at DESC, id DESC LIMIT $7"
    ))
    .bind(f.user_id)
    .bind(f.account_id)
    .bind(f.server_id)
    .bind(f.kind.as_deref())
    .bind(f.from)
    .bind(f.to)
    .bind(cap)
    .fetch_all(db)
    .await
    .context("exporting the audit trail")
}

/// A refresh that worked, counted on its day.
pub async fn count_refresh(
    db: impl super::Executor<'_>,
    account_id: i64,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO refresh_counts (account_id, day, refreshes) VALUES ($1, $2, 1)
         ON CONFLICT (account_id, day) DO UPDATE SET refreshes = refresh_counts.refreshes + 1",
    )
    .bind(account_id)
    .bind(now.div_euclid(86_400))
    .execute(db)
    .await
    .context("counting a refresh")
    .map(|_| ())
}

/// An account's refreshes per day since `since_day`, newest first.
pub async fn refreshes_per_day(
    db: impl super::Executor<'_>,
    account_id: i64,
    since_day: i64,
) -> DbResult<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT day, refreshes FROM refresh_counts WHERE account_id = $1 AND day >= $2
         ORDER BY day DESC",
    )
    .bind(account_id)
    .bind(since_day)
    .fetch_all(db)
    .await
    .context("reading refresh counts")
}

/// Forgets entries and counts older than `before` (`MAILBRIDGE_AUDIT_RETENTION_DAYS`).
pub async fn purge(db: &super::Pool, before: i64) -> DbResult<u64> {
    let entries = sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(before)
        .execute(db)
        .await
        .context("purging the audit trail")?
        .rows_affected();
    let counts = sqlx::query("DELETE FROM refresh_counts WHERE day < $1")
        .bind(before.div_euclid(86_400))
        .execute(db)
        .await
        .context("purging refresh counts")?
        .rows_affected();
    Ok(entries + counts)
}
