//! App passwords: made on a linked OAuth mailbox's page by its owner or an admin (shown once),
//! listed, revoked; and checked when a program signs in to the SMTP relay or the IMAP proxy —
//! under the sign-in page's lock-out, against Argon2id hashes, for a mailbox that can still
//! hand out a token.

use std::net::IpAddr;

use rand::Rng;
use tracing::instrument;

use crate::domain::app_password::{self, label, AppPasswordName, ALPHABET, GROUPS, GROUP_LEN};
use crate::domain::{
    AccountStatus, AppPasswordView, AuthMethod, CreatedAppPassword, MailAccountView, SessionUser,
};
use crate::error::AppError;
use crate::ssr::db::{self, audit::NewEntry};
use crate::ssr::{audit, client, passwords, AppState};

use super::mail_accounts::visible;

/// A new random password, grouped for typing: 160 bits from the OS generator.
fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    let raw: String = (0..GROUPS * GROUP_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    app_password::grouped(&raw)
}

#[instrument(skip_all, fields(account_id, user_id = me.id))]
pub async fn create(
    st: &AppState,
    me: &SessionUser,
    account_id: i64,
    name: &str,
) -> Result<CreatedAppPassword, AppError> {
    let account = visible(st, me, account_id).await?;
    let name = AppPasswordName::parse(name).map_err(|m| AppError::field(label::NAME, m))?;
    if account.auth_method != AuthMethod::OAuth2 {
        return Err(AppError::Refused(
            "App passwords are for OAuth mailboxes; a password mailbox's programs can sign in to its mail server directly.".into(),
        ));
    }
    if account.status != AccountStatus::Linked {
        return Err(AppError::Refused(format!(
            "Only a linked mailbox can have app passwords; this one is {}: authorize it first.",
            account.status.code()
        )));
    }
    let password = generate();
    let normalized = app_password::normalize(&password).ok_or(AppError::Internal)?;
    let hash = passwords::hash_raw(&normalized).await?;
    let now = st.clock.now();
    let id = db::app_passwords::insert(
        &st.pool,
        &db::app_passwords::NewAppPassword {
            account_id,
            name: name.as_str(),
            name_key: &name.key(),
            hint: app_password::hint(&normalized),
            hash: &hash,
            created_by: me.id,
        },
        now,
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            AppError::field(
                label::NAME,
                "this mailbox already has an app password with this name",
            )
        } else {
            e.into()
        }
    })?;
    tracing::info!(app_password_id = id, "app password created");
    let entry = NewEntry {
        kind: "app_password.created",
        account_id: Some(account_id),
        server_id: Some(account.mail_server_id),
        user_id: Some(account.owner_id),
        summary: format!(
            "{} on {}: app password '{}' created",
            account.login,
            account.server_subject,
            name.as_str()
        ),
    };
    audit::record_or_log(&st.pool, entry, now).await;
    Ok(CreatedAppPassword {
        id,
        name: name.as_str().to_string(),
        password,
    })
}

pub async fn list(
    st: &AppState,
    me: &SessionUser,
    account_id: i64,
) -> Result<Vec<AppPasswordView>, AppError> {
    visible(st, me, account_id).await?;
    Ok(db::app_passwords::list(&st.pool, account_id).await?)
}

#[instrument(skip_all, fields(account_id, app_password_id = id))]
pub async fn revoke(
    st: &AppState,
    me: &SessionUser,
    account_id: i64,
    id: i64,
) -> Result<(), AppError> {
    let account = visible(st, me, account_id).await?;
    let now = st.clock.now();
    let Some(name) = db::app_passwords::revoke(&st.pool, account_id, id, now).await? else {
        return Err(AppError::NotFound("The app password".into()));
    };
    tracing::info!("app password revoked");
    let entry = NewEntry {
        kind: "app_password.revoked",
        account_id: Some(account_id),
        server_id: Some(account.mail_server_id),
        user_id: Some(account.owner_id),
        summary: format!(
            "{} on {}: app password '{name}' revoked",
            account.login, account.server_subject
        ),
    };
    audit::record_or_log(&st.pool, entry, now).await;
    Ok(())
}

/// The relay or the proxy, as recorded on a password's "last used".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    Smtp,
    Imap,
}

impl Gateway {
    pub fn label(self) -> &'static str {
        match self {
            Gateway::Smtp => "SMTP",
            Gateway::Imap => "IMAP",
        }
    }
}

/// A program signed in: the mailbox and the password it used.
#[derive(Debug, Clone)]
pub struct Granted {
    pub account: MailAccountView,
    pub password_id: i64,
    pub password_name: String,
}

/// Why a sign-in was not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Wrong address or password (the caller learns no more).
    #[error("invalid credentials")]
    Wrong,
    /// Too many wrong ones from this client or for this address.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Locked { retry_after_secs: i64 },
    /// Every hashing slot was taken: not checked, try again.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// The password was right, but the mailbox cannot be used now (its owner must act).
    #[error("{0}")]
    Unusable(String),
    #[error("the server could not check the login")]
    Internal,
}

