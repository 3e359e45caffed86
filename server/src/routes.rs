//! Plain axum routes that are not pages.

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use app::ssr::AppState;

/// Liveness and database reachability, for load balancers and the tests.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&state.pool)
        .await
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
