//! `settings`: organisation-wide values by key.

use super::{Context, DbResult};

pub const ORGANISATION_NAME: &str = "organisation_name";
/// The id of the mail account notices are sent from (none: no notices).
pub const NOTIFICATION_SENDER: &str = "notification_sender";
/// A value sealed with the secret key at first start, to prove the key at every start after.
pub const SECRET_KEY_CHECK: &str = "secret_key_check";
/// Set once every sealed value carries its row in its associated data (issue 13).
pub const SECRETS_BOUND_TO_ROWS: &str = "secrets_bound_to_rows";

pub async fn get(db: impl super::Executor<'_>, key: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(db)
        .await
        .context("reading a setting")
}

pub async fn set(db: impl super::Executor<'_>, key: &str, value: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(db)
    .await
    .context("saving a setting")
    .map(|_| ())
}