/// Checks `typed` for mailbox `login` from `addr`. Wrong answers take the time of an Argon2id
/// check whether or not the mailbox or a password with that first group exists, like the
/// sign-in page's.
pub async fn sign_in(
    st: &AppState,
    login: &str,
    typed: &str,
    addr: IpAddr,
    gateway: Gateway,
) -> Result<Granted, Refused> {
    let login_key = login.trim().to_lowercase();
    let client = format!("mail:{}", client::lockout_key(addr));
    let limits = &st.settings.login;
    let now = st.clock.now();
    let key = format!("mail:{login_key}");
    let internal = |e: db::QueryError| {
        tracing::error!(error = %e, "app password check");
        Refused::Internal
    };
    let Some(reservation) = db::sign_in_failures::reserve(&st.pool, &key, &client, now, limits)
        .await
        .map_err(internal)?
    else {
        refused_entry(st, login, addr, gateway, "locked out").await;
        return Err(Refused::Locked {
            retry_after_secs: limits.window_secs,
        });
    };
    let normalized = app_password::normalize(typed);
    let candidates = match &normalized {
        Some(n) if login_key.len() <= 320 => {
            db::app_passwords::candidates(&st.pool, &login_key, app_password::hint(n))
                .await
                .map_err(internal)?
        }
        _ => Vec::new(),
    };
    let raw = normalized.unwrap_or_default();
    let mut found = None;
    if candidates.is_empty() {
        // Costs what a real check costs; never true.
        let _ = passwords::verify_limited(&st.hashing, None, &raw).await;
    }
    for c in candidates {
        match passwords::verify_limited(&st.hashing, Some(c.hash.clone()), &raw).await {
            Ok(true) => {
                found = Some(c);
                break;
            }
            Ok(false) => {}
            Err(_) => {
                let _ = db::sign_in_failures::release(&st.pool, reservation).await;
                return Err(Refused::Busy);
            }
        }
    }
    let Some(c) = found else {
        tracing::info!(gateway = gateway.label(), "app password refused");
        refused_entry(st, login, addr, gateway, "wrong address or password").await;
        return Err(Refused::Wrong);
    };
    db::sign_in_failures::release(&st.pool, reservation)
        .await
        .map_err(internal)?;
    let account = db::mail_accounts::view(&st.pool, c.account_id)
        .await
        .map_err(internal)?
        .ok_or(Refused::Wrong)?;
    let addr_text = addr.to_string();
    db::app_passwords::touch(&st.pool, c.id, &addr_text, gateway.label(), now)
        .await
        .map_err(internal)?;
    let usable = usable(st, &account).await;
    let outcome = match &usable {
        Ok(()) => "signed in".to_string(),
        Err(m) => format!("signed in, but refused: {m}"),
    };
    let entry = NewEntry {
        kind: if usable.is_ok() {
            "app_password.login"
        } else {
            "app_password.login_failed"
        },
        account_id: Some(account.id),
        server_id: Some(account.mail_server_id),
        user_id: Some(account.owner_id),
        summary: format!(
            "{} on {}: {} with app password '{}' — {outcome}",
            account.login,
            account.server_subject,
            gateway.label(),
            c.name
        ),
    };
    let actor = audit::Actor::app_password(c.id, &c.name, addr_text);
    audit::acting(actor, audit::record_or_log(&st.pool, entry, now)).await;
    crate::ssr::metrics::gateway_login(gateway.label(), usable.is_ok());
    usable.map_err(Refused::Unusable)?;
    Ok(Granted {
        account,
        password_id: c.id,
        password_name: c.name,
    })
}

/// Whether a session signed in as `who` may go on: the password not revoked since, the mailbox
/// still usable. What ended it, when not.
pub async fn still_valid(st: &AppState, who: &Granted) -> Result<(), String> {
    match db::app_passwords::is_live(&st.pool, who.password_id).await {
        Ok(true) => {}
        Ok(false) => return Err("the app password was revoked".into()),
        Err(e) => {
            tracing::error!(error = %e, "re-checking an app password");
            return Err("the server could not check the app password".into());
        }
    }
    match db::mail_accounts::view(&st.pool, who.account.id).await {
        Ok(Some(account)) => usable(st, &account).await,
        Ok(None) => Err("the mailbox was deleted".into()),
        Err(e) => {
            tracing::error!(error = %e, "re-checking a mailbox");
            Err("the server could not check the mailbox".into())
        }
    }
}

/// Whether a token can be had for `account` now; what its owner must do when not.
async fn usable(st: &AppState, account: &MailAccountView) -> Result<(), String> {
    if account.auth_method != AuthMethod::OAuth2 {
        return Err("the mailbox signs in with a password, not OAuth".into());
    }
    if account.status != AccountStatus::Linked {
        return Err(format!(
            "the mailbox is {}: its owner must authorize it again in Mailbridge",
            account.status.code()
        ));
    }
    match db::mail_servers::get(&st.pool, account.mail_server_id).await {
        Ok(Some(s)) if s.active => Ok(()),
        Ok(_) => Err("the mailbox's mail server is deactivated in Mailbridge".into()),
        Err(_) => Err("the server could not read the mailbox's mail server".into()),
    }
}

async fn refused_entry(st: &AppState, login: &str, addr: IpAddr, gateway: Gateway, why: &str) {
    crate::ssr::metrics::gateway_login(gateway.label(), false);
    // What the client typed as a user name, cut short: it is untrusted text. Not an address
    // (a password typed in the wrong field, say): not written down.
    let shown: String = if login.contains('@') && app_password::normalize(login).is_none() {
        login
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect()
    } else {
        "(not an address)".into()
    };
    let entry = NewEntry {
        kind: "app_password.login_failed",
        summary: format!("{} sign-in as '{shown}' refused: {why}", gateway.label()),
        ..Default::default()
    };
    let actor = audit::Actor::anonymous(Some(addr.to_string()));
    audit::acting(actor, audit::record_or_log(&st.pool, entry, st.clock.now())).await;
}
