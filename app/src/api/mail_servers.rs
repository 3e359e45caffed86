//! Mail servers: list, form, save (with discovery for generic providers), delete.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::MailServerDraft;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailServerSummary {
    pub id: i64,
    pub subject: String,
    pub active: bool,
    pub auth_method: String,
    pub provider: Option<String>,
    pub imap_host: String,
    pub smtp_host: String,
    pub linked_accounts: i64,
}

/// The edit form's content. The client secret itself never leaves the server: only whether
/// one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServerEdit {
    pub id: i64,
    pub draft: MailServerDraft,
    pub secret_set: bool,
}

/// Rows per page of the Mail servers and Mail accounts lists.
pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailServerPage {
    pub rows: Vec<MailServerSummary>,
    pub total: i64,
    /// Zero-based.
    pub page: i64,
}

/// One page of mail servers, sorted by Subject (`descending` reverses it).
#[server(prefix = "/api", endpoint = "list_mail_servers")]
pub async fn list_mail_servers(page: i64, descending: bool) -> Result<MailServerPage, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let page = page.clamp(0, 1_000_000);
            let order = if descending { "DESC" } else { "ASC" };
            let counted: Vec<crate::ssr::db::Counted<MailServerSummary>> = sqlx::query_as(&format!(
                "SELECT s.id, s.subject, s.active, s.auth_method, s.provider, s.imap_host, s.smtp_host,
                        (SELECT COUNT(*) FROM mail_accounts a WHERE a.mail_server_id = s.id) AS linked_accounts,
                        (SELECT COUNT(*) FROM mail_servers) AS total
                 FROM mail_servers s ORDER BY s.subject_key {order} LIMIT ?1 OFFSET ?2"
            ))
            .bind(PAGE_SIZE)
            .bind(page * PAGE_SIZE)
            .fetch_all(&st.pool)
            .await
            .map_err(|e| internal("listing mail servers", e))?;
            let (rows, total) = match crate::ssr::db::split_counted(counted) {
                Some(found) => found,
                None => (
                    vec![],
                    sqlx::query_scalar("SELECT COUNT(*) FROM mail_servers")
                        .fetch_one(&st.pool)
                        .await
                        .map_err(|e| internal("counting mail servers", e))?,
                ),
            };
            Ok(MailServerPage { rows, total, page })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
#[derive(sqlx::FromRow)]
struct ServerRow {
    id: i64,
    subject: String,
    auth_method: String,
    provider: Option<String>,
    client_id: Option<String>,
    has_secret: bool,
    application_id: Option<i64>,
    tenant: String,
    issuer_url: Option<String>,
    scopes: String,
    imap_host: String,
    imap_port: i64,
    imap_encryption: String,
    smtp_host: String,
    smtp_port: i64,
    smtp_encryption: String,
    validate_certificate: bool,
    active: bool,
    visible_to_users: bool,
}

#[server(prefix = "/api", endpoint = "get_mail_server")]
pub async fn get_mail_server(id: i64) -> Result<MailServerEdit, AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let r: ServerRow = sqlx::query_as(
                "SELECT id, subject, auth_method, provider, client_id, client_secret_enc IS NOT NULL AS has_secret,
                        application_id, tenant, issuer_url, scopes, imap_host, imap_port, imap_encryption,
                        smtp_host, smtp_port, smtp_encryption, validate_certificate, active, visible_to_users
                 FROM mail_servers WHERE id = ?1",
            )
            .bind(id)
            .fetch_optional(&st.pool)
            .await
            .map_err(|e| internal("reading a mail server", e))?
            .ok_or_else(|| AppError::NotFound("The mail server".into()))?;
            Ok(MailServerEdit {
                id: r.id,
                secret_set: r.has_secret,
                draft: MailServerDraft {
                    subject: r.subject,
                    auth_method: r.auth_method,
                    provider: r.provider.unwrap_or_default(),
                    client_id: r.client_id.unwrap_or_default(),
                    client_secret: String::new(),
                    application_id: r.application_id.map(|a| a.to_string()).unwrap_or_default(),
                    tenant: r.tenant,
                    issuer_url: r.issuer_url.unwrap_or_default(),
                    scopes: r.scopes,
                    imap_host: r.imap_host,
                    imap_port: r.imap_port.to_string(),
                    imap_encryption: r.imap_encryption,
                    smtp_host: r.smtp_host,
                    smtp_port: r.smtp_port.to_string(),
                    smtp_encryption: r.smtp_encryption,
                    validate_certificate: r.validate_certificate,
                    active: r.active,
                    visible_to_users: r.visible_to_users,
                },
            })
        }
        .await,
    )
}

