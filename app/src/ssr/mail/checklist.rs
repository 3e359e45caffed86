//! The checklist of a connection test: each step timed and bounded by a timeout, the first
//! failure ending the run, and the outcome in a sentence with a hint at the usual cause.

use std::time::{Duration, Instant};

use crate::domain::{Protocol, ProtocolResult, TestStep};
use crate::ssr::provider_text;

/// Runs steps, recording each; the first failure ends the run.
pub struct Checklist {
    pub steps: Vec<TestStep>,
    pub timeout: Duration,
    /// Authentication (not the connection) failed: a fresh token may help.
    pub auth_failed: bool,
}

impl Checklist {
    pub fn new(timeout: Duration) -> Self {
        Checklist {
            steps: vec![],
            timeout,
            auth_failed: false,
        }
    }

    pub async fn step<T, F>(&mut self, name: &str, fut: F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<(T, String), String>>,
    {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} s", self.timeout.as_secs())),
        };
        let millis = started.elapsed().as_millis() as u64;
        let (ok, detail, value) = match result {
            Ok((value, detail)) => (true, detail, Ok(value)),
            Err(detail) => (false, detail.clone(), Err(detail)),
        };
        tracing::debug!(step = name, ok, millis, "test step");
        self.steps.push(TestStep {
            name: name.into(),
            ok,
            millis,
            detail,
        });
        value
    }

    /// The outcome: `Ok` with the INBOX size (IMAP) or nothing (SMTP), or the failure.
    pub fn finish(self, protocol: Protocol, result: Result<Option<u32>, String>) -> ProtocolResult {
        let name = protocol.label();
        match result {
            Ok(count) => ProtocolResult {
                protocol: name.into(),
                ok: true,
                message: match count {
                    Some(n) => format!(
                        "{name} login works; INBOX holds {n} message{}.",
                        if n == 1 { "" } else { "s" }
                    ),
                    None => format!("{name} login works."),
                },
                steps: self.steps,
                hint: None,
                inbox_count: count,
                auth_failed: false,
            },
            Err(e) => ProtocolResult {
                protocol: name.into(),
                ok: false,
                hint: hint_for(&e, protocol),
                message: format!("{name} failed: {e}"),
                steps: self.steps,
                inbox_count: None,
                auth_failed: self.auth_failed,
            },
        }
    }
}

/// A test that could not start for want of a usable access token.
pub fn not_authorised(protocol: Protocol, message: &str) -> ProtocolResult {
    let mut list = Checklist::new(Duration::from_secs(1));
    list.auth_failed = true;
    list.steps.push(TestStep {
        name: "access token".into(),
        ok: false,
        millis: 0,
        detail: provider_text(message, 500),
    });
    let mut r = list.finish(
        protocol,
        Err(format!(
            "no usable access token: {}",
            provider_text(message, 500)
        )),
    );
    r.hint = Some("Authorize the mailbox again.".into());
    r
}

fn hint_for(message: &str, protocol: Protocol) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let hint = if m.contains("unknownissuer")
        || m.contains("certificate") && (m.contains("invalid") || m.contains("not valid"))
    {
        "The server's certificate is not trusted: add its CA with MAILBRIDGE_CA_FILE (a password test server may also switch off \"Validate certificate\"; an OAuth2 server may not)."
    } else if m.contains("caused as end entity")
        || m.contains("causedasendentity")
        || m.contains("caendentity")
        || m.contains("ca used as end entity")
    {
        "The server presents a CA certificate as its own; give it a proper server certificate signed by that CA."
    } else if m.contains("invalidcontenttype") || m.contains("corrupt message") {
        "This port does not speak TLS at once: it probably expects STARTTLS (or no encryption)."
    } else if m.contains("connection refused") {
        "Nothing listens on this host and port: check the host, port and firewall."
    } else if m.contains("timed out") {
        "The server did not answer in time: check the host, port, encryption and firewall."
    } else if m.contains("invalid_token")
        || m.contains("\"status\":\"401\"")
        || m.contains("authenticationfailed")
        || m.contains("535")
        || m.contains("authentication failed")
    {
        if protocol == Protocol::Smtp && m.contains("disabled") {
            "SMTP AUTH is disabled for this mailbox (Microsoft 365: enable Authenticated SMTP for the user)."
        } else {
            "The login was refused: the token may be expired or revoked (authorize again), or the Login is not the mailbox the token was issued for."
        }
    } else if m.contains("smtp auth") && m.contains("disabled") {
        "SMTP AUTH is disabled for this mailbox (Microsoft 365: enable Authenticated SMTP for the user)."
    } else {
        return None;
    };
    Some(hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_usual_cause() {
        let refused = hint_for("535 5.7.8 authentication failed", Protocol::Smtp).unwrap();
        assert!(refused.contains("authorize again"), "{refused}");
        let closed = hint_for("cannot connect: Connection refused", Protocol::Imap).unwrap();
        assert!(closed.contains("Nothing listens"), "{closed}");
        assert!(hint_for("something else entirely", Protocol::Imap).is_none());
    }
}
