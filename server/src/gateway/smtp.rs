//! The SMTP submission relay: a client signs in with the mailbox address and an app password,
//! after TLS; each message goes on to the mailbox's own SMTP server, signed in with its OAuth
//! token, command by command, and the upstream's replies come back as they are. Nothing is
//! queued: the final reply to DATA is the upstream's. Bad input gets the protocol's error
//! reply or a closed connection, and a message that went wrong half-way is abandoned upstream
//! by closing the connection before its final dot.

use std::net::SocketAddr;

use base64::Engine;
use tokio::net::TcpStream;

use app::ssr::service::app_passwords::{self, Gateway, Granted, Refused};
use app::ssr::{audit, db::audit::NewEntry, AppState};

use super::stream::{Line, Reader, Stream};
use super::upstream::{OpenError, Reply, Smtp};
use super::{token, Settings};

/// RFC 5321 4.5.3.1.4: a command line of 512 octets, CRLF included.
const COMMAND_MAX: usize = 512;
/// RFC 5321 4.5.3.1.6: a text line of 1000 octets, CRLF included.
const TEXT_MAX: usize = 1000;
/// The SASL response of AUTH PLAIN holds an address and a password.
const AUTH_LINE_MAX: usize = 2048;
/// Errors a client may make before it is disconnected.
const MAX_ERRORS: u32 = 10;
const MAX_RECIPIENTS: usize = 100;

struct Session<'a> {
    st: &'a AppState,
    set: &'a Settings,
    io: Reader,
    peer: SocketAddr,
    helo: bool,
    who: Option<Granted>,
    upstream: Option<Smtp>,
    /// In a transaction: the upstream accepted MAIL FROM.
    mail: bool,
    recipients: usize,
    errors: u32,
}

enum Next {
    Go,
    Close,
}

/// Serves one client connection until it quits, errs too often or goes quiet.
pub async fn serve(st: AppState, set: std::sync::Arc<Settings>, tcp: TcpStream, peer: SocketAddr) {
    let Some(stream) = super::client_stream(&set, tcp).await else {
        return;
    };
    let mut s = Session {
        st: &st,
        set: &set,
        io: Reader::new(stream),
        peer,
        helo: false,
        who: None,
        upstream: None,
        mail: false,
        recipients: 0,
        errors: 0,
    };
    let actor = audit::Actor::anonymous(Some(peer.ip().to_string()));
    audit::acting(actor, Box::pin(s.run())).await;
    if let Some(up) = s.upstream.take() {
        up.quit().await;
    }
}

