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

/// `gateway_logins_total{protocol, outcome}`: app-password sign-ins at the SMTP relay and the
/// IMAP proxy (`ok`, or `refused` for a wrong password, a lock-out or an unusable mailbox).
pub fn gateway_login(protocol: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "refused" };
    metrics::counter!("mailbridge_gateway_logins_total", "protocol" => protocol, "outcome" => outcome)
        .increment(1);
}

/// `relay_messages_total{outcome}`: messages the SMTP relay passed on (`accepted`), or whose
/// upstream answer was a refusal (`temporary`, `permanent`).
pub fn relay_message(outcome: &'static str) {
    metrics::counter!("mailbridge_relay_messages_total", "outcome" => outcome).increment(1);
}

/// `webhook_deliveries_total{outcome}`: one per attempt.
pub fn webhook_attempt(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("mailbridge_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// `notifications_total{kind, outcome}`: `sent`, `failed` (given up), `pending` (to retry),
/// `dropped` (nothing to say any more).
pub fn notice(kind: &str, outcome: &'static str) {
    let kind = match kind {
        "needs_reauth" => "needs_reauth",
        "error" => "error",
        _ => "digest",
    };
    metrics::counter!("mailbridge_notifications_total", "kind" => kind, "outcome" => outcome)
        .increment(1);
}

/// `http_requests_total{route, status}`, `route` from [`route_label`].
pub fn http_request(route: String, status: u16) {
    metrics::counter!("mailbridge_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
}

/// The route pattern the request matched (`/mail-accounts/{id}` → `/mail-accounts/:id`), so
/// that the number of series is the number of routes whatever paths clients send: a path no
/// route matched is `unmatched` (assets `/pkg/:asset`), and a wildcard route names the path
/// only when it answered (an unknown name under it must not add a series).
pub fn route_label(matched: Option<&str>, path: &str, status: u16) -> String {
    let colon = |m: &str| m.replace("{*", ":").replace('{', ":").replace('}', "");
    match matched {
        Some(m) if m.contains("{*") => {
            if status < 400 && path.len() <= 80 {
                path.to_string()
            } else {
                colon(m)
            }
        }
        Some(m) => colon(m),
        None if path.starts_with("/pkg/") && status < 400 => "/pkg/:asset".into(),
        None => "unmatched".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn routes_are_labelled_by_their_pattern() {
        assert_eq!(
            route_label(Some("/mail-accounts/{id}"), "/mail-accounts/42", 200),
            "/mail-accounts/:id"
        );
        assert_eq!(
            route_label(Some("/oauth/callback/{key}"), "/oauth/callback/s3cr3t", 303),
            "/oauth/callback/:key"
        );
        assert_eq!(
            route_label(None, "/pkg/mailbridge.wasm", 200),
            "/pkg/:asset"
        );
        assert_eq!(route_label(None, "/whatever/x", 303), "unmatched");
        assert_eq!(route_label(None, "/pkg/nope", 404), "unmatched");
        assert_eq!(
            route_label(Some("/api/v1/{*rest}"), "/api/v1/junk-1", 404),
            "/api/v1/:rest"
        );
    }
}
