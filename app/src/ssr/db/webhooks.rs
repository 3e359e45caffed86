//! `webhooks`: where events go, which events, and the sealed signing secret.

use super::{Context, DbResult};
use crate::domain::webhook::{EventKind, WebhookSpec};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    /// `,account.linked,account.error,`: see [`events_column`].
    pub events: String,
    #[sqlx(try_from = "super::Flag")]
    pub active: bool,
    pub created_at: i64,
    pub pending: i64,
    pub failed: i64,
}

impl WebhookRow {
    pub fn event_kinds(&self) -> Vec<EventKind> {
        self.events
            .split(',')
            .filter_map(EventKind::parse)
            .collect()
    }
}

/// The stored form of a subscription: every code between commas, so that
/// `events LIKE` [`wants_pattern`] finds exactly the webhooks that want a code.
pub fn events_column(events: &[EventKind]) -> String {
    let mut s = String::from(",");
    for e in events {
        s.push_str(e.code());
        s.push(',');
    }
    s
}

/// `%,code,%` with LIKE's `_` escaped (`needs_reauth` must not match `needsXreauth`), for
/// `LIKE $n ESCAPE '\'`.
pub fn wants_pattern(kind: EventKind) -> String {
    format!("%,{},%", kind.code().replace('_', "\\_"))
}

const COLUMNS: &str = "w.id, w.url, w.events, w.active, w.created_at,
    (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending') AS pending,
    (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'failed') AS failed";

pub async fn insert(
    db: impl super::Executor<'_>,
    spec: &WebhookSpec,
    created_by: i64,
    now: i64,
) -> DbResult<i64> {
    // The secret is sealed to the row's id, so the row is written first with a placeholder
    // and sealed in the same transaction (see `set_secret`).
    sqlx::query_scalar(
        "INSERT INTO webhooks (url, events, secret_enc, active, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(spec.url.as_str())
    .bind(events_column(&spec.events))
    .bind(Vec::<u8>::new())
    .bind(spec.active)
    .bind(created_by)
    .bind(now)
    .fetch_one(db)
    .await
    .context("creating a webhook")
}

pub async fn set_secret(db: impl super::Executor<'_>, id: i64, sealed: Vec<u8>) -> DbResult<()> {
    sqlx::query("UPDATE webhooks SET secret_enc = $1 WHERE id = $2")
        .bind(sealed)
        .bind(id)
        .execute(db)
        .await
        .context("sealing a webhook secret")
        .map(|_| ())
}

/// Changes URL, events and active; `false` when there is no such webhook.
pub async fn update(db: impl super::Executor<'_>, id: i64, spec: &WebhookSpec) -> DbResult<bool> {
    sqlx::query("UPDATE webhooks SET url = $1, events = $2, active = $3 WHERE id = $4")
        .bind(spec.url.as_str())
        .bind(events_column(&spec.events))
        .bind(spec.active)
        .bind(id)
        .execute(db)
        .await
        .context("changing a webhook")
        .map(|r| r.rows_affected() == 1)
}

pub async fn delete(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .context("deleting a webhook")
        .map(|r| r.rows_affected() == 1)
}

/// Every webhook, oldest first, with its counts of pending and failed deliveries.
pub async fn list(db: impl super::Executor<'_>) -> DbResult<Vec<WebhookRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks w ORDER BY w.id"))
        .fetch_all(db)
        .await
        .context("listing webhooks")
}

pub async fn get(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<WebhookRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks w WHERE w.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading a webhook")
}

/// What a delivery needs: where, and the sealed secret to sign with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub id: i64,
    pub url: String,
    pub secret_enc: Vec<u8>,
}

pub async fn target(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<Target>> {
    sqlx::query_as("SELECT id, url, secret_enc FROM webhooks WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading a webhook")
}

/// Whether an active webhook wants `kind`: when none does, no event is written at all.
pub async fn any_wants(db: impl super::Executor<'_>, kind: EventKind) -> DbResult<bool> {
    sqlx::query_scalar::<_, super::Flag>(
        "SELECT EXISTS (SELECT 1 FROM webhooks WHERE active = TRUE AND events LIKE $1 ESCAPE '\\')",
    )
    .bind(wants_pattern(kind))
    .fetch_one(db)
    .await
    .context("looking for webhooks")
    .map(|f| f.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_matches_its_codes_only() {
        let stored = events_column(&[EventKind::NeedsReauth, EventKind::Error]);
        assert_eq!(stored, ",account.needs_reauth,account.error,");
        assert_eq!(
            wants_pattern(EventKind::NeedsReauth),
            "%,account.needs\\_reauth,%"
        );
    }
}
