//! `mail_accounts`: one user's mailbox on one mail server, with its encrypted tokens.

use super::{Context, Counted, DbResult};
use crate::domain::{AccountFilter, AccountStatus, MailAccountView, Protocol, PAGE_SIZE};

/// A mail account as stored (secrets still sealed).
#[derive(Debug, sqlx::FromRow)]
pub struct MailAccountRow {
    pub id: i64,
    pub mail_server_id: i64,
    pub owner_id: i64,
    pub login: String,
    pub status: AccountStatus,
    pub password_enc: Option<Vec<u8>>,
    pub access_token_enc: Option<Vec<u8>>,
    pub refresh_token_enc: Option<Vec<u8>>,
    pub access_expires_at: Option<i64>,
    pub refresh_failures: i64,
}

const VIEW_COLUMNS: &str = "SELECT a.id, a.name, a.login, a.mail_server_id,
    s.subject AS server_subject, s.auth_method, a.owner_id, u.email AS owner_email, a.status,
    a.access_expires_at, a.last_refresh_at, a.last_error, a.last_login_at, a.test_at,
    a.test_imap_ok, a.test_smtp_ok, a.test_message, a.created_at";
const VIEW_FROM: &str = "FROM mail_accounts a JOIN mail_servers s ON s.id = a.mail_server_id
    JOIN users u ON u.id = a.owner_id";
const FILTER: &str = "WHERE ($1 IS NULL OR a.mail_server_id = $1)
    AND ($2 IS NULL OR a.owner_id = $2) AND ($3 IS NULL OR a.status = $3)";

