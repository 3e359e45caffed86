//! `webhook_events` and `webhook_deliveries`: the outbox. An event is written in the
//! transaction of the change it reports, with one delivery per webhook that wants it; the
//! delivery worker claims deliveries with a lease (one instance sends each), in order per
//! webhook and account, and records every attempt's outcome.

use super::{Context, DbResult};
use crate::domain::webhook::{DeliveryState, DeliveryView, EventKind};

/// Writes an event and a pending delivery for each active webhook that wants `kind` — or, for
/// [`EventKind::Ping`], for `only` alone. Returns how many deliveries were queued.
pub async fn record(
    tx: &mut super::Tx<'_>,
    kind: EventKind,
    account_id: Option<i64>,
    message_id: &str,
    body: &str,
    only: Option<i64>,
    now: i64,
) -> DbResult<u64> {
    let event_id: i64 = sqlx::query_scalar(
        "INSERT INTO webhook_events (message_id, kind, account_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(message_id)
    .bind(kind.code())
    .bind(account_id)
    .bind(body)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .context("writing an event")?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, account_id, state, next_attempt_at, created_at)
         SELECT id, $1, $2, 'pending', $3, $3 FROM webhooks
         WHERE ($4 IS NULL AND active = TRUE AND events LIKE $5 ESCAPE '\\') OR id = $4",
    )
    .bind(event_id)
    .bind(account_id)
    .bind(now)
    .bind(only)
    .bind(super::webhooks::wants_pattern(kind))
    .execute(&mut **tx)
    .await
    .context("queueing deliveries")
    .map(|r| r.rows_affected())
}

/// Deliveries that may be sent now: pending, due, not leased, of an active webhook (a test
/// event, about no account, goes to an inactive one too), and with no earlier pending delivery
/// of the same webhook and account (order per account).
pub async fn due(db: impl super::Executor<'_>, now: i64, limit: i64) -> DbResult<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
           AND (d.lease_until IS NULL OR d.lease_until <= $1)
           AND (w.active = TRUE OR d.account_id IS NULL)
           AND (d.account_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM webhook_deliveries e
                WHERE e.webhook_id = d.webhook_id AND e.account_id = d.account_id
                  AND e.state = 'pending' AND e.id < d.id))
         ORDER BY d.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
    .context("finding due deliveries")
}

/// Takes a delivery's lease for `owner` (a token of this one claim) until `until`, unless it
/// is no longer pending, another claim holds an unexpired lease, or it may not go yet. `true`
/// when taken: only then is it sent.
pub async fn claim(
    db: impl super::Executor<'_>,
    id: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> DbResult<bool> {
    // `due`'s conditions again, in the statement that claims: a Redeliver of an earlier event
    // or a webhook switched off since `due` read them keeps this one waiting.
    sqlx::query(
        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
         WHERE id = $3 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $4)
           AND (account_id IS NULL OR (
                EXISTS (SELECT 1 FROM webhooks w
                        WHERE w.id = webhook_deliveries.webhook_id AND w.active = TRUE)
                AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                        WHERE e.webhook_id = webhook_deliveries.webhook_id
                          AND e.account_id = webhook_deliveries.account_id
                          AND e.state = 'pending' AND e.id < webhook_deliveries.id)))",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(db)
    .await
    .context("claiming a delivery")
    .map(|r| r.rows_affected() == 1)
}

/// What a claimed delivery sends.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub id: i64,
    pub webhook_id: i64,
    pub attempts: i64,
    pub message_id: String,
    pub body: String,
}

pub async fn outgoing(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<Outgoing>> {
    sqlx::query_as(
        "SELECT d.id, d.webhook_id, d.attempts, e.message_id, e.body
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .context("reading a delivery")
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: i64,
    pub code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// `Pending` with `next_at` for a retry; `Delivered` or `Failed` to end.
    pub state: DeliveryState,
    pub next_at: Option<i64>,
}

/// Records an attempt — only while the claim `owner` still holds the lease (a lease that ran
/// out was maybe taken over; then the other claim's outcome stands). `true` when recorded.
pub async fn finish(
    db: impl super::Executor<'_>,
    id: i64,
    owner: &str,
    a: &Attempt,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
            last_attempt_at = $3, last_code = $4, last_duration_ms = $5, last_error = $6,
            lease_owner = NULL, lease_until = NULL
         WHERE id = $7 AND lease_owner = $8",
    )
    .bind(a.state)
    .bind(a.next_at)
    .bind(a.at)
    .bind(a.code)
    .bind(a.duration_ms)
    .bind(a.error.as_deref())
    .bind(id)
    .bind(owner)
    .execute(db)
    .await
    .context("recording a delivery attempt")
    .map(|r| r.rows_affected() == 1)
}

/// Gives a lease back without an attempt (the instance is stopping).
pub async fn release(db: impl super::Executor<'_>, id: i64, owner: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(db)
    .await
    .context("releasing a delivery")
    .map(|_| ())
}

/// "Redeliver": the delivery is sent again from now, with a fresh count of attempts.
pub async fn redeliver(
    db: impl super::Executor<'_>,
    webhook_id: i64,
    id: i64,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1,
            lease_owner = NULL, lease_until = NULL
         WHERE id = $2 AND webhook_id = $3 AND (lease_until IS NULL OR lease_until <= $1)",
    )
    .bind(now)
    .bind(id)
    .bind(webhook_id)
    .execute(db)
    .await
    .context("redelivering")
    .map(|r| r.rows_affected() == 1)
}

/// A webhook's latest `limit` deliveries, newest first.
pub async fn latest(
    db: impl super::Executor<'_>,
    webhook_id: i64,
    limit: i64,
) -> DbResult<Vec<DeliveryView>> {
    sqlx::query_as(
        "SELECT d.id, e.kind AS event, e.message_id, d.account_id, d.state, d.attempts, d.created_at,
            d.last_attempt_at, d.last_code, d.last_duration_ms, d.last_error, d.next_attempt_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE d.webhook_id = $1 ORDER BY d.id DESC LIMIT $2",
    )
    .bind(webhook_id)
    .bind(limit)
    .fetch_all(db)
    .await
    .context("listing deliveries")
}

/// Forgets events older than `before` whose deliveries have all ended (or that went nowhere).
pub async fn purge(db: impl super::Executor<'_>, before: i64) -> DbResult<u64> {
    sqlx::query(
        "DELETE FROM webhook_events WHERE created_at < $1 AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.state = 'pending')",
    )
    .bind(before)
    .execute(db)
    .await
    .context("purging old events")
    .map(|r| r.rows_affected())
}
