//! Mail accounts: one user's mailbox on one mail server. Users see and change only their own;
//! admins see every one and may create them for anyone ("Link a user").

use tracing::instrument;

use crate::domain::mail_account::label;
use crate::domain::mail_server::LoginDomains;
use crate::domain::{
    AccountChoices, AccountFilter, AccountStatus, AuthMethod, EventKind, MailAccountView,
    NewAccountForm, Page, SessionUser,
};
use crate::error::AppError;
use crate::ssr::crypto::aad;
use crate::ssr::db::mail_accounts::NewAccount;
use crate::ssr::webhooks::Change;
use crate::ssr::{db, oauth, AppState};

use super::custody;

/// The account, if the caller owns it or is an admin; otherwise 404 (not 403: its existence
/// is none of a stranger's business).
pub async fn visible(
    st: &AppState,
    me: &SessionUser,
    id: i64,
) -> Result<MailAccountView, AppError> {
    db::mail_accounts::view(&st.pool, id)
        .await?
        .filter(|a| me.is_admin() || a.owner_id == me.id)
        .ok_or_else(|| AppError::NotFound("The mail account".into()))
}

/// Token hand-outs of an account the caller may see: today's (UTC) count and the latest.
pub async fn handouts(
    st: &AppState,
    me: &SessionUser,
    id: i64,
) -> Result<crate::domain::api_key::HandoutSummary, AppError> {
    visible(st, me, id).await?;
    let now = st.clock.now();
    let (today, last) =
        db::token_handouts::summary(&st.pool, id, now - now.rem_euclid(86_400)).await?;
    Ok(crate::domain::api_key::HandoutSummary { today, last })
}

/// One page of the accounts the caller may see; a user sees only their own, whatever the
/// filter says.
pub async fn list(
    st: &AppState,
    me: &SessionUser,
    mut filter: AccountFilter,
    page: i64,
) -> Result<Page<MailAccountView>, AppError> {
    if !me.is_admin() {
        filter.owner_id = Some(me.id);
    }
    let counted = db::mail_accounts::page(&st.pool, &filter, page).await?;
    let (rows, total) = match db::split_counted(counted) {
        Some(found) => found,
        None => (vec![], db::mail_accounts::count(&st.pool, &filter).await?),
    };
    Ok(Page { rows, total, page })
}

/// What the "Add mail account" form may offer this caller.
pub async fn choices(st: &AppState, me: &SessionUser) -> Result<AccountChoices, AppError> {
    let servers = db::mail_servers::choices(&st.pool, me.is_admin()).await?;
    let users = if me.is_admin() {
        db::users::active_choices(&st.pool).await?
    } else {
        vec![]
    };
    Ok(AccountChoices {
        me: me.id,
        is_admin: me.is_admin(),
        servers,
        users,
    })
}

/// Creates a mail account from the parsed form. Users may create only their own, on active
/// servers visible to them; admins may choose any active owner. A password server needs the
/// mailbox `password`. Every remaining mistake is reported at once; nothing is written.
#[instrument(skip_all, fields(user_id = me.id, mail_server_id = form.mail_server_id))]
pub async fn create(
    st: &AppState,
    me: &SessionUser,
    form: &NewAccountForm,
    password: &str,
) -> Result<i64, AppError> {
    let owner = form.owner_id.unwrap_or(me.id);
    if owner != me.id && !me.is_admin() {
        return Err(AppError::Forbidden);
    }
    let mut errors: Vec<(&str, String)> = vec![];
    let server = db::mail_servers::get(&st.pool, form.mail_server_id)
        .await?
        .filter(|s| s.active && (s.visible_to_users || me.is_admin()));
    if server.is_none() {
        errors.push((label::SERVER, "choose an active mail server".into()));
    }
    if !db::users::is_active(&st.pool, owner).await? {
        errors.push((label::OWNER, "choose an active user".into()));
    }
    let mailbox_password = match &server {
        Some(s) if s.auth_method == AuthMethod::Password => {
            if password.is_empty() {
                errors.push((
                    label::PASSWORD,
                    "is required for a password mail server".into(),
                ));
            } else if password.chars().count() > 1024 {
                errors.push((label::PASSWORD, "must be at most 1024 characters".into()));
            }
            Some(password)
        }
        _ => None,
    };
    if let Some(s) = &server {
        let domains = LoginDomains::stored(&s.allowed_domains);
        if !domains.allows(form.login.as_str()) {
            errors.push((
                label::LOGIN,
                format!(
                    "this mail server accepts mailboxes of {} only",
                    domains.joined()
                ),
            ));
        }
    }
    let Some(server) = server.filter(|_| errors.is_empty()) else {
        return Err(AppError::fields(errors));
    };
    // A password mailbox is usable at once; an OAuth one waits for its owner's consent.
    let status = if mailbox_password.is_some() {
        AccountStatus::Linked
    } else {
        AccountStatus::Pending
    };
    let new = NewAccount {
        mail_server_id: server.id,
        owner_id: owner,
        name: form.name.as_str(),
        login: form.login.as_str(),
        login_key: form.login.key(),
        status,
    };
    // Unique per owner only: another user's pending account for the same address reserves
    // nothing and is never revealed; who holds the grant is decided when its owner consents.
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    let id = db::mail_accounts::insert(&mut *tx, new, st.clock.now())
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                let whose = if owner == me.id {
                    "you already have"
                } else {
                    "this user already has"
                };
                AppError::field(
                    label::LOGIN,
                    format!("{whose} this mailbox on this mail server"),
                )
            } else {
                e.into()
            }
        })?;
    if let Some(password) = mailbox_password {
        let sealed = st
            .secrets
            .seal_str(password, &aad::ACCOUNT_PASSWORD.row(id));
        db::mail_accounts::set_password(&mut *tx, id, sealed).await?;
    }
    let entry = db::audit::NewEntry {
        kind: "account.created",
        account_id: Some(id),
        server_id: Some(server.id),
        user_id: Some(owner),
        summary: format!("{} on {} added", form.login.as_str(), server.subject),
    };
    crate::ssr::audit::record(&mut *tx, entry, st.clock.now()).await?;
    // A password mailbox is linked from the start: programs hear of it as of any other.
    let queued = status == AccountStatus::Linked
        && crate::ssr::webhooks::emit(&mut tx, EventKind::Linked, id, None, st.clock.now()).await?;
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    if queued {
        st.webhooks.wake();
    }
    tracing::info!(account_id = id, owner, "mail account created");
    Ok(id)
}

