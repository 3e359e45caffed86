//! The IMAP proxy: before login it answers CAPABILITY, STARTTLS, ID, NOOP, LOGOUT, LOGIN and
//! AUTHENTICATE PLAIN itself; a right app password opens the mailbox's own IMAP server with its
//! OAuth token, and from then on bytes flow both ways unchanged until either side closes.

use std::net::SocketAddr;

use base64::Engine;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use app::ssr::service::app_passwords::{self, Gateway, Granted, Refused};
use app::ssr::{audit, db::audit::NewEntry, provider_text, AppState};

use super::stream::{Line, Reader, Stream};
use super::upstream::{Imap, OpenError};
use super::{token, Settings};

/// A command line before login (RFC 7162 3.2.1.5 advises servers to take 8192 octets).
const LINE_MAX: usize = 8192;
/// A literal before login holds a user name or a password.
const LITERAL_MAX: usize = 1024;
/// A whole command before login, its literals included, and its arguments.
const COMMAND_MAX: usize = 16 * 1024;
const MAX_ARGS: usize = 64;
const MAX_ERRORS: u32 = 10;
/// Each direction's buffer once signed in.
const COPY_BUF: usize = 16 * 1024;

enum Next {
    Go,
    Close,
    /// Signed in upstream: copy bytes from now on.
    Proxy(Box<Imap>, Box<Granted>),
}

struct Session<'a> {
    st: &'a AppState,
    set: &'a Settings,
    io: Reader,
    peer: SocketAddr,
    errors: u32,
    /// Until signed in, the whole session has the idle time: a client sending a NOOP now and
    /// then cannot keep a connection slot without a password.
    sign_in_by: tokio::time::Instant,
}

pub async fn serve(st: AppState, set: std::sync::Arc<Settings>, tcp: TcpStream, peer: SocketAddr) {
    let Some(stream) = super::client_stream(&set, tcp).await else {
        return;
    };
    let mut s = Session {
        st: &st,
        set: &set,
        io: Reader::new(stream),
        peer,
        errors: 0,
        sign_in_by: tokio::time::Instant::now() + set.idle,
    };
    let actor = audit::Actor::anonymous(Some(peer.ip().to_string()));
    let Some((upstream, who)) = audit::acting(actor, Box::pin(s.run())).await else {
        return;
    };
    let (mut client, client_ahead) = s.io.into_parts();
    let Imap { reader, .. } = *upstream;
    let (mut server, server_ahead) = reader.into_parts();
    // Commands the client pipelined behind its LOGIN go on first, as do lines the server sent
    // behind its OK.
    if !client_ahead.is_empty() && server.write_all(&client_ahead).await.is_err() {
        return;
    }
    if !server_ahead.is_empty() && client.write_all(&server_ahead).await.is_err() {
        return;
    }
    // One TLS record's worth (16 KB) rather than the default 8 KB: a FETCH of many messages is
    // the bulk of what flows, and every idle connection keeps both buffers.
    let copy =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, COPY_BUF, COPY_BUF);
    // A password revoked, or a mailbox that stopped being usable (its owner must authorise it
    // again, its server was deactivated), ends the session within `recheck`: the upstream
    // would otherwise keep a session signed in with a token long after.
    let watch = async {
        loop {
            tokio::time::sleep(set.recheck).await;
            if let Err(why) = app_passwords::still_valid(&st, &who).await {
                return why;
            }
        }
    };
    tokio::select! {
        _ = copy => {}
        why = watch => {
            tracing::info!(account_id = who.account.id, why = %why, "IMAP proxy session ended");
            let entry = NewEntry {
                kind: "app_password.login_failed",
                account_id: Some(who.account.id),
                server_id: Some(who.account.mail_server_id),
                user_id: Some(who.account.owner_id),
                summary: format!("{}: IMAP proxy session ended — {why}", who.account.login),
            };
            let actor = audit::Actor::app_password(who.password_id, &who.password_name, peer.ip().to_string());
            audit::acting(actor, audit::record_or_log(&st.pool, entry, st.clock.now())).await;
            let _ = tokio::time::timeout(
                set.idle,
                client.write_all(format!("* BYE {why}\r\n").as_bytes()),
            )
            .await;
        }
    }
}

/// A command as parsed: its tag, its name in upper case, and its arguments (atoms, quoted
/// strings and literals, unquoted).
struct Command {
    tag: String,
    name: String,
    args: Vec<Vec<u8>>,
}

