//! The mailbox's own mail server, signed in to with the mailbox's OAuth token: an SMTP client
//! whose replies are passed back to our client as they are, and the IMAP login after which the
//! proxy only copies bytes. A token is sent only over TLS to a checked certificate, whatever
//! the server row says.

use std::time::Duration;

use base64::Engine;

use app::domain::{Encryption, MailAccountView};
use app::ssr::db::mail_servers::MailServerRow;
use app::ssr::mail::sasl::{oauthbearer, xoauth2};
use app::ssr::mail::tls::{tcp, tls, tls_connector};
use app::ssr::{db, provider_text, AppState};

use super::stream::{Line, Reader, Stream};

/// Why the upstream could not be signed in to.
#[derive(Debug)]
pub enum OpenError {
    /// Not reachable, TLS failed, or it spoke nonsense: try again later.
    Down(String),
    /// It refused the token: its reply (code and text for SMTP, text for IMAP).
    Refused(Reply),
    /// No token can be had, or the server row forbids sending it: the message names why.
    Unusable(String),
}

/// An SMTP reply: its code and its text lines (an IMAP refusal uses `text` only).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }
    pub fn positive(&self) -> bool {
        self.code < 400
    }
    /// The reply as our client gets it, each line cleaned of control characters.
    pub fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            out.extend_from_slice(
                format!("{}{sep}{}\r\n", self.code, provider_text(text, 500)).as_bytes(),
            );
        }
        out
    }
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// The server's host, port and TLS for `protocol`, refusing any that would expose a token.
async fn destination(
    st: &AppState,
    account: &MailAccountView,
    imap: bool,
) -> Result<(MailServerRow, String, u16, Encryption), OpenError> {
    let server = db::mail_servers::get(&st.pool, account.mail_server_id)
        .await
        .map_err(|e| OpenError::Down(format!("database: {e}")))?
        .ok_or_else(|| OpenError::Unusable("the mailbox's mail server was deleted".into()))?;
    let (host, port, enc) = if imap {
        (
            server.imap_host.clone(),
            server.imap_port,
            server.imap_encryption,
        )
    } else {
        (
            server.smtp_host.clone(),
            server.smtp_port,
            server.smtp_encryption,
        )
    };
    if enc == Encryption::None || !server.validate_certificate {
        return Err(OpenError::Unusable(
            "the mail server is set up without TLS or without certificate validation, and an OAuth token is never sent there".into(),
        ));
    }
    Ok((server, host, port as u16, enc))
}

async fn within<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, OpenError> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r.map_err(OpenError::Down),
        Err(_) => Err(OpenError::Down(format!(
            "{what}: no answer within {timeout:?}"
        ))),
    }
}

async fn connect(
    st: &AppState,
    host: &str,
    port: u16,
    validate: bool,
    timeout: Duration,
) -> Result<(tokio::net::TcpStream, tokio_rustls::TlsConnector), OpenError> {
    let connector = tls_connector(validate, &st.mail.extra_ca).map_err(OpenError::Down)?;
    let (tcp, _) = within(timeout, "connect", tcp(&st.outbound.policy, host, port)).await?;
    Ok((tcp, connector))
}

async fn secure(
    connector: &tokio_rustls::TlsConnector,
    host: &str,
    tcp: tokio::net::TcpStream,
    timeout: Duration,
) -> Result<Stream, OpenError> {
    let (s, _) = within(timeout, "TLS", tls(connector, host, tcp)).await?;
    Ok(Stream::Connected(Box::new(s)))
}

/// An SMTP connection to the mailbox's server, signed in.
pub struct Smtp {
    r: Reader,
    /// The server's SIZE limit, when it announced one.
    pub size: Option<u64>,
    timeout: Duration,
    /// Message bytes not written yet: written in large pieces, since each write to a TLS
    /// stream is a record of its own.
    pending: Vec<u8>,
}

/// Message bytes gathered before a write.
const WRITE_CHUNK: usize = 32 * 1024;