impl Session<'_> {
    async fn say(&mut self, text: &str) -> bool {
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.io.send_within(&bytes, self.set.idle).await.is_ok()
    }

    async fn run(&mut self) {
        let greeting = format!("220 {} ESMTP Mailbridge relay ready", self.set.hostname);
        if !self.say(&greeting).await {
            return;
        }
        // Until signed in, the whole session has the idle time: a client sending a NOOP now
        // and then cannot keep a connection slot without a password.
        let sign_in_by = tokio::time::Instant::now() + self.set.idle;
        loop {
            let wait = if self.who.is_none() {
                sign_in_by.saturating_duration_since(tokio::time::Instant::now())
            } else {
                self.set.idle
            };
            let line = match tokio::time::timeout(wait, self.io.line(COMMAND_MAX)).await {
                Err(_) => {
                    self.say("421 4.4.2 Idle for too long, or not signed in in time; closing")
                        .await;
                    return;
                }
                Ok(Err(_)) | Ok(Ok(None)) => return,
                Ok(Ok(Some(l))) => l,
            };
            let next = match line {
                Line::TooLong => {
                    self.error("500 5.5.6 Line too long: a command is at most 512 octets")
                        .await
                }
                Line::BareLf(_) => self.error("500 5.5.2 Lines must end with CRLF").await,
                Line::Ok(bytes) if bytes.iter().any(|b| *b == b'\r' || *b == 0) => {
                    self.error("500 5.5.2 A bare CR or a NUL is not allowed in commands")
                        .await
                }
                Line::Ok(bytes) if !bytes.is_ascii() => {
                    self.error("500 5.5.2 8-bit characters are not allowed in commands")
                        .await
                }
                Line::Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    // Boxed: the command futures (down to the upstream's TLS) are large.
                    Box::pin(self.command(&text)).await
                }
            };
            if let Next::Close = next {
                return;
            }
        }
    }

    async fn error(&mut self, reply: &str) -> Next {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.say("421 4.7.0 Too many errors; closing").await;
            return Next::Close;
        }
        if self.say(reply).await {
            Next::Go
        } else {
            Next::Close
        }
    }

    async fn ok(&mut self, reply: &str) -> Next {
        if self.say(reply).await {
            Next::Go
        } else {
            Next::Close
        }
    }

    async fn command(&mut self, text: &str) -> Next {
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.trim().to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" => self.hello(&verb, arg).await,
            "STARTTLS" => self.starttls().await,
            "AUTH" => self.auth(arg).await,
            "MAIL" => self.mail_from(arg).await,
            "RCPT" => self.rcpt_to(arg).await,
            "DATA" => self.data().await,
            "RSET" => {
                self.reset().await;
                self.ok("250 2.0.0 Reset").await
            }
            "NOOP" => self.ok("250 2.0.0 OK").await,
            "QUIT" => {
                self.say("221 2.0.0 Bye").await;
                Next::Close
            }
            "VRFY" => {
                self.ok("252 2.5.0 Cannot VRFY; send the message and it will be tried")
                    .await
            }
            _ => self.error("502 5.5.1 Command not implemented").await,
        }
    }

    fn tls(&self) -> bool {
        self.io.stream.is_tls()
    }

    /// The largest message this connection may send: ours, or the upstream's when smaller.
    fn size_limit(&self) -> u64 {
        let up = self
            .upstream
            .as_ref()
            .and_then(|u| u.size)
            .unwrap_or(u64::MAX);
        self.set.max_bytes.min(up)
    }

    async fn hello(&mut self, verb: &str, arg: &str) -> Next {
        if arg.is_empty() {
            return self
                .error(&format!("501 5.5.4 {verb} needs the client's domain"))
                .await;
        }
        self.reset().await;
        self.helo = true;
        if verb == "HELO" {
            let reply = format!("250 {}", self.set.hostname);
            return self.ok(&reply).await;
        }
        let mut lines = vec![
            self.set.hostname.clone(),
            format!("SIZE {}", self.size_limit()),
            "8BITMIME".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.tls() {
            if self.who.is_none() {
                lines.push("AUTH PLAIN LOGIN".into());
            }
        } else {
            lines.push("STARTTLS".into());
        }
        let reply = Reply { code: 250, lines }.wire();
        if self.io.send_within(&reply, self.set.idle).await.is_ok() {
            Next::Go
        } else {
            Next::Close
        }
    }

    async fn starttls(&mut self) -> Next {
        if self.tls() {
            return self.error("503 5.5.1 TLS is already active").await;
        }
        if self.io.buffered() {
            // Commands sent behind STARTTLS would be read as if they came over TLS
            // (CVE-2011-0411): the client is not talking SMTP as agreed.
            self.say("554 5.5.0 Commands were sent after STARTTLS before TLS; closing")
                .await;
            return Next::Close;
        }
        if !self.say("220 2.0.0 Ready to start TLS").await {
            return Next::Close;
        }
        let Some(tcp) = self.io.take_plain() else {
            return Next::Close;
        };
        match tokio::time::timeout(self.set.idle, self.set.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.io = Reader::new(Stream::Accepted(Box::new(tls)));
                // RFC 3207: everything known before TLS is forgotten.
                self.helo = false;
                Next::Go
            }
            _ => Next::Close,
        }
    }

    /// Reads one SASL response line; `None` when the client cancelled or the line is bad.
    async fn sasl_line(&mut self, prompt: &str) -> Result<Option<Vec<u8>>, ()> {
        if !self.say(prompt).await {
            return Err(());
        }
        let line = match tokio::time::timeout(self.set.idle, self.io.line(AUTH_LINE_MAX)).await {
            Ok(Ok(Some(Line::Ok(l)))) => l,
            Ok(Ok(Some(_))) => return Ok(None),
            _ => return Err(()),
        };
        if line == b"*" {
            return Ok(None);
        }
        Ok(base64::engine::general_purpose::STANDARD.decode(&line).ok())
    }

    async fn auth(&mut self, arg: &str) -> Next {
        if !self.tls() {
            return self
                .error("530 5.7.0 Must issue a STARTTLS command first")
                .await;
        }
        if self.who.is_some() {
            return self.error("503 5.5.1 Already authenticated").await;
        }
        if !self.helo {
            return self.error("503 5.5.1 Send EHLO first").await;
        }
        if self.mail {
            return self.error("503 5.5.1 Not during a mail transaction").await;
        }
        let (mech, initial) = match arg.split_once(' ') {
            Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_string())),
            None => (arg.to_ascii_uppercase(), None),
        };
        let decode = |s: &str| {
            if s == "=" {
                Some(Vec::new())
            } else {
                base64::engine::general_purpose::STANDARD.decode(s).ok()
            }
        };
        let (user, password) = match mech.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(i) => decode(&i),
                    None => match self.sasl_line("334 ").await {
                        Ok(r) => r,
                        Err(()) => return Next::Close,
                    },
                };
                let Some(response) = response else {
                    return self
                        .error("501 5.5.2 Authentication cancelled or not base64")
                        .await;
                };
                let parts: Vec<&[u8]> = response.split(|b| *b == 0).collect();
                if parts.len() != 3 || (!parts[0].is_empty() && parts[0] != parts[1]) {
                    return self
                        .error("501 5.5.2 Expected PLAIN as \\0address\\0app password")
                        .await;
                }
                (
                    String::from_utf8_lossy(parts[1]).into_owned(),
                    String::from_utf8_lossy(parts[2]).into_owned(),
                )
            }
            "LOGIN" => {
                let user = match initial {
                    Some(i) => decode(&i),
                    None => match self.sasl_line("334 VXNlcm5hbWU6").await {
                        Ok(r) => r,
                        Err(()) => return Next::Close,
                    },
                };
                let Some(user) = user else {
                    return self
                        .error("501 5.5.2 Authentication cancelled or not base64")
                        .await;
                };
                let password = match self.sasl_line("334 UGFzc3dvcmQ6").await {
                    Ok(Some(p)) => p,
                    Ok(None) => {
                        return self
                            .error("501 5.5.2 Authentication cancelled or not base64")
                            .await
                    }
                    Err(()) => return Next::Close,
                };
                (
                    String::from_utf8_lossy(&user).into_owned(),
                    String::from_utf8_lossy(&password).into_owned(),
                )
            }
            _ => {
                return self
                    .error("504 5.5.4 Only PLAIN and LOGIN are offered")
                    .await
            }
        };
        match app_passwords::sign_in(self.st, &user, &password, self.peer.ip(), Gateway::Smtp).await {
            Ok(who) => {
                audit::as_app_password(who.password_id, &who.password_name);
                self.who = Some(who);
                self.ok("235 2.7.0 Authentication successful").await
            }
            Err(Refused::Wrong) => self.error("535 5.7.8 Authentication credentials invalid").await,
            Err(Refused::Locked { .. }) => {
                self.error("454 4.7.0 Too many failed logins from this address or for this mailbox; try again later").await
            }
            Err(Refused::Unusable(m)) => {
                let reply = format!("454 4.7.0 {m}");
                self.error(&reply).await
            }
            Err(e @ (Refused::Busy | Refused::Internal)) => {
                let reply = format!("454 4.7.0 Temporary authentication failure: {e}");
                self.error(&reply).await
            }
        }
    }

    /// Ends the transaction here and upstream.
    async fn reset(&mut self) {
        if self.mail {
            if let Some(up) = self.upstream.as_mut() {
                if up.command("RSET").await.is_err() {
                    self.upstream = None;
                }
            }
        }
        self.mail = false;
        self.recipients = 0;
    }

    /// Opens the upstream connection unless one is open.
    async fn ensure_upstream(&mut self) -> Result<(), Reply> {
        if self.upstream.is_some() {
            return Ok(());
        }
        let Some(who) = self.who.clone() else {
            return Err(Reply::new(530, "5.7.0 Authentication required"));
        };
        let (st, timeout) = (self.st, self.set.upstream_timeout);
        let client = self.peer.ip().to_string();
        let opened = Box::pin(token::with_token(st, &who, &client, "SMTP", |t| {
            let account = who.account.clone();
            async move { Box::pin(Smtp::open(st, &account, &t, timeout)).await }
        }))
        .await;
        match opened {
            Ok(up) => {
                self.upstream = Some(up);
                Ok(())
            }
            Err(e) => {
                let reply = match e {
                    OpenError::Down(m) => Reply::new(451, format!("4.4.1 The mailbox's mail server cannot be reached now: {m}")),
                    OpenError::Unusable(m) => Reply::new(454, format!("4.7.0 {m}")),
                    OpenError::Refused(r) => Reply::new(
                        454,
                        format!(
                            "4.7.0 The mail server refused the mailbox's token, also after a refresh: {} {}",
                            r.code,
                            r.text()
                        ),
                    ),
                };
                self.record_failure("the mail server could not be signed in to", &reply)
                    .await;
                Err(reply)
            }
        }
    }

    async fn send_reply(&mut self, reply: &Reply) -> Next {
        if self
            .io
            .send_within(&reply.wire(), self.set.idle)
            .await
            .is_ok()
        {
            Next::Go
        } else {
            Next::Close
        }
    }

    async fn mail_from(&mut self, arg: &str) -> Next {
        let Some(who) = self.who.clone() else {
            return self.error("530 5.7.0 Authentication required").await;
        };
        if self.mail {
            return self.error("503 5.5.1 Nested MAIL command").await;
        }
        let Some((path, params)) = path_arg(arg, "FROM:") else {
            return self.error("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        if !path.eq_ignore_ascii_case(&who.account.login) {
            let reply = format!(
                "550 5.7.1 The sender must be {}, the mailbox this app password belongs to",
                who.account.login
            );
            let shown: String = path.chars().take(100).collect();
            let r = Reply::new(550, &reply[4..]);
            self.record_failure(&format!("sender <{shown}> refused"), &r)
                .await;
            return self.error(&reply).await;
        }
        // A password revoked, or a mailbox that stopped being usable, since this session signed
        // in: the session ends here.
        if let Err(why) = app_passwords::still_valid(self.st, &who).await {
            let reply = format!("421 4.7.0 {why}; closing");
            self.record_failure("session ended", &Reply::new(421, &reply[4..]))
                .await;
            self.say(&reply).await;
            return Next::Close;
        }
        let mut pass = Vec::new();
        for p in params.split_whitespace() {
            let upper = p.to_ascii_uppercase();
            if let Some(n) = upper.strip_prefix("SIZE=") {
                let Ok(n) = n.parse::<u64>() else {
                    return self.error("501 5.5.4 SIZE must be a number").await;
                };
                if n > self.set.max_bytes {
                    let reply = format!(
                        "552 5.3.4 Message too big: at most {} octets",
                        self.set.max_bytes
                    );
                    return self.error(&reply).await;
                }
                pass.push(format!("SIZE={n}"));
            } else if upper == "BODY=8BITMIME" || upper == "BODY=7BIT" {
                pass.push(upper);
            } else if upper.starts_with("AUTH=") {
                // RFC 4954 5: who submitted it, which this session already knows; not passed on.
            } else {
                return self.error("555 5.5.4 Unsupported MAIL parameter").await;
            }
        }
        let line = format!("MAIL FROM:<{}> {}", who.account.login, pass.join(" "));
        let line = line.trim_end().to_string();
        // A connection kept from an earlier message may have been closed by the server since:
        // opened again once.
        for attempt in 0..2 {
            if let Err(reply) = self.ensure_upstream().await {
                return self.send_reply(&reply).await;
            }
            let Some(up) = self.upstream.as_mut() else {
                return Next::Close;
            };
            match up.command(&line).await {
                Ok(reply) => {
                    if reply.code == 421 {
                        self.upstream = None;
                        if attempt == 0 {
                            continue;
                        }
                    }
                    self.mail = reply.positive();
                    return self.send_reply(&reply).await;
                }
                Err(_) if attempt == 0 => self.upstream = None,
                Err(OpenError::Down(m)) | Err(OpenError::Unusable(m)) => {
                    self.upstream = None;
                    let reply = Reply::new(451, format!("4.4.1 The mailbox's mail server: {m}"));
                    return self.send_reply(&reply).await;
                }
                Err(OpenError::Refused(r)) => return self.send_reply(&r).await,
            }
        }
        Next::Close
    }

    async fn rcpt_to(&mut self, arg: &str) -> Next {
        if !self.mail {
            return self.error("503 5.5.1 Need MAIL before RCPT").await;
        }
        let Some((path, _params)) = path_arg(arg, "TO:") else {
            return self.error("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if path.is_empty() {
            return self
                .error("501 5.1.3 A recipient address is required")
                .await;
        }
        if self.recipients >= MAX_RECIPIENTS {
            return self.ok("452 4.5.3 Too many recipients").await;
        }
        let Some(up) = self.upstream.as_mut() else {
            return Next::Close;
        };
        match up.command(&format!("RCPT TO:<{path}>")).await {
            Ok(reply) => {
                if reply.positive() {
                    self.recipients += 1;
                } else {
                    let shown: String = path.chars().take(100).collect();
                    self.record_failure(&format!("recipient <{shown}> refused"), &reply)
                        .await;
                }
                self.send_reply(&reply).await
            }
            Err(_) => {
                self.upstream = None;
                self.mail = false;
                self.recipients = 0;
                self.ok("451 4.4.2 The mailbox's mail server went away; start again")
                    .await
            }
        }
    }

    async fn data(&mut self) -> Next {
        if !self.mail || self.recipients == 0 {
            return self.error("503 5.5.1 Need RCPT before DATA").await;
        }
        if self.io.buffered() {
            // PIPELINING is not offered: a message sent before our 354 is not SMTP.
            self.say(
                "554 5.5.0 Message sent before the 354 reply (PIPELINING is not offered); closing",
            )
            .await;
            self.upstream = None;
            return Next::Close;
        }
        let Some(up) = self.upstream.as_mut() else {
            return Next::Close;
        };
        match up.command("DATA").await {
            Ok(r) if r.code == 354 => {}
            Ok(r) => {
                self.mail = false;
                self.recipients = 0;
                self.record_message(&r, 0).await;
                return self.send_reply(&r).await;
            }
            Err(_) => {
                self.upstream = None;
                self.mail = false;
                self.recipients = 0;
                let r = Reply::new(
                    451,
                    "4.4.2 The mailbox's mail server went away; start again",
                );
                self.record_message(&r, 0).await;
                return self.send_reply(&r).await;
            }
        }
        if !self.say("354 End data with <CR><LF>.<CR><LF>").await {
            return Next::Close;
        }
        let limit = self.size_limit();
        let mut size: u64 = 0;
        let mut spoiled: Option<&'static str> = None;
        loop {
            let line = match tokio::time::timeout(self.set.idle, self.io.line(TEXT_MAX)).await {
                Ok(Ok(Some(l))) => l,
                // Stalled or gone mid-message: the upstream is closed without the final dot, so
                // it drops the half it has.
                _ => {
                    self.upstream = None;
                    let r = Reply::new(421, "4.4.2 Timeout during DATA; nothing was sent");
                    self.record_message(&r, size).await;
                    self.say("421 4.4.2 Timeout during DATA; closing").await;
                    return Next::Close;
                }
            };
            let bytes = match line {
                // A CR not before the LF is how `<CR><LF>.<CR>` smuggling starts on servers
                // that take it for the end of the data; a NUL has no place in a message.
                Line::Ok(b) if b.iter().any(|c| *c == b'\r' || *c == 0) => {
                    spoiled.get_or_insert(
                        "554 5.6.0 Message refused: a bare CR or a NUL in a line; nothing was sent",
                    );
                    continue;
                }
                Line::Ok(b) => b,
                Line::BareLf(_) => {
                    spoiled.get_or_insert("554 5.6.0 Message refused: a line ended with a bare LF (lines must end with CRLF); nothing was sent");
                    continue;
                }
                Line::TooLong => {
                    spoiled.get_or_insert("500 5.5.6 Message refused: a line is longer than 1000 octets; nothing was sent");
                    continue;
                }
            };
            if bytes == b"." {
                break;
            }
            size += bytes.len() as u64 + 2;
            if size > limit {
                spoiled.get_or_insert(
                    "552 5.3.4 Message too big for this mailbox's server; nothing was sent",
                );
            }
            if spoiled.is_some() {
                // Abandoned upstream at once; the rest is read only to find the end.
                self.upstream = None;
                continue;
            }
            let mut wire = bytes;
            wire.extend_from_slice(b"\r\n");
            let sent = match self.upstream.as_mut() {
                Some(up) => up.data(&wire).await.is_ok(),
                None => false,
            };
            if !sent {
                self.upstream = None;
                spoiled.get_or_insert("451 4.4.2 The mailbox's mail server went away during the message; nothing was sent");
            }
        }
        self.mail = false;
        self.recipients = 0;
        if let Some(reply) = spoiled {
            self.upstream = None;
            let r = Reply {
                code: reply[..3].parse().unwrap_or(554),
                lines: vec![reply[4..].to_string()],
            };
            self.record_message(&r, size).await;
            return self.error(reply).await;
        }
        let Some(up) = self.upstream.as_mut() else {
            return Next::Close;
        };
        let reply = match up.command(".").await {
            Ok(r) => r,
            Err(_) => {
                self.upstream = None;
                Reply::new(451, "4.4.2 The mailbox's mail server did not answer the end of the message; it may not have been sent")
            }
        };
        self.record_message(&reply, size).await;
        self.send_reply(&reply).await
    }

    async fn record_message(&mut self, reply: &Reply, size: u64) {
        let Some(who) = &self.who else { return };
        let outcome = if reply.positive() {
            "accepted"
        } else if reply.code < 500 {
            "temporary"
        } else {
            "permanent"
        };
        app::ssr::metrics::relay_message(outcome);
        let entry = NewEntry {
            kind: if reply.positive() {
                "smtp.message"
            } else {
                "smtp.message_failed"
            },
            account_id: Some(who.account.id),
            server_id: Some(who.account.mail_server_id),
            user_id: Some(who.account.owner_id),
            summary: format!(
                "{}: message of {size} octets {} — {} {}",
                who.account.login,
                if reply.positive() {
                    "relayed"
                } else {
                    "not relayed"
                },
                reply.code,
                app::ssr::provider_text(&reply.text(), 300)
            ),
        };
        tracing::info!(
            account_id = who.account.id,
            size,
            code = reply.code,
            "relay message"
        );
        audit::record_or_log(&self.st.pool, entry, self.st.clock.now()).await;
    }

    async fn record_failure(&mut self, what: &str, reply: &Reply) {
        let Some(who) = &self.who else { return };
        app::ssr::metrics::relay_message(if reply.code < 500 {
            "temporary"
        } else {
            "permanent"
        });
        let entry = NewEntry {
            kind: "smtp.message_failed",
            account_id: Some(who.account.id),
            server_id: Some(who.account.mail_server_id),
            user_id: Some(who.account.owner_id),
            summary: format!(
                "{}: {what} — {} {}",
                who.account.login,
                reply.code,
                app::ssr::provider_text(&reply.text(), 300)
            ),
        };
        tracing::warn!(
            account_id = who.account.id,
            code = reply.code,
            "relay upstream refused"
        );
        audit::record_or_log(&self.st.pool, entry, self.st.clock.now()).await;
    }
}

/// `FROM:<a@b> PARAMS` → (`a@b`, `PARAMS`); `None` when not of that form or the address holds
/// characters no address has.
fn path_arg<'a>(arg: &'a str, prefix: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let path = &rest[..end];
    if path.len() > 254 || path.chars().any(|c| c.is_control() || c == ' ' || c == '<') {
        return None;
    }
    Some((path.to_string(), rest[end + 1..].trim()))
}

#[cfg(test)]
mod tests {
    use super::path_arg;

    #[test]
    fn paths_parse() {
        assert_eq!(
            path_arg("FROM:<a@b.c> SIZE=10", "FROM:"),
            Some(("a@b.c".into(), "SIZE=10"))
        );
        assert_eq!(
            path_arg("from: <a@b.c>", "FROM:"),
            Some(("a@b.c".into(), ""))
        );
        assert_eq!(path_arg("TO:<>", "TO:"), Some(("".into(), "")));
        assert_eq!(path_arg("FROM:a@b.c", "FROM:"), None);
        assert_eq!(path_arg("TO:<a b@c>", "TO:"), None);
    }
}
