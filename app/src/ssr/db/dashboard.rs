//! Reads across tables for the dashboard's health page: failing servers, the next
//! expiries, the last refresh, outcomes per day, the first-run steps.

use super::{Context, DbResult, Flag};
use crate::domain::Checklist;

pub async fn failing_servers(db: impl super::Executor<'_>) -> DbResult<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT s.id, s.subject, COUNT(*) FROM mail_accounts a
         JOIN mail_servers s ON s.id = a.mail_server_id
         WHERE a.status IN ('error', 'needs_reauth')
         GROUP BY s.id, s.subject ORDER BY COUNT(*) DESC, s.id LIMIT 10",
    )
    .fetch_all(db)
    .await
    .context("finding failing servers")
}

pub async fn next_expiries(
    db: impl super::Executor<'_>,
    n: i64,
) -> DbResult<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT id, login, access_expires_at FROM mail_accounts
         WHERE status = 'linked' AND access_expires_at IS NOT NULL
         ORDER BY access_expires_at, id LIMIT $1",
    )
    .bind(n)
    .fetch_all(db)
    .await
    .context("finding the next expiries")
}

pub async fn last_refresh_at(db: impl super::Executor<'_>) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(last_refresh_at) FROM mail_accounts")
        .fetch_one(db)
        .await
        .context("finding the last refresh")
}

/// `(day, refreshes that worked)` since `since_day`.
pub async fn refreshed_per_day(
    db: impl super::Executor<'_>,
    since_day: i64,
) -> DbResult<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT day, CAST(SUM(refreshes) AS BIGINT) FROM refresh_counts WHERE day >= $1 GROUP BY day",
    )
    .bind(since_day)
    .fetch_all(db)
    .await
    .context("counting refreshes per day")
}

/// `(day, accounts that started failing)` since `since_day`, from the audit trail.
pub async fn failed_per_day(
    db: impl super::Executor<'_>,
    since_day: i64,
) -> DbResult<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT at / 86400, COUNT(*) FROM audit_events
         WHERE kind IN ('account.error', 'account.needs_reauth') AND at >= $1
         GROUP BY at / 86400",
    )
    .bind(since_day * 86_400)
    .fetch_all(db)
    .await
    .context("counting failures per day")
}

pub async fn checklist(db: impl super::Executor<'_>) -> DbResult<Checklist> {
    let (application, server, linked, tested): (Flag, Flag, Flag, Flag) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM applications),
            EXISTS (SELECT 1 FROM mail_servers),
            EXISTS (SELECT 1 FROM mail_accounts WHERE status = 'linked'),
            EXISTS (SELECT 1 FROM mail_accounts WHERE test_imap_ok = TRUE OR test_smtp_ok = TRUE)",
    )
    .fetch_one(db)
    .await
    .context("reading the first-run steps")?;
    Ok(Checklist {
        application: application.0,
        server: server.0,
        linked: linked.0,
        tested: tested.0,
    })
}

/// Servers whose client secret expires before `until`: `(id, subject, expires at)`.
pub async fn expiring_secrets(
    db: impl super::Executor<'_>,
    until: i64,
) -> DbResult<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT id, subject, client_secret_expires_at FROM mail_servers
         WHERE client_secret_expires_at IS NOT NULL AND client_secret_expires_at <= $1
         ORDER BY client_secret_expires_at, id",
    )
    .bind(until)
    .fetch_all(db)
    .await
    .context("finding expiring client secrets")
}

/// Linked accounts of Google apps in Testing, with when their grant was given:
/// `(account id, login, server id, subject, granted at)`, oldest grant first.
pub async fn testing_grants(
    db: impl super::Executor<'_>,
    n: i64,
) -> DbResult<Vec<(i64, String, i64, String, i64)>> {
    sqlx::query_as(
        "SELECT a.id, a.login, s.id, s.subject, a.granted_at FROM mail_accounts a
         JOIN mail_servers s ON s.id = a.mail_server_id
         WHERE s.publishing_status = 'testing' AND a.status = 'linked' AND a.granted_at IS NOT NULL
         ORDER BY a.granted_at, a.id LIMIT $1",
    )
    .bind(n)
    .fetch_all(db)
    .await
    .context("finding grants of apps in Testing")
}

/// Accounts that need attention (`needs_reauth` first, then `error`):
/// `(id, login, status, last error)`.
pub async fn attention(
    db: impl super::Executor<'_>,
    n: i64,
) -> DbResult<Vec<(i64, String, crate::domain::AccountStatus, Option<String>)>> {
    sqlx::query_as(
        "SELECT id, login, status, last_error FROM mail_accounts
         WHERE status IN ('needs_reauth', 'error') ORDER BY status DESC, id LIMIT $1",
    )
    .bind(n)
    .fetch_all(db)
    .await
    .context("finding accounts that need attention")
}

/// Linked mailboxes a notice could be sent from — admins' own only (a provider keeps what is
/// sent in the mailbox's Sent folder, and every notice and digest is not a user's to read):
/// `(id, "login (server)")`.
pub async fn sender_choices(db: impl super::Executor<'_>) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT a.id, a.login || ' (' || s.subject || ')' FROM mail_accounts a
         JOIN mail_servers s ON s.id = a.mail_server_id
         JOIN users u ON u.id = a.owner_id
         WHERE a.status = 'linked' AND u.role = 'admin' ORDER BY lower(a.login), a.id LIMIT 500",
    )
    .fetch_all(db)
    .await
    .context("listing possible notification senders")
}

/// App-password sign-ins and relayed messages since `since`, from the audit trail.
pub async fn gateway_counts(
    db: impl super::Executor<'_>,
    since: i64,
) -> DbResult<crate::domain::health::GatewayCounts> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, COUNT(*) FROM audit_events WHERE at >= $1 AND kind IN
            ('app_password.login', 'app_password.login_failed', 'smtp.message', 'smtp.message_failed')
         GROUP BY kind",
    )
    .bind(since)
    .fetch_all(db)
    .await
    .context("counting relay and proxy use")?;
    let n = |k: &str| rows.iter().find(|r| r.0 == k).map_or(0, |r| r.1);
    Ok(crate::domain::health::GatewayCounts {
        logins: n("app_password.login"),
        refused_logins: n("app_password.login_failed"),
        messages: n("smtp.message"),
        failed_messages: n("smtp.message_failed"),
    })
}