impl Smtp {
    pub async fn open(
        st: &AppState,
        account: &MailAccountView,
        token: &str,
        timeout: Duration,
    ) -> Result<Smtp, OpenError> {
        let (server, host, port, enc) = destination(st, account, false).await?;
        let (tcp, connector) =
            connect(st, &host, port, server.validate_certificate, timeout).await?;
        let mut up = if enc == Encryption::SslTls {
            Smtp {
                r: Reader::new(secure(&connector, &host, tcp, timeout).await?),
                size: None,
                timeout,
                pending: Vec::new(),
            }
        } else {
            let mut plain = Smtp {
                r: Reader::new(Stream::Plain(tcp)),
                size: None,
                timeout,
                pending: Vec::new(),
            };
            plain.expect_ok("greeting", None).await?;
            plain
                .expect_ok("EHLO", Some("EHLO mailbridge.localhost"))
                .await?;
            plain.expect_ok("STARTTLS", Some("STARTTLS")).await?;
            let Stream::Plain(tcp) = plain.r.into_parts().0 else {
                return Err(OpenError::Down("STARTTLS on a TLS stream".into()));
            };
            Smtp {
                r: Reader::new(secure(&connector, &host, tcp, timeout).await?),
                size: None,
                timeout,
                pending: Vec::new(),
            }
        };
        if enc == Encryption::SslTls {
            up.expect_ok("greeting", None).await?;
        }
        let ehlo = up
            .expect_ok("EHLO", Some("EHLO mailbridge.localhost"))
            .await?;
        let mut mechs = String::new();
        for l in &ehlo.lines {
            let upper = l.to_ascii_uppercase();
            if let Some(n) = upper.strip_prefix("SIZE") {
                up.size = n.trim().parse().ok().filter(|n| *n > 0);
            }
            if let Some(m) = upper.strip_prefix("AUTH") {
                mechs.push_str(m);
            }
        }
        let (mech, payload) = if mechs.contains("XOAUTH2") || !mechs.contains("OAUTHBEARER") {
            ("XOAUTH2", b64(&xoauth2(&account.login, token)))
        } else {
            (
                "OAUTHBEARER",
                b64(&oauthbearer(&account.login, &host, port, token)),
            )
        };
        // The bare AUTH line first: a long token would exceed some servers' line limit.
        let first = up.command(&format!("AUTH {mech}")).await?;
        if first.code != 334 {
            // Not a verdict on the token (the mechanism is not offered, TLS is required …):
            // no forced refresh would help.
            return Err(OpenError::Down(format!(
                "AUTH {mech}: {} {}",
                first.code,
                provider_text(&first.text(), 300)
            )));
        }
        let answer = up.command(&payload).await?;
        if answer.code == 334 {
            // An error challenge (JSON): answer it to get the final refusal, then report both.
            let said = answer
                .lines
                .first()
                .and_then(|l| {
                    base64::engine::general_purpose::STANDARD
                        .decode(l.trim())
                        .ok()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let end = if mech == "OAUTHBEARER" { "AQ==" } else { "" };
            let mut fin = up.command(end).await?;
            if !said.is_empty() {
                fin.lines.push(provider_text(&said, 300));
            }
            return Err(OpenError::Refused(fin));
        }
        if answer.code != 235 {
            return Err(OpenError::Refused(answer));
        }
        Ok(up)
    }

    async fn expect_ok(&mut self, what: &str, line: Option<&str>) -> Result<Reply, OpenError> {
        let reply = match line {
            Some(l) => self.command(l).await?,
            None => self.reply().await?,
        };
        if !reply.positive() {
            return Err(OpenError::Down(format!(
                "{what}: {} {}",
                reply.code,
                provider_text(&reply.text(), 300)
            )));
        }
        Ok(reply)
    }

    /// Sends one command line (after any message bytes still pending) and reads its reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply, OpenError> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        within(self.timeout, "the mail server", async {
            self.r
                .send(&bytes)
                .await
                .map_err(|e| format!("the mail server: {e}"))
        })
        .await?;
        self.reply().await
    }

    /// Sends bytes of a message as they are (already dot-stuffed by our client); the last
    /// piece goes with the final dot.
    pub async fn data(&mut self, bytes: &[u8]) -> Result<(), OpenError> {
        use tokio::io::AsyncWriteExt;
        self.pending.extend_from_slice(bytes);
        if self.pending.len() < WRITE_CHUNK {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        within(self.timeout, "the mail server", async {
            self.r
                .stream
                .write_all(&chunk)
                .await
                .map_err(|e| format!("the mail server: {e}"))
        })
        .await
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn reply(&mut self) -> Result<Reply, OpenError> {
        let timeout = self.timeout;
        within(timeout, "the mail server", async {
            let mut lines = Vec::new();
            loop {
                let line = match self.r.line(2048).await {
                    Ok(Some(Line::Ok(l))) | Ok(Some(Line::BareLf(l))) => l,
                    Ok(Some(Line::TooLong)) => {
                        return Err("the mail server sent an over-long reply".into())
                    }
                    Ok(None) => return Err("the mail server closed the connection".into()),
                    Err(e) => return Err(format!("the mail server: {e}")),
                };
                let text = String::from_utf8_lossy(&line);
                let code = text
                    .get(..3)
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|c| (200..600).contains(c))
                    .ok_or_else(|| {
                        format!(
                            "the mail server sent a malformed reply: {}",
                            provider_text(&text, 100)
                        )
                    })?;
                let more = text.as_bytes().get(3) == Some(&b'-');
                lines.push(text.get(4..).unwrap_or("").to_string());
                if !more {
                    return Ok(Reply { code, lines });
                }
                if lines.len() > 100 {
                    return Err("the mail server sent a reply of over 100 lines".into());
                }
            }
        })
        .await
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.command("QUIT")).await;
    }
}

