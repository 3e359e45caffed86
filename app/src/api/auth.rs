//! Signing in and out, the caller's identity, and changing one's own password.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::Role;
use crate::error::AppError;

/// The signed-in user as pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl SessionUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    crate::ssr::respond(crate::ssr::auth::current_user().await)
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use crate::domain::Email;
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(
        async move {
            let email = Email::parse(&email).map_err(|m| AppError::field(Email::LABEL, m))?;
            if password.is_empty() {
                return Err(AppError::field("Password", "is required"));
            }
            let st = state()?;
            let client = auth::client_addr();
            let key = email.key();
            auth::check_lockout(&st, &key, &client).await?;

            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, password_hash FROM users WHERE email_key = ?1 AND active = 1",
            )
            .bind(&key)
            .fetch_optional(&st.pool)
            .await
            .map_err(|e| internal("looking up a user to sign in", e))?;
            let (user_id, hash) = match row {
                Some((id, hash)) => (Some(id), Some(hash)),
                None => (None, None),
            };
            let ok = auth::verify_password(hash, &password).await;
            let Some(user_id) = user_id.filter(|_| ok) else {
                auth::record_failure(&st, &key, &client).await?;
                tracing::info!(client = %client, "sign-in failed");
                return Err(AppError::Denied(WRONG_CREDENTIALS.into()));
            };

            // A new session id at every sign-in: a token planted before sign-in is worthless.
            let parts = use_context::<http::request::Parts>();
            if let Some(old) = parts.as_ref().and_then(|p| auth::cookie_token(&p.headers)) {
                let _ = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
                    .bind(auth::token_hash(&old))
                    .execute(&st.pool)
                    .await;
            }
            let token = auth::create_session(&st.pool, user_id).await?;
            sqlx::query("UPDATE users SET last_sign_in_at = ?1 WHERE id = ?2")
                .bind(now())
                .bind(user_id)
                .execute(&st.pool)
                .await
                .map_err(|e| internal("recording a sign-in", e))?;
            sqlx::query("DELETE FROM sign_in_failures WHERE email_key = ?1")
                .bind(&key)
                .execute(&st.pool)
                .await
                .map_err(|e| internal("clearing sign-in failures", e))?;
            set_cookie(&auth::session_cookie(&token, st.settings.secure_cookies()));
            tracing::info!(user_id, "signed in");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::{auth, internal, respond, state};
    respond(
        async move {
            let st = state()?;
            if let Some(token) =
                use_context::<http::request::Parts>().and_then(|p| auth::cookie_token(&p.headers))
            {
                sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
                    .bind(auth::token_hash(&token))
                    .execute(&st.pool)
                    .await
                    .map_err(|e| internal("ending a session", e))?;
            }
            set_cookie(&auth::clear_session_cookie(st.settings.secure_cookies()));
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "change_own_password")]
pub async fn change_own_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use crate::domain::Password;
    use crate::ssr::{auth, db::now, internal, respond, state};
    respond(
        async move {
            let me = auth::require_user().await?;
            let new =
                Password::parse(&new_password).map_err(|m| AppError::field("New password", m))?;
            let st = state()?;
            let hash: Option<(String,)> =
                sqlx::query_as("SELECT password_hash FROM users WHERE id = ?1")
                    .bind(me.id)
                    .fetch_optional(&st.pool)
                    .await
                    .map_err(|e| internal("reading a password hash", e))?;
            if !auth::verify_password(hash.map(|h| h.0), &current_password).await {
                return Err(AppError::field(
                    "Current password",
                    "is not your current password",
                ));
            }
            let new_hash = auth::hash_password(&new).await?;
            let keep = use_context::<http::request::Parts>()
                .and_then(|p| auth::cookie_token(&p.headers))
                .map(|t| auth::token_hash(&t))
                .unwrap_or_default();
            let mut tx = st
                .pool
                .begin()
                .await
                .map_err(|e| internal("starting a transaction", e))?;
            sqlx::query("UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")
                .bind(new_hash)
                .bind(now())
                .bind(me.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| internal("saving a password", e))?;
            // Other sessions (another browser, a stolen cookie) end with the old password.
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2")
                .bind(me.id)
                .bind(keep)
                .execute(&mut *tx)
                .await
                .map_err(|e| internal("ending other sessions", e))?;
            tx.commit()
                .await
                .map_err(|e| internal("committing a password change", e))?;
            Ok(())
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) {
    if let (Some(opts), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        opts.append_header(http::header::SET_COOKIE, v);
    }
}
