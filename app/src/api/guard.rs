//! What every server function starts and ends with: the state, the caller (401 / 403), and
//! the HTTP status of an error. Only here does server code read the Leptos request context.

use http::request::Parts;
use leptos::prelude::use_context;

use crate::domain::{Role, SessionUser};
use crate::error::AppError;
use crate::ssr::{internal, sessions, AppState};

/// Runs a server function's body; on error, sets the HTTP status that goes with it.
pub async fn answer<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    // Entries the body writes name the caller: anonymous from its address until a session
    // says who it is (`current_user`).
    let actor = crate::ssr::audit::Actor::anonymous(client_addr().map(|a| a.to_string()));
    let result = crate::ssr::audit::acting(actor, body).await;
    if let Err(err) = &result {
        if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(
                http::StatusCode::from_u16(err.status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let AppError::RateLimited {
                retry_after_secs, ..
            } = err
            {
                opts.insert_header(http::header::RETRY_AFTER, (*retry_after_secs).into());
            }
        }
    }
    result
}

/// The shared state, taken from the request's Leptos context.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| internal("application state missing from context", "no AppState"))
}

fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| internal("request parts missing from context", "no Parts"))
}

/// The session token the browser sent, if any.
pub fn session_token() -> Option<String> {
    let secure = use_context::<AppState>()?.settings.secure_cookies();
    use_context::<Parts>().and_then(|p| sessions::cookie_token(&p.headers, secure))
}

/// The signed-in caller of this server function or page, if any.
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    let parts = request_parts()?;
    // Pages: the session guard already found the user for this very request.
    let user = match parts.extensions.get::<SessionUser>() {
        Some(user) => Some(user.clone()),
        None => sessions::user_from_headers(&state()?, &parts.headers).await?,
    };
    if let Some(u) = &user {
        tracing::Span::current().record("user_id", u.id);
        crate::ssr::audit::as_user(u.id, &u.email);
    }
    Ok(user)
}

/// The state and the caller, or 401.
pub async fn user() -> Result<(AppState, SessionUser), AppError> {
    let me = current_user().await?.ok_or(AppError::Unauthorized)?;
    Ok((state()?, me))
}

/// The state and the caller if an admin; 401 when signed out, 403 for a `user`.
pub async fn admin() -> Result<(AppState, SessionUser), AppError> {
    let (st, me) = user().await?;
    if me.role == Role::Admin {
        Ok((st, me))
    } else {
        Err(AppError::Forbidden)
    }
}

/// The client's address: the socket's peer, or the client a trusted proxy forwarded for
/// (resolved once per request by the server, `ssr::client`).
pub fn client_addr() -> Option<std::net::IpAddr> {
    use_context::<Parts>()?
        .extensions
        .get::<crate::ssr::client::ClientAddr>()
        .map(|c| c.0)
}

/// The key the lock-out counts this caller's failures under.
pub fn lockout_client() -> String {
    client_addr()
        .map(crate::ssr::client::lockout_key)
        .unwrap_or_else(|| "unknown".into())
}

pub fn set_cookie(value: &str) {
    if let (Some(opts), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        opts.append_header(http::header::SET_COOKIE, v);
    }
}

/// An optional id typed into a form: empty is "new"; anything else must be a number, or the
/// thing is `not_found`.
pub fn optional_id(raw: &str, what: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| AppError::NotFound(what.into())),
    }
}
