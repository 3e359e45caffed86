//! `oauth_states`: one row per authorisation started, keyed by the hash of its `state`, holding
//! the sealed PKCE verifier until the callback uses it (once).

use super::{Context, DbResult};

#[derive(sqlx::FromRow)]
pub struct OAuthStateRow {
    pub state_hash: String,
    pub account_id: i64,
    pub user_id: i64,
    pub pkce_verifier_enc: Vec<u8>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub nonce_enc: Option<Vec<u8>>,
    pub destination: Option<String>,
}

/// An authorisation just started, its secrets sealed.
pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub account_id: i64,
    pub user_id: i64,
    pub verifier_enc: Vec<u8>,
    pub nonce_enc: Vec<u8>,
    pub destination: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(db: impl super::Executor<'_>, s: NewState<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, account_id, user_id, pkce_verifier_enc, nonce_enc,
            created_at, expires_at, destination)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.state_hash)
    .bind(s.account_id)
    .bind(s.user_id)
    .bind(s.verifier_enc)
    .bind(s.nonce_enc)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.destination)
    .execute(db)
    .await
    .context("storing an authorisation state")
    .map(|_| ())
}

pub async fn find(
    db: impl super::Executor<'_>,
    state_hash: &str,
) -> DbResult<Option<OAuthStateRow>> {
    sqlx::query_as(
        "SELECT state_hash, account_id, user_id, pkce_verifier_enc, expires_at, used_at, nonce_enc,
                destination
         FROM oauth_states
         WHERE state_hash = $1",
    )
    .bind(state_hash)
    .fetch_optional(db)
    .await
    .context("reading an authorisation state")
}

/// Marks the state used; `false` if another callback got there first.
pub async fn claim(db: impl super::Executor<'_>, state_hash: &str, now: i64) -> DbResult<bool> {
    sqlx::query("UPDATE oauth_states SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(state_hash)
        .execute(db)
        .await
        .context("using an authorisation state")
        .map(|r| r.rows_affected() == 1)
}

pub async fn delete_expired_before(db: impl super::Executor<'_>, before: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await
        .context("pruning authorisation states")
        .map(|r| r.rows_affected())
}
