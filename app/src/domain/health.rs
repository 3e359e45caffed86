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
