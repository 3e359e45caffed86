//! Sessions: a random token in an HttpOnly cookie, only its SHA-256 stored, ended after
//! `MAILBRIDGE_SESSION_IDLE_MINUTES` without use.

use base64::Engine;
use http::{header, HeaderMap};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{db, AppState};
use crate::domain::SessionUser;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "mailbridge_session";
/// Over https the cookie is `__Host-` prefixed: browsers then accept it only with `Secure`,
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-mailbridge_session";

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
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
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

pub fn clear_session_cookie(secure: bool) -> String {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The session token among these headers' cookies (the `__Host-` one over https).
pub fn cookie_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// A new session for `user_id`; returns the token for the cookie.
pub async fn create(state: &AppState, user_id: i64) -> Result<String, AppError> {
    let token = random_token();
    db::sessions::insert(&state.pool, &token_hash(&token), user_id, state.clock.now()).await?;
    Ok(token)
}

pub async fn end(state: &AppState, token: &str) -> Result<(), AppError> {
    Ok(db::sessions::delete(&state.pool, &token_hash(token)).await?)
}

/// The active user behind a session token, if the session exists and has not idled out.
pub async fn user(state: &AppState, token: &str) -> Result<Option<SessionUser>, AppError> {
    let hash = token_hash(token);
    let t = state.clock.now();
    let Some(row) = db::sessions::find(&state.pool, &hash).await? else {
        return Ok(None);
    };
    let settings = &state.settings;
    if t - row.last_seen_at > settings.session_idle_secs
        || t - row.created_at > settings.session_max_secs
    {
        db::sessions::delete(&state.pool, &hash).await?;
        return Ok(None);
    }
    // One write a minute per session is enough for idle expiry, and keeps reads cheap.
    if t - row.last_seen_at >= 60 {
        db::sessions::touch(&state.pool, &hash, t).await?;
    }
    Ok(Some(SessionUser {
        id: row.user_id,
        email: row.email,
        name: row.display_name,
        role: row.role,
    }))
}

/// The user whose session cookie is among these headers.
pub async fn user_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, AppError> {
    match cookie_token(headers, state.settings.secure_cookies()) {
        Some(token) => user(state, &token).await,
        None => Ok(None),
    }
}
