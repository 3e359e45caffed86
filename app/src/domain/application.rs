//! Integration applications: each owns a Redirect URI the admin registers at the provider.

use serde::{Deserialize, Serialize};

use super::text::bounded;

pub mod label {
    pub const NAME: &str = "Name";
    pub const ALLOWED_IPS: &str = "Allowed IP addresses";
}

/// An integration application's name, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName(String);

impl AppName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 50).map(AppName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An application as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub allowed_ips: String,
    /// Why the stored allowed-address list cannot be read: then every callback is refused.
    pub allowed_ips_problem: Option<String>,
    pub redirect_uri: String,
    /// Subjects of the mail servers using it.
    pub used_by: Vec<String>,
}
