//! `/metrics` (Prometheus text, by `metrics-exporter-prometheus`) and `/readyz`.
//!
//! `/metrics` is off (404) unless `MAILBRIDGE_METRICS_TOKEN` is set, and then answers only a
//! `Authorization: Bearer <token>` request. The recorder is one per process (the `metrics`
//! facade is global), installed when the first server with a token is built.

use std::sync::OnceLock;

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use app::domain::AccountStatus;
use app::ssr::AppState;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on the first call.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("mailbridge_refresh_duration_seconds".into()),
                    &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0],
                )
                .and_then(|b| b.install_recorder());
            match built {
                Ok(h) => Some(h),
                Err(e) => {
                    // Another recorder already installed (a library's): metrics stay off.
                    tracing::warn!(error = %e, "cannot install the Prometheus recorder");
                    None
                }
            }
        })
        .as_ref()
}

/// The SHA-256 (hex) of the configured token, compared with the presented one's: equal-length
/// digests, so the comparison's time says nothing about the token.
fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = state.settings.metrics_token_hash.as_deref() else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| app::ssr::sessions::token_hash(t.trim()))
        .unwrap_or_default();
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.settings.metrics_token_hash.is_none() {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    if !authorised(&state, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "A bearer token (MAILBRIDGE_METRICS_TOKEN) is required.",
        )
            .into_response();
    }
    let Some(handle) = recorder() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Metrics are unavailable.").into_response();
    };
    // Accounts by status are read now, every status present (0 when none).
    match app::ssr::db::mail_accounts::status_counts(&state.pool, None).await {
        Ok(counts) => {
            for status in AccountStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                metrics::gauge!("mailbridge_accounts", "status" => status.code()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: counting accounts"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Readiness: the database answers (within 3 s) and each background task beat recently
/// enough for its rhythm. 503 otherwise, saying which.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let probe = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&state.pool);
    let database = tokio::time::timeout(std::time::Duration::from_secs(3), probe)
        .await
        .is_ok_and(|r| r.is_ok());
    let beats = &state.heartbeats;
    let refresh_every = state.refresh.interval_secs as i64;
    let tasks = [
        ("refresh", &beats.refresh, 3 * refresh_every + 300),
        ("webhooks", &beats.webhooks, 30),
        ("housekeeping", &beats.housekeeping, 2 * 600 + 60),
        // A round waits on SMTP servers (each step up to the mail timeout).
        ("notices", &beats.notices, 300),
    ];
    let mut all_alive = true;
    let mut report = serde_json::Map::new();
    for (name, beat, allowed) in tasks {
        let ago = beat.seconds_ago();
        let alive = ago.is_some_and(|s| s <= allowed);
        all_alive &= alive;
        report.insert(
            name.into(),
            json!({"alive": alive, "last_beat_secs_ago": ago}),
        );
    }
    let ready = database && all_alive;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "database": if database { "ok" } else { "error" },
            "tasks": report,
        })),
    )
}