pub async fn get(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<MailAccountRow>> {
    sqlx::query_as(
        "SELECT id, mail_server_id, owner_id, login, status, password_enc, access_token_enc,
                refresh_token_enc, access_expires_at, refresh_failures
         FROM mail_accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .context("reading a mail account")
}

pub async fn view(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<MailAccountView>> {
    sqlx::query_as(&format!("{VIEW_COLUMNS} {VIEW_FROM} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
        .context("reading a mail account")
}

/// The scopes the provider granted with the account's tokens.
pub async fn granted_scopes(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar::<_, Option<String>>(
        "SELECT granted_scopes FROM mail_accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .context("reading an account's scopes")
    .map(Option::flatten)
}

/// The condition "API key `$n` reaches account `a`'s server": all servers, or one it chose.
fn key_scope(n: u8) -> String {
    format!(
        "((SELECT k.all_servers FROM api_keys k WHERE k.id = ${n}) OR EXISTS(
            SELECT 1 FROM api_key_servers ks WHERE ks.api_key_id = ${n}
            AND ks.mail_server_id = a.mail_server_id))"
    )
}

/// Account `id` as its page shows it, if API key `key` reaches its server.
pub async fn view_for_key(
    db: impl super::Executor<'_>,
    id: i64,
    key: i64,
) -> DbResult<Option<MailAccountView>> {
    let scope = key_scope(2);
    sqlx::query_as(&format!(
        "{VIEW_COLUMNS} {VIEW_FROM} WHERE a.id = $1 AND {scope}"
    ))
    .bind(id)
    .bind(key)
    .fetch_optional(db)
    .await
    .context("reading a mail account for an API key")
}

/// One page of the accounts an API key reaches (all servers, or its chosen ones), by id, with
/// the filtered list's size on every row.
pub async fn api_page(
    db: impl super::Executor<'_>,
    key: i64,
    server: Option<i64>,
    status: Option<AccountStatus>,
    login_key: Option<&str>,
    page: i64,
) -> DbResult<Vec<Counted<MailAccountView>>> {
    let filter = format!(
        "WHERE ($1 IS NULL OR a.mail_server_id = $1) AND ($2 IS NULL OR a.status = $2)
        AND ($3 IS NULL OR a.login_key = $3) AND {}",
        key_scope(4)
    );
    sqlx::query_as(&format!(
        "{VIEW_COLUMNS}, (SELECT COUNT(*) FROM mail_accounts a {filter}) AS total {VIEW_FROM} {filter}
         ORDER BY a.id LIMIT $5 OFFSET $6"
    ))
    .bind(server)
    .bind(status)
    .bind(login_key)
    .bind(key)
    .bind(PAGE_SIZE)
    .bind(page * PAGE_SIZE)
    .fetch_all(db)
    .await
    .context("listing mail accounts for an API key")
}

/// One page by name, with the filtered list's size on every row.
pub async fn page(
    db: impl super::Executor<'_>,
    filter: &AccountFilter,
    page: i64,
) -> DbResult<Vec<Counted<MailAccountView>>> {
    sqlx::query_as(&format!(
        "{VIEW_COLUMNS}, (SELECT COUNT(*) FROM mail_accounts a {FILTER}) AS total {VIEW_FROM} {FILTER}
         ORDER BY lower(a.name), a.id LIMIT $4 OFFSET $5"
    ))
    .bind(filter.server_id)
    .bind(filter.owner_id)
    .bind(filter.status)
    .bind(PAGE_SIZE)
    .bind(page * PAGE_SIZE)
    .fetch_all(db)
    .await
    .context("listing mail accounts")
}

pub async fn count(db: impl super::Executor<'_>, filter: &AccountFilter) -> DbResult<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM mail_accounts a {FILTER}"))
        .bind(filter.server_id)
        .bind(filter.owner_id)
        .bind(filter.status)
        .fetch_one(db)
        .await
        .context("counting mail accounts")
}

pub async fn count_on_server(db: impl super::Executor<'_>, server_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts WHERE mail_server_id = $1")
        .bind(server_id)
        .fetch_one(db)
        .await
        .context("counting linked accounts")
}

pub struct NewAccount<'a> {
    pub mail_server_id: i64,
    pub owner_id: i64,
    pub name: &'a str,
    pub login: &'a str,
    pub login_key: String,
    pub status: AccountStatus,
}

/// A new account; a password is set by [`set_password`] once the row's id is known.
pub async fn insert(db: impl super::Executor<'_>, a: NewAccount<'_>, now: i64) -> DbResult<i64> {
    sqlx::query(
        "INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, status,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(a.mail_server_id)
    .bind(a.owner_id)
    .bind(a.name)
    .bind(a.login)
    .bind(a.login_key)
    .bind(a.status)
    .bind(now)
    .fetch_one(db)
    .await
    .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
    .context("creating a mail account")
}

/// Locks the account's row if it still holds `grant` (a write that changes nothing: the lock
/// a later statement of the same transaction needs, taken now). `true` when it does.
pub async fn hold_if_holding(
    db: impl super::Executor<'_>,
    id: i64,
    grant: Option<&[u8]>,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET updated_at = updated_at
         WHERE id = $1 AND refresh_token_enc IS NOT DISTINCT FROM $2",
    )
    .bind(id)
    .bind(grant)
    .execute(db)
    .await
    .context("locking a mail account")
    .map(|r| r.rows_affected() == 1)
}

/// Deletes an account if it still holds `grant` (its sealed refresh token, or none): another
/// instance's refresh may have replaced it meanwhile. `true` when deleted (or already gone).
pub async fn delete_holding(
    db: impl super::Executor<'_>,
    id: i64,
    grant: Option<&[u8]>,
) -> DbResult<bool> {
    sqlx::query(
        "DELETE FROM mail_accounts WHERE id = $1 AND refresh_token_enc IS NOT DISTINCT FROM $2",
    )
    .bind(id)
    .bind(grant)
    .execute(db)
    .await
    .context("deleting a mail account")
    .map(|r| r.rows_affected() == 1)
}

/// An owner's accounts waiting for them to authorise again, oldest first.
pub async fn needing_owner(
    db: impl super::Executor<'_>,
    owner: i64,
    limit: i64,
) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, login FROM mail_accounts WHERE owner_id = $1 AND status = 'needs_reauth'
         ORDER BY id LIMIT $2",
    )
    .bind(owner)
    .bind(limit)
    .fetch_all(db)
    .await
    .context("finding accounts that need their owner")
}

/// Accounts by status: all of them, or one owner's.
pub async fn status_counts(
    db: impl super::Executor<'_>,
    owner: Option<i64>,
) -> DbResult<Vec<(AccountStatus, i64)>> {
    sqlx::query_as(
        "SELECT status, COUNT(*) FROM mail_accounts WHERE $1 IS NULL OR owner_id = $1 GROUP BY status",
    )
    .bind(owner)
    .fetch_all(db)
    .await
    .context("counting accounts")
}

/// A new grant from the callback: tokens sealed, status `linked` (a disabled account stays
/// disabled), failures forgotten. Stored only while the account's server is still at
/// `destination_version` (`None`: any), in the same statement; `false` otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn save_grant(
    db: impl super::Executor<'_>,
    id: i64,
    access_enc: Vec<u8>,
    refresh_enc: Vec<u8>,
    expires_at: i64,
    scopes: &str,
    now: i64,
    destination_version: Option<i64>,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET access_token_enc = $1, refresh_token_enc = $2, access_expires_at = $3,
            granted_scopes = $4,
            status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'linked' END,
            last_error = CASE WHEN status = 'disabled' THEN last_error END, last_refresh_at = $5,
            refresh_failures = 0, next_retry_at = NULL, updated_at = $5, granted_at = $5
         WHERE id = $6 AND ($7 IS NULL OR $7 = (SELECT destination_version FROM mail_servers
                                                WHERE id = mail_accounts.mail_server_id))",
    )
    .bind(access_enc)
    .bind(refresh_enc)
    .bind(expires_at)
    .bind(scopes)
    .bind(now)
    .bind(id)
    .bind(destination_version)
    .execute(db)
    .await
    .context("storing tokens")
    .map(|r| r.rows_affected() == 1)
}

