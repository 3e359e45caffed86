//! Mail servers: the list, the edit form, save (with discovery for generic providers) and
//! delete.

use tracing::instrument;

use crate::domain::mail_server::label;
use crate::domain::{MailServerDraft, MailServerEdit, MailServerSummary, Page, ProviderKind};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::mail_servers::{MailServerRecord, SecretChange};
use crate::ssr::{db, providers, AppState};

fn not_found() -> AppError {
    AppError::NotFound("The mail server".into())
}

/// One page of mail servers, sorted by Subject (`descending` reverses it).
pub async fn list(
    st: &AppState,
    page: i64,
    descending: bool,
) -> Result<Page<MailServerSummary>, AppError> {
    let counted = db::mail_servers::page(&st.pool, page, descending).await?;
    let (rows, total) = match db::split_counted(counted) {
        Some(found) => found,
        None => (vec![], db::mail_servers::count(&st.pool).await?),
    };
    Ok(Page { rows, total, page })
}

/// The form's content; the secret stays here, only whether one is set goes out.
pub async fn edit_form(st: &AppState, id: i64) -> Result<MailServerEdit, AppError> {
    let r = db::mail_servers::get(&st.pool, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(MailServerEdit {
        id: r.id,
        secret_set: r.client_secret_enc.is_some(),
        draft: MailServerDraft {
            subject: r.subject,
            auth_method: r.auth_method.code().into(),
            provider: r.provider.map(|p| p.code().to_string()).unwrap_or_default(),
            client_id: r.client_id.unwrap_or_default(),
            client_secret: String::new(),
            application_id: r.application_id.map(|a| a.to_string()).unwrap_or_default(),
            tenant: r.tenant,
            issuer_url: r.issuer_url.unwrap_or_default(),
            scopes: r.scopes,
            imap_host: r.imap_host,
            imap_port: r.imap_port.to_string(),
            imap_encryption: r.imap_encryption.code().into(),
            smtp_host: r.smtp_host,
            smtp_port: r.smtp_port.to_string(),
            smtp_encryption: r.smtp_encryption.code().into(),
            validate_certificate: r.validate_certificate,
            active: r.active,
            visible_to_users: r.visible_to_users,
        },
    })
}

/// Creates (`id` None) or updates a mail server from the form; every bad field is reported
/// at once and nothing is written. Returns the server's id.
#[instrument(skip_all, fields(mail_server_id = ?id))]
pub async fn save(
    st: &AppState,
    id: Option<i64>,
    draft: &MailServerDraft,
) -> Result<i64, AppError> {
    let secret_stored = match id {
        None => false,
        Some(id) => db::mail_servers::get(&st.pool, id)
            .await?
            .ok_or_else(not_found)?
            .client_secret_enc
            .is_some(),
    };
    let valid = draft.parse(secret_stored).map_err(AppError::fields)?;

    let mut endpoints = None;
    if let Some(o) = &valid.oauth {
        match db::applications::get(&st.pool, o.application_id).await? {
            None => {
                return Err(AppError::field(
                    label::REDIRECT_URI,
                    "this application does not exist",
                ))
            }
            Some(app) if !app.active => {
                return Err(AppError::field(
                    label::REDIRECT_URI,
                    "this application is disabled; activate it or choose another",
                ))
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
    let secret = match o.map(|o| o.client_secret.as_ref()) {
        None => SecretChange::Clear,
        Some(None) => SecretChange::Keep,
        Some(Some(s)) => SecretChange::Set(st.secrets.seal_str(s, aad::CLIENT_SECRET)),
    };
    let e = endpoints.as_ref();
    let record = MailServerRecord {
        subject: valid.subject.as_str().to_string(),
        subject_key: valid.subject.key(),
        auth_method: valid.auth_method,
        provider: o.map(|o| o.provider),
        client_id: o.map(|o| o.client_id.clone()),
        secret,
        application_id: o.map(|o| o.application_id),
        tenant: o.map(|o| o.tenant.clone()).unwrap_or_default(),
        issuer_url: o.and_then(|o| o.issuer_url.clone()),
        auth_url: e.map(|e| e.auth_url.clone()),
        token_url: e.map(|e| e.token_url.clone()),
        userinfo_url: e.and_then(|e| e.userinfo_url.clone()),
        revocation_url: e.and_then(|e| e.revocation_url.clone()),
        scopes: o.map(|o| o.scopes.clone()).unwrap_or_default(),
        imap_host: valid.imap_host.as_str().to_string(),
        imap_port: valid.imap_port.get() as i64,
        imap_encryption: valid.imap_encryption,
        smtp_host: valid.smtp_host.as_str().to_string(),
        smtp_port: valid.smtp_port.get() as i64,
        smtp_encryption: valid.smtp_encryption,
        validate_certificate: valid.validate_certificate,
        active: valid.active,
        visible_to_users: valid.visible_to_users,
    };
    let unique = |e: db::QueryError| {
        if e.is_unique_violation() {
            AppError::field(
                label::SUBJECT,
                "a mail server with this subject already exists",
            )
        } else {
            e.into()
        }
    };
    let t = st.clock.now();
    let saved = match id {
        None => db::mail_servers::insert(&st.pool, &record, t)
            .await
            .map_err(unique)?,
        Some(id) => {
            if !db::mail_servers::update(&st.pool, id, &record, t)
                .await
                .map_err(unique)?
            {
                return Err(not_found());
            }
            id
        }
    };
    tracing::info!(mail_server_id = saved, "mail server saved");
    Ok(saved)
}

/// Deletes a mail server. With linked mail accounts, `confirm_accounts` must equal their number:
/// the admin saw how many mailboxes (and tokens) go with it and confirmed that.
#[instrument(skip_all, fields(mail_server_id = id))]
pub async fn delete(st: &AppState, id: i64, confirm_accounts: i64) -> Result<(), AppError> {
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    let linked = db::mail_accounts::count_on_server(&mut *tx, id).await?;
    if linked > 0 && confirm_accounts != linked {
        return Err(AppError::Refused(format!(
            "{linked} mail account{} linked to this server; confirm deleting {} and their tokens.",
            if linked == 1 { " is" } else { "s are" },
            if linked == 1 { "it" } else { "them" }
        )));
    }
    if !db::mail_servers::delete(&mut *tx, id).await? {
        return Err(not_found());
    }
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    tracing::info!(linked_accounts = linked, "mail server deleted");
    Ok(())
}
