//! Mail accounts: one user's mailbox on one mail server, its authorisation and its tokens.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailAccountView {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub mail_server_id: i64,
    pub server_subject: String,
    pub auth_method: String,
    pub owner_id: i64,
    pub owner_email: String,
    pub status: String,
    pub access_expires_at: Option<i64>,
    pub last_refresh_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_login_at: Option<i64>,
    pub test_at: Option<i64>,
    pub test_imap_ok: Option<bool>,
    pub test_smtp_ok: Option<bool>,
    pub test_message: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerChoice {
    pub id: i64,
    pub subject: String,
    pub auth_method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChoice {
    pub id: i64,
    pub email: String,
}

/// What the "Add mail account" form may offer this caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChoices {
    pub me: i64,
    pub is_admin: bool,
    pub servers: Vec<ServerChoice>,
    /// Admins only: every active user.
    pub users: Vec<UserChoice>,
}

pub const STATUSES: [&str; 5] = ["pending", "linked", "needs_reauth", "error", "disabled"];

#[cfg(feature = "ssr")]
pub(crate) mod imp {
    use super::*;
    use crate::api::auth::SessionUser;
    use crate::ssr::{internal, AppState};

    macro_rules! columns {
        () => {
            "SELECT a.id, a.name, a.login, a.mail_server_id, s.subject AS server_subject, s.auth_method,
            a.owner_id, u.email AS owner_email, a.status, a.access_expires_at, a.last_refresh_at, a.last_error,
            a.last_login_at, a.test_at, a.test_imap_ok, a.test_smtp_ok, a.test_message, a.created_at"
        };
    }
    macro_rules! from {
        () => {
            " FROM mail_accounts a JOIN mail_servers s ON s.id = a.mail_server_id JOIN users u ON u.id = a.owner_id"
        };
    }
    /// The columns of a [`MailAccountView`], and where they come from.
    pub const COLUMNS: &str = columns!();
    pub const FROM: &str = from!();
    pub const SELECT: &str = concat!(columns!(), from!());

    /// The account, if the caller owns it or is an admin; otherwise 404 (not 403: its existence
    /// is none of a stranger's business).
    pub async fn visible(
        st: &AppState,
        me: &SessionUser,
        id: i64,
    ) -> Result<MailAccountView, AppError> {
        let row: Option<MailAccountView> = sqlx::query_as(&format!("{SELECT} WHERE a.id = ?1"))
            .bind(id)
            .fetch_optional(&st.pool)
            .await
            .map_err(|e| internal("reading a mail account", e))?;
        row.filter(|a| me.is_admin() || a.owner_id == me.id)
            .ok_or_else(|| AppError::NotFound("The mail account".into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPage {
    pub rows: Vec<MailAccountView>,
    pub total: i64,
    /// Zero-based.
    pub page: i64,
}

/// One page (of `PAGE_SIZE`) of the mail accounts the caller may see, filtered.
#[server(prefix = "/api", endpoint = "list_mail_accounts")]
pub async fn list_mail_accounts(
    server_id: String,
    owner_id: String,
    status: String,
    page: i64,
) -> Result<AccountPage, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            let server: Option<i64> = server_id.trim().parse().ok();
            // A user sees only their own accounts, whatever the filter says.
            let owner: Option<i64> = if me.is_admin() {
                owner_id.trim().parse().ok()
            } else {
                Some(me.id)
            };
            let status = Some(status.trim().to_string()).filter(|s| STATUSES.contains(&s.as_str()));
            let page = page.clamp(0, 1_000_000);
            let page_size = crate::api::mail_servers::PAGE_SIZE;
            let filter =
                "WHERE (?1 IS NULL OR a.mail_server_id = ?1) AND (?2 IS NULL OR a.owner_id = ?2)
                   AND (?3 IS NULL OR a.status = ?3)";
            let counted: Vec<crate::ssr::db::Counted<MailAccountView>> = sqlx::query_as(&format!(
                "{}, (SELECT COUNT(*) FROM mail_accounts a {filter}) AS total {} {filter}
                 ORDER BY a.name COLLATE NOCASE, a.id LIMIT ?4 OFFSET ?5",
                imp::COLUMNS,
                imp::FROM
            ))
            .bind(server)
            .bind(owner)
            .bind(&status)
            .bind(page_size)
            .bind(page * page_size)
            .fetch_all(&st.pool)
            .await
            .map_err(|e| internal("listing mail accounts", e))?;
            let (rows, total) = match crate::ssr::db::split_counted(counted) {
                Some(found) => found,
                None => (
                    vec![],
                    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM mail_accounts a {filter}"))
                        .bind(server)
                        .bind(owner)
                        .bind(&status)
                        .fetch_one(&st.pool)
                        .await
                        .map_err(|e| internal("counting mail accounts", e))?,
                ),
            };
            Ok(AccountPage { rows, total, page })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "get_mail_account")]
pub async fn get_mail_account(id: i64) -> Result<MailAccountView, AppError> {
    use crate::ssr::{auth, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            imp::visible(&state()?, &me, id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "mail_account_choices")]
pub async fn mail_account_choices() -> Result<AccountChoices, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            let servers: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT id, subject, auth_method FROM mail_servers
                 WHERE active = 1 AND (visible_to_users = 1 OR ?1) ORDER BY subject_key",
            )
            .bind(me.is_admin())
            .fetch_all(&st.pool)
            .await
            .map_err(|e| internal("listing mail servers", e))?;
            let users: Vec<(i64, String)> = if me.is_admin() {
                sqlx::query_as("SELECT id, email FROM users WHERE active = 1 ORDER BY email_key")
                    .fetch_all(&st.pool)
                    .await
                    .map_err(|e| internal("listing users", e))?
            } else {
                vec![]
            };
            Ok(AccountChoices {
                me: me.id,
                is_admin: me.is_admin(),
                servers: servers
                    .into_iter()
                    .map(|(id, subject, auth_method)| ServerChoice {
                        id,
                        subject,
                        auth_method,
                    })
                    .collect(),
                users: users
                    .into_iter()
                    .map(|(id, email)| UserChoice { id, email })
                    .collect(),
            })
        }
        .await,
    )
}

