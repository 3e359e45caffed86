//! `notices`: e-mail notices waiting, sent or given up, claimed with a lease like webhook
//! deliveries.

use super::{Context, DbResult};

/// Queues a notice unless one with the same `dedupe_key` exists. `true` when queued.
pub async fn queue(
    db: impl super::Executor<'_>,
    kind: &str,
    dedupe_key: &str,
    account_id: Option<i64>,
    recipient: &str,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO notices (kind, dedupe_key, account_id, recipient, state, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $5) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(kind)
    .bind(dedupe_key)
    .bind(account_id)
    .bind(recipient)
    .bind(now)
    .execute(db)
    .await
    .context("queueing a notice")
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoticeRow {
    pub id: i64,
    pub kind: String,
    pub account_id: Option<i64>,
    pub recipient: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// Due notices, oldest first.
pub async fn due(db: impl super::Executor<'_>, now: i64, limit: i64) -> DbResult<Vec<NoticeRow>> {
    sqlx::query_as(
        "SELECT id, kind, account_id, recipient, attempts, created_at FROM notices
         WHERE state = 'pending' AND next_attempt_at <= $1
           AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
    .context("finding due notices")
}

pub async fn claim(
    db: impl super::Executor<'_>,
    id: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE notices SET lease_owner = $1, lease_until = $2
         WHERE id = $3 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $4)",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(db)
    .await
    .context("claiming a notice")
    .map(|r| r.rows_affected() == 1)
}

/// Records an attempt's outcome: `sent`, `dropped` (nothing to say any more), `failed`, or
/// `pending` again at `next_at`.
pub async fn finish(
    db: impl super::Executor<'_>,
    id: i64,
    owner: &str,
    state: &str,
    error: Option<&str>,
    next_at: i64,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE notices SET state = $1, last_error = $2, next_attempt_at = $3,
            attempts = attempts + 1, sent_at = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_at END,
            lease_owner = NULL, lease_until = NULL
         WHERE id = $5 AND lease_owner = $6",
    )
    .bind(state)
    .bind(error)
    .bind(next_at)
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await
    .context("recording a notice")
    .map(|_| ())
}

/// Accounts in `error` since before `before` (by their latest `account.error` entry), with
/// that entry's id (one notice per episode): `(account id, owner email, entry id)`.
pub async fn errors_since(
    db: impl super::Executor<'_>,
    before: i64,
) -> DbResult<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT a.id, u.email, e.id FROM mail_accounts a
         JOIN users u ON u.id = a.owner_id
         JOIN audit_events e ON e.id = (SELECT MAX(x.id) FROM audit_events x
                                        WHERE x.account_id = a.id AND x.kind = 'account.error')
         WHERE a.status = 'error' AND e.at <= $1
           AND NOT EXISTS (SELECT 1 FROM notices n
                           WHERE n.dedupe_key = 'error:' || a.id || ':' || e.id)",
    )
    .bind(before)
    .fetch_all(db)
    .await
    .context("finding accounts failing for a while")
}

/// Active admins' addresses (the digest's recipients).
pub async fn admin_addresses(db: impl super::Executor<'_>) -> DbResult<Vec<String>> {
    sqlx::query_scalar("SELECT email FROM users WHERE role = 'admin' AND active = TRUE ORDER BY id")
        .fetch_all(db)
        .await
        .context("listing admins")
}

/// Notices sent and given up (for the tests and the dashboard).
pub async fn count_in(db: impl super::Executor<'_>, state: &str) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM notices WHERE state = $1")
        .bind(state)
        .fetch_one(db)
        .await
        .context("counting notices")
}

/// Forgets ended notices older than `before`.
pub async fn purge(db: impl super::Executor<'_>, before: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM notices WHERE state <> 'pending' AND created_at < $1")
        .bind(before)
        .execute(db)
        .await
        .context("purging old notices")
        .map(|r| r.rows_affected())
}

/// Clears the notification sender when it is one of `accounts` (they are being deleted: an id
/// SQLite gives out again must not make someone else's mailbox the sender).
pub async fn forget_sender_among(
    db: &mut super::Tx<'_>,
    accounts: &[i64],
    now: i64,
) -> DbResult<()> {
    let current = super::settings::get(&mut **db, super::settings::NOTIFICATION_SENDER)
        .await?
        .and_then(|v| v.parse::<i64>().ok());
    if current.is_some_and(|id| accounts.contains(&id)) {
        super::settings::set(&mut **db, super::settings::NOTIFICATION_SENDER, "", now).await?;
    }
    Ok(())
}
