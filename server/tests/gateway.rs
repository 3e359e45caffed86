//! The SMTP submission relay and the IMAP proxy (issue 17) against the real kit: Python's
//! smtplib and imaplib (and lettre) sign in with an app password; each message reaches the
//! Dovecot mailbox through Postfix with XOAUTH2, is read back and IDLEd on through the proxy;
//! refusals (revoked password, wrong sender, a mailbox needing authorisation, a refused token,
//! a server that is down) and bad input (commands before TLS, pipelining, long lines, bare LF,
//! 8-bit, a stall mid-DATA, too many connections, too big) each get the protocol's answer.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::app_passwords::{CreateAppPassword, ListAppPasswords, RevokeAppPassword};
use app::api::mail_servers::SaveMailServer;
use app::domain::{MailServerDraft, Role};
use base64::Engine;
use common::peers::{Kit, Peers};
use server::gateway::stream::{Line, Reader, Stream};

const LOGIN: &str = "alice@example.test";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

struct Gw {
    kit: Kit,
    owner: String,
    account: i64,
    ca: String,
}

/// The kit with Mailbridge's relay and proxy on free ports (STARTTLS), the kit's certificate
/// as theirs, and alice's mailbox linked for its owner.
async fn gateway(extra: &[(&str, &str)]) -> Gw {
    let peers = Peers::start(&[]);
    let ca = peers.get("PEERS_CA");
    let tls = std::path::Path::new(&ca).parent().unwrap().to_path_buf();
    let cert = tls.join("cert.pem").display().to_string();
    let key = tls.join("key.pem").display().to_string();
    let mut env = vec![
        ("MAILBRIDGE_SMTP_RELAY_ADDR", "127.0.0.1:0"),
        ("MAILBRIDGE_IMAP_PROXY_ADDR", "127.0.0.1:0"),
        ("MAILBRIDGE_TLS_CERT_FILE", cert.as_str()),
        ("MAILBRIDGE_TLS_KEY_FILE", key.as_str()),
    ];
    env.extend_from_slice(extra);
    let kit = Kit::start_on(peers, &env).await;
    let (_, owner) = kit.app.person("owner@example.test", Role::User).await;
    let account = kit.linked(&owner, LOGIN).await;
    Gw {
        kit,
        owner,
        account,
        ca,
    }
}

impl Gw {
    fn smtp(&self) -> SocketAddr {
        self.kit.app.gateways.smtp.expect("relay started")
    }
    fn imap(&self) -> SocketAddr {
        self.kit.app.gateways.imap.expect("proxy started")
    }

    async fn app_password(&self, name: &str) -> (i64, String) {
        let p = self
            .kit
            .app
            .ok(
                CreateAppPassword {
                    account_id: self.account,
                    name: name.into(),
                },
                &self.owner,
            )
            .await;
        (p.id, p.password)
    }

    async fn py(&self, args: &[&str]) -> serde_json::Value {
        common::mailclient::run(args).await
    }

    /// smtplib through the relay (STARTTLS), from `from` to alice.
    async fn send(&self, password: &str, from: &str, subject: &str) -> serde_json::Value {
        let port = self.smtp().port().to_string();
        self.py(&[
            "send",
            "127.0.0.1",
            &port,
            "starttls",
            &self.ca,
            LOGIN,
            password,
            from,
            LOGIN,
            subject,
        ])
        .await
    }

    /// imaplib through the proxy (STARTTLS): the folders and the message with `subject`.
    async fn read(&self, password: &str, subject: &str) -> serde_json::Value {
        let port = self.imap().port().to_string();
        self.py(&[
            "read",
            "127.0.0.1",
            &port,
            "starttls",
            &self.ca,
            LOGIN,
            password,
            subject,
        ])
        .await
    }

