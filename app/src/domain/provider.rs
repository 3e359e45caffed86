//! Authorisation methods and OAuth providers, with the IMAP/SMTP settings each provider
//! documents.

use serde::{Deserialize, Serialize};

use super::net::Encryption;

/// How a mail server's mailboxes sign in. Stored as `password` / `oauth2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Password,
    OAuth2,
}

impl AuthMethod {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "password" | "Password" => Ok(AuthMethod::Password),
            "oauth2" | "OAuth2" => Ok(AuthMethod::OAuth2),
            _ => Err("must be Password or OAuth2".into()),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::OAuth2 => "oauth2",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AuthMethod::Password => "Password",
            AuthMethod::OAuth2 => "OAuth2",
        }
    }
}

/// Who issues a mail server's tokens. Stored as `google` / `microsoft` / `generic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Google,
    Microsoft,
    Generic,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Google,
        ProviderKind::Microsoft,
        ProviderKind::Generic,
    ];

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "google" | "Google" => Ok(ProviderKind::Google),
            "microsoft" | "Microsoft 365" => Ok(ProviderKind::Microsoft),
            "generic" | "Generic OAuth2" => Ok(ProviderKind::Generic),
            "" => Err("is required".into()),
            _ => Err("must be Google, Microsoft 365 or Generic OAuth2".into()),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Generic => "generic",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Google => "Google",
            ProviderKind::Microsoft => "Microsoft 365",
            ProviderKind::Generic => "Generic OAuth2",
        }
    }

    /// IMAP and SMTP settings the provider documents, filled into untouched fields.
    pub fn preset(self) -> Option<MailPreset> {
        match self {
            ProviderKind::Google => Some(MailPreset {
                imap_host: "imap.gmail.com",
                imap_port: 993,
                imap_encryption: Encryption::SslTls,
                smtp_host: "smtp.gmail.com",
                smtp_port: 465,
                smtp_encryption: Encryption::SslTls,
            }),
            ProviderKind::Microsoft => Some(MailPreset {
                imap_host: "outlook.office365.com",
                imap_port: 993,
                imap_encryption: Encryption::SslTls,
                smtp_host: "smtp.office365.com",
                smtp_port: 587,
                smtp_encryption: Encryption::StartTls,
            }),
            ProviderKind::Generic => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailPreset {
    pub imap_host: &'static str,
    pub imap_port: u16,
    pub imap_encryption: Encryption,
    pub smtp_host: &'static str,
    pub smtp_port: u16,
    pub smtp_encryption: Encryption,
}