/// Splits `line` into arguments; a trailing `{n}` / `{n+}` is returned as the literal's size
/// and whether the client waits for our go-ahead.
fn parse(line: &[u8], args: &mut Vec<Vec<u8>>) -> Result<Option<(usize, bool)>, &'static str> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err("unterminated quoted string"),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let c = *line.get(i + 1).ok_or("unterminated quoted string")?;
                            s.push(c);
                            i += 2;
                        }
                        Some(c) => {
                            s.push(*c);
                            i += 1;
                        }
                    }
                }
                args.push(s);
            }
            b'{' => {
                let end = line[i..]
                    .iter()
                    .position(|b| *b == b'}')
                    .ok_or("bad literal")?
                    + i;
                if end + 1 != line.len() {
                    return Err("a literal must end the line");
                }
                let spec = std::str::from_utf8(&line[i + 1..end]).map_err(|_| "bad literal")?;
                let (n, sync) = match spec.strip_suffix('+') {
                    Some(n) => (n, false),
                    None => (spec, true),
                };
                let n = n.parse::<usize>().map_err(|_| "bad literal")?;
                return Ok(Some((n, sync)));
            }
            _ => {
                let end = line[i..]
                    .iter()
                    .position(|b| *b == b' ')
                    .map_or(line.len(), |p| p + i);
                args.push(line[i..end].to_vec());
                i = end;
            }
        }
    }
    Ok(None)
}