    /// The messages in alice's Maildir with `subject`, after waiting `wait` for one to come.
    async fn delivered(&self, subject: &str, wait: Duration) -> usize {
        let dir = std::path::PathBuf::from(self.kit.peers.get("PEERS_VAR"))
            .join("mail")
            .join(LOGIN)
            .join("Maildir");
        let deadline = Instant::now() + wait;
        loop {
            let mut n = 0;
            for sub in ["new", "cur"] {
                if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                    for e in entries.flatten() {
                        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                        if text.contains(&format!("Subject: {subject}")) {
                            n += 1;
                        }
                    }
                }
            }
            if n > 0 || Instant::now() >= deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn audit_kinds(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT kind FROM audit_events ORDER BY id")
            .fetch_all(&self.kit.app.state.pool)
            .await
            .unwrap()
    }

    /// Points the server's ports elsewhere (confirming that the mailbox must be authorised
    /// again) and authorises it again.
    async fn move_server(&self, smtp_port: &str, imap_port: &str) {
        let draft = MailServerDraft {
            client_secret: String::new(),
            smtp_port: smtp_port.into(),
            imap_port: imap_port.into(),
            confirm_linked: 1,
            ..self.kit.draft.clone()
        };
        self.kit
            .app
            .ok(
                SaveMailServer {
                    id: self.kit.server.to_string(),
                    draft,
                },
                &self.kit.admin,
            )
            .await;
        self.kit.authorize(&self.owner, self.account).await;
    }
}

/// A raw client, for what no library would send.
struct Raw {
    io: Reader,
    ca: String,
}

impl Raw {
    async fn connect(addr: SocketAddr, ca: &str) -> Raw {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        Raw {
            io: Reader::new(Stream::Plain(tcp)),
            ca: ca.to_string(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.send(bytes).await.unwrap();
    }

    /// The next line ("" when the connection closed).
    async fn line(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(20), self.io.line(1 << 20))
            .await
            .expect("an answer within 20 s")
        {
            Ok(Some(Line::Ok(l))) | Ok(Some(Line::BareLf(l))) => {
                String::from_utf8_lossy(&l).into_owned()
            }
            _ => String::new(),
        }
    }

    /// An SMTP reply's last line (its code and text).
    async fn reply(&mut self) -> String {
        loop {
            let l = self.line().await;
            if l.as_bytes().get(3) != Some(&b'-') {
                return l;
            }
        }
    }

    /// An IMAP answer: lines up to the one starting with `tag` (or a BYE, or the end).
    async fn tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            let end = l.is_empty() || l.starts_with(&format!("{tag} ")) || l.starts_with("* BYE");
            lines.push(l);
            if end {
                return lines;
            }
        }
    }

    async fn closed(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.io.line(1 << 20)).await,
            Ok(Ok(None)) | Ok(Err(_))
        )
    }

    async fn tls(&mut self) {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&self.ca).unwrap();
        use rustls_pki_types::pem::PemObject;
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = self.io.take_plain().expect("plain");
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let s = connector.connect(name, tcp).await.unwrap();
        self.io = Reader::new(Stream::Connected(Box::new(s)));
    }

    /// Greeted, EHLO, STARTTLS, EHLO again, signed in with AUTH PLAIN.
    async fn smtp_signed_in(addr: SocketAddr, ca: &str, password: &str) -> Raw {
        let mut r = Raw::connect(addr, ca).await;
        assert!(r.reply().await.starts_with("220 "));
        r.send(b"EHLO client.test\r\n").await;
        assert!(r.reply().await.starts_with("250 "));
        r.send(b"STARTTLS\r\n").await;
        assert!(r.reply().await.starts_with("220 "));
        r.tls().await;
        r.send(b"EHLO client.test\r\n").await;
        assert!(r.reply().await.starts_with("250 "));
        let plain =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{LOGIN}\0{password}"));
        r.send(format!("AUTH PLAIN {plain}\r\n").as_bytes()).await;
        assert_eq!(r.reply().await, "235 2.7.0 Authentication successful");
        r
    }

    /// MAIL, RCPT and DATA accepted: ready for the message's lines.
    async fn smtp_in_data(&mut self) {
        self.send(format!("MAIL FROM:<{LOGIN}>\r\n").as_bytes())
            .await;
        assert!(self.reply().await.starts_with("250"));
        self.send(format!("RCPT TO:<{LOGIN}>\r\n").as_bytes()).await;
        assert!(self.reply().await.starts_with("250"));
        self.send(b"DATA\r\n").await;
        assert!(self.reply().await.starts_with("354"));
    }

    /// Greeted and through STARTTLS at the proxy.
    async fn imap_tls(addr: SocketAddr, ca: &str) -> Raw {
        let mut r = Raw::connect(addr, ca).await;
        assert!(r.line().await.starts_with("* OK"));
        r.send(b"t STARTTLS\r\n").await;
        assert!(r.tagged("t").await.last().unwrap().starts_with("t OK"));
        r.tls().await;
        r
    }
}