/// An IMAP connection to the mailbox's server, signed in: the stream (with the bytes read
/// ahead) and the text of its tagged OK.
pub struct Imap {
    pub reader: Reader,
    pub ok_text: String,
}

async fn imap_line(r: &mut Reader, timeout: Duration) -> Result<Vec<u8>, OpenError> {
    within(timeout, "the mail server", async {
        match r.line(64 * 1024).await {
            Ok(Some(Line::Ok(l))) | Ok(Some(Line::BareLf(l))) => Ok(l),
            Ok(Some(Line::TooLong)) => Err("the mail server sent an over-long line".into()),
            Ok(None) => Err("the mail server closed the connection".into()),
            Err(e) => Err(format!("the mail server: {e}")),
        }
    })
    .await
}

/// Sends `cmd` tagged `tag`; the untagged lines and the tagged answer's status and text.
async fn imap_command(
    r: &mut Reader,
    tag: &str,
    cmd: &str,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, String, String), OpenError> {
    within(timeout, "the mail server", async {
        r.send(format!("{tag} {cmd}\r\n").as_bytes())
            .await
            .map_err(|e| format!("the mail server: {e}"))
    })
    .await?;
    tagged(r, tag, timeout).await
}

async fn tagged(
    r: &mut Reader,
    tag: &str,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, String, String), OpenError> {
    let mut untagged = Vec::new();
    loop {
        let line = imap_line(r, timeout).await?;
        let text = String::from_utf8_lossy(&line).into_owned();
        if let Some(rest) = text.strip_prefix(&format!("{tag} ")) {
            let (status, said) = rest.split_once(' ').unwrap_or((rest, ""));
            return Ok((untagged, status.to_ascii_uppercase(), said.to_string()));
        }
        if untagged.len() > 1000 {
            return Err(OpenError::Down(
                "the mail server sent too many lines".into(),
            ));
        }
        untagged.push(line);
    }
}