impl Session<'_> {
    async fn say(&mut self, text: &str) -> bool {
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.io.send_within(&bytes, self.set.idle).await.is_ok()
    }

    fn tls(&self) -> bool {
        self.io.stream.is_tls()
    }

    fn capabilities(&self) -> &'static str {
        if self.tls() {
            "IMAP4rev1 AUTH=PLAIN SASL-IR ID"
        } else {
            "IMAP4rev1 STARTTLS LOGINDISABLED ID"
        }
    }

    /// Serves the client until it is signed in upstream (the connection, and as whom), or
    /// leaves.
    async fn run(&mut self) -> Option<(Box<Imap>, Box<Granted>)> {
        let greeting = format!(
            "* OK [CAPABILITY {}] Mailbridge IMAP proxy ready",
            self.capabilities()
        );
        if !self.say(&greeting).await {
            return None;
        }
        loop {
            let next = match self.read().await {
                Err(()) => return None,
                Ok(Err(reply)) => self.error(&reply).await,
                Ok(Ok(cmd)) => Box::pin(self.command(cmd)).await,
            };
            match next {
                Next::Go => {}
                Next::Close => return None,
                Next::Proxy(up, who) => return Some((up, who)),
            }
        }
    }

    async fn error(&mut self, reply: &str) -> Next {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.say("* BYE Too many errors; closing").await;
            return Next::Close;
        }
        if self.say(reply).await {
            Next::Go
        } else {
            Next::Close
        }
    }

    async fn line(&mut self) -> Result<Line, ()> {
        let wait = self.set.idle.min(
            self.sign_in_by
                .saturating_duration_since(tokio::time::Instant::now()),
        );
        match tokio::time::timeout(wait, self.io.line(LINE_MAX)).await {
            Err(_) => {
                self.say("* BYE Idle for too long, or not signed in in time; closing")
                    .await;
                Err(())
            }
            Ok(Ok(Some(l))) => Ok(l),
            _ => Err(()),
        }
    }

    /// The next command, or the error reply for a line that is not one; `Err(())`: close.
    async fn read(&mut self) -> Result<Result<Command, String>, ()> {
        let mut args = Vec::new();
        let mut first = true;
        let mut total = 0;
        loop {
            let bytes = match self.line().await? {
                Line::TooLong => return Ok(Err("* BAD Line too long".into())),
                Line::BareLf(_) => return Ok(Err("* BAD Lines must end with CRLF".into())),
                Line::Ok(b) => b,
            };
            // Lines joined by literals make one command: bounded as a whole, or a client could
            // grow it without end.
            total += bytes.len();
            if total > COMMAND_MAX || args.len() > MAX_ARGS {
                self.say("* BYE Command too long before login").await;
                return Err(());
            }
            if first && !bytes.is_ascii() {
                return Ok(Err(
                    "* BAD 8-bit characters are not allowed in commands".into()
                ));
            }
            first = false;
            let literal = match parse(&bytes, &mut args) {
                Ok(l) => l,
                Err(m) => return Ok(Err(format!("{} BAD {m}", tag_of(&args)))),
            };
            let Some((n, sync)) = literal else { break };
            if n > LITERAL_MAX {
                if sync {
                    return Ok(Err(format!(
                        "{} BAD Literal too long before login",
                        tag_of(&args)
                    )));
                }
                // Already on its way: there is no telling where it ends but by reading it.
                self.say("* BYE Literal too long before login").await;
                return Err(());
            }
            if sync && !self.tls() {
                // A literal before TLS would be a password in the clear: not invited.
                return Ok(Err(format!(
                    "{} BAD Literals are not accepted before STARTTLS",
                    tag_of(&args)
                )));
            }
            if sync && !self.say("+ Ready for literal data").await {
                return Err(());
            }
            total += n;
            match tokio::time::timeout(self.set.idle, self.io.exact(n)).await {
                Ok(Ok(lit)) => args.push(lit),
                _ => return Err(()),
            }
        }
        if args.len() < 2 {
            return Ok(Err(format!("{} BAD Missing command", tag_of(&args))));
        }
        let tag = String::from_utf8_lossy(&args.remove(0)).into_owned();
        if tag.is_empty()
            || tag.len() > 64
            || tag
                .bytes()
                .any(|b| b.is_ascii_control() || b"(){%*\"\\+".contains(&b))
        {
            return Ok(Err("* BAD Invalid tag".into()));
        }
        let name = String::from_utf8_lossy(&args.remove(0)).to_ascii_uppercase();
        Ok(Ok(Command { tag, name, args }))
    }

    async fn command(&mut self, c: Command) -> Next {
        let tag = c.tag.clone();
        match c.name.as_str() {
            "CAPABILITY" => {
                let caps = format!("* CAPABILITY {}", self.capabilities());
                self.ok_lines(&[&caps, &format!("{tag} OK CAPABILITY completed")])
                    .await
            }
            "NOOP" => self.ok_lines(&[&format!("{tag} OK NOOP completed")]).await,
            "ID" => {
                self.ok_lines(&[
                    "* ID (\"name\" \"Mailbridge\")",
                    &format!("{tag} OK ID completed"),
                ])
                .await
            }
            "LOGOUT" => {
                self.ok_lines(&["* BYE Logging out", &format!("{tag} OK LOGOUT completed")])
                    .await;
                Next::Close
            }
            "STARTTLS" => self.starttls(&tag).await,
            "LOGIN" => {
                if !self.tls() {
                    return self
                        .error(&format!(
                            "{tag} NO [PRIVACYREQUIRED] LOGIN is not allowed before STARTTLS"
                        ))
                        .await;
                }
                if c.args.len() != 2 {
                    return self
                        .error(&format!("{tag} BAD LOGIN takes a user name and a password"))
                        .await;
                }
                let user = String::from_utf8_lossy(&c.args[0]).into_owned();
                let password = String::from_utf8_lossy(&c.args[1]).into_owned();
                self.login(&tag, &user, &password).await
            }
            "AUTHENTICATE" => self.authenticate(&tag, &c.args).await,
            _ => {
                self.error(&format!(
                    "{tag} BAD {} is not allowed before login",
                    provider_text(&c.name, 30)
                ))
                .await
            }
        }
    }

    async fn ok_lines(&mut self, lines: &[&str]) -> Next {
        for l in lines {
            if !self.say(l).await {
                return Next::Close;
            }
        }
        Next::Go
    }

    async fn starttls(&mut self, tag: &str) -> Next {
        if self.tls() {
            return self
                .error(&format!("{tag} BAD TLS is already active"))
                .await;
        }
        if self.io.buffered() {
            // Commands behind STARTTLS would be taken as sent over TLS (CVE-2011-0411).
            self.say("* BYE Commands were sent after STARTTLS before TLS; closing")
                .await;
            return Next::Close;
        }
        if !self
            .say(&format!("{tag} OK Begin TLS negotiation now"))
            .await
        {
            return Next::Close;
        }
        let Some(tcp) = self.io.take_plain() else {
            return Next::Close;
        };
        match tokio::time::timeout(self.set.idle, self.set.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.io = Reader::new(Stream::Accepted(Box::new(tls)));
                Next::Go
            }
            _ => Next::Close,
        }
    }

    async fn authenticate(&mut self, tag: &str, args: &[Vec<u8>]) -> Next {
        let mech = args
            .first()
            .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase());
        if mech.as_deref() != Some("PLAIN") {
            return self
                .error(&format!(
                    "{tag} NO [CANNOT] Only AUTHENTICATE PLAIN is offered"
                ))
                .await;
        }
        if !self.tls() {
            return self
                .error(&format!(
                    "{tag} NO [PRIVACYREQUIRED] AUTHENTICATE is not allowed before STARTTLS"
                ))
                .await;
        }
        let response = match args.get(1) {
            Some(ir) if ir.as_slice() == b"=" => Vec::new(),
            Some(ir) => ir.clone(),
            None => {
                if !self.say("+ ").await {
                    return Next::Close;
                }
                match self.line().await {
                    Ok(Line::Ok(l)) => l,
                    Ok(_) => {
                        return self
                            .error(&format!("{tag} BAD Bad authentication response"))
                            .await
                    }
                    Err(()) => return Next::Close,
                }
            }
        };
        if response == b"*" {
            return self
                .error(&format!("{tag} BAD Authentication cancelled"))
                .await;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&response) else {
            return self
                .error(&format!("{tag} BAD The response is not base64"))
                .await;
        };
        let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
        if parts.len() != 3 || (!parts[0].is_empty() && parts[0] != parts[1]) {
            return self
                .error(&format!(
                    "{tag} BAD Expected PLAIN as \\0address\\0app password"
                ))
                .await;
        }
        let user = String::from_utf8_lossy(parts[1]).into_owned();
        let password = String::from_utf8_lossy(parts[2]).into_owned();
        self.login(tag, &user, &password).await
    }

    async fn login(&mut self, tag: &str, user: &str, password: &str) -> Next {
        let who = match app_passwords::sign_in(self.st, user, password, self.peer.ip(), Gateway::Imap).await {
            Ok(who) => who,
            Err(Refused::Wrong) => {
                return self.error(&format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed")).await
            }
            Err(Refused::Locked { .. }) => {
                return self.error(&format!("{tag} NO [UNAVAILABLE] Too many failed logins from this address or for this mailbox; try again later")).await
            }
            Err(Refused::Unusable(m)) => return self.error(&format!("{tag} NO [UNAVAILABLE] {m}")).await,
            Err(e) => return self.error(&format!("{tag} NO [UNAVAILABLE] {e}")).await,
        };
        audit::as_app_password(who.password_id, &who.password_name);
        let (st, timeout) = (self.st, self.set.upstream_timeout);
        let client = self.peer.ip().to_string();
        let opened = Box::pin(token::with_token(st, &who, &client, "IMAP", |t| {
            let account = who.account.clone();
            async move { Box::pin(Imap::open(st, &account, &t, timeout)).await }
        }))
        .await;
        let up = match opened {
            Ok(up) => up,
            Err(e) => {
                let (reply, why) = match e {
                    OpenError::Refused(r) => (
                        "NO [AUTHENTICATIONFAILED] The mail server refused the mailbox's token, also after a refresh",
                        r.text(),
                    ),
                    OpenError::Down(m) => (
                        "NO [UNAVAILABLE] The mailbox's mail server cannot be reached now",
                        m,
                    ),
                    OpenError::Unusable(m) => ("NO [UNAVAILABLE] The mailbox cannot be used now", m),
                };
                let why = provider_text(&why, 300);
                tracing::warn!(
                    account_id = who.account.id,
                    "IMAP proxy: the upstream login failed"
                );
                let entry = NewEntry {
                    kind: "app_password.login_failed",
                    account_id: Some(who.account.id),
                    server_id: Some(who.account.mail_server_id),
                    user_id: Some(who.account.owner_id),
                    summary: format!(
                        "{}: IMAP proxy could not sign in to the mail server — {why}",
                        who.account.login
                    ),
                };
                audit::record_or_log(&self.st.pool, entry, self.st.clock.now()).await;
                return self.error(&format!("{tag} {reply}: {why}")).await;
            }
        };
        // As the server sent it (its CAPABILITY code may be long), control characters out.
        let ok = format!("{tag} OK {}", provider_text(&up.ok_text, usize::MAX));
        if !self.say(&ok).await {
            return Next::Close;
        }
        tracing::info!(account_id = who.account.id, "IMAP proxy signed in upstream");
        Next::Proxy(Box::new(up), Box::new(who))
    }
}

fn tag_of(args: &[Vec<u8>]) -> String {
    args.first()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| !t.is_empty() && t.len() <= 64 && t.is_ascii())
        .unwrap_or_else(|| "*".into())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn arguments_parse() {
        let mut args = Vec::new();
        assert_eq!(parse(b"a1 LOGIN \"a@b\" \"p\\\"w\"", &mut args), Ok(None));
        assert_eq!(
            args,
            vec![
                b"a1".to_vec(),
                b"LOGIN".to_vec(),
                b"a@b".to_vec(),
                b"p\"w".to_vec()
            ]
        );
        let mut args = Vec::new();
        assert_eq!(parse(b"a2 LOGIN {5}", &mut args), Ok(Some((5, true))));
        assert_eq!(
            parse(b"a3 LOGIN {5+}", &mut Vec::new()),
            Ok(Some((5, false)))
        );
        assert!(parse(b"a4 LOGIN \"open", &mut Vec::new()).is_err());
    }
}
