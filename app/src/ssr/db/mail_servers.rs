//! `mail_servers`: each server's OAuth client, endpoints and IMAP/SMTP settings.

use sqlx::{any::AnyArguments, query::Query};

use super::Db;

use super::{Context, Counted, DbResult};
use crate::domain::{
    AuthMethod, Encryption, MailServerSummary, ProviderKind, ServerChoice, PAGE_SIZE,
};

/// A mail server, with the key of the application whose Redirect URI it uses.
#[derive(Debug, sqlx::FromRow)]
pub struct MailServerRow {
    pub id: i64,
    pub subject: String,
    pub auth_method: AuthMethod,
    pub provider: Option<ProviderKind>,
    pub client_id: Option<String>,
    pub client_secret_enc: Option<Vec<u8>>,
    pub application_id: Option<i64>,
    pub app_key: Option<String>,
    pub tenant: String,
    pub issuer_url: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub revocation_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: String,
    pub imap_host: String,
    pub imap_port: i64,
    pub imap_encryption: Encryption,
    pub smtp_host: String,
    pub smtp_port: i64,
    pub smtp_encryption: Encryption,
    #[sqlx(try_from = "super::Flag")]
    pub validate_certificate: bool,
    #[sqlx(try_from = "super::Flag")]
    pub active: bool,
    #[sqlx(try_from = "super::Flag")]
    pub visible_to_users: bool,
    pub allowed_domains: String,
    pub destination_version: i64,
    pub client_secret_expires_at: Option<i64>,
    pub publishing_status: String,
}

