//! API keys: what a program presents to the REST API (`Authorization: Bearer <key>`), what it
//! may reach and do. Parsed the same way in the browser and on the server.

use serde::{Deserialize, Serialize};

use super::net::CidrList;
use super::text::bounded;

pub mod label {
    pub const NAME: &str = "Name";
    pub const SERVERS: &str = "Mail servers";
    pub const PERMISSIONS: &str = "Permissions";
    pub const ALLOWED_IPS: &str = "Allowed IP addresses";
    pub const EXPIRES: &str = "Expires on";
}

/// Every key starts with this, so that a leaked one is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "mbk_";

/// A key's name, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 50).map(ApiKeyName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// The last day a key works (it stops at the end of that day, UTC); must be after `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryDate {
    /// The first second after the day, Unix time: the key works while `now < ends_at`.
    pub ends_at: i64,
}

impl ExpiryDate {
    /// `YYYY-MM-DD`; empty is no expiry (`None`).
    pub fn parse(raw: &str, now: i64) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let day = time::Date::parse(
            raw,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| "must be a date such as 2027-06-30".to_string())?;
        let ends_at = day
            .next_day()
            .ok_or("must be a date such as 2027-06-30")?
            .midnight()
            .assume_utc()
            .unix_timestamp();
        if ends_at <= now {
            return Err("must be today or later".into());
        }
        Ok(Some(ExpiryDate { ends_at }))
    }
}

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
// An empty server list is sent as nothing at all.
#[serde(default)]
pub struct ApiKeyDraft {
    pub name: String,
    /// All mail servers, or only `server_ids`.
    pub all_servers: bool,
    pub server_ids: Vec<i64>,
    /// `tokens`: get access tokens.
    pub perm_tokens: bool,
    /// `accounts`: list and read accounts, create pending ones.
    pub perm_accounts: bool,
    pub allowed_ips: String,
    pub expires_on: String,
}

/// A draft that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySpec {
    pub name: ApiKeyName,
    /// `None`: every mail server.
    pub servers: Option<Vec<i64>>,
    pub perm_tokens: bool,
    pub perm_accounts: bool,
    pub allowed_ips: CidrList,
    pub expires: Option<ExpiryDate>,
}

impl ApiKeyDraft {
    /// Every field's problem, by label, or the parsed key.
    pub fn parse(&self, now: i64) -> Result<ApiKeySpec, Vec<(&'static str, String)>> {
        let name = ApiKeyName::parse(&self.name).map_err(|m| (label::NAME, m));
        let servers = if self.all_servers {
            Ok(None)
        } else if self.server_ids.is_empty() {
            Err((
                label::SERVERS,
                "choose at least one mail server, or all".to_string(),
            ))
        } else {
            let mut ids = self.server_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Ok(Some(ids))
        };
        let perms = if self.perm_tokens || self.perm_accounts {
            Ok(())
        } else {
            Err((
                label::PERMISSIONS,
                "choose at least one: tokens or accounts".to_string(),
            ))
        };
        let ips = CidrList::parse(&self.allowed_ips).map_err(|m| (label::ALLOWED_IPS, m));
        let expires = ExpiryDate::parse(&self.expires_on, now).map_err(|m| (label::EXPIRES, m));
        match (name, servers, perms, ips, expires) {
            (Ok(name), Ok(servers), Ok(()), Ok(allowed_ips), Ok(expires)) => Ok(ApiKeySpec {
                name,
                servers,
                perm_tokens: self.perm_tokens,
                perm_accounts: self.perm_accounts,
                allowed_ips,
                expires,
            }),
            (name, servers, perms, ips, expires) => Err([
                name.err(),
                servers.err(),
                perms.err(),
                ips.err(),
                expires.err(),
            ]
            .into_iter()
            .flatten()
            .collect()),
        }
    }
}

/// A key as the list shows it (never the key itself: only its prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    /// "all mail servers", or the chosen servers' subjects.
    pub scope: String,
    /// "tokens", "accounts" or "tokens, accounts".
    pub permissions: String,
    pub allowed_ips: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_addr: Option<String>,
    pub revoked: bool,
}

impl ApiKeyView {
    /// Works now: not revoked, not expired.
    pub fn active(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| now < e)
    }
}

/// How often an account's token was handed to programs: today's count and the latest one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoutSummary {
    pub today: i64,
    /// The key's name and the time.
    pub last: Option<(String, i64)>,
}

/// What "Create key" answers: the key in full, this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub id: i64,
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ApiKeyDraft {
        ApiKeyDraft {
            name: "Helpdesk".into(),
            all_servers: true,
            perm_tokens: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_draft_parses() {
        let spec = draft().parse(0).unwrap();
        assert_eq!(spec.name.as_str(), "Helpdesk");
        assert_eq!(spec.servers, None);
        assert!(spec.perm_tokens && !spec.perm_accounts);
        assert_eq!(spec.expires, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ApiKeyDraft {
            name: " ".into(),
            all_servers: false,
            server_ids: vec![],
            perm_tokens: false,
            perm_accounts: false,
            allowed_ips: "10.0.0.0/33".into(),
            expires_on: "30/06/2027".into(),
        };
        let labels: Vec<&str> = bad.parse(0).unwrap_err().iter().map(|(l, _)| *l).collect();
        assert_eq!(
            labels,
            vec![
                label::NAME,
                label::SERVERS,
                label::PERMISSIONS,
                label::ALLOWED_IPS,
                label::EXPIRES
            ]
        );
    }

    #[test]
    fn expiry_is_the_end_of_the_day_and_must_not_be_past() {
        // 2027-06-30T00:00:00Z = 1_814_313_600
        let d = ExpiryDate::parse("2027-06-30", 0).unwrap().unwrap();
        assert_eq!(d.ends_at, 1_814_313_600 + 86_400);
        assert!(ExpiryDate::parse("2027-06-30", d.ends_at).is_err());
        assert!(ExpiryDate::parse("2027-06-30", d.ends_at - 1).is_ok());
        assert!(ExpiryDate::parse("2027-02-30", 0).is_err());
    }

    #[test]
    fn chosen_servers_are_deduplicated() {
        let mut d = draft();
        d.all_servers = false;
        d.server_ids = vec![3, 1, 3];
        assert_eq!(d.parse(0).unwrap().servers, Some(vec![1, 3]));
    }
}
