//! Webhooks: where Mailbridge tells other systems that a mailbox changed, which events they
//! want, and what became of each delivery. Parsed the same way in the browser and on the
//! server.

use serde::{Deserialize, Serialize};

use super::net::HttpUrl;

pub mod label {
    pub const URL: &str = "URL";
    pub const EVENTS: &str = "Events";
}

/// Every secret starts with this (the Standard Webhooks convention): the rest is the base64 of
/// the HMAC key.
pub const SECRET_PREFIX: &str = "whsec_";

/// What happened to a mail account, as a webhook's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    Linked,
    Unlinked,
    NeedsReauth,
    Error,
    Recovered,
    TestPassed,
    TestFailed,
    Deleted,
    /// "Send test event": to one webhook, about no account.
    Ping,
}

impl EventKind {
    /// The events a webhook can subscribe to ([`EventKind::Ping`] goes only where it is sent).
    pub const ACCOUNT: [EventKind; 8] = [
        EventKind::Linked,
        EventKind::Unlinked,
        EventKind::NeedsReauth,
        EventKind::Error,
        EventKind::Recovered,
        EventKind::TestPassed,
        EventKind::TestFailed,
        EventKind::Deleted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EventKind::Linked => "account.linked",
            EventKind::Unlinked => "account.unlinked",
            EventKind::NeedsReauth => "account.needs_reauth",
            EventKind::Error => "account.error",
            EventKind::Recovered => "account.recovered",
            EventKind::TestPassed => "account.test_passed",
            EventKind::TestFailed => "account.test_failed",
            EventKind::Deleted => "account.deleted",
            EventKind::Ping => "webhook.test",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ACCOUNT
            .into_iter()
            .chain([EventKind::Ping])
            .find(|k| k.code() == code)
    }

    /// What the form says beside the box.
    pub fn describe(self) -> &'static str {
        match self {
            EventKind::Linked => "a mailbox was authorised (or authorised again)",
            EventKind::Unlinked => "its tokens were deleted (unlinked)",
            EventKind::NeedsReauth => {
                "the provider refused the grant: the owner must authorise again"
            }
            EventKind::Error => "refreshing started failing (retried with backoff)",
            EventKind::Recovered => "refreshing works again after an error",
            EventKind::TestPassed => "an IMAP or SMTP login test passed",
            EventKind::TestFailed => "an IMAP or SMTP login test failed",
            EventKind::Deleted => "the mail account was deleted",
            EventKind::Ping => "a test event sent from this page",
        }
    }
}

/// A webhook's URL: absolute http(s), no credentials, no fragment. Where it may point (public
/// addresses only, plain http only inside `MAILBRIDGE_ALLOW_PRIVATE_NETWORKS`) is the
/// server's check, on every delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        HttpUrl::parse(raw)?;
        // Kept as typed: unlike an issuer, a receiver's path may need its trailing slash.
        Ok(WebhookUrl(raw.trim().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookDraft {
    pub url: String,
    /// Event codes (`account.linked` …).
    pub events: Vec<String>,
    pub active: bool,
}

impl Default for WebhookDraft {
    fn default() -> Self {
        WebhookDraft {
            url: String::new(),
            events: Vec::new(),
            active: true,
        }
    }
}

/// A draft that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub url: WebhookUrl,
    /// In [`EventKind::ACCOUNT`] order, each once.
    pub events: Vec<EventKind>,
    pub active: bool,
}

impl WebhookDraft {
    /// Every field's problem, by label, or the parsed webhook.
    pub fn parse(&self) -> Result<WebhookSpec, Vec<(&'static str, String)>> {
        let url = WebhookUrl::parse(&self.url).map_err(|m| (label::URL, m));
        let events = parse_events(&self.events).map_err(|m| (label::EVENTS, m));
        match (url, events) {
            (Ok(url), Ok(events)) => Ok(WebhookSpec {
                url,
                events,
                active: self.active,
            }),
            (url, events) => Err([url.err(), events.err()].into_iter().flatten().collect()),
        }
    }
}

fn parse_events(codes: &[String]) -> Result<Vec<EventKind>, String> {
    let mut chosen = Vec::new();
    for code in codes {
        match EventKind::parse(code.trim()) {
            Some(k) if k != EventKind::Ping => chosen.push(k),
            _ => return Err(format!("'{code}' is not an event a webhook can receive")),
        }
    }
    if chosen.is_empty() {
        return Err("choose at least one event".into());
    }
    Ok(EventKind::ACCOUNT
        .into_iter()
        .filter(|k| chosen.contains(k))
        .collect())
}

/// A webhook as its pages show it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventKind>,
    pub active: bool,
    pub created_at: i64,
    /// Deliveries waiting (including retries) and given up.
    pub pending: i64,
    pub failed: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// Not delivered yet: waiting for its turn or for its next attempt.
    Pending,
    Delivered,
    /// Given up after the last retry.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One event for one webhook: the last attempt and what comes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    pub message_id: String,
    pub account_id: Option<i64>,
    pub state: DeliveryState,
    pub attempts: i64,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    /// The receiver's HTTP status.
    pub last_code: Option<i64>,
    pub last_duration_ms: Option<i64>,
    /// Why the last attempt failed (no connection, timeout, a non-2xx answer).
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
}

/// A webhook's page: the webhook and its latest deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDetail {
    pub webhook: WebhookView,
    pub deliveries: Vec<DeliveryView>,
}

/// What "Create webhook" answers: the signing secret in full, this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    pub id: i64,
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_in_a_fixed_order_once_each() {
        let d = WebhookDraft {
            url: "https://hooks.example.com/mailbridge".into(),
            events: vec![
                "account.error".into(),
                "account.linked".into(),
                "account.error".into(),
            ],
            active: true,
        };
        let spec = d.parse().unwrap();
        assert_eq!(spec.events, vec![EventKind::Linked, EventKind::Error]);
        assert_eq!(spec.url.as_str(), "https://hooks.example.com/mailbridge");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = WebhookDraft {
            url: "ftp://example.com".into(),
            events: vec![],
            active: true,
        };
        let labels: Vec<&str> = bad.parse().unwrap_err().iter().map(|(l, _)| *l).collect();
        assert_eq!(labels, vec![label::URL, label::EVENTS]);
        let unknown = WebhookDraft {
            url: "https://example.com".into(),
            events: vec!["webhook.test".into()],
            active: true,
        };
        assert_eq!(unknown.parse().unwrap_err()[0].0, label::EVENTS);
        let creds = WebhookDraft {
            url: "https://user:pw@example.com/".into(),
            events: vec!["account.linked".into()],
            active: true,
        };
        assert_eq!(creds.parse().unwrap_err()[0].0, label::URL);
    }

    #[test]
    fn codes_round_trip() {
        for k in EventKind::ACCOUNT.into_iter().chain([EventKind::Ping]) {
            assert_eq!(EventKind::parse(k.code()), Some(k));
        }
        assert_eq!(EventKind::parse("account.linkd"), None);
    }
}
