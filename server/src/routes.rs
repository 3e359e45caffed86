//! Plain axum routes that are not pages.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use app::ssr::AppState;

/// Liveness and database reachability, for load balancers and the tests.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    // Bounded: with the database gone, the pool would wait its whole acquire timeout, and a
    // load balancer's check must learn that quickly.
    let probe = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(std::time::Duration::from_secs(3), probe)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok", "version": version})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unusable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "database": "error", "version": version})),
            )
        }
    }
}

/// `GET /oauth/callback/{application key}`: the provider sends the browser back here. Every
/// outcome ends on `/oauth/result`, which says what happened in plain words; details (the
/// provider's own message) are on the account, never in a URL.
pub async fn oauth_callback(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<app::ssr::oauth::CallbackQuery>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::{IntoResponse, Redirect};
    let client_ip = req
        .extensions()
        .get::<app::ssr::client::ClientAddr>()
        .map(|c| c.0);
    let user = match app::ssr::sessions::user_from_headers(&state, req.headers()).await {
        Ok(Some(u)) => u,
        // The session guard sends signed-out visitors to /login first; this is a race with expiry.
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session store is unavailable.",
            )
                .into_response()
        }
    };
    // The account.linked it records is the owner's doing, from their address.
    let actor =
        app::ssr::audit::Actor::user(user.id, &user.email, client_ip.map(|ip| ip.to_string()));
    let (outcome, account) = app::ssr::audit::acting(
        actor,
        app::ssr::oauth::callback(&state, &key, &q, client_ip, &user),
    )
    .await;
    tracing::info!(outcome = outcome.code(), account_id = ?account, "oauth callback");
    let account = account.map(|a| format!("&account={a}")).unwrap_or_default();
    Redirect::to(&format!(
        "/oauth/result?outcome={}{account}",
        outcome.code()
    ))
    .into_response()
}

/// `GET /activity.csv?user_id=&account_id=&server_id=&kind=&from=&to=`: the Activity page's
/// filter, every matching entry as CSV. Admins only; a bad filter is a 400 naming the field.
pub async fn activity_csv(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<app::domain::ActivityQuery>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let user = match app::ssr::sessions::user_from_headers(&state, &headers).await {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response(),
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session store is unavailable.",
            )
                .into_response()
        }
    };
    if !user.is_admin() {
        return (
            StatusCode::FORBIDDEN,
            "403: you do not have permission to export the activity (admins only).",
        )
            .into_response();
    }
    match app::ssr::service::activity::csv(&state, &q).await {
        Ok(body) => (
            StatusCode::OK,
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"mailbridge-activity.csv\"",
                ),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_string(),
        )
            .into_response(),
    }
}
