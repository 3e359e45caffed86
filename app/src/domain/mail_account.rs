//! Fields of a mail account.

use super::text::bounded;

pub mod label {
    pub const NAME: &str = "Name";
    pub const SERVER: &str = "Mail server";
    pub const LOGIN: &str = "Login";
    pub const OWNER: &str = "Owner";
    pub const PASSWORD: &str = "Mailbox password";
}

/// What the owner calls the mailbox: 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 100).map(AccountName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// "expires in 42 min", "expired 3 min ago": how long an access token has left.
pub fn expiry_text(expires_at: Option<i64>, now: i64) -> String {
    let Some(at) = expires_at else {
        return "—".into();
    };
    let d = at - now;
    let fmt = |s: i64| {
        if s < 90 {
            format!("{s} s")
        } else if s < 90 * 60 {
            format!("{} min", (s + 30) / 60)
        } else if s < 48 * 3600 {
            format!("{} h", (s + 1800) / 3600)
        } else {
            format!("{} days", (s + 43200) / 86400)
        }
    };
    if d >= 0 {
        format!("expires in {}", fmt(d))
    } else {
        format!("expired {} ago", fmt(-d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_said_in_words() {
        assert_eq!(expiry_text(Some(1000 + 42 * 60), 1000), "expires in 42 min");
        assert_eq!(expiry_text(Some(1000 - 180), 1000), "expired 3 min ago");
        assert_eq!(expiry_text(Some(1000 + 30), 1000), "expires in 30 s");
        assert_eq!(expiry_text(None, 1000), "—");
    }
}