/// Deletes an account, revoking its grant at the provider first (a failure there is logged,
/// not fatal). The row goes only if it still holds the grant that was revoked: should another
/// instance's refresh have replaced it meanwhile, the new one is revoked too.
#[instrument(skip_all, fields(account_id = id, user_id = me.id))]
pub async fn delete(st: &AppState, me: &SessionUser, id: i64) -> Result<(), AppError> {
    let account = visible(st, me, id).await?;
    let client = oauth::client::load(st, account.mail_server_id).await.ok();
    let _held = st.refresher.hold(id).await;
    let mut failed = 0;
    loop {
        let grant = db::mail_accounts::get(&st.pool, id)
            .await?
            .and_then(|r| r.refresh_token_enc);
        if let Some(g) = &grant {
            let grants = vec![(id, g.clone())];
            failed += custody::revoke_at_old_provider(st, client.as_ref(), grants).await;
        }
        // The row is locked first (so that no change of another instance slips in between, or
        // its event before this one), the event built from it, then the row deleted: one
        // transaction.
        let mut change = Change::begin(&st.pool).await?;
        if db::mail_accounts::hold_if_holding(&mut **change.tx(), id, grant.as_deref()).await? {
            change
                .emit(EventKind::Deleted, id, None, st.clock.now())
                .await?;
            db::notices::forget_sender_among(change.tx(), &[id], st.clock.now()).await?;
            db::mail_accounts::delete_holding(&mut **change.tx(), id, grant.as_deref()).await?;
            change.commit(&st.webhooks).await?;
            break;
        }
        drop(change);
        if db::mail_accounts::get(&st.pool, id).await?.is_none() {
            break;
        }
    }
    tracing::info!(revocation_failed = failed > 0, "mail account deleted");
    Ok(())
}

/// Revokes the refresh token at the provider (when it has a revocation endpoint), deletes the
/// tokens and sets the account back to `pending`. Returns a warning when revocation failed.
/// The account's lock is held while the tokens go, so a refresh in flight cannot write them
/// back (its rotated token is revoked instead); across instances the tokens are cleared only
/// if they are still the ones read, else read again.
#[instrument(skip_all, fields(account_id = id, user_id = me.id))]
pub async fn unlink(st: &AppState, me: &SessionUser, id: i64) -> Result<Option<String>, AppError> {
    let account = visible(st, me, id).await?;
    let blob = {
        let _held = st.refresher.hold(id).await;
        loop {
            let blob = db::mail_accounts::get(&st.pool, id)
                .await?
                .and_then(|r| r.refresh_token_enc);
            let now = st.clock.now();
            let mut change = Change::begin(&st.pool).await?;
            if db::mail_accounts::clear_grant(&mut **change.tx(), id, blob.as_deref(), None, now)
                .await?
            {
                if blob.is_some() {
                    change.emit(EventKind::Unlinked, id, None, now).await?;
                }
                change.commit(&st.webhooks).await?;
                break blob;
            }
            drop(change);
            if db::mail_accounts::get(&st.pool, id).await?.is_none() {
                return Err(AppError::NotFound("The mail account".into()));
            }
        }
    };
    let mut warning = None;
    if let Some(blob) = blob {
        match (
            st.secrets.open_str(&blob, &aad::REFRESH_TOKEN.row(id)),
            oauth::client::load(st, account.mail_server_id).await,
        ) {
            (Ok(token), Ok(server)) => {
                if let Err(m) =
                    oauth::revocation::revoke(st, &server, &token, "refresh_token").await
                {
                    warning = Some(format!(
                        "The tokens were deleted here, but revoking them at the provider failed: {m}."
                    ));
                }
            }
            (Err(_), _) => {
                warning = Some(
                    "The tokens were deleted here, but could not be revoked at the provider: they did not decrypt."
                        .to_string(),
                )
            }
            (_, Err(e)) => {
                warning = Some(format!(
                    "The tokens were deleted here, but not revoked at the provider: {e}"
                ))
            }
        }
    }
    if let Some(w) = &warning {
        db::mail_accounts::set_last_error(&st.pool, id, w, st.clock.now()).await?;
    }
    tracing::info!(revoked = warning.is_none(), "mail account unlinked");
    Ok(warning)
}

/// Accounts by status for the dashboard: all for admins, one's own for users; every status
/// is listed, with 0 where none.
pub async fn status_counts(
    st: &AppState,
    me: &SessionUser,
) -> Result<Vec<(AccountStatus, i64)>, AppError> {
    let owner = (!me.is_admin()).then_some(me.id);
    let rows = db::mail_accounts::status_counts(&st.pool, owner).await?;
    Ok(AccountStatus::ALL
        .into_iter()
        .map(|s| {
            let n = rows.iter().find(|r| r.0 == s).map(|r| r.1).unwrap_or(0);
            (s, n)
        })
        .collect())
}
