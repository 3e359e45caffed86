//! Fields of a mail account.

use serde::{Deserialize, Serialize};

use super::provider::AuthMethod;
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

/// Where a mailbox stands. Stored as its [`AccountStatus::code`].
///
/// `pending` → (authorised) → `linked`; a refused refresh → `needs_reauth`; a failed refresh
/// that will be retried → `error` (back to `linked` on success); unlink → `pending`;
/// `disabled` is set by an admin (kept, never refreshed or tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Pending,
    Linked,
    NeedsReauth,
    Error,
    Disabled,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] = [
        AccountStatus::Pending,
        AccountStatus::Linked,
        AccountStatus::NeedsReauth,
        AccountStatus::Error,
        AccountStatus::Disabled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Linked => "linked",
            AccountStatus::NeedsReauth => "needs_reauth",
            AccountStatus::Error => "error",
            AccountStatus::Disabled => "disabled",
        }
    }

    /// In words a person understands.
    pub fn label(self) -> &'static str {
        match self {
            AccountStatus::NeedsReauth => "needs re-authorisation",
            other => other.code(),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        AccountStatus::ALL
            .into_iter()
            .find(|s| s.code() == raw.trim())
            .ok_or_else(|| "must be pending, linked, needs_reauth, error or disabled".into())
    }

    /// What the owner can do about it: "Authorize" for a new OAuth mailbox, "Authorize again"
    /// for one whose grant died or keeps failing.
    pub fn authorize_action(self, method: AuthMethod) -> Option<&'static str> {
        if method != AuthMethod::OAuth2 {
            return None;
        }
        match self {
            AccountStatus::Pending => Some("Authorize"),
            AccountStatus::NeedsReauth | AccountStatus::Error => Some("Authorize again"),
            AccountStatus::Linked | AccountStatus::Disabled => None,
        }
    }
}

/// A mail account as its pages show it (never a token or password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailAccountView {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub mail_server_id: i64,
    pub server_subject: String,
    pub auth_method: AuthMethod,
    pub owner_id: i64,
    pub owner_email: String,
    pub status: AccountStatus,
    pub access_expires_at: Option<i64>,
    pub last_refresh_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_login_at: Option<i64>,
    pub test_at: Option<i64>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::ssr::db::OptFlag"))]
    pub test_imap_ok: Option<bool>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::ssr::db::OptFlag"))]
    pub test_smtp_ok: Option<bool>,
    pub test_message: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ServerChoice {
    pub id: i64,
    pub subject: String,
    pub auth_method: AuthMethod,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserChoice {
    pub id: i64,
    pub email: String,
}

/// What the "Add mail account" form may offer this caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChoices {
    pub me: i64,
    pub is_admin: bool,
    pub servers: Vec<ServerChoice>,
    /// Admins only: every active user.
    pub users: Vec<UserChoice>,
}

/// The "Add mail account" form, parsed. The mailbox password (password servers only) is
/// checked by the server, which knows the server's method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccountForm {
    pub name: AccountName,
    pub login: super::Email,
    pub mail_server_id: i64,
    /// `None`: the caller.
    pub owner_id: Option<i64>,
}

impl NewAccountForm {
    /// Every bad field at once. An empty name becomes the login.
    pub fn parse(
        name: &str,
        mail_server_id: &str,
        login: &str,
        owner_id: &str,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = vec![];
        let login = super::Email::parse(login).map_err(|m| errors.push((label::LOGIN, m)));
        // A blank name is the login's; with a bad login, only the login is wrong.
        let name = match (&login, name.trim().is_empty()) {
            (Err(()), true) => Err(()),
            (Ok(l), true) => {
                AccountName::parse(l.as_str()).map_err(|m| errors.push((label::NAME, m)))
            }
            (_, false) => AccountName::parse(name).map_err(|m| errors.push((label::NAME, m))),
        };
        let server = mail_server_id
            .trim()
            .parse::<i64>()
            .map_err(|_| errors.push((label::SERVER, "choose a mail server".into())));
        let owner = match owner_id.trim() {
            "" => Ok(None),
            s => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| errors.push((label::OWNER, "choose a user".into()))),
        };
        match (name, login, server, owner) {
            (Ok(name), Ok(login), Ok(mail_server_id), Ok(owner_id)) => Ok(NewAccountForm {
                name,
                login,
                mail_server_id,
                owner_id,
            }),
            _ => Err(errors),
        }
    }
}

/// The Mail accounts list's filters; `None` is "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountFilter {
    pub server_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub status: Option<AccountStatus>,
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
    fn statuses_round_trip_and_say_what_to_do() {
        for s in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(s.code()), Ok(s));
        }
        assert!(AccountStatus::parse("linkd").is_err());
        assert_eq!(
            AccountStatus::NeedsReauth.authorize_action(AuthMethod::OAuth2),
            Some("Authorize again")
        );
        assert_eq!(
            AccountStatus::Pending.authorize_action(AuthMethod::Password),
            None
        );
        assert_eq!(
            AccountStatus::Linked.authorize_action(AuthMethod::OAuth2),
            None
        );
    }

    #[test]
    fn the_new_account_form_reports_every_field() {
        let long = "n".repeat(101);
        let errs = NewAccountForm::parse(&long, "x", "not an address", "y").unwrap_err();
        let labels: Vec<&str> = errs.iter().map(|e| e.0).collect();
        assert_eq!(
            labels,
            vec![label::LOGIN, label::NAME, label::SERVER, label::OWNER]
        );
        let errs = NewAccountForm::parse("", "1", "not an address", "").unwrap_err();
        assert_eq!(
            errs.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![label::LOGIN]
        );
        let ok = NewAccountForm::parse(" ", "7", "a@b.test", "").unwrap();
        assert_eq!(ok.name.as_str(), "a@b.test");
        assert_eq!((ok.mail_server_id, ok.owner_id), (7, None));
    }

    #[test]
    fn expiry_is_said_in_words() {
        assert_eq!(expiry_text(Some(1000 + 42 * 60), 1000), "expires in 42 min");
        assert_eq!(expiry_text(Some(1000 - 180), 1000), "expired 3 min ago");
        assert_eq!(expiry_text(Some(1000 + 30), 1000), "expires in 30 s");
        assert_eq!(expiry_text(None, 1000), "—");
    }
}
