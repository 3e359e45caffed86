//! App passwords: what a program that only knows a username and password (a scanner, an old
//! CRM) types to send through the SMTP relay or read through the IMAP proxy, in place of the
//! mailbox's OAuth grant. Parsed the same way in the browser and on the server.

use serde::{Deserialize, Serialize};

use super::text::bounded;

pub mod label {
    pub const NAME: &str = "Name";
}

/// The characters of a generated password: Crockford's base32 alphabet in lower case (no i, l,
/// o, u), so that it can be read off a screen and typed into a printer's panel.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Groups of [`GROUP_LEN`] characters: 8 × 4 × 5 bits = 160 random bits.
pub const GROUPS: usize = 8;
pub const GROUP_LEN: usize = 4;

/// A password's name ("Office scanner"), unique among the mailbox's live passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordName(String);

impl AppPasswordName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 60).map(AppPasswordName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A password as a client typed it: case, spaces and dashes do not matter (a panel may not
/// offer upper case, a person may type it in groups). `None` when it cannot be one of ours.
pub fn normalize(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == GROUPS * GROUP_LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The first group: stored in the clear to find the row without trying every hash (the other
/// 140 bits stay secret).
pub fn hint(normalized: &str) -> &str {
    &normalized[..GROUP_LEN]
}

/// Groups `raw` (normalized) as shown: `abcd-efgh-…`.
pub fn grouped(raw: &str) -> String {
    raw.as_bytes()
        .chunks(GROUP_LEN)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// An app password as listed (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AppPasswordView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_addr: Option<String>,
    /// `SMTP` or `IMAP`.
    pub last_used_protocol: Option<String>,
    pub revoked_at: Option<i64>,
}

/// The answer to "New app password": the password in full, the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAppPassword {
    pub id: i64,
    pub name: String,
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_variants_normalize_to_one_password() {
        let p = "abcd-efgh-jkmn-pqrs-tvwx-yz01-2345-6789";
        let n = normalize(p).unwrap();
        assert_eq!(n, "abcdefghjkmnpqrstvwxyz0123456789");
        assert_eq!(normalize(&p.to_uppercase()).as_deref(), Some(n.as_str()));
        assert_eq!(normalize(&p.replace('-', " ")).as_deref(), Some(n.as_str()));
        assert_eq!(grouped(&n), p);
        assert_eq!(hint(&n), "abcd");
    }

    #[test]
    fn anything_else_is_not_an_app_password() {
        for bad in [
            "",
            "short",
            "abcd-efgh-jkmn-pqrs-tvwx-yz01-2345-678i",
            "abcd-efgh-jkmn-pqrs-tvwx-yz01-2345-6789-0000",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_bounded() {
        assert!(AppPasswordName::parse(" ").is_err());
        assert!(AppPasswordName::parse(&"x".repeat(61)).is_err());
        assert_eq!(
            AppPasswordName::parse(" Office scanner ").unwrap().as_str(),
            "Office scanner"
        );
    }
}