/// Creates (`id` empty) or updates a mail server; returns its id.
#[server(prefix = "/api", endpoint = "save_mail_server")]
pub async fn save_mail_server(id: String, draft: MailServerDraft) -> Result<i64, AppError> {
    use crate::domain::{mail_server::label, ProviderKind};
    use crate::ssr::{auth, db::now, internal, providers, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let id: Option<i64> = match id.trim() {
                "" => None,
                s => Some(s.parse().map_err(|_| AppError::NotFound("The mail server".into()))?),
            };
            let secret_stored = match id {
                None => false,
                Some(id) => {
                    let row: Option<(bool,)> =
                        sqlx::query_as("SELECT client_secret_enc IS NOT NULL FROM mail_servers WHERE id = ?1")
                            .bind(id)
                            .fetch_optional(&st.pool)
                            .await
                            .map_err(|e| internal("reading a mail server", e))?;
                    row.ok_or_else(|| AppError::NotFound("The mail server".into()))?.0
                }
            };
            let valid = draft.parse(secret_stored).map_err(|errs| {
                let (field, message) = errs.into_iter().next().unwrap_or((label::SUBJECT, "is invalid".into()));
                AppError::field(field, message)
            })?;

            let mut endpoints = None;
            if let Some(o) = &valid.oauth {
                let app: Option<(bool,)> = sqlx::query_as("SELECT active FROM applications WHERE id = ?1")
                    .bind(o.application_id)
                    .fetch_optional(&st.pool)
                    .await
                    .map_err(|e| internal("reading an application", e))?;
                match app {
                    None => return Err(AppError::field(label::REDIRECT_URI, "this application does not exist")),
                    Some((false,)) => {
                        return Err(AppError::field(label::REDIRECT_URI, "this application is disabled; activate it or choose another"))
                    }
                    Some(_) => {}
                }
                if o.provider == ProviderKind::Generic {
                    let issuer = o.issuer_url.clone().unwrap_or_default();
                    endpoints = Some(
                        providers::discover(&st.http, &issuer)
                            .await
                            .map_err(|m| AppError::field(label::ISSUER_URL, m))?,
                    );
                }
            }

            let o = valid.oauth.as_ref();
            let secret_enc = o
                .and_then(|o| o.client_secret.as_ref())
                .map(|s| st.secrets.seal_str(s, "mail_servers.client_secret"));
            let keep_secret = o.is_some() && secret_enc.is_none();
            let t = now();
            // One parameter list (?1..?26) for both statements, so the binds below serve either.
            let mut query = sqlx::query(if id.is_some() {
                "UPDATE mail_servers SET subject = ?1, subject_key = ?2, auth_method = ?3, provider = ?4, client_id = ?5,
                    client_secret_enc = CASE WHEN ?24 THEN client_secret_enc ELSE ?6 END,
                    application_id = ?7, tenant = ?8, issuer_url = ?9, auth_url = ?10, token_url = ?11, userinfo_url = ?12,
                    revocation_url = ?13, scopes = ?14, imap_host = ?15, imap_port = ?16, imap_encryption = ?17,
                    smtp_host = ?18, smtp_port = ?19, smtp_encryption = ?20, validate_certificate = ?21, active = ?22,
                    visible_to_users = ?23, updated_at = ?25
                 WHERE id = ?26"
            } else {
                "INSERT INTO mail_servers (subject, subject_key, auth_method, provider, client_id, client_secret_enc,
                    application_id, tenant, issuer_url, auth_url, token_url, userinfo_url, revocation_url, scopes,
                    imap_host, imap_port, imap_encryption, smtp_host, smtp_port, smtp_encryption, validate_certificate,
                    active, visible_to_users, created_at, updated_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, CASE WHEN ?24 THEN NULL ELSE ?6 END, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                        ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?25, ?25 WHERE ?26 IS NULL"
            });
            query = query
                .bind(valid.subject.as_str())
                .bind(valid.subject.key())
                .bind(valid.auth_method.code())
                .bind(o.map(|o| o.provider.code()))
                .bind(o.map(|o| o.client_id.clone()))
                .bind(secret_enc)
                .bind(o.map(|o| o.application_id))
                .bind(o.map(|o| o.tenant.clone()).unwrap_or_default())
                .bind(o.and_then(|o| o.issuer_url.clone()))
                .bind(endpoints.as_ref().map(|e| e.auth_url.clone()))
                .bind(endpoints.as_ref().map(|e| e.token_url.clone()))
                .bind(endpoints.as_ref().and_then(|e| e.userinfo_url.clone()))
                .bind(endpoints.as_ref().and_then(|e| e.revocation_url.clone()))
                .bind(o.map(|o| o.scopes.clone()).unwrap_or_default())
                .bind(valid.imap_host.as_str())
                .bind(valid.imap_port.get() as i64)
                .bind(valid.imap_encryption.code())
                .bind(valid.smtp_host.as_str())
                .bind(valid.smtp_port.get() as i64)
                .bind(valid.smtp_encryption.code())
                .bind(valid.validate_certificate)
                .bind(valid.active)
                .bind(valid.visible_to_users)
                .bind(keep_secret)
                .bind(t)
                .bind(id);
            let res = query.execute(&st.pool).await.map_err(|e| match e {
                sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                    AppError::field(label::SUBJECT, "a mail server with this subject already exists")
                }
                e => internal("saving a mail server", e),
            })?;
            if res.rows_affected() == 0 {
                return Err(AppError::NotFound("The mail server".into()));
            }
            let saved = id.unwrap_or_else(|| res.last_insert_rowid());
            tracing::info!(mail_server_id = saved, "mail server saved");
            Ok(saved)
        }
        .await,
    )
}

