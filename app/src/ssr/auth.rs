//! Passwords, sessions, sign-in throttling and the caller checks every server function starts with.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use base64::Engine;
use http::{header, request::Parts, HeaderMap};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use super::{db::now, internal, state, AppState};
use crate::api::auth::SessionUser;
use crate::domain::{Password, Role};
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "mailbridge_session";

/// Argon2id with the crate's default (OWASP-recommended) parameters, off the async threads.
pub async fn hash_password(password: &Password) -> Result<String, AppError> {
    let raw = password.expose().to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(raw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| internal("hashing a password", e))
    })
    .await
    .map_err(|e| internal("password hashing task", e))?
}

/// Checks `raw` against a stored hash. With no hash (unknown email) a dummy hash is still
/// checked, so the answer takes as long either way and does not reveal which emails exist.
pub async fn verify_password(stored: Option<String>, raw: &str) -> bool {
    let raw = raw.to_string();
    tokio::task::spawn_blocking(move || {
        let fallback = dummy_hash();
        let (hash, real) = match stored.as_deref() {
            Some(h) => (h.to_string(), true),
            None => (fallback, false),
        };
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(raw.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(b"not a real password", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

pub async fn create_session(pool: &SqlitePool, user_id: i64) -> Result<String, AppError> {
    let token = random_token();
    let t = now();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)")
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(t)
        .execute(pool)
        .await
        .map_err(|e| internal("creating a session", e))?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    last_seen_at: i64,
}

/// The active user behind a session token, if the session exists and has not idled out.
pub async fn session_user(state: &AppState, token: &str) -> Result<Option<SessionUser>, AppError> {
    let hash = token_hash(token);
    let t = now();
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.role, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND u.active = 1",
    )
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal("looking up a session", e))?;
    let Some(row) = row else { return Ok(None) };
    if t - row.last_seen_at > state.settings.session_idle_secs {
        let _ = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(&hash)
            .execute(&state.pool)
            .await;
        return Ok(None);
    }
    // One write a minute per session is enough for idle expiry, and keeps reads cheap.
    if t - row.last_seen_at >= 60 {
        sqlx::query("UPDATE sessions SET last_seen_at = ?1 WHERE token_hash = ?2")
            .bind(t)
            .bind(&hash)
            .execute(&state.pool)
            .await
            .map_err(|e| internal("touching a session", e))?;
    }
    Ok(Some(SessionUser {
        id: row.id,
        email: row.email,
        name: row.display_name,
        role: Role::parse(&row.role).unwrap_or(Role::User),
    }))
}

pub async fn user_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, AppError> {
    match cookie_token(headers) {
        Some(token) => session_user(state, &token).await,
        None => Ok(None),
    }
}

fn request_parts() -> Result<Parts, AppError> {
    leptos::prelude::use_context::<Parts>()
        .ok_or_else(|| internal("request parts missing from context", "no Parts"))
}

/// The signed-in caller of this server function or page, if any.
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    let parts = request_parts()?;
    // Pages: the session guard already found the user for this very request.
    if let Some(user) = parts.extensions.get::<SessionUser>() {
        return Ok(Some(user.clone()));
    }
    let st = state()?;
    user_from_headers(&st, &parts.headers).await
}

/// The caller, or 401.
pub async fn require_user() -> Result<SessionUser, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

/// The caller if an admin; 401 when signed out, 403 for a `user`.
pub async fn require_admin() -> Result<SessionUser, AppError> {
    let user = require_user().await?;
    if user.role == Role::Admin {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// The client's address as the socket saw it.
pub fn client_addr() -> String {
    leptos::prelude::use_context::<Parts>()
        .and_then(|p| {
            p.extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Refuses a sign-in attempt while the address or the client has too many recent failures.
pub async fn check_lockout(
    state: &AppState,
    email_key: &str,
    client: &str,
) -> Result<(), AppError> {
    let limits = &state.settings.login;
    let since = now() - limits.window_secs;
    let (by_email, by_client): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM sign_in_failures WHERE email_key = ?1 AND at > ?3),
                (SELECT COUNT(*) FROM sign_in_failures WHERE client_addr = ?2 AND at > ?3)",
    )
    .bind(email_key)
    .bind(client)
    .bind(since)
    .fetch_one(&state.pool)
    .await
    .map_err(|e| internal("counting sign-in failures", e))?;
    if by_email >= limits.per_email || by_client >= limits.per_client {
        let minutes = (limits.window_secs + 59) / 60;
        return Err(AppError::RateLimited(format!(
            "Too many failed sign-in attempts. Sign-in is locked for up to {minutes} minute{}; try again later.",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

pub async fn record_failure(
    state: &AppState,
    email_key: &str,
    client: &str,
) -> Result<(), AppError> {
    let t = now();
    sqlx::query("INSERT INTO sign_in_failures (email_key, client_addr, at) VALUES (?1, ?2, ?3)")
        .bind(email_key)
        .bind(client)
        .bind(t)
        .execute(&state.pool)
        .await
        .map_err(|e| internal("recording a sign-in failure", e))?;
    // Old rows are of no use to any window; keep the table small.
    let _ = sqlx::query("DELETE FROM sign_in_failures WHERE at < ?1")
        .bind(t - state.settings.login.window_secs.max(3600))
        .execute(&state.pool)
        .await;
    Ok(())
}

/// Creates a user; a taken email is a field error. Used by the Users page, the CLI and the
/// first-start admin.
pub async fn insert_user(
    pool: &SqlitePool,
    email: &crate::domain::Email,
    name: &crate::domain::DisplayName,
    role: Role,
    password: &Password,
) -> Result<i64, AppError> {
    let hash = hash_password(password).await?;
    let t = now();
    let res = sqlx::query(
        "INSERT INTO users (email, email_key, display_name, role, active, password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6)",
    )
    .bind(email.as_str())
    .bind(email.key())
    .bind(name.as_str())
    .bind(role.as_str())
    .bind(hash)
    .bind(t)
    .execute(pool)
    .await;
    match res {
        Ok(r) => Ok(r.last_insert_rowid()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(AppError::field(
            crate::domain::Email::LABEL,
            "a user with this email already exists",
        )),
        Err(e) => Err(internal("creating a user", e)),
    }
}