/// [`save_grant`] for a grant authorised while `server` was at `version`, in `tx`: under the
/// server's destination lock, so that a change of the server committing at the same moment is
/// either seen (nothing stored) or comes after (and withdraws the grant).
#[allow(clippy::too_many_arguments)]
pub async fn save_grant_at_version(
    tx: &mut super::Tx<'_>,
    (server, version): (i64, i64),
    id: i64,
    access_enc: Vec<u8>,
    refresh_enc: Vec<u8>,
    expires_at: i64,
    scopes: &str,
    now: i64,
) -> DbResult<bool> {
    super::serialize(tx, &[&super::mail_servers::destination_lock(server)]).await?;
    save_grant(
        &mut **tx,
        id,
        access_enc,
        refresh_enc,
        expires_at,
        scopes,
        now,
        Some(version),
    )
    .await
}

/// A refreshed access token and, when the provider rotated it, the new refresh token: in one
/// statement, so they land together or not at all — and only while the account still holds the
/// refresh token the refresh started from (`expected`). Unlinking, re-authorising or a server
/// change in the meantime wins: `false` is returned and nothing is written.
pub async fn save_refresh(
    db: impl super::Executor<'_>,
    id: i64,
    expected: &[u8],
    access_enc: Vec<u8>,
    rotated_refresh_enc: Option<Vec<u8>>,
    expires_at: i64,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET access_token_enc = $1,
            refresh_token_enc = COALESCE($2, refresh_token_enc), access_expires_at = $3,
            status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'linked' END,
            last_error = CASE WHEN status = 'disabled' THEN last_error END,
            last_refresh_at = $4, refresh_failures = 0, next_retry_at = NULL, updated_at = $4
         WHERE id = $5 AND refresh_token_enc = $6",
    )
    .bind(access_enc)
    .bind(rotated_refresh_enc)
    .bind(expires_at)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(db)
    .await
    .context("saving refreshed tokens")
    .map(|r| r.rows_affected() == 1)
}