/// Deletes a mail server. With linked mail accounts, `confirm_accounts` must equal their number:
/// the admin saw how many mailboxes (and tokens) go with it and confirmed that.
#[server(prefix = "/api", endpoint = "delete_mail_server")]
pub async fn delete_mail_server(id: i64, confirm_accounts: i64) -> Result<(), AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            auth::require_admin().await?;
            let st = state()?;
            let mut tx = st.pool.begin().await.map_err(|e| internal("starting a transaction", e))?;
            let linked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts WHERE mail_server_id = ?1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| internal("counting linked accounts", e))?;
            if linked > 0 && confirm_accounts != linked {
                return Err(AppError::Refused(format!(
                    "{linked} mail account{} linked to this server; confirm deleting {} and their tokens.",
                    if linked == 1 { " is" } else { "s are" },
                    if linked == 1 { "it" } else { "them" }
                )));
            }
            let r = sqlx::query("DELETE FROM mail_servers WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| internal("deleting a mail server", e))?;
            if r.rows_affected() == 0 {
                return Err(AppError::NotFound("The mail server".into()));
            }
            tx.commit().await.map_err(|e| internal("committing a delete", e))?;
            tracing::info!(mail_server_id = id, linked_accounts = linked, "mail server deleted");
            Ok(())
        }
        .await,
    )
}