#[tokio::test]
async fn smtplib_sends_through_the_relay_and_imaplib_reads_it_back_through_the_proxy() {
    let gw = gateway(&[("MAILBRIDGE_METRICS_TOKEN", METRICS_TOKEN)]).await;
    let (_, password) = gw.app_password("Office scanner").await;
    let sent = gw.send(&password, LOGIN, "Scan 42").await;
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(gw.delivered("Scan 42", Duration::from_secs(15)).await, 1);

    let read = gw.read(&password, "Scan 42").await;
    assert_eq!(read["found"], 1, "{read}");
    let body = read["body"].as_str().unwrap();
    assert!(
        body.contains("Sent by smtplib through the Mailbridge relay."),
        "{body}"
    );
    // A line holding a single dot came through (dot-stuffing kept as the client sent it).
    assert!(
        body.contains("\r\n.\r\nA line with a single dot above."),
        "{body}"
    );
    assert!(
        read["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.as_str().unwrap().contains("INBOX")),
        "{read}"
    );

    // The password's last use, the audit trail and the token hand-outs tell what happened.
    let listed = gw
        .kit
        .app
        .ok(
            ListAppPasswords {
                account_id: gw.account,
            },
            &gw.owner,
        )
        .await;
    assert_eq!(listed[0].last_used_protocol.as_deref(), Some("IMAP"));
    assert_eq!(listed[0].last_used_addr.as_deref(), Some("127.0.0.1"));
    let kinds = gw.audit_kinds().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "app_password.login").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "smtp.message").count(),
        1,
        "{kinds:?}"
    );
    let (actor_kind, actor): (String, String) = sqlx::query_as(
        "SELECT actor_kind, actor_label FROM audit_events WHERE kind = 'smtp.message'",
    )
    .fetch_one(&gw.kit.app.state.pool)
    .await
    .unwrap();
    assert_eq!(
        (actor_kind.as_str(), actor.as_str()),
        ("app_password", "Office scanner")
    );
    let handouts: Vec<String> =
        sqlx::query_scalar("SELECT key_name FROM token_handouts WHERE account_id = $1 ORDER BY id")
            .bind(gw.account)
            .fetch_all(&gw.kit.app.state.pool)
            .await
            .unwrap();
    assert_eq!(
        handouts,
        vec![
            "app password 'Office scanner' (SMTP)",
            "app password 'Office scanner' (IMAP)"
        ]
    );
    // Counted on the dashboard and in /metrics.
    let h = gw
        .kit
        .app
        .ok(app::api::settings::DashboardHealth {}, &gw.kit.admin)
        .await;
    assert_eq!(
        (h.gateway.logins, h.gateway.messages),
        (2, 1),
        "{:?}",
        h.gateway
    );
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", gw.kit.app.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "mailbridge_relay_messages_total{outcome=\"accepted\"}",
        "mailbridge_gateway_logins_total{protocol=\"IMAP\",outcome=\"ok\"}",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    // Nothing written anywhere holds the password or the message body.
    let summaries: Vec<String> = sqlx::query_scalar("SELECT summary FROM audit_events")
        .fetch_all(&gw.kit.app.state.pool)
        .await
        .unwrap();
    assert!(summaries
        .iter()
        .all(|s| !s.contains(&password) && !s.contains("Sent by smtplib")));
}