/// The provider refused the refresh token the refresh started from (`expected`): the account
/// needs its owner again. Not written when the grant changed meanwhile.
pub async fn mark_refresh_refused(
    db: impl super::Executor<'_>,
    id: i64,
    expected: &[u8],
    message: &str,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET status = 'needs_reauth', last_error = $1, updated_at = $2
         WHERE id = $3 AND refresh_token_enc = $4 AND status <> 'disabled'",
    )
    .bind(message)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(db)
    .await
    .context("saving a refresh failure")
    .map(|r| r.rows_affected() == 1)
}

pub async fn mark_needs_reauth(
    db: impl super::Executor<'_>,
    id: i64,
    message: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE mail_accounts SET status = 'needs_reauth', last_error = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(message)
    .bind(now)
    .bind(id)
    .execute(db)
    .await
    .context("saving a refresh failure")
    .map(|_| ())
}

/// A failed refresh that will be retried at `retry_at`; written only while the account still
/// holds the refresh token the refresh started from (`expected`). `true` when written.
pub async fn mark_refresh_error(
    db: impl super::Executor<'_>,
    id: i64,
    expected: &[u8],
    message: &str,
    failures: i64,
    retry_at: i64,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'error' END,
            last_error = $1, refresh_failures = $2, next_retry_at = $3, updated_at = $4
         WHERE id = $5 AND refresh_token_enc = $6",
    )
    .bind(message)
    .bind(failures)
    .bind(retry_at)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(db)
    .await
    .context("saving a refresh failure")
    .map(|r| r.rows_affected() == 1)
}

/// Forgets the tokens and goes back to `pending`, keeping `note` as the last error — if the
/// account still holds `grant` (another instance's refresh may have replaced it). `true` when
/// done.
pub async fn clear_grant(
    db: impl super::Executor<'_>,
    id: i64,
    grant: Option<&[u8]>,
    note: Option<&str>,
    now: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET access_token_enc = NULL, refresh_token_enc = NULL,
            access_expires_at = NULL, granted_scopes = NULL,
            status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'pending' END, last_error = $1,
            refresh_failures = 0, next_retry_at = NULL, updated_at = $2
         WHERE id = $3 AND refresh_token_enc IS NOT DISTINCT FROM $4",
    )
    .bind(note)
    .bind(now)
    .bind(id)
    .bind(grant)
    .execute(db)
    .await
    .context("unlinking a mail account")
    .map(|r| r.rows_affected() == 1)
}

pub async fn set_last_error(
    db: impl super::Executor<'_>,
    id: i64,
    message: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE mail_accounts SET last_error = $1, updated_at = $2 WHERE id = $3")
        .bind(message)
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("recording an account error")
        .map(|_| ())
}

/// Keeps a test's outcome: IMAP starts a new test (SMTP's result is cleared), SMTP adds to it.
pub async fn store_test(
    db: impl super::Executor<'_>,
    id: i64,
    protocol: Protocol,
    ok: bool,
    message: &str,
    now: i64,
) -> DbResult<()> {
    let sql = match protocol {
        Protocol::Imap => {
            "UPDATE mail_accounts SET test_at = $1, test_imap_ok = $2, test_smtp_ok = NULL, test_message = $3,
                last_login_at = CASE WHEN $2 THEN $1 ELSE last_login_at END WHERE id = $4"
        }
        Protocol::Smtp => {
            "UPDATE mail_accounts SET test_at = $1, test_smtp_ok = $2,
                test_message = CASE WHEN test_message IS NULL OR test_imap_ok IS NULL THEN $3
                                    ELSE test_message || ' ' || $3 END
             WHERE id = $4"
        }
    };
    sqlx::query(sql)
        .bind(now)
        .bind(ok)
        .bind(message)
        .bind(id)
        .execute(db)
        .await
        .context("storing a test result")
        .map(|_| ())
}

