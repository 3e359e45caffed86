//! What Mailbridge counts for `/metrics`, through the `metrics` facade: without a recorder
//! (tests, the CLI) every call is a no-op; the server installs the Prometheus one at start.
//! Names and labels are fixed here so that dashboards can rely on them.

/// `refreshes_total{outcome}`, and `refresh_duration_seconds` for the provider's answer.
pub fn refresh(outcome: RefreshOutcome, seconds: f64) {
    metrics::counter!("mailbridge_refreshes_total", "outcome" => outcome.label()).increment(1);
    metrics::histogram!("mailbridge_refresh_duration_seconds").record(seconds);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    Ok,
    /// The provider refused the grant (`needs_reauth`).
    Refused,
    /// Unreachable, or another error: retried later.
    Failed,
}

impl RefreshOutcome {
    fn label(self) -> &'static str {
        match self {
            RefreshOutcome::Ok => "ok",
            RefreshOutcome::Refused => "refused",
            RefreshOutcome::Failed => "failed",
        }
    }
}

/// `mail_tests_total{protocol, outcome}`.
pub fn mail_test(protocol: crate::domain::Protocol, ok: bool) {
    let protocol = match protocol {
        crate::domain::Protocol::Imap => "imap",
        crate::domain::Protocol::Smtp => "smtp",
    };
    let outcome = if ok { "passed" } else { "failed" };
    metrics::counter!("mailbridge_mail_tests_total", "protocol" => protocol, "outcome" => outcome)
        .increment(1);
}

/// `token_handouts_total{via}`: the REST API or the command line.
pub fn token_handout(via: &'static str) {
    metrics::counter!("mailbridge_token_handouts_total", "via" => via).increment(1);
}

/// `webhook_deliveries_total{outcome}`: one per attempt.
pub fn webhook_attempt(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("mailbridge_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// `http_requests_total{route, status}`: the route with ids and keys taken out, so that the
/// number of series stays bounded whatever paths clients send.
pub fn http_request(path: &str, status: u16) {
    let route = route_label(path, status);
    metrics::counter!("mailbridge_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
}

/// `/mail-accounts/42` → `/mail-accounts/:id`; the callback's key, asset names and anything
/// answered 404 collapse into one label each.
pub fn route_label(path: &str, status: u16) -> String {
    if status == 404 {
        return "unmatched".into();
    }
    if path.starts_with("/pkg/") {
        return "/pkg/:asset".into();
    }
    if path.starts_with("/oauth/callback/") {
        return "/oauth/callback/:key".into();
    }
    let parts: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                ":id"
            } else {
                seg
            }
        })
        .collect();
    let route = parts.join("/");
    if route.len() > 80 {
        "unmatched".into()
    } else {
        route
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn routes_are_labelled_without_ids_or_keys() {
        assert_eq!(route_label("/mail-accounts/42", 200), "/mail-accounts/:id");
        assert_eq!(
            route_label("/api/v1/accounts/7/access-token", 200),
            "/api/v1/accounts/:id/access-token"
        );
        assert_eq!(
            route_label("/oauth/callback/s3cr3t", 303),
            "/oauth/callback/:key"
        );
        assert_eq!(route_label("/pkg/mailbridge.wasm", 200), "/pkg/:asset");
        assert_eq!(route_label("/whatever/x", 404), "unmatched");
        assert_eq!(route_label("/api/list_users", 200), "/api/list_users");
    }
}
