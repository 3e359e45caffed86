//! Fields of a user account.

use serde::{Deserialize, Serialize};

use super::text::bounded;

/// An e-mail address: trimmed, at most 254 characters, `local@domain` with a dotted domain.
/// Case is kept for display; [`Email::key`] is the lower-cased form used for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub const LABEL: &'static str = "Email";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        if value.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let invalid = || "must be an e-mail address such as name@example.com".to_string();
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(invalid());
        }
        if !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        {
            return Err(invalid());
        }
        Ok(Email(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A person's display name: 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const LABEL: &'static str = "Name";

    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 12 to 1024 characters (the upper bound keeps hashing cheap for hostile
/// input). Leading and trailing spaces are kept: they are part of what the person typed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub const LABEL: &'static str = "Password";
    pub const MIN: usize = 12;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n == 0 {
            return Err("is required".into());
        }
        if n < Self::MIN {
            return Err(format!("must be at least {} characters", Self::MIN));
        }
        if n > 1024 {
            return Err("must be at most 1024 characters".into());
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub const LABEL: &'static str = "Role";

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            _ => Err("must be admin or user".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";
pub const LAST_ADMIN: &str = "cannot demote or deactivate the last active admin";

/// The "New user" form, parsed: every bad field reported at once.
pub struct NewUserForm {
    pub email: Email,
    pub name: DisplayName,
    pub role: Role,
    pub password: Password,
}

impl NewUserForm {
    pub fn parse(
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = vec![];
        let email = Email::parse(email).map_err(|m| errors.push((Email::LABEL, m)));
        let name = DisplayName::parse(name).map_err(|m| errors.push((DisplayName::LABEL, m)));
        let role = Role::parse(role).map_err(|m| errors.push((Role::LABEL, m)));
        let password = Password::parse(password).map_err(|m| errors.push((Password::LABEL, m)));
        match (email, name, role, password) {
            (Ok(email), Ok(name), Ok(role), Ok(password)) => Ok(NewUserForm {
                email,
                name,
                role,
                password,
            }),
            _ => Err(errors),
        }
    }
}

/// A user as the Users pages show it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::ssr::db::Flag"))]
    pub active: bool,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
}

/// The signed-in user as pages and services see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl SessionUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Alice@Example.test ").unwrap().key(),
            "alice@example.test"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@b.c",
            "a@.c",
            "a@b..c",
            "a b@c.d",
            "a@-b.c",
            "<script>@x.y",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(
            Password::parse("short").unwrap_err(),
            "must be at least 12 characters"
        );
        assert!(Password::parse("twelve chars").is_ok());
        assert!(!format!("{:?}", Password::parse("a very secret pw").unwrap()).contains("secret"));
    }

    proptest! {
        #[test]
        fn email_never_panics_and_round_trips(s in ".{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
                prop_assert!(!e.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn email_accepts_generated_addresses(local in "[a-z0-9]{1,20}", dom in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let raw = format!("{local}@{dom}");
            let parsed = Email::parse(&raw).unwrap();
            prop_assert_eq!(parsed.as_str(), raw.as_str());
        }

        #[test]
        fn names_and_passwords_never_panic(s in "\\PC{0,200}") {
            let _ = DisplayName::parse(&s);
            let _ = Password::parse(&s);
            let _ = Role::parse(&s);
        }
    }
}
