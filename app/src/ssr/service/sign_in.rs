//! Signing in and out, the lock-out after wrong passwords, and changing one's own password.

use tracing::instrument;

use crate::domain::user::WRONG_CREDENTIALS;
use crate::domain::{Email, Password, SessionUser};
use crate::error::AppError;
use crate::ssr::db::audit::NewEntry;
use crate::ssr::{audit, db, passwords, sessions, AppState};

/// Checks the password and opens a session; returns its token. `client` is the lock-out key
/// of the caller ([`crate::ssr::client::lockout_key`]). `replaced` is the session the browser
/// had before, ended so a token planted before sign-in is worthless.
#[instrument(skip_all, fields(client = %client))]
pub async fn sign_in(
    st: &AppState,
    email: &Email,
    password: &str,
    client: &str,
    replaced: Option<&str>,
) -> Result<String, AppError> {
    let key = email.key();
    let found = db::users::credentials(&st.pool, &key).await?;
    let (user_id, hash) = match found {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = checked(st, &key, client, hash, password).await?;
    let Some(user_id) = user_id.filter(|_| ok) else {
        tracing::info!("sign-in failed");
        let entry = NewEntry {
            kind: "sign_in_failed",
            user_id,
            summary: format!("Sign-in refused for {}", email.as_str()),
            ..Default::default()
        };
        audit::record_or_log(&st.pool, entry, st.clock.now()).await;
        return Err(AppError::Denied(WRONG_CREDENTIALS.into()));
    };
    if let Some(old) = replaced {
        sessions::end(st, old).await?;
    }
    let token = sessions::create(st, user_id).await?;
    db::users::record_sign_in(&st.pool, user_id, st.clock.now()).await?;
    db::sign_in_failures::clear(&st.pool, &key, Some(client)).await?;
    tracing::info!(user_id, "signed in");
    audit::as_user(user_id, email.as_str());
    let entry = NewEntry {
        kind: "sign_in",
        user_id: Some(user_id),
        summary: format!("{} signed in", email.as_str()),
        ..Default::default()
    };
    audit::record_or_log(&st.pool, entry, st.clock.now()).await;
    Ok(token)
}

/// Checks a password for (`email_key`, `client`) under the lock-out: an attempt is counted
/// before the check (refused when a limit is reached), and given back when it was right.
async fn checked(
    st: &AppState,
    email_key: &str,
    client: &str,
    stored: Option<String>,
    password: &str,
) -> Result<bool, AppError> {
    let limits = &st.settings.login;
    let t = st.clock.now();
    let Some(reservation) =
        db::sign_in_failures::reserve(&st.pool, email_key, client, t, limits).await?
    else {
        let minutes = (limits.window_secs + 59) / 60;
        return Err(AppError::RateLimited {
            message: format!(
                "Too many failed sign-in attempts. Sign-in is locked for up to {minutes} minute{}; try again later.",
                if minutes == 1 { "" } else { "s" }
            ),
            retry_after_secs: limits.window_secs as u64,
        });
    };
    let ok = match passwords::verify_limited(&st.hashing, stored, password).await {
        Ok(ok) => ok,
        Err(busy) => {
            // Not checked, so not a failure either.
            db::sign_in_failures::release(&st.pool, reservation).await?;
            return Err(busy);
        }
    };
    // A wrong password keeps its row; old rows are purged by `housekeeping`.
    if ok {
        db::sign_in_failures::release(&st.pool, reservation).await?;
    }
    Ok(ok)
}

pub async fn sign_out(st: &AppState, token: Option<&str>) -> Result<(), AppError> {
    match token {
        Some(t) => sessions::end(st, t).await,
        None => Ok(()),
    }
}

/// Changes the caller's password after checking the current one — counted by the lock-out like
/// a sign-in, so a stolen session cannot guess it; every other session of the caller ends (another browser, a stolen cookie), the one with `keep_token` stays.
#[instrument(skip_all, fields(user_id = me.id))]
pub async fn change_own_password(
    st: &AppState,
    me: &SessionUser,
    client: &str,
    current: &str,
    new: &Password,
    keep_token: Option<&str>,
) -> Result<(), AppError> {
    let stored = db::users::password_hash(&st.pool, me.id).await?;
    let email = Email::parse(&me.email).map_err(|m| crate::ssr::internal("a stored email", m))?;
    if !checked(st, &email.key(), client, stored, current).await? {
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