/// Accounts due for a refresh: linked ones expiring before `expiring_before`, and failed ones
/// whose retry is due at `now`.
pub async fn due_for_refresh(
    db: impl super::Executor<'_>,
    expiring_before: i64,
    now: i64,
) -> DbResult<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM mail_accounts
         WHERE refresh_token_enc IS NOT NULL AND (
            (status = 'linked' AND (access_expires_at IS NULL OR access_expires_at <= $1))
            OR (status = 'error' AND (next_retry_at IS NULL OR next_retry_at <= $2)))
           AND (refresh_lease_until IS NULL OR refresh_lease_until <= $2)
         ORDER BY access_expires_at NULLS FIRST",
    )
    .bind(expiring_before)
    .bind(now)
    .fetch_all(db)
    .await
    .context("listing accounts to refresh")
}

/// Sets a new account's sealed password (sealed with the row's id, known only after insert).
pub async fn set_password(db: impl super::Executor<'_>, id: i64, blob: Vec<u8>) -> DbResult<()> {
    sqlx::query("UPDATE mail_accounts SET password_enc = $1 WHERE id = $2")
        .bind(blob)
        .bind(id)
        .execute(db)
        .await
        .context("storing a mailbox password")
        .map(|_| ())
}

/// Every sealed value of an account.
#[derive(Debug, sqlx::FromRow)]
pub struct SealedValues {
    pub id: i64,
    pub password_enc: Option<Vec<u8>>,
    pub access_token_enc: Option<Vec<u8>>,
    pub refresh_token_enc: Option<Vec<u8>>,
}

pub async fn sealed_values(db: impl super::Executor<'_>) -> DbResult<Vec<SealedValues>> {
    sqlx::query_as(
        "SELECT id, password_enc, access_token_enc, refresh_token_enc FROM mail_accounts
         WHERE password_enc IS NOT NULL OR access_token_enc IS NOT NULL OR refresh_token_enc IS NOT NULL",
    )
    .fetch_all(db)
    .await
    .context("reading sealed account values")
}

pub async fn reseal(
    db: impl super::Executor<'_>,
    id: i64,
    password: Option<Vec<u8>>,
    access: Option<Vec<u8>>,
    refresh: Option<Vec<u8>>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE mail_accounts SET password_enc = $1, access_token_enc = $2, refresh_token_enc = $3
         WHERE id = $4",
    )
    .bind(password)
    .bind(access)
    .bind(refresh)
    .bind(id)
    .execute(db)
    .await
    .context("re-sealing account values")
    .map(|_| ())
}

/// `(account id, sealed refresh token)` of every account holding a grant on a server.
/// Holds a server and its accounts until `tx` ends, before a change that reads and then drops
/// their grants: a refresh saving a rotated token waits (and then finds its grant gone, and
/// revokes what it got), and no account is added meanwhile. SQLite's single writer does this
/// already; on PostgreSQL the rows are locked `FOR UPDATE`.
pub async fn hold_server(tx: &mut super::Tx<'_>, server_id: i64) -> DbResult<()> {
    if tx.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    for sql in [
        "SELECT id FROM mail_servers WHERE id = $1 FOR UPDATE",
        "SELECT id FROM mail_accounts WHERE mail_server_id = $1 FOR UPDATE",
    ] {
        sqlx::query(sql)
            .bind(server_id)
            .execute(&mut **tx)
            .await
            .context("holding a server's accounts")?;
    }
    Ok(())
}

pub async fn grants_on_server(
    db: impl super::Executor<'_>,
    server_id: i64,
) -> DbResult<Vec<(i64, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, refresh_token_enc FROM mail_accounts
         WHERE mail_server_id = $1 AND refresh_token_enc IS NOT NULL ORDER BY id",
    )
    .bind(server_id)
    .fetch_all(db)
    .await
    .context("reading a server's grants")
}

