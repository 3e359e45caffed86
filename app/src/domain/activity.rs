//! The audit trail as pages show it: entries, the Activity page's filter, an account's
//! timeline. Parsed the same way in the browser and on the server.

use serde::{Deserialize, Serialize};

pub mod label {
    pub const FROM: &str = "From";
    pub const TO: &str = "To";
    pub const KIND: &str = "Kind";
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorKind {
    User,
    ApiKey,
    /// A program signed in to the SMTP relay or the IMAP proxy with an app password.
    AppPassword,
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [
        ActorKind::User,
        ActorKind::ApiKey,
        ActorKind::AppPassword,
        ActorKind::System,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::AppPassword => "app_password",
            ActorKind::System => "system",
        }
    }
}

/// The kinds of entry, for the filter (an entry's `kind` is one of these codes).
pub const KINDS: &[(&str, &str)] = &[
    ("sign_in", "signed in"),
    ("sign_in_failed", "sign-in refused"),
    ("user.created", "user created"),
    ("user.changed", "user changed"),
    ("user.password_set", "password set"),
    ("application.created", "application created"),
    ("application.changed", "application changed"),
    ("application.deleted", "application deleted"),
    ("server.created", "mail server created"),
    ("server.changed", "mail server changed"),
    ("server.deleted", "mail server deleted"),
    ("api_key.created", "API key created"),
    ("api_key.revoked", "API key revoked"),
    ("webhook.created", "webhook created"),
    ("webhook.changed", "webhook changed"),
    ("webhook.deleted", "webhook deleted"),
    ("settings.changed", "settings changed"),
    ("account.created", "mail account created"),
    ("account.linked", "linked"),
    ("account.unlinked", "unlinked"),
    ("account.needs_reauth", "needs re-authorisation"),
    ("account.error", "refresh failed"),
    ("account.recovered", "recovered"),
    ("account.test_passed", "test passed"),
    ("account.test_failed", "test failed"),
    ("account.deleted", "mail account deleted"),
    ("token.handed_out", "token handed out"),
    ("app_password.created", "app password created"),
    ("app_password.revoked", "app password revoked"),
    ("app_password.login", "signed in with an app password"),
    ("app_password.login_failed", "app password refused"),
    ("smtp.message", "message relayed"),
    ("smtp.message_failed", "message not relayed"),
];

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ActivityView {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_label: String,
    pub kind: String,
    pub account_id: Option<i64>,
    pub server_id: Option<i64>,
    pub user_id: Option<i64>,
    pub summary: String,
    pub client_addr: Option<String>,
}

/// The Activity page's filter as typed (ids as text, dates `YYYY-MM-DD`, empty = any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityQuery {
    pub user_id: String,
    pub account_id: String,
    pub server_id: String,
    pub kind: String,
    pub from: String,
    pub to: String,
}

/// A query that parsed: times are Unix seconds, `to` exclusive (the end of its day).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub user_id: Option<i64>,
    pub account_id: Option<i64>,
    pub server_id: Option<i64>,
    pub kind: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

fn day_start(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    time::Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
    .map_err(|_| "must be a date such as 2026-11-30".to_string())
}

fn id(raw: &str) -> Option<i64> {
    raw.trim().parse().ok().filter(|n: &i64| *n > 0)
}

impl ActivityQuery {
    pub fn parse(&self) -> Result<ActivityFilter, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let from = day_start(&self.from).unwrap_or_else(|m| {
            errors.push((label::FROM, m));
            None
        });
        let to = day_start(&self.to)
            .map(|d| d.map(|t| t + 86_400))
            .unwrap_or_else(|m| {
                errors.push((label::TO, m));
                None
            });
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push((label::TO, "must not be before From".to_string()));
            }
        }
        let kind = self.kind.trim();
        if !kind.is_empty() && !KINDS.iter().any(|(k, _)| *k == kind) {
            errors.push((label::KIND, format!("'{kind}' is not a kind of entry")));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ActivityFilter {
            user_id: id(&self.user_id),
            account_id: id(&self.account_id),
            server_id: id(&self.server_id),
            kind: (!kind.is_empty()).then(|| kind.to_string()),
            from,
            to,
        })
    }

    /// The query string of the CSV export for the same filter.
    pub fn to_query_string(&self) -> String {
        let pairs = [
            ("user_id", &self.user_id),
            ("account_id", &self.account_id),
            ("server_id", &self.server_id),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", percent(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Just enough percent-encoding for the filter's values (ids, codes, dates).
fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A mail account's page: its latest entries, and its refreshes per day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTimeline {
    pub entries: Vec<ActivityView>,
    /// `(Unix day, refreshes that worked)`, newest first, the last 7 days that had any.
    pub refreshes: Vec<(i64, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_parses_into_a_day_range() {
        let q = ActivityQuery {
            account_id: "7".into(),
            kind: "account.linked".into(),
            from: "2026-11-29".into(),
            to: "2026-11-30".into(),
            ..Default::default()
        };
        let f = q.parse().unwrap();
        assert_eq!(f.account_id, Some(7));
        // 2026-11-29T00:00Z and the end of 2026-11-30.
        assert_eq!(f.from, Some(1_795_910_400));
        assert_eq!(f.to.unwrap() - f.from.unwrap(), 2 * 86_400);
        assert_eq!(
            q.to_query_string(),
            "account_id=7&kind=account.linked&from=2026-11-29&to=2026-11-30"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let q = ActivityQuery {
            kind: "nope".into(),
            from: "30/11/2026".into(),
            to: "2026-11-01".into(),
            ..Default::default()
        };
        let labels: Vec<&str> = q.parse().unwrap_err().iter().map(|(l, _)| *l).collect();
        assert_eq!(labels, vec![label::FROM, label::KIND]);
        let backwards = ActivityQuery {
            from: "2026-11-30".into(),
            to: "2026-11-01".into(),
            ..Default::default()
        };
        assert_eq!(backwards.parse().unwrap_err()[0].0, label::TO);
    }
}