impl MailServerRow {
    /// A digest of every setting that decides where this server's tokens and codes go (the
    /// ones `service::custody::destination_changes` compares).
    pub fn destination_fingerprint(&self) -> String {
        use sha2::Digest;
        let parts = [
            self.auth_method.code().to_string(),
            self.provider
                .map(|p| p.code().to_string())
                .unwrap_or_default(),
            self.client_id.clone().unwrap_or_default(),
            self.tenant.clone(),
            self.issuer_url.clone().unwrap_or_default(),
            self.auth_url.clone().unwrap_or_default(),
            self.token_url.clone().unwrap_or_default(),
            self.userinfo_url.clone().unwrap_or_default(),
            self.revocation_url.clone().unwrap_or_default(),
            self.imap_host.clone(),
            self.imap_port.to_string(),
            self.imap_encryption.code().to_string(),
            self.smtp_host.clone(),
            self.smtp_port.to_string(),
            self.smtp_encryption.code().to_string(),
            self.validate_certificate.to_string(),
        ];
        let digest = sha2::Sha256::digest(parts.join("\u{1f}").as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What happens to the stored client secret on save.
pub enum SecretChange {
    Keep,
    Set(Vec<u8>),
    Clear,
}

/// Everything a save writes, typed; the service builds it from a parsed form.
pub struct MailServerRecord {
    pub subject: String,
    pub subject_key: String,
    pub auth_method: AuthMethod,
    pub provider: Option<ProviderKind>,
    pub client_id: Option<String>,
    pub secret: SecretChange,
    pub application_id: Option<i64>,
    pub tenant: String,
    pub issuer_url: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub revocation_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: String,
    pub imap_host: String,
    pub imap_port: i64,
    pub imap_encryption: Encryption,
    pub smtp_host: String,
    pub smtp_port: i64,
    pub smtp_encryption: Encryption,
    pub validate_certificate: bool,
    pub active: bool,
    pub visible_to_users: bool,
    pub allowed_domains: String,
    pub client_secret_expires_at: Option<i64>,
    /// `testing`, `production`, or empty.
    pub publishing_status: String,
}

/// Binds $1..$26 in the column order both statements below use.
fn bind_fields<'q>(
    q: Query<'q, Db, AnyArguments<'q>>,
    r: &'q MailServerRecord,
) -> Query<'q, Db, AnyArguments<'q>> {
    q.bind(&r.subject)
        .bind(&r.subject_key)
        .bind(r.auth_method)
        .bind(r.provider)
        .bind(&r.client_id)
        .bind(r.application_id)
        .bind(&r.tenant)
        .bind(&r.issuer_url)
        .bind(&r.auth_url)
        .bind(&r.token_url)
        .bind(&r.userinfo_url)
        .bind(&r.revocation_url)
        .bind(&r.scopes)
        .bind(&r.imap_host)
        .bind(r.imap_port)
        .bind(r.imap_encryption)
        .bind(&r.smtp_host)
        .bind(r.smtp_port)
        .bind(r.smtp_encryption)
        .bind(r.validate_certificate)
        .bind(r.active)
        .bind(r.visible_to_users)
        .bind(&r.allowed_domains)
        .bind(&r.jwks_url)
        .bind(r.client_secret_expires_at)
        .bind(&r.publishing_status)
}

const FIELDS: &str = "subject, subject_key, auth_method, provider, client_id, application_id, tenant,
    issuer_url, auth_url, token_url, userinfo_url, revocation_url, scopes, imap_host, imap_port,
    imap_encryption, smtp_host, smtp_port, smtp_encryption, validate_certificate, active, visible_to_users,
    allowed_domains, jwks_url, client_secret_expires_at, publishing_status";

pub async fn insert(db: impl super::Executor<'_>, r: &MailServerRecord, now: i64) -> DbResult<i64> {
    let secret = match &r.secret {
        SecretChange::Set(blob) => Some(blob.clone()),
        SecretChange::Keep | SecretChange::Clear => None,
    };
    let sql = format!(
        "INSERT INTO mail_servers ({FIELDS}, client_secret_enc, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $28) RETURNING id"
    );
    bind_fields(sqlx::query(&sql), r)
        .bind(secret)
        .bind(now)
        .fetch_one(db)
        .await
        .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
        .context("creating a mail server")
}

pub async fn update(
    db: impl super::Executor<'_>,
    id: i64,
    r: &MailServerRecord,
    now: i64,
) -> DbResult<bool> {
    let (keep, secret) = match &r.secret {
        SecretChange::Keep => (true, None),
        SecretChange::Set(blob) => (false, Some(blob.clone())),
        SecretChange::Clear => (false, None),
    };
    let sets = FIELDS
        .split(',')
        .enumerate()
        .map(|(i, col)| format!("{} = ${}", col.trim(), i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE mail_servers SET {sets},
            client_secret_enc = CASE WHEN $28 THEN client_secret_enc ELSE $27 END, updated_at = $29
         WHERE id = $30"
    );
    bind_fields(sqlx::query(&sql), r)
        .bind(secret)
        .bind(keep)
        .bind(now)
        .bind(id)
        .execute(db)
        .await
        .context("updating a mail server")
        .map(|res| res.rows_affected() == 1)
}

pub async fn get(db: impl super::Executor<'_>, id: i64) -> DbResult<Option<MailServerRow>> {
    sqlx::query_as(
        "SELECT s.id, s.subject, s.auth_method, s.provider, s.client_id, s.client_secret_enc,
                s.application_id, a.app_key, s.tenant, s.issuer_url, s.auth_url, s.token_url,
                s.userinfo_url, s.revocation_url, s.jwks_url, s.scopes, s.imap_host, s.imap_port,
                s.imap_encryption, s.smtp_host, s.smtp_port, s.smtp_encryption,
                s.validate_certificate, s.active, s.visible_to_users, s.allowed_domains,
                s.destination_version, s.client_secret_expires_at, s.publishing_status
         FROM mail_servers s LEFT JOIN applications a ON a.id = s.application_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .context("reading a mail server")
}

/// One page of the list, sorted by Subject, with the list's size on every row.
pub async fn page(
    db: impl super::Executor<'_>,
    page: i64,
    descending: bool,
) -> DbResult<Vec<Counted<MailServerSummary>>> {
    let order = if descending { "DESC" } else { "ASC" };
    sqlx::query_as(&format!(
        "SELECT s.id, s.subject, s.active, s.auth_method, s.provider, s.imap_host, s.smtp_host,
                (SELECT COUNT(*) FROM mail_accounts a WHERE a.mail_server_id = s.id) AS linked_accounts,
                (SELECT COUNT(*) FROM mail_servers) AS total
         FROM mail_servers s ORDER BY s.subject_key {order} LIMIT $1 OFFSET $2"
    ))
    .bind(PAGE_SIZE)
    .bind(page * PAGE_SIZE)
    .fetch_all(db)
    .await
    .context("listing mail servers")
}

pub async fn count(db: impl super::Executor<'_>) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM mail_servers")
        .fetch_one(db)
        .await
        .context("counting mail servers")
}

pub async fn delete(db: impl super::Executor<'_>, id: i64) -> DbResult<bool> {
    sqlx::query("DELETE FROM mail_servers WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .context("deleting a mail server")
        .map(|r| r.rows_affected() == 1)
}

/// `(application id, subject)` of every server using an application, by subject.
pub async fn application_users(db: impl super::Executor<'_>) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT application_id, subject FROM mail_servers WHERE application_id IS NOT NULL
         ORDER BY subject_key",
    )
    .fetch_all(db)
    .await
    .context("listing application users")
}

/// Active servers a caller may add a mailbox on: visible ones, or every one for an admin.
pub async fn choices(db: impl super::Executor<'_>, admin: bool) -> DbResult<Vec<ServerChoice>> {
    sqlx::query_as(
        "SELECT id, subject, auth_method FROM mail_servers
         WHERE active AND (visible_to_users OR $1) ORDER BY subject_key",
    )
    .bind(admin)
    .fetch_all(db)
    .await
    .context("listing mail servers")
}

/// `(id, sealed client secret)` of every server that has one.
pub async fn sealed_secrets(db: impl super::Executor<'_>) -> DbResult<Vec<(i64, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT id, client_secret_enc FROM mail_servers WHERE client_secret_enc IS NOT NULL",
    )
    .fetch_all(db)
    .await
    .context("reading client secrets")
}

/// Stores a server's sealed client secret (sealed with the row's id, known only after insert).
pub async fn set_secret(
    db: impl super::Executor<'_>,
    id: i64,
    blob: Option<Vec<u8>>,
) -> DbResult<()> {
    sqlx::query("UPDATE mail_servers SET client_secret_enc = $1 WHERE id = $2")
        .bind(blob)
        .bind(id)
        .execute(db)
        .await
        .context("storing a client secret")
        .map(|_| ())
}

/// The lock (see [`super::serialize`]) a change of the server's destination and a grant
/// being stored for it take, so that neither misses the other.
pub fn destination_lock(id: i64) -> String {
    format!("mail_servers:{id}:destination")
}

/// Marks a change of where the server's tokens go (see `destination_version`).
pub async fn bump_destination(db: impl super::Executor<'_>, id: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE mail_servers SET destination_version = destination_version + 1 WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await
    .context("marking a change of destination")
    .map(|_| ())
}
