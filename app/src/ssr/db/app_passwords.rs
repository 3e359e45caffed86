//! `app_passwords`: a mailbox's passwords for the SMTP relay and the IMAP proxy, by Argon2id
//! hash, with when, from where and over which protocol each was last used.

use super::{Context, DbResult};
use crate::domain::AppPasswordView;

/// A live password that may be the one a client typed for a mailbox address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub hash: String,
}

pub struct NewAppPassword<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub name_key: &'a str,
    pub hint: &'a str,
    pub hash: &'a str,
    pub created_by: i64,
}

pub async fn insert(
    db: impl super::Executor<'_>,
    p: &NewAppPassword<'_>,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO app_passwords (account_id, name, name_key, hint, hash, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(p.account_id)
    .bind(p.name)
    .bind(p.name_key)
    .bind(p.hint)
    .bind(p.hash)
    .bind(p.created_by)
    .bind(now)
    .fetch_one(db)
    .await
    .context("creating an app password")
}

/// The live passwords of `account`, newest first.
pub async fn list(db: impl super::Executor<'_>, account: i64) -> DbResult<Vec<AppPasswordView>> {
    sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, last_used_addr, last_used_protocol, revoked_at
         FROM app_passwords WHERE account_id = $1 AND revoked_at IS NULL
         ORDER BY created_at DESC, id DESC",
    )
    .bind(account)
    .fetch_all(db)
    .await
    .context("listing app passwords")
}

/// Live passwords of every account whose login is `login_key` and whose first group is `hint`.
pub async fn candidates(
    db: impl super::Executor<'_>,
    login_key: &str,
    hint: &str,
) -> DbResult<Vec<Candidate>> {
    sqlx::query_as(
        "SELECT p.id, p.account_id, p.name, p.hash FROM app_passwords p
         JOIN mail_accounts a ON a.id = p.account_id
         WHERE a.login_key = $1 AND p.hint = $2 AND p.revoked_at IS NULL
         ORDER BY p.id",
    )
    .bind(login_key)
    .bind(hint)
    .fetch_all(db)
    .await
    .context("finding app passwords")
}

/// Whether password `id` is still live (a login checked against a cached verification).
pub async fn is_live(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM app_passwords WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .fetch_one(db)
    .await
    .context("checking an app password")
    .map(|n| n == 1)
}

/// Revokes password `id` of `account`; its name, when it was live.
pub async fn revoke(
    db: impl super::Executor<'_>,
    account: i64,
    id: i64,
    now: i64,
) -> DbResult<Option<String>> {
    sqlx::query_scalar(
        "UPDATE app_passwords SET revoked_at = $1
         WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL RETURNING name",
    )
    .bind(now)
    .bind(id)
    .bind(account)
    .fetch_optional(db)
    .await
    .context("revoking an app password")
}

/// Notes a login with the password.
pub async fn touch(
    db: impl super::Executor<'_>,
    id: i64,
    addr: &str,
    protocol: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE app_passwords SET last_used_at = $1, last_used_addr = $2, last_used_protocol = $3
         WHERE id = $4",
    )
    .bind(now)
    .bind(addr)
    .bind(protocol)
    .bind(id)
    .execute(db)
    .await
    .context("noting an app password's use")
    .map(|_| ())
}