#[tokio::test]
async fn imaplib_idles_through_the_proxy_and_hears_of_new_mail() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Monitor").await;
    let port = gw.imap().port().to_string();
    let inject = gw.kit.peers.get("PEERS_RELAY_PORT");
    let r = gw
        .py(&[
            "idle",
            "127.0.0.1",
            &port,
            "starttls",
            &gw.ca,
            LOGIN,
            &password,
            &inject,
            LOGIN,
        ])
        .await;
    let before = r["before"].as_i64().unwrap();
    assert_eq!(r["exists"].as_i64(), Some(before + 1), "{r}");
    assert!(r["done"].as_str().unwrap().contains("OK"), "{r}");
}

#[tokio::test]
async fn lettre_sends_through_a_relay_on_implicit_tls() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Lettre").await;
    let tls = std::path::Path::new(&gw.ca).parent().unwrap().to_path_buf();
    let (cert, key) = (
        tls.join("cert.pem").display().to_string(),
        tls.join("key.pem").display().to_string(),
    );
    let mut env: Vec<(&str, &str)> = vec![
        ("MAILBRIDGE_SMTP_RELAY_ADDR", "127.0.0.1:0"),
        ("MAILBRIDGE_SMTP_RELAY_TLS", "implicit"),
        ("MAILBRIDGE_TLS_CERT_FILE", &cert),
        ("MAILBRIDGE_TLS_KEY_FILE", &key),
    ];
    let kit_env = gw.kit.peers.mailbridge_env();
    env.extend(kit_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let second = gw.kit.app.beside(&env).await;
    let addr = second.gateways.smtp.unwrap();

    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::AsyncTransport;
    let params = TlsParameters::builder("127.0.0.1".into())
        .add_root_certificate(Certificate::from_pem(&std::fs::read(&gw.ca).unwrap()).unwrap())
        .build_rustls()
        .unwrap();
    let transport =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(addr.port())
            .tls(Tls::Wrapper(params))
            .credentials(Credentials::new(LOGIN.into(), password.clone()))
            .build();
    let message = lettre::Message::builder()
        .from(LOGIN.parse().unwrap())
        .to(LOGIN.parse().unwrap())
        .subject("From lettre")
        .body("Sent by lettre over implicit TLS.".to_string())
        .unwrap();
    let response = transport.send(message).await.unwrap();
    assert!(response.is_positive());
    assert_eq!(
        gw.delivered("From lettre", Duration::from_secs(15)).await,
        1
    );
}

#[tokio::test]
async fn a_revoked_password_and_a_wrong_sender_are_refused() {
    let gw = gateway(&[]).await;
    let (id, password) = gw.app_password("Old CRM").await;
    let wrong = gw.send(&password, "bob@example.test", "Spoofed").await;
    assert_eq!(wrong["code"], 550, "{wrong}");
    assert!(
        wrong["message"].as_str().unwrap().contains(LOGIN),
        "{wrong}"
    );

    gw.kit
        .app
        .ok(
            RevokeAppPassword {
                account_id: gw.account,
                id,
            },
            &gw.owner,
        )
        .await;
    let refused = gw.send(&password, LOGIN, "After revoke").await;
    assert_eq!(refused["code"], 535, "{refused}");
    let read = gw.read(&password, "After revoke").await;
    assert!(
        read["error"]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATIONFAILED"),
        "{read}"
    );
    assert_eq!(gw.delivered("Spoofed", Duration::from_secs(1)).await, 0);
    assert_eq!(
        gw.delivered("After revoke", Duration::from_millis(10))
            .await,
        0
    );
}

#[tokio::test]
async fn a_mailbox_needing_authorisation_gets_a_temporary_refusal_naming_why() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    gw.kit.revoke(gw.account).await;
    let sent = gw.send(&password, LOGIN, "Needs you").await;
    assert_eq!(sent["code"], 454, "{sent}");
    assert!(
        sent["message"].as_str().unwrap().contains("authorize"),
        "{sent}"
    );
    let read = gw.read(&password, "Needs you").await;
    let e = read["error"].as_str().unwrap();
    assert!(
        e.contains("UNAVAILABLE") && e.contains("needs_reauth"),
        "{read}"
    );
}

