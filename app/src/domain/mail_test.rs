//! The answer of "Run test": a checklist per protocol, as the page and the CLI show it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    Imap,
    Smtp,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Imap, Protocol::Smtp];

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Smtp => "SMTP",
        }
    }
}

/// One line of the checklist: connect, TLS, authenticate, select / EHLO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestStep {
    pub name: String,
    pub ok: bool,
    pub millis: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolResult {
    pub protocol: String,
    pub ok: bool,
    pub steps: Vec<TestStep>,
    /// The outcome in a sentence; on failure the server's own words.
    pub message: String,
    /// What usually causes this failure.
    pub hint: Option<String>,
    pub inbox_count: Option<u32>,
    /// Authentication (not the connection) failed: a fresh token may help.
    pub auth_failed: bool,
}