/// How many accounts hold a grant (a refresh token) on a server.
pub async fn count_grants(db: impl super::Executor<'_>, server_id: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_accounts WHERE mail_server_id = $1 AND refresh_token_enc IS NOT NULL",
    )
    .bind(server_id)
    .fetch_one(db)
    .await
    .context("counting a server's grants")
}

/// Every account on a server.
pub async fn ids_on_server(db: impl super::Executor<'_>, server_id: i64) -> DbResult<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM mail_accounts WHERE mail_server_id = $1 ORDER BY id")
        .bind(server_id)
        .fetch_all(db)
        .await
        .context("listing a server's accounts")
}

/// Forgets every grant on a server: its accounts need their owners again, told `reason`.
pub async fn drop_grants_on_server(
    db: impl super::Executor<'_>,
    server_id: i64,
    reason: &str,
    now: i64,
) -> DbResult<u64> {
    sqlx::query(
        "UPDATE mail_accounts SET access_token_enc = NULL, refresh_token_enc = NULL,
            access_expires_at = NULL, granted_scopes = NULL,
            status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE 'needs_reauth' END,
            last_error = $1, refresh_failures = 0, next_retry_at = NULL, updated_at = $2
         WHERE mail_server_id = $3 AND refresh_token_enc IS NOT NULL",
    )
    .bind(reason)
    .bind(now)
    .bind(server_id)
    .execute(db)
    .await
    .context("withdrawing a server's grants")
    .map(|r| r.rows_affected())
}

/// A deactivated owner's accounts stop being refreshed or used: `disabled`, with `reason`.
pub async fn disable_owner_accounts(
    db: impl super::Executor<'_>,
    owner_id: i64,
    reason: &str,
    now: i64,
) -> DbResult<u64> {
    sqlx::query(
        "UPDATE mail_accounts SET status = 'disabled', last_error = $1, updated_at = $2
         WHERE owner_id = $3 AND status <> 'disabled'",
    )
    .bind(reason)
    .bind(now)
    .bind(owner_id)
    .execute(db)
    .await
    .context("disabling a user's accounts")
    .map(|r| r.rows_affected())
}

/// A reactivated owner's accounts resume: `linked` when they hold a grant or a password (the
/// next refresh or test tells whether it still works), else `pending`.
pub async fn enable_owner_accounts(
    db: impl super::Executor<'_>,
    owner_id: i64,
    now: i64,
) -> DbResult<u64> {
    sqlx::query(
        "UPDATE mail_accounts SET status = CASE
                WHEN refresh_token_enc IS NOT NULL OR password_enc IS NOT NULL THEN 'linked'
                ELSE 'pending' END,
            last_error = NULL, updated_at = $1
         WHERE owner_id = $2 AND status = 'disabled'",
    )
    .bind(now)
    .bind(owner_id)
    .execute(db)
    .await
    .context("enabling a user's accounts")
    .map(|r| r.rows_affected())
}

/// Takes the refresh lease of an account for `owner` (an instance) until `until`, unless
/// another instance holds an unexpired one. `true` when taken.
pub async fn take_lease(
    db: impl super::Executor<'_>,
    id: i64,
    owner: &str,
    now: i64,
    until: i64,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE mail_accounts SET refresh_lease_owner = $1, refresh_lease_until = $2
         WHERE id = $3 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $4
                            OR refresh_lease_owner = $1)",
    )
    .bind(owner)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(db)
    .await
    .context("taking a refresh lease")
    .map(|r| r.rows_affected() == 1)
}

/// Gives the lease back (only if `owner` still holds it).
pub async fn release_lease(db: impl super::Executor<'_>, id: i64, owner: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE mail_accounts SET refresh_lease_owner = NULL, refresh_lease_until = NULL
         WHERE id = $1 AND refresh_lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(db)
    .await
    .context("releasing a refresh lease")
    .map(|_| ())
}
