//! `token_handouts`: every access token given to a program (key, account, time, address).

use super::{Context, DbResult};

pub async fn record(
    db: impl super::Executor<'_>,
    account: i64,
    key: Option<(i64, &str)>,
    addr: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO token_handouts (account_id, api_key_id, key_name, at, client_addr)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account)
    .bind(key.map(|k| k.0))
    .bind(key.map(|k| k.1).unwrap_or("command line"))
    .bind(now)
    .bind(addr)
    .execute(db)
    .await
    .context("recording a token hand-out")
    .map(|_| ())
}

/// A hand-out to something that is not an API key (an app password at the relay or proxy),
/// named as the account's page shows it.
pub async fn record_named(
    db: impl super::Executor<'_>,
    account: i64,
    name: &str,
    addr: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO token_handouts (account_id, api_key_id, key_name, at, client_addr)
         VALUES ($1, NULL, $2, $3, $4)",
    )
    .bind(account)
    .bind(name)
    .bind(now)
    .bind(addr)
    .execute(db)
    .await
    .context("recording a token hand-out")
    .map(|_| ())
}

/// How many tokens of `account` were handed out since `since`, and the latest hand-out ever
/// (key name, time).
pub async fn summary(
    db: impl super::Executor<'_> + Copy,
    account: i64,
    since: i64,
) -> DbResult<(i64, Option<(String, i64)>)> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM token_handouts WHERE account_id = $1 AND at >= $2",
    )
    .bind(account)
    .bind(since)
    .fetch_one(db)
    .await
    .context("counting token hand-outs")?;
    let last: Option<(String, i64)> = sqlx::query_as(
        "SELECT key_name, at FROM token_handouts WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(account)
    .fetch_optional(db)
    .await
    .context("reading the last token hand-out")?;
    Ok((count, last))
}