/// Creates a mail account. Users may create only their own, on active servers visible to them;
/// admins may choose any owner ("Link a user"). For a password server, `password` is required.
#[server(prefix = "/api", endpoint = "create_mail_account")]
pub async fn create_mail_account(
    name: String,
    mail_server_id: String,
    login: String,
    owner_id: String,
    password: String,
) -> Result<i64, AppError> {
    use crate::domain::{mail_account::label, AccountName, AuthMethod, Email};
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            let login = Email::parse(&login).map_err(|m| AppError::field(label::LOGIN, m))?;
            let name = if name.trim().is_empty() { login.as_str().to_string() } else { name };
            let name = AccountName::parse(&name).map_err(|m| AppError::field(label::NAME, m))?;
            let server_id: i64 = mail_server_id
                .trim()
                .parse()
                .map_err(|_| AppError::field(label::SERVER, "choose a mail server"))?;
            let server: Option<(String, bool, bool)> =
                sqlx::query_as("SELECT auth_method, active, visible_to_users FROM mail_servers WHERE id = ?1")
                    .bind(server_id)
                    .fetch_optional(&st.pool)
                    .await
                    .map_err(|e| internal("reading a mail server", e))?;
            let Some((method, active, visible)) = server.filter(|s| s.1 && (s.2 || me.is_admin())) else {
                return Err(AppError::field(label::SERVER, "choose an active mail server"));
            };
            let _ = (active, visible);
            let owner: i64 = match owner_id.trim() {
                "" => me.id,
                s => s.parse().map_err(|_| AppError::field(label::OWNER, "choose a user"))?,
            };
            if owner != me.id && !me.is_admin() {
                return Err(AppError::Forbidden);
            }
            let owner_ok: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE id = ?1 AND active = 1")
                .bind(owner)
                .fetch_optional(&st.pool)
                .await
                .map_err(|e| internal("reading a user", e))?;
            if owner_ok.is_none() {
                return Err(AppError::field(label::OWNER, "choose an active user"));
            }
            let password_enc = if AuthMethod::parse(&method) == Ok(AuthMethod::Password) {
                if password.is_empty() {
                    return Err(AppError::field(label::PASSWORD, "is required for a password mail server"));
                }
                if password.chars().count() > 1024 {
                    return Err(AppError::field(label::PASSWORD, "must be at most 1024 characters"));
                }
                Some(st.secrets.seal_str(&password, "mail_accounts.password"))
            } else {
                None
            };
            let t = now();
            let status = if password_enc.is_some() { "linked" } else { "pending" };
            let res = sqlx::query(
                "INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, status, password_enc,
                    created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )
            .bind(server_id)
            .bind(owner)
            .bind(name.as_str())
            .bind(login.as_str())
            .bind(login.key())
            .bind(status)
            .bind(password_enc)
            .bind(t)
            .execute(&st.pool)
            .await;
            match res {
                Ok(r) => {
                    tracing::info!(account_id = r.last_insert_rowid(), mail_server_id = server_id, owner, "mail account created");
                    Ok(r.last_insert_rowid())
                }
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    Err(AppError::field(label::LOGIN, "this mailbox is already linked on this mail server"))
                }
                Err(e) => Err(internal("creating a mail account", e)),
            }
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_mail_account")]
pub async fn delete_mail_account(id: i64) -> Result<(), AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            imp::visible(&st, &me, id).await?;
            sqlx::query("DELETE FROM mail_accounts WHERE id = ?1")
                .bind(id)
                .execute(&st.pool)
                .await
                .map_err(|e| internal("deleting a mail account", e))?;
            Ok(())
        }
        .await,
    )
}

