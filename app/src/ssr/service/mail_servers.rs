//! Mail servers: the list, the edit form, save (with discovery for generic providers) and
//! delete.

use tracing::instrument;

use crate::domain::mail_server::label;
use crate::domain::{
    EventKind, MailServerDraft, MailServerEdit, MailServerSummary, Page, ProviderKind,
};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::mail_servers::{MailServerRecord, SecretChange};
use crate::ssr::{audit, db, oauth, providers, AppState};

use super::custody;

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
            allowed_domains: r.allowed_domains,
            confirm_linked: 0,
            client_secret_expires_on: r
                .client_secret_expires_at
                .map(crate::domain::mail_server::day_text)
                .unwrap_or_default(),
            publishing_status: r.publishing_status,
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
    let old = match id {
        None => None,
        Some(id) => Some(
            db::mail_servers::get(&st.pool, id)
                .await?
                .ok_or_else(not_found)?,
        ),
    };
    let secret_stored = old.as_ref().is_some_and(|r| r.client_secret_enc.is_some());
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
                providers::discover(&st.outbound, &issuer)
                    .await
                    .map_err(|m| AppError::field(label::ISSUER_URL, m))?,
            );
        }
    }

    let o = valid.oauth.as_ref();
    // Sealed with the row's id: a new server's secret is written once the row exists.
    let new_secret = o.and_then(|o| o.client_secret.clone());
    let secret = match (o, &new_secret, id) {
        (None, _, _) => SecretChange::Clear,
        (Some(_), None, _) | (Some(_), Some(_), None) => SecretChange::Keep,
        (Some(_), Some(s), Some(id)) => {
            SecretChange::Set(st.secrets.seal_str(s, &aad::CLIENT_SECRET.row(id)))
        }
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
        jwks_url: e.and_then(|e| e.jwks_url.clone()),
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
        allowed_domains: valid.allowed_domains.joined(),
        client_secret_expires_at: valid.client_secret_expires_at,
        publishing_status: valid
            .publishing_status
            .map(|p| p.code().to_string())
            .unwrap_or_default(),
    };
    // Where the linked accounts' tokens go may change only with the admin's say-so, and then
    // every grant given for the old destination is withdrawn.
    let moved = match &old {
        Some(old) => custody::destination_changes(old, &record),
        None => vec![],
    };
    let handover = match (&old, moved.is_empty()) {
        (Some(old), false) => Some(custody::prepare_move(st, old.id, &moved).await),
        _ => None,
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
        None => {
            let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
            let id = db::mail_servers::insert(&mut *tx, &record, t)
                .await
                .map_err(unique)?;
            if let Some(s) = &new_secret {
                let sealed = st.secrets.seal_str(s, &aad::CLIENT_SECRET.row(id));
                db::mail_servers::set_secret(&mut *tx, id, Some(sealed)).await?;
            }
            tx.commit().await.map_err(crate::ssr::commit_failed)?;
            id
        }
        Some(id) => {
            let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
            if !db::mail_servers::update(&mut *tx, id, &record, t)
                .await
                .map_err(unique)?
            {
                return Err(not_found());
            }
            let grants = match &handover {
                Some(h) => {
                    custody::withdraw_grants(&mut tx, id, h, draft.confirm_linked, t).await?
                }
                None => vec![],
            };
            tx.commit().await.map_err(crate::ssr::commit_failed)?;
            if !grants.is_empty() {
                st.webhooks.wake();
            }
            if let Some(h) = handover {
                custody::revoke_at_old_provider(st, h.old_client.as_ref(), grants).await;
            }
            id
        }
    };
    tracing::info!(mail_server_id = saved, "mail server saved");
    let (kind, summary) = match &old {
        None => (
            "server.created",
            format!("Mail server '{}' created", record.subject),
        ),
        Some(old) => {
            let mut changed = server_changes(old, &record);
            let before = old
                .client_secret_enc
                .as_ref()
                .and_then(|b| st.secrets.open_str(b, &aad::CLIENT_SECRET.row(old.id)).ok());
            if new_secret.is_some() && new_secret != before {
                // Its value is never written down, only that it changed.
                changed.push_str(if changed.is_empty() { "" } else { "; " });
                changed.push_str("Client secret changed");
            }
            if changed.is_empty() {
                return Ok(saved);
            }
            (
                "server.changed",
                format!("Mail server '{}': {changed}", old.subject),
            )
        }
    };
    audit::admin_did(&st.pool, kind, summary, (Some(saved), None), t).await;
    Ok(saved)
}

