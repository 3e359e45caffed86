//! SASL for XOAUTH2 (Google's) and OAUTHBEARER (RFC 7628): the initial responses, and the
//! server's error challenge kept to show.

use crate::ssr::provider_text;

/// The SASL initial responses (RFC 7628 for OAUTHBEARER; Google's XOAUTH2).
pub fn xoauth2(login: &str, token: &str) -> String {
    format!("user={login}\x01auth=Bearer {token}\x01\x01")
}
pub fn oauthbearer(login: &str, host: &str, port: u16, token: &str) -> String {
    format!("n,a={login},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

/// Answers the server's challenges; keeps the failure challenge (base64-decoded JSON) to show.
pub struct Sasl {
    pub first: Option<Vec<u8>>,
    pub challenge: Option<String>,
    pub oauthbearer: bool,
}

impl async_imap::Authenticator for &mut Sasl {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        if let Some(first) = self.first.take() {
            return first;
        }
        // A second challenge carries the error; answer it so the server sends its NO.
        self.challenge = Some(String::from_utf8_lossy(challenge).into_owned());
        if self.oauthbearer {
            vec![1]
        } else {
            vec![]
        }
    }
}

/// The login failure with the server's challenge (base64-decoded JSON), if it sent one.
pub fn refused(text: &str, challenge: &Option<String>) -> String {
    let said = challenge
        .as_ref()
        .map(|c| format!(" — server said: {c}"))
        .unwrap_or_default();
    format!(
        "the server refused the token: {}{said}",
        provider_text(text, 500)
    )
}
