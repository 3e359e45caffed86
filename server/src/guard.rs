//! Request guards that run before any page or server function: cross-origin writes are
//! refused, and signed-out visitors are sent to the sign-in page.

use axum::{
    body::Body,
    extract::State,
    http::{header, Method, Request, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use app::ssr::{sessions, AppState};

/// A state-changing request whose `Origin` (or, without one, `Referer`) is another site is
/// refused, so a hostile page cannot act with a signed-in admin's cookie. Requests with neither
/// header come from non-browser clients, which a cookie-stealing page cannot drive.
pub async fn same_origin(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    let Some(claimed) = claimed else {
        return next.run(req).await;
    };
    let public = url::Url::parse(&state.settings.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    // The address the browser actually used also counts as this site (e.g. localhost vs
    // 127.0.0.1); a hostile page's origin never equals our own Host.
    let via_host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| format!("{}://{h}", public.split("://").next().unwrap_or("http")));
    if claimed == public || Some(&claimed) == via_host.as_ref() {
        return next.run(req).await;
    }
    tracing::warn!(origin = %claimed, path = %req.uri().path(), "cross-origin request refused");
    (
        StatusCode::FORBIDDEN,
        "Cross-origin request refused: this action must come from a Mailbridge page.",
    )
        .into_response()
}

/// The `host:port` values requests for `public_url` carry. A loopback public URL also answers
/// to the other loopback names (a developer's `localhost` vs `127.0.0.1`): no outside name can
/// resolve to those for a browser without being one of them.
pub fn allowed_hosts(public_url: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(public_url) else {
        return vec![];
    };
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return vec![];
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let loopback = ["127.0.0.1", "localhost", "[::1]"];
    let names: Vec<String> = if loopback.contains(&host.as_str()) {
        loopback.iter().map(|h| h.to_string()).collect()
    } else {
        vec![host]
    };
    let mut hosts: Vec<String> = names.iter().map(|h| format!("{h}:{port}")).collect();
    // Browsers leave the default port out of `Host`.
    if url.port().is_none() {
        hosts.extend(names);
    }
    hosts
}

/// Refuses requests addressed to another host than this Mailbridge's (a DNS-rebinding page
/// whose name now points at 127.0.0.1 sends its own name). `/healthz` stays reachable for load
/// balancers that probe by address.
pub async fn known_host(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let known = host
        .as_ref()
        .is_some_and(|h| state.settings.allowed_hosts.iter().any(|a| a == h));
    // Probes and scrapers often address a node by its IP: these answer any host.
    if known || matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    tracing::warn!(host = ?host, "request for another host refused");
    (
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "This is not the address of this Mailbridge; use {}.",
            state.settings.public_url
        ),
    )
        .into_response()
}

/// Headers on every answer: no MIME sniffing, no Referer (a callback URL carries the
/// authorization code), no framing, HSTS when served over https, and for anything that is not
/// a page (a page sets its own, with its nonce) a policy that runs nothing.
pub async fn security_headers(State(state): State<AppState>, mut res: Response) -> Response {
    use axum::http::HeaderValue;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages carry the signed-in user's data: never kept by the browser or a proxy. Files
    // under /pkg set their own (revalidated) caching.
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if is_html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(app::ssr::headers::NON_PAGE_CSP),
        );
    }
    if state.settings.secure_cookies() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
        || path == "/favicon.ico"
        || path.starts_with("/api/")
        || path.starts_with("/pkg/")
}

/// Pages need a session: a signed-out visitor goes to `/login?next=<where they were>`.
/// Server functions check their callers themselves (401/403), so they pass through here.
pub async fn require_session(
    State(state): State<AppState>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if is_public(path) || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    match sessions::user_from_headers(&state, req.headers()).await {
        // Handed on so the page does not look the session up a second time.
        Ok(Some(user)) => {
            tracing::Span::current().record("user_id", user.id);
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Ok(None) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let next_param: String =
                url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next_param}")).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The session store is unavailable.",
        )
            .into_response(),
    }
}
