//! Signing in and out, the lock-out after wrong passwords, and changing one's own password.

use tracing::instrument;

use crate::domain::user::WRONG_CREDENTIALS;
use crate::domain::{Email, Password, SessionUser};
use crate::error::AppError;
use crate::ssr::{db, passwords, sessions, AppState};

/// Checks the password and opens a session; returns its token. `replaced` is the session the
/// browser had before, ended so a token planted before sign-in is worthless.
#[instrument(skip_all, fields(client = %client))]
pub async fn sign_in(
    st: &AppState,
    email: &Email,
    password: &str,
    client: &str,
    replaced: Option<&str>,
) -> Result<String, AppError> {
    let key = email.key();
    check_lockout(st, &key, client).await?;
    let found = db::users::credentials(&st.pool, &key).await?;
    let (user_id, hash) = match found {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = passwords::verify(hash, password).await;
    let Some(user_id) = user_id.filter(|_| ok) else {
        record_failure(st, &key, client).await?;
        tracing::info!("sign-in failed");
        return Err(AppError::Denied(WRONG_CREDENTIALS.into()));
    };
    if let Some(old) = replaced {
        sessions::end(st, old).await?;
    }
    let token = sessions::create(st, user_id).await?;
    db::users::record_sign_in(&st.pool, user_id, st.clock.now()).await?;
    db::sign_in_failures::clear_for_email(&st.pool, &key).await?;
    tracing::info!(user_id, "signed in");
    Ok(token)
}

/// Refuses a sign-in attempt while the address or the client has too many recent failures.
async fn check_lockout(st: &AppState, email_key: &str, client: &str) -> Result<(), AppError> {
    let limits = &st.settings.login;
    let since = st.clock.now() - limits.window_secs;
    let (by_email, by_client) =
        db::sign_in_failures::count_since(&st.pool, email_key, client, since).await?;
    if by_email >= limits.per_email || by_client >= limits.per_client {
        let minutes = (limits.window_secs + 59) / 60;
        return Err(AppError::RateLimited(format!(
            "Too many failed sign-in attempts. Sign-in is locked for up to {minutes} minute{}; try again later.",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

async fn record_failure(st: &AppState, email_key: &str, client: &str) -> Result<(), AppError> {
    let t = st.clock.now();
    db::sign_in_failures::insert(&st.pool, email_key, client, t).await?;
    // Old rows are of no use to any window; keep the table small.
    let keep = st.settings.login.window_secs.max(3600);
    if let Err(e) = db::sign_in_failures::delete_before(&st.pool, t - keep).await {
        tracing::warn!(error = %e, "pruning sign-in failures");
    }
    Ok(())
}

pub async fn sign_out(st: &AppState, token: Option<&str>) -> Result<(), AppError> {
    match token {
        Some(t) => sessions::end(st, t).await,
        None => Ok(()),
    }
}

/// Changes the caller's password after checking the current one; every other session of the
/// caller ends (another browser, a stolen cookie), the one with `keep_token` stays.
#[instrument(skip_all, fields(user_id = me.id))]
pub async fn change_own_password(
    st: &AppState,
    me: &SessionUser,
    current: &str,
    new: &Password,
    keep_token: Option<&str>,
) -> Result<(), AppError> {
    let stored = db::users::password_hash(&st.pool, me.id).await?;
    if !passwords::verify(stored, current).await {
        return Err(AppError::field(
            "Current password",
            "is not your current password",
        ));
    }
    let hash = passwords::hash(new).await?;
    let keep = keep_token.map(sessions::token_hash).unwrap_or_default();
    let mut tx = st.pool.begin().await.map_err(crate::ssr::begin_failed)?;
    db::users::set_password_hash(&mut *tx, me.id, &hash, st.clock.now()).await?;
    db::sessions::delete_for_user(&mut *tx, me.id, &keep).await?;
    tx.commit().await.map_err(crate::ssr::commit_failed)?;
    tracing::info!("password changed");
    Ok(())
}