/// The settings an admin sees, before and after, for the audit trail (no secret among them).
fn server_changes(old: &db::mail_servers::MailServerRow, new: &MailServerRecord) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let yes_no = |v: bool| if v { "yes" } else { "no" }.to_string();
    audit::changes(&[
        ("Subject", old.subject.clone(), new.subject.clone()),
        ("Client ID", opt(&old.client_id), opt(&new.client_id)),
        (
            "Redirect URI (application)",
            old.application_id
                .map(|a| a.to_string())
                .unwrap_or_default(),
            new.application_id
                .map(|a| a.to_string())
                .unwrap_or_default(),
        ),
        ("Tenant", old.tenant.clone(), new.tenant.clone()),
        ("Issuer URL", opt(&old.issuer_url), opt(&new.issuer_url)),
        ("Scopes", old.scopes.clone(), new.scopes.clone()),
        ("IMAP host", old.imap_host.clone(), new.imap_host.clone()),
        (
            "IMAP port",
            old.imap_port.to_string(),
            new.imap_port.to_string(),
        ),
        (
            "IMAP encryption",
            old.imap_encryption.code().into(),
            new.imap_encryption.code().into(),
        ),
        ("SMTP host", old.smtp_host.clone(), new.smtp_host.clone()),
        (
            "SMTP port",
            old.smtp_port.to_string(),
            new.smtp_port.to_string(),
        ),
        (
            "SMTP encryption",
            old.smtp_encryption.code().into(),
            new.smtp_encryption.code().into(),
        ),
        (
            "Validate certificate",
            yes_no(old.validate_certificate),
            yes_no(new.validate_certificate),
        ),
        ("Active", yes_no(old.active), yes_no(new.active)),
        (
            "Visible to users",
            yes_no(old.visible_to_users),
            yes_no(new.visible_to_users),
        ),
        (
            "Allowed login domains",
            old.allowed_domains.clone(),
            new.allowed_domains.clone(),
        ),
        (
            "Client secret expires on",
            old.client_secret_expires_at
                .map(crate::domain::mail_server::day_text)
                .unwrap_or_default(),
            new.client_secret_expires_at
                .map(crate::domain::mail_server::day_text)
                .unwrap_or_default(),
        ),
        (
            "Publishing status",
            old.publishing_status.clone(),
            new.publishing_status.clone(),
        ),
    ])
}

/// Deletes a mail server. With linked mail accounts, `confirm_accounts` must equal their number:
/// the admin saw how many mailboxes (and tokens) go with it and confirmed that.
#[instrument(skip_all, fields(mail_server_id = id))]
pub async fn delete(st: &AppState, id: i64, confirm_accounts: i64) -> Result<(), AppError> {
    // Loaded before the rows go: the grants are revoked where they were issued.
    let client = oauth::client::load(st, id).await.ok();
    let mut tx = db::begin_write(&st.pool)
        .await
        .map_err(crate::ssr::begin_failed)?;
    // Counted, read and deleted as one: no grant stored, refreshed or account added meanwhile.
    db::serialize(&mut tx, &[&db::mail_servers::destination_lock(id)]).await?;
    db::mail_accounts::hold_server(&mut tx, id).await?;
    let linked = db::mail_accounts::count_on_server(&mut *tx, id).await?;
    if linked > 0 && confirm_accounts != linked {
        return Err(AppError::Refused(format!(
            "{linked} mail account{} linked to this server; confirm deleting {} and their tokens.",
            if linked == 1 { " is" } else { "s are" },
            if linked == 1 { "it" } else { "them" }
        )));
    }
    // The grants are revoked at the provider too: deleting the server here must not leave
    // live mailbox grants behind there.
    let grants = db::mail_accounts::grants_on_server(&mut *tx, id).await?;
    // Its accounts go with it: each is an `account.deleted`, built before the rows go.
    let accounts = db::mail_accounts::ids_on_server(&mut *tx, id).await?;
    let count = accounts.len();
    let subject = db::mail_servers::get(&mut *tx, id)
        .await?
        .map(|s| s.subject)
        .unwrap_or_default();
    db::notices::forget_sender_among(&mut tx, &accounts, st.clock.now()).await?;
    let queued =
        crate::ssr::webhooks::emit_each(&mut tx, EventKind::Deleted, accounts, st.clock.now())
            .await?;
    if !db::mail_servers::delete(&mut *tx, id).await? {
        return Err(not_found());
    }
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    if queued {
        st.webhooks.wake();
    }
    custody::revoke_at_old_provider(st, client.as_ref(), grants).await;
    tracing::info!(linked_accounts = linked, "mail server deleted");
    let summary = format!("Mail server '{subject}' deleted with its {count} mail account(s)");
    audit::admin_did(
        &st.pool,
        "server.deleted",
        summary,
        (Some(id), None),
        st.clock.now(),
    )
    .await;
    Ok(())
}
