//! Proving a mailbox's logins: IMAP (async-imap) and SMTP (lettre) with XOAUTH2 / OAUTHBEARER
//! or a password, each step timed and bounded, failures in the server's own words. By concern:
//! TLS trust, the checklist and its hints, SASL, the two protocols, and the account's test.

pub mod account_test;
pub mod checklist;
pub mod gate;
pub mod imap;
pub mod sasl;
pub mod smtp;
pub mod tls;

use std::time::Duration;

pub use account_test::{run_account_test, run_for};
pub use tls::ExtraCa;

use checklist::Checklist;

use crate::domain::{Encryption, Protocol, ProtocolResult};
use crate::ssr::outbound::NetPolicy;

pub enum Credential {
    Bearer(String),
    Password(String),
}

/// Which SASL mechanism to use with a token: XOAUTH2 when offered (the default), or OAUTHBEARER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Auto,
    OAuthBearer,
}

pub struct Target {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    pub validate_certificate: bool,
    pub login: String,
    pub mechanism: Mechanism,
}

/// Mail-test settings (`MAILBRIDGE_MAIL_TIMEOUT_SECS`, `MAILBRIDGE_CA_FILE`).
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    pub timeout_secs: u64,
    pub extra_ca: ExtraCa,
}

/// One protocol's login test against `target`: the same checklist, hints and outcome for both.
#[tracing::instrument(skip_all, fields(protocol = protocol.label(), host = %target.host, port = target.port))]
pub async fn test(
    protocol: Protocol,
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    policy: &NetPolicy,
    timeout: Duration,
) -> ProtocolResult {
    let mut list = Checklist::new(timeout);
    // A token is a full-mailbox key: it never travels in the clear or to a server whose
    // certificate was not checked, whatever the server row says (rows from before this rule).
    if let Credential::Bearer(_) = cred {
        let refusal = if target.encryption == Encryption::None {
            Some("not sent: an OAuth2 token is never sent without TLS (set the encryption to SSL/TLS or STARTTLS)")
        } else if !target.validate_certificate {
            Some("not sent: an OAuth2 token is never sent to a server whose certificate is not validated (turn \"Validate certificate\" on; MAILBRIDGE_CA_FILE for a private CA)")
        } else {
            None
        };
        if let Some(m) = refusal {
            let r = list.finish(protocol, Err(m.to_string()));
            tracing::warn!("mail login test refused: {m}");
            return r;
        }
    }
    let result = match protocol {
        Protocol::Imap => imap::login(target, cred, extra, policy, &mut list)
            .await
            .map(Some),
        Protocol::Smtp => smtp::login(target, cred, extra, policy, &mut list)
            .await
            .map(|()| None),
    };
    let mut r = list.finish(protocol, result);
    if r.auth_failed && matches!(cred, Credential::Password(_)) {
        r.hint = Some(
            "The mail server refused this login and password: check the Login, and add the mailbox again with the right password."
                .into(),
        );
    }
    tracing::info!(ok = r.ok, auth_failed = r.auth_failed, "mail login test");
    r
}
