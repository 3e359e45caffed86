//! Logs: to stderr, filtered by `RUST_LOG`, as text or JSON (`MAILBRIDGE_LOG_FORMAT`), and one
//! span per request so every line a request causes carries its method, route and caller.

use std::io::IsTerminal;
use std::time::Instant;

use app::ssr::{client, AppState};
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Default: info, with sqlx's per-query lines off. Colour only on a terminal: a log file or
/// journald would otherwise get escape sequences.
pub fn init(format: &LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests start several servers in one process) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The route as logged: the path, except that an application's key (part of its Redirect URI,
/// which only the provider and the admin should know) is not written down.
pub fn route_of(path: &str) -> String {
    match path.strip_prefix("/oauth/callback/") {
        Some(_) => "/oauth/callback/{key}".to_string(),
        None => path.chars().take(200).collect(),
    }
}

/// The route pattern a request matched, carried out on its response for the request
/// counter (the span's middleware runs outside the router and never sees it on the request).
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub String);

/// Inside the router, on matched routes only: copies the matched pattern onto the response.
pub async fn remember_route(req: Request, next: Next) -> Response {
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(m) = matched {
        res.extensions_mut().insert(MatchedRoute(m));
    }
    res
}

/// Resolves the client's address once (see [`client::resolve`]) for everything after it, and
/// wraps the request in a span (method, route, client, then status, duration and the signed-in
/// user once known), logging one line when it is answered.
pub async fn request_span(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let client_ip =
        peer.map(|p| client::resolve(p, req.headers(), &state.settings.trusted_proxies));
    if let Some(ip) = client_ip {
        req.extensions_mut().insert(client::ClientAddr(ip));
    }
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = %route_of(req.uri().path()),
        client = %client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        user_id = tracing::field::Empty,
        status = tracing::field::Empty,
        millis = tracing::field::Empty,
    );
    let req_path = req.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let millis = started.elapsed().as_millis() as u64;
    span.record("status", response.status().as_u16());
    let status = response.status().as_u16();
    let matched = response
        .extensions()
        .get::<MatchedRoute>()
        .map(|m| m.0.as_str());
    app::ssr::metrics::http_request(
        app::ssr::metrics::route_label(matched, &req_path, status),
        status,
    );
    span.record("millis", millis);
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::warn!("request answered");
        } else {
            tracing::debug!("request answered");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_keys_are_not_logged() {
        assert_eq!(
            route_of("/oauth/callback/s3cr3t-key"),
            "/oauth/callback/{key}"
        );
        assert_eq!(route_of("/mail-servers/7"), "/mail-servers/7");
    }
}