/// Starts the OAuth flow; returns the provider URL the browser goes to.
#[server(prefix = "/api", endpoint = "start_authorization")]
pub async fn start_authorization(id: i64) -> Result<String, AppError> {
    use crate::ssr::{auth, oauth, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            imp::visible(&st, &me, id).await?;
            oauth::start(&st, id, &me).await
        }
        .await,
    )
}

/// Revokes the refresh token at the provider (when it has a revocation endpoint), deletes the
/// tokens and sets the account back to `pending`. Returns a warning when revocation failed.
#[server(prefix = "/api", endpoint = "unlink_mail_account")]
pub async fn unlink_mail_account(id: i64) -> Result<Option<String>, AppError> {
    use crate::ssr::{auth, db::now, internal, oauth, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            let account = imp::visible(&st, &me, id).await?;
            let blob: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT refresh_token_enc FROM mail_accounts WHERE id = ?1")
                .bind(id)
                .fetch_optional(&st.pool)
                .await
                .map_err(|e| internal("reading tokens", e))?;
            let mut warning = None;
            if let Some(blob) = blob.and_then(|b| b.0) {
                let token = st
                    .secrets
                    .open_str(&blob, oauth::AAD_REFRESH)
                    .map_err(|e| internal("decrypting a refresh token", e))?;
                match oauth::load_server(&st, account.mail_server_id).await {
                    Ok(server) => {
                        if let Err(m) = oauth::revoke(&st, &server, &token, "refresh_token").await {
                            warning = Some(format!("The tokens were deleted here, but revoking them at the provider failed: {m}."));
                        }
                    }
                    Err(e) => warning = Some(format!("The tokens were deleted here, but not revoked at the provider: {e}")),
                }
            }
            sqlx::query(
                "UPDATE mail_accounts SET access_token_enc = NULL, refresh_token_enc = NULL, access_expires_at = NULL,
                    granted_scopes = NULL, status = 'pending', last_error = ?1, refresh_failures = 0, next_retry_at = NULL,
                    updated_at = ?2
                 WHERE id = ?3",
            )
            .bind(&warning)
            .bind(now())
            .bind(id)
            .execute(&st.pool)
            .await
            .map_err(|e| internal("unlinking a mail account", e))?;
            tracing::info!(account_id = id, revoked = warning.is_none(), "mail account unlinked");
            Ok(warning)
        }
        .await,
    )
}

/// Accounts by status for the dashboard: all for admins, one's own for users.
#[server(prefix = "/api", endpoint = "account_status_counts")]
pub async fn account_status_counts() -> Result<Vec<(String, i64)>, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let st = state()?;
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM mail_accounts WHERE ?1 OR owner_id = ?2 GROUP BY status",
            )
            .bind(me.is_admin())
            .bind(me.id)
            .fetch_all(&st.pool)
            .await
            .map_err(|e| internal("counting accounts", e))?;
            Ok(STATUSES
                .iter()
                .map(|s| (s.to_string(), rows.iter().find(|r| r.0 == *s).map(|r| r.1).unwrap_or(0)))
                .collect())
        }
        .await,
    )
}
