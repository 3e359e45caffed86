//! `api_keys` and `api_key_servers`: the keys programs use, by the SHA-256 of the key, with
//! what they may reach and when they were last used.

use super::{Context, DbResult};
use crate::domain::api_key::ApiKeySpec;

/// A key as the API checks it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    #[sqlx(try_from = "super::Flag")]
    pub all_servers: bool,
    #[sqlx(try_from = "super::Flag")]
    pub perm_tokens: bool,
    #[sqlx(try_from = "super::Flag")]
    pub perm_accounts: bool,
    pub allowed_ips: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_addr: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, prefix, all_servers, perm_tokens, perm_accounts, allowed_ips,
    expires_at, revoked_at, last_used_at, last_used_addr, created_at";

/// Stores a new key (its hash) and its servers; the name must be free.
pub async fn insert(
    tx: &mut super::Tx<'_>,
    spec: &ApiKeySpec,
    prefix: &str,
    key_hash: &str,
    created_by: i64,
    now: i64,
) -> DbResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_keys (name, name_key, prefix, key_hash, all_servers, perm_tokens,
            perm_accounts, allowed_ips, expires_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(spec.name.as_str())
    .bind(spec.name.key())
    .bind(prefix)
    .bind(key_hash)
    .bind(spec.servers.is_none())
    .bind(spec.perm_tokens)
    .bind(spec.perm_accounts)
    .bind(spec.allowed_ips.to_text())
    .bind(spec.expires.map(|e| e.ends_at))
    .bind(created_by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .context("creating an API key")?;
    for server in spec.servers.iter().flatten() {
        sqlx::query("INSERT INTO api_key_servers (api_key_id, mail_server_id) VALUES ($1, $2)")
            .bind(id)
            .bind(server)
            .execute(&mut **tx)
            .await
            .context("creating an API key")?;
    }
    Ok(id)
}

/// Every key, newest first.
pub async fn list(db: impl super::Executor<'_>) -> DbResult<Vec<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"
    ))
    .fetch_all(db)
    .await
    .context("listing API keys")
}

/// The key whose SHA-256 is `hash`.
pub async fn by_hash(db: impl super::Executor<'_>, hash: &str) -> DbResult<Option<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(db)
    .await
    .context("reading an API key")
}

/// The servers a key is limited to (empty for an all-servers key), with their subjects.
pub async fn servers(db: impl super::Executor<'_>, key: i64) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT s.id, s.subject FROM api_key_servers k JOIN mail_servers s ON s.id = k.mail_server_id
         WHERE k.api_key_id = $1 ORDER BY s.subject_key",
    )
    .bind(key)
    .fetch_all(db)
    .await
    .context("reading an API key's servers")
}

/// Whether `key` may reach `server`.
pub async fn reaches(db: impl super::Executor<'_>, key: i64, server: i64) -> DbResult<bool> {
    sqlx::query_scalar::<_, super::Flag>(
        "SELECT EXISTS(SELECT 1 FROM api_keys k WHERE k.id = $1 AND (k.all_servers OR EXISTS(
            SELECT 1 FROM api_key_servers s WHERE s.api_key_id = k.id AND s.mail_server_id = $2)))",
    )
    .bind(key)
    .bind(server)
    .fetch_one(db)
    .await
    .context("checking an API key's servers")
    .map(bool::from)
}

/// Revokes a key (from its next request on); `false` when there is no such key.
pub async fn revoke(db: impl super::Executor<'_>, id: i64, now: i64) -> DbResult<bool> {
    sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("revoking an API key")
        .map(|r| r.rows_affected() == 1)
}

/// Notes a use. Written at most once a second per key: a busy program should not turn every
/// read into a write.
pub async fn touch(db: impl super::Executor<'_>, id: i64, addr: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $1, last_used_addr = $2
         WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1 OR last_used_addr <> $2)",
    )
    .bind(now)
    .bind(addr)
    .bind(id)
    .execute(db)
    .await
    .context("noting an API key's use")
    .map(|_| ())
}