impl Imap {
    pub async fn open(
        st: &AppState,
        account: &MailAccountView,
        token: &str,
        timeout: Duration,
    ) -> Result<Imap, OpenError> {
        let (server, host, port, enc) = destination(st, account, true).await?;
        let (tcp, connector) =
            connect(st, &host, port, server.validate_certificate, timeout).await?;
        let mut r = if enc == Encryption::SslTls {
            Reader::new(secure(&connector, &host, tcp, timeout).await?)
        } else {
            let mut plain = Reader::new(Stream::Plain(tcp));
            greeting(&mut plain, timeout).await?;
            let (_, status, said) = imap_command(&mut plain, "m0", "STARTTLS", timeout).await?;
            if status != "OK" {
                return Err(OpenError::Down(format!(
                    "STARTTLS refused: {}",
                    provider_text(&said, 300)
                )));
            }
            let Stream::Plain(tcp) = plain.into_parts().0 else {
                return Err(OpenError::Down("STARTTLS on a TLS stream".into()));
            };
            Reader::new(secure(&connector, &host, tcp, timeout).await?)
        };
        if enc == Encryption::SslTls {
            greeting(&mut r, timeout).await?;
        }
        let (caps, _, _) = imap_command(&mut r, "m1", "CAPABILITY", timeout).await?;
        let caps = caps
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ");
        let (mech, payload) = if caps.contains("AUTH=XOAUTH2") || !caps.contains("AUTH=OAUTHBEARER")
        {
            ("XOAUTH2", b64(&xoauth2(&account.login, token)))
        } else {
            (
                "OAUTHBEARER",
                b64(&oauthbearer(&account.login, &host, port, token)),
            )
        };
        within(timeout, "the mail server", async {
            r.send(format!("m2 AUTHENTICATE {mech}\r\n").as_bytes())
                .await
                .map_err(|e| format!("the mail server: {e}"))
        })
        .await?;
        let mut challenge = None;
        let mut sent = false;
        loop {
            let line = imap_line(&mut r, timeout).await?;
            if line.starts_with(b"+") {
                let answer = if !sent {
                    sent = true;
                    payload.clone()
                } else {
                    // An error challenge: answer it so the server sends its NO.
                    let raw = String::from_utf8_lossy(&line[1..]).trim().to_string();
                    challenge = base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .ok()
                        .map(|b| String::from_utf8_lossy(&b).into_owned());
                    if mech == "OAUTHBEARER" {
                        "AQ==".into()
                    } else {
                        String::new()
                    }
                };
                within(timeout, "the mail server", async {
                    r.send(format!("{answer}\r\n").as_bytes())
                        .await
                        .map_err(|e| format!("the mail server: {e}"))
                })
                .await?;
                continue;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            if let Some(rest) = text.strip_prefix("m2 ") {
                let (status, said) = rest.split_once(' ').unwrap_or((rest, ""));
                if status.eq_ignore_ascii_case("OK") {
                    return Ok(Imap {
                        reader: r,
                        ok_text: said.to_string(),
                    });
                }
                if !sent {
                    // Refused before the token was even sent: the mechanism, not the token.
                    return Err(OpenError::Down(format!(
                        "AUTHENTICATE {mech}: {}",
                        provider_text(said, 300)
                    )));
                }
                let mut lines = vec![said.to_string()];
                if let Some(c) = challenge {
                    lines.push(provider_text(&c, 300));
                }
                return Err(OpenError::Refused(Reply { code: 535, lines }));
            }
            // Untagged lines before the answer are of no use to a client not yet signed in.
        }
    }
}

async fn greeting(r: &mut Reader, timeout: Duration) -> Result<(), OpenError> {
    let line = imap_line(r, timeout).await?;
    if !line.starts_with(b"* OK") {
        return Err(OpenError::Down(format!(
            "unexpected greeting: {}",
            provider_text(&String::from_utf8_lossy(&line), 200)
        )));
    }
    Ok(())
}
