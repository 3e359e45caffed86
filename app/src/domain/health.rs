//! The dashboard as a health page (admins): what needs attention, what comes next, whether
//! refreshing works; and, on a new installation, the first-run checklist.

use serde::{Deserialize, Serialize};

use super::AccountStatus;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub counts: Vec<(AccountStatus, i64)>,
    /// Servers with accounts in `error` or `needs_reauth`: `(id, subject, how many)`.
    pub failing_servers: Vec<(i64, String, i64)>,
    /// The linked accounts whose access token expires soonest: `(id, login, expires at)`.
    pub next_expiries: Vec<(i64, String, i64)>,
    /// The latest refresh that worked, any account, any instance.
    pub last_refresh_at: Option<i64>,
    /// The last 7 days, oldest first.
    pub outcomes: Vec<DayOutcomes>,
    pub checklist: Checklist,
    /// Days that end grants: client secrets expiring, Testing apps' 7-day grants; soonest first.
    pub warnings: Vec<Warning>,
    /// The mailbox notices are sent from, when it can send; none: owners are not told.
    pub notification_sender: Option<String>,
    /// Why notices are held back although a sender is set (it needs re-authorisation …).
    pub notification_problem: Option<String>,
    /// The SMTP relay and the IMAP proxy over the last 7 days.
    pub gateway: GatewayCounts,
}

/// App-password sign-ins at the relay and the proxy, and the relay's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCounts {
    pub logins: i64,
    pub refused_logins: i64,
    pub messages: i64,
    pub failed_messages: i64,
}

impl GatewayCounts {
    pub fn text(&self) -> String {
        format!(
            "SMTP relay and IMAP proxy, last 7 days: {} sign-ins ({} refused); {} messages relayed, {} not relayed",
            self.logins, self.refused_logins, self.messages, self.failed_messages
        )
    }
}

/// The Settings page: who notices come from, and who they could come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    pub sender: Option<i64>,
    /// Linked mailboxes: `(account id, "login (server)")`.
    pub choices: Vec<(i64, String)>,
}

/// The Settings page's field.
pub const SENDER_LABEL: &str = "Notification sender";

/// Something that will stop mailboxes on a known day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub server_id: i64,
    pub account_id: Option<i64>,
    /// When it happens (Unix time).
    pub at: i64,
    /// The threshold reached: 30, 7 or 1 days ahead, 0 once it has happened.
    pub within_days: i64,
    pub text: String,
}

/// The warning threshold a time `left` seconds away has reached: 30, 7, 1 (days) or 0 (past).
pub fn threshold(left: i64) -> i64 {
    match left {
        l if l <= 0 => 0,
        l if l <= 86_400 => 1,
        l if l <= 7 * 86_400 => 7,
        _ => 30,
    }
}

/// One day of refreshing: refreshes that worked, and accounts that started failing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOutcomes {
    /// Unix day.
    pub day: i64,
    pub refreshed: i64,
    pub failed: i64,
}

/// The first-run steps, each ticked when done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// An application exists (its Redirect URI is what the provider needs).
    pub application: bool,
    /// A mail server uses it (so its Redirect URI went to a provider's console).
    pub server: bool,
    pub linked: bool,
    pub tested: bool,
}

impl Checklist {
    pub fn done(&self) -> bool {
        self.application && self.server && self.linked && self.tested
    }
}

#[cfg(test)]
mod tests {
    use super::threshold;

    #[test]
    fn thresholds_are_30_7_1_and_past() {
        let day = 86_400;
        assert_eq!(threshold(20 * day), 30);
        assert_eq!(threshold(7 * day), 7);
        assert_eq!(threshold(2 * day), 7);
        assert_eq!(threshold(day), 1);
        assert_eq!(threshold(1), 1);
        assert_eq!(threshold(0), 0);
        assert_eq!(threshold(-day), 0);
    }
}