/// Stores `token` as the account's access token, still "valid" by its expiry but never issued
/// by the provider (as after a password change there): Postfix and Dovecot, through the
/// provider's introspection, refuse it; the refresh token still works.
async fn plant_unknown_token(gw: &Gw, token: &str) {
    let state = &gw.kit.app.state;
    let sealed = state
        .secrets
        .seal_str(token, &app::ssr::crypto::aad::ACCESS_TOKEN.row(gw.account));
    sqlx::query("UPDATE mail_accounts SET access_token_enc = $1 WHERE id = $2")
        .bind(sealed)
        .bind(gw.account)
        .execute(&state.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_message_and_the_login_still_go() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let state = &gw.kit.app.state;
    let token = app::ssr::refresh::ensure_fresh(state, gw.account, 60)
        .await
        .unwrap();
    plant_unknown_token(&gw, "not-a-token-the-provider-issued").await;
    let sent = gw.send(&password, LOGIN, "After a refresh").await;
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(
        gw.delivered("After a refresh", Duration::from_secs(15))
            .await,
        1
    );
    let now = app::ssr::refresh::ensure_fresh(state, gw.account, 60)
        .await
        .unwrap();
    assert_ne!(now, token, "the token was refreshed");
    // The same for the proxy (a minute later: forced refreshes are one a minute per account).
    plant_unknown_token(&gw, "another-token-never-issued").await;
    gw.kit.app.advance_clock(61);
    let read = gw.read(&password, "After a refresh").await;
    assert_eq!(read["found"], 1, "{read}");
    let kinds = gw.audit_kinds().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "smtp.message").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_down_gets_a_temporary_refusal() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let dead = common::oidc::free_port().to_string();
    gw.move_server(&dead, &dead).await;
    let sent = gw.send(&password, LOGIN, "Nowhere").await;
    assert_eq!(sent["code"], 451, "{sent}");
    assert!(
        sent["message"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{sent}"
    );
    let read = gw.read(&password, "Nowhere").await;
    let e = read["error"].as_str().unwrap();
    assert!(
        e.contains("UNAVAILABLE") && e.contains("cannot be reached"),
        "{read}"
    );
    let kinds = gw.audit_kinds().await;
    assert!(
        kinds.iter().any(|k| k == "smtp.message_failed"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn commands_before_tls_are_refused() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{LOGIN}\0{password}"));

    let mut s = Raw::connect(gw.smtp(), &gw.ca).await;
    s.reply().await;
    s.send(b"EHLO client.test\r\n").await;
    let mut ehlo = Vec::new();
    loop {
        let l = s.line().await;
        let last = l.as_bytes().get(3) == Some(&b' ');
        ehlo.push(l);
        if last {
            break;
        }
    }
    assert!(ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")), "{ehlo:?}");
    s.send(format!("AUTH PLAIN {plain}\r\n").as_bytes()).await;
    assert!(s.reply().await.starts_with("530 5.7.0"));
    s.send(format!("MAIL FROM:<{LOGIN}>\r\n").as_bytes()).await;
    assert!(s.reply().await.starts_with("530 5.7.0"));

    let mut i = Raw::connect(gw.imap(), &gw.ca).await;
    let greeting = i.line().await;
    assert!(
        greeting.contains("LOGINDISABLED") && greeting.contains("STARTTLS"),
        "{greeting}"
    );
    i.send(format!("a LOGIN {LOGIN} {password}\r\n").as_bytes())
        .await;
    let answer = i.tagged("a").await;
    assert!(
        answer.last().unwrap().starts_with("a NO [PRIVACYREQUIRED]"),
        "{answer:?}"
    );
    i.send(format!("b AUTHENTICATE PLAIN {plain}\r\n").as_bytes())
        .await;
    assert!(i
        .tagged("b")
        .await
        .last()
        .unwrap()
        .starts_with("b NO [PRIVACYREQUIRED]"));
    // A literal before TLS would carry a password in the clear: not invited.
    i.send(format!("l LOGIN {LOGIN} {{39}}\r\n").as_bytes())
        .await;
    assert!(i
        .line()
        .await
        .starts_with("l BAD Literals are not accepted before STARTTLS"));
    i.send(b"c COMPRESS DEFLATE\r\n").await;
    assert!(i.tagged("c").await.last().unwrap().starts_with("c BAD"));
    i.send(b"d SELECT INBOX\r\n").await;
    assert!(i.tagged("d").await.last().unwrap().starts_with("d BAD"));
    // After TLS, still nothing but the login before the login.
    let mut i = Raw::imap_tls(gw.imap(), &gw.ca).await;
    i.send(b"e COMPRESS DEFLATE\r\n").await;
    assert!(i.tagged("e").await.last().unwrap().starts_with("e BAD"));
    i.send(b"f CAPABILITY\r\n").await;
    let caps = i.tagged("f").await;
    assert!(
        caps[0].contains("AUTH=PLAIN") && !caps[0].contains("LOGINDISABLED"),
        "{caps:?}"
    );
}

#[tokio::test]
async fn commands_pipelined_behind_starttls_or_before_354_are_not_run() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{LOGIN}\0{password}"));
    let mut s = Raw::connect(gw.smtp(), &gw.ca).await;
    s.reply().await;
    s.send(b"EHLO client.test\r\n").await;
    s.reply().await;
    s.send(format!("STARTTLS\r\nAUTH PLAIN {plain}\r\n").as_bytes())
        .await;
    assert!(s.reply().await.starts_with("554 5.5.0"));
    assert!(s.closed().await);

    let mut i = Raw::connect(gw.imap(), &gw.ca).await;
    i.line().await;
    i.send(format!("a STARTTLS\r\nb LOGIN {LOGIN} {password}\r\n").as_bytes())
        .await;
    assert!(i.line().await.starts_with("* BYE"));
    assert!(i.closed().await);

    // A message sent along with DATA, before the 354 (PIPELINING is not offered).
    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    s.send(format!("MAIL FROM:<{LOGIN}>\r\n").as_bytes()).await;
    assert!(s.reply().await.starts_with("250"));
    s.send(format!("RCPT TO:<{LOGIN}>\r\n").as_bytes()).await;
    assert!(s.reply().await.starts_with("250"));
    s.send(b"DATA\r\nSubject: Pipelined\r\n\r\nbody\r\n.\r\n")
        .await;
    assert!(s.reply().await.starts_with("554 5.5.0"));
    assert!(s.closed().await);
    assert_eq!(gw.delivered("Pipelined", Duration::from_secs(2)).await, 0);
}

#[tokio::test]
async fn over_long_lines_get_the_protocol_error_and_the_message_is_not_sent() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let mut s = Raw::connect(gw.smtp(), &gw.ca).await;
    s.reply().await;
    s.send(format!("EHLO {}\r\n", "x".repeat(600)).as_bytes())
        .await;
    assert!(s.reply().await.starts_with("500 5.5.6"));
    s.send(b"NOOP\r\n").await;
    assert!(s.reply().await.starts_with("250"), "the session goes on");

    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    s.smtp_in_data().await;
    s.send(format!("Subject: Long line\r\n\r\n{}\r\n.\r\n", "y".repeat(1200)).as_bytes())
        .await;
    assert!(s.reply().await.starts_with("500 5.5.6"));
    // The next message on the same connection goes.
    s.smtp_in_data().await;
    s.send(b"Subject: After the long line\r\n\r\nfine\r\n.\r\n")
        .await;
    assert!(s.reply().await.starts_with("250"));
    assert_eq!(
        gw.delivered("After the long line", Duration::from_secs(15))
            .await,
        1
    );
    assert_eq!(
        gw.delivered("Long line", Duration::from_millis(10)).await,
        0
    );

    let mut i = Raw::connect(gw.imap(), &gw.ca).await;
    i.line().await;
    i.send(format!("a NOOP {}\r\n", "z".repeat(9000)).as_bytes())
        .await;
    assert!(i.line().await.starts_with("* BAD Line too long"));
    i.send(b"b NOOP\r\n").await;
    assert!(i.tagged("b").await.last().unwrap().starts_with("b OK"));
    // Lines joined by empty literals make one command, bounded as a whole.
    let mut i = Raw::imap_tls(gw.imap(), &gw.ca).await;
    let piece = format!("{} {{0+}}\r\n", "x ".repeat(3000));
    let mut closed = false;
    for _ in 0..20 {
        if i.io.send(format!("a ID {piece}").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        assert!(i.line().await.starts_with("* BYE Command too long"));
        assert!(i.closed().await);
    }
}

#[tokio::test]
async fn bare_line_feeds_are_refused_and_smuggling_sends_nothing() {
    let gw = gateway(&[]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    s.send(b"NOOP\n").await;
    assert!(s.reply().await.starts_with("500 5.5.2"));
    s.smtp_in_data().await;
    // The smuggling shape: a bare-LF end of data followed by a second message's commands.
    s.send(
        format!(
            "Subject: Smuggler\r\n\r\nhello\n.\nMAIL FROM:<{LOGIN}>\r\nRCPT TO:<{LOGIN}>\r\nDATA\r\nSubject: Smuggled\r\n\r\nx\r\n.\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(s.reply().await.starts_with("554 5.6.0"));
    // The `<CR><LF>.<CR>` shape: a bare CR after a dot.
    s.smtp_in_data().await;
    s.send(
        format!("Subject: Smuggler CR\r\n\r\nhello\r\n.\rMAIL FROM:<{LOGIN}>\r\n.\r\n").as_bytes(),
    )
    .await;
    assert!(s.reply().await.starts_with("554 5.6.0"));
    s.send(b"NOOP\rRSET\r\n").await;
    assert!(s.reply().await.starts_with("500 5.5.2"));
    // sendmail's AUTH= parameter on MAIL is taken (and not passed on).
    s.send(format!("MAIL FROM:<{LOGIN}> AUTH=<>\r\n").as_bytes())
        .await;
    assert!(s.reply().await.starts_with("250"));
    s.send(format!("RCPT TO:<{LOGIN}>\r\n").as_bytes()).await;
    assert!(s.reply().await.starts_with("250"));
    s.send(b"DATA\r\n").await;
    assert!(s.reply().await.starts_with("354"));
    s.send(b"Subject: Honest\r\n\r\nfine\r\n.\r\n").await;
    assert!(s.reply().await.starts_with("250"));
    assert_eq!(gw.delivered("Honest", Duration::from_secs(15)).await, 1);
    assert_eq!(gw.delivered("Smuggler", Duration::from_millis(10)).await, 0);
    assert_eq!(gw.delivered("Smuggled", Duration::from_millis(10)).await, 0);
    assert_eq!(
        gw.delivered("Smuggler CR", Duration::from_millis(10)).await,
        0
    );

    let mut i = Raw::connect(gw.imap(), &gw.ca).await;
    i.line().await;
    i.send(b"a NOOP\n").await;
    assert!(i.line().await.starts_with("* BAD Lines must end with CRLF"));
}

#[tokio::test]
async fn eight_bit_commands_are_refused() {
    let gw = gateway(&[]).await;
    let mut s = Raw::connect(gw.smtp(), &gw.ca).await;
    s.reply().await;
    s.send("EHLO héllo.test\r\n".as_bytes()).await;
    assert!(s.reply().await.starts_with("500 5.5.2"));
    let mut i = Raw::imap_tls(gw.imap(), &gw.ca).await;
    i.send("a LOGIN ålice@example.test secret\r\n".as_bytes())
        .await;
    assert!(i.line().await.starts_with("* BAD 8-bit"));
}

#[tokio::test]
async fn a_client_stalling_mid_data_is_dropped_and_nothing_is_sent() {
    let gw = gateway(&[("MAILBRIDGE_GATEWAY_IDLE_SECS", "2")]).await;
    let (_, password) = gw.app_password("Scanner").await;
    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    s.smtp_in_data().await;
    s.send(b"Subject: Stalled\r\n\r\nthe first half\r\n").await;
    let started = Instant::now();
    assert!(s.reply().await.starts_with("421 4.4.2"));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(s.closed().await);
    assert_eq!(gw.delivered("Stalled", Duration::from_secs(3)).await, 0);

    // A client that keeps talking but never signs in is let go after the idle time too.
    for addr in [gw.smtp(), gw.imap()] {
        let mut r = Raw::connect(addr, &gw.ca).await;
        r.line().await;
        let started = Instant::now();
        let mut last = String::new();
        for n in 0..6 {
            let cmd = if addr == gw.smtp() {
                "NOOP\r\n".to_string()
            } else {
                format!("n{n} NOOP\r\n")
            };
            if r.io.send(cmd.as_bytes()).await.is_err() {
                break;
            }
            last = r.line().await;
            if last.is_empty() || last.contains("not signed in") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        assert!(last.contains("not signed in") || last.is_empty(), "{last}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn too_many_connections_and_too_big_messages_are_turned_away() {
    let gw = gateway(&[
        ("MAILBRIDGE_SMTP_RELAY_MAX_CONNECTIONS", "2"),
        ("MAILBRIDGE_SMTP_RELAY_MAX_BYTES", "2048"),
    ])
    .await;
    let (_, password) = gw.app_password("Scanner").await;
    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    let mut other = Raw::connect(gw.smtp(), &gw.ca).await;
    assert!(other.reply().await.starts_with("220"));
    let mut third = Raw::connect(gw.smtp(), &gw.ca).await;
    assert!(third.reply().await.starts_with("421 4.7.0"));
    assert!(third.closed().await);

    s.send(format!("MAIL FROM:<{LOGIN}> SIZE=5000\r\n").as_bytes())
        .await;
    assert!(s.reply().await.starts_with("552 5.3.4"));
    s.smtp_in_data().await;
    let big = "z".repeat(900);
    s.send(format!("Subject: Too big\r\n\r\n{big}\r\n{big}\r\n{big}\r\n.\r\n").as_bytes())
        .await;
    assert!(s.reply().await.starts_with("552 5.3.4"));
    assert_eq!(gw.delivered("Too big", Duration::from_secs(2)).await, 0);
}

#[tokio::test]
async fn revoking_a_password_ends_the_sessions_already_signed_in_with_it() {
    let gw = gateway(&[("MAILBRIDGE_GATEWAY_RECHECK_SECS", "1")]).await;
    let (id, password) = gw.app_password("Leaked").await;
    let mut s = Raw::smtp_signed_in(gw.smtp(), &gw.ca, &password).await;
    let mut i = Raw::imap_tls(gw.imap(), &gw.ca).await;
    i.send(format!("a LOGIN {LOGIN} {password}\r\n").as_bytes())
        .await;
    assert!(i.tagged("a").await.last().unwrap().starts_with("a OK"));
    i.send(b"b SELECT INBOX\r\n").await;
    assert!(i.tagged("b").await.last().unwrap().starts_with("b OK"));

    gw.kit
        .app
        .ok(
            RevokeAppPassword {
                account_id: gw.account,
                id,
            },
            &gw.owner,
        )
        .await;
    // The proxied session is ended by its next check; the relay's at its next message.
    let started = Instant::now();
    let bye = i.line().await;
    assert!(bye.starts_with("* BYE") && bye.contains("revoked"), "{bye}");
    assert!(i.closed().await);
    assert!(started.elapsed() < Duration::from_secs(5));
    s.send(format!("MAIL FROM:<{LOGIN}>\r\n").as_bytes()).await;
    let reply = s.reply().await;
    assert!(
        reply.starts_with("421 4.7.0") && reply.contains("revoked"),
        "{reply}"
    );
    assert!(s.closed().await);
}
