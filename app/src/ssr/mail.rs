//! IMAP (async-imap) and SMTP (lettre) logins with XOAUTH2 / OAUTHBEARER or a password, each
//! step timed and bounded by a timeout, failures reported with the server's own words.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use super::{db::now, internal, oauth::load_server, refresh, AppState};
use crate::api::mail_test::{ProtocolResult, TestStep};
use crate::domain::Encryption;
use crate::error::AppError;

/// Extra certificate authorities (`MAILBRIDGE_CA_FILE`), trusted besides the web PKI roots.
#[derive(Debug, Default, Clone)]
pub struct ExtraCa {
    pub certs: Vec<CertificateDer<'static>>,
}

impl ExtraCa {
    /// Reads a PEM file of one or more CA certificates; an unreadable or empty file is an error.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no certificate", path.display()));
        }
        Ok(ExtraCa { certs })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Smtp,
}

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

/// Accepts any certificate but still checks the handshake signatures: for "Validate
/// certificate" switched off.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector(validate: bool, extra: &ExtraCa) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if validate {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for c in &extra.certs {
            roots
                .add(c.clone())
                .map_err(|e| format!("MAILBRIDGE_CA_FILE: {e}"))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Runs steps, recording each; the first failure ends the run.
struct Checklist {
    steps: Vec<TestStep>,
    timeout: Duration,
}

impl Checklist {
    async fn step<T, F>(&mut self, name: &str, fut: F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<(T, String), String>>,
    {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} s", self.timeout.as_secs())),
        };
        let millis = started.elapsed().as_millis() as u64;
        match result {
            Ok((value, detail)) => {
                self.steps.push(TestStep {
                    name: name.into(),
                    ok: true,
                    millis,
                    detail,
                });
                Ok(value)
            }
            Err(detail) => {
                self.steps.push(TestStep {
                    name: name.into(),
                    ok: false,
                    millis,
                    detail: detail.clone(),
                });
                Err(detail)
            }
        }
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(500)
        .collect()
}

/// The SASL initial responses (RFC 7628 for OAUTHBEARER; Google's XOAUTH2).
fn xoauth2(login: &str, token: &str) -> String {
    format!("user={login}\x01auth=Bearer {token}\x01\x01")
}
fn oauthbearer(login: &str, host: &str, port: u16, token: &str) -> String {
    format!("n,a={login},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

/// Answers the server's challenges; keeps the failure challenge (base64-decoded JSON) to show.
struct Sasl {
    first: Option<Vec<u8>>,
    challenge: Option<String>,
    oauthbearer: bool,
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

fn hint_for(message: &str, protocol: Protocol) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let hint = if m.contains("unknownissuer")
        || m.contains("certificate") && (m.contains("invalid") || m.contains("not valid"))
    {
        "The server's certificate is not trusted: add its CA with MAILBRIDGE_CA_FILE, or switch off \"Validate certificate\" for a test server."
    } else if m.contains("caused as end entity")
        || m.contains("causedasendentity")
        || m.contains("caendentity")
        || m.contains("ca used as end entity")
    {
        "The server presents a CA certificate as its own; give it a proper server certificate signed by that CA."
    } else if m.contains("invalidcontenttype") || m.contains("corrupt message") {
        "This port does not speak TLS at once: it probably expects STARTTLS (or no encryption)."
    } else if m.contains("connection refused") {
        "Nothing listens on this host and port: check the host, port and firewall."
    } else if m.contains("timed out") {
        "The server did not answer in time: check the host, port, encryption and firewall."
    } else if m.contains("invalid_token")
        || m.contains("\"status\":\"401\"")
        || m.contains("authenticationfailed")
        || m.contains("535")
        || m.contains("authentication failed")
    {
        if protocol == Protocol::Smtp && m.contains("disabled") {
            "SMTP AUTH is disabled for this mailbox (Microsoft 365: enable Authenticated SMTP for the user)."
        } else {
            "The login was refused: the token may be expired or revoked (authorize again), or the Login is not the mailbox the token was issued for."
        }
    } else if m.contains("smtp auth") && m.contains("disabled") {
        "SMTP AUTH is disabled for this mailbox (Microsoft 365: enable Authenticated SMTP for the user)."
    } else {
        return None;
    };
    Some(hint.to_string())
}

fn finish(
    protocol: Protocol,
    list: Checklist,
    result: Result<Option<u32>, String>,
    auth_failed: bool,
) -> ProtocolResult {
    let name = match protocol {
        Protocol::Imap => "IMAP",
        Protocol::Smtp => "SMTP",
    };
    match result {
        Ok(count) => ProtocolResult {
            protocol: name.into(),
            ok: true,
            message: match count {
                Some(n) => format!(
                    "{name} login works; INBOX holds {n} message{}.",
                    if n == 1 { "" } else { "s" }
                ),
                None => format!("{name} login works."),
            },
            steps: list.steps,
            hint: None,
            inbox_count: count,
            auth_failed: false,
        },
        Err(e) => ProtocolResult {
            protocol: name.into(),
            ok: false,
            hint: hint_for(&e, protocol),
            message: format!("{name} failed: {e}"),
            steps: list.steps,
            inbox_count: None,
            auth_failed,
        },
    }
}

async fn tcp(host: &str, port: u16) -> Result<(TcpStream, String), String> {
    let s = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    Ok((s, format!("connected to {peer}")))
}

async fn tls(
    connector: &tokio_rustls::TlsConnector,
    host: &str,
    stream: TcpStream,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, String), String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("bad TLS server name {host}: {e}"))?;
    let s = connector
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let version = s
        .get_ref()
        .1
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    Ok((s, format!("TLS established ({version})")))
}

/// IMAP: connect, TLS per the server's setting, authenticate, SELECT INBOX, LOGOUT.
pub async fn imap(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    timeout: Duration,
) -> ProtocolResult {
    let mut list = Checklist {
        steps: vec![],
        timeout,
    };
    let mut auth_failed = false;
    let result = imap_inner(target, cred, extra, &mut list, &mut auth_failed).await;
    finish(Protocol::Imap, list, result.map(Some), auth_failed)
}

async fn imap_inner(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    list: &mut Checklist,
    auth_failed: &mut bool,
) -> Result<u32, String> {
    let connector = tls_connector(target.validate_certificate, extra)?;
    let (tcp_stream,) = list
        .step("connect", async {
            tcp(&target.host, target.port).await.map(|(s, d)| ((s,), d))
        })
        .await?;
    match target.encryption {
        Encryption::SslTls => {
            let stream = list
                .step("TLS", tls(&connector, &target.host, tcp_stream))
                .await?;
            let mut client = async_imap::Client::new(stream);
            list.step("greeting", async {
                client
                    .read_response()
                    .await
                    .map_err(|e| format!("no greeting: {e}"))?
                    .ok_or("the server closed the connection")?;
                Ok(((), "greeting received".to_string()))
            })
            .await?;
            imap_session(client, target, cred, list, auth_failed).await
        }
        Encryption::StartTls => {
            let mut client = async_imap::Client::new(tcp_stream);
            list.step("greeting", async {
                client
                    .read_response()
                    .await
                    .map_err(|e| format!("no greeting: {e}"))?
                    .ok_or("the server closed the connection")?;
                Ok(((), "greeting received".to_string()))
            })
            .await?;
            let stream = list
                .step("STARTTLS", async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| format!("STARTTLS refused: {e}"))?;
                    let raw = client.into_inner();
                    tls(&connector, &target.host, raw).await
                })
                .await?;
            imap_session(
                async_imap::Client::new(stream),
                target,
                cred,
                list,
                auth_failed,
            )
            .await
        }
        Encryption::None => {
            let mut client = async_imap::Client::new(tcp_stream);
            list.step("greeting", async {
                client
                    .read_response()
                    .await
                    .map_err(|e| format!("no greeting: {e}"))?
                    .ok_or("the server closed the connection")?;
                Ok(((), "greeting received (no encryption)".to_string()))
            })
            .await?;
            imap_session(client, target, cred, list, auth_failed).await
        }
    }
}

/// The login failure with the server's challenge (base64-decoded JSON), if it sent one.
fn refused(text: &str, challenge: &Option<String>) -> String {
    let said = challenge
        .as_ref()
        .map(|c| format!(" — server said: {c}"))
        .unwrap_or_default();
    format!("the server refused the token: {}{said}", clean(text))
}

/// AUTHENTICATE OAUTHBEARER (RFC 7628) as one checklist step.
async fn imap_oauthbearer<T>(
    client: async_imap::Client<T>,
    target: &Target,
    token: &str,
    list: &mut Checklist,
) -> Result<async_imap::Session<T>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let login = &target.login;
    let mut sasl = Sasl {
        first: Some(oauthbearer(login, &target.host, target.port, token).into_bytes()),
        challenge: None,
        oauthbearer: true,
    };
    list.step("authenticate (OAUTHBEARER)", async {
        client
            .authenticate("OAUTHBEARER", &mut sasl)
            .await
            .map(|s| (s, format!("signed in as {login} with OAUTHBEARER")))
            .map_err(|(e, _)| refused(&e.to_string(), &sasl.challenge))
    })
    .await
}

async fn imap_session<T>(
    client: async_imap::Client<T>,
    target: &Target,
    cred: &Credential,
    list: &mut Checklist,
    auth_failed: &mut bool,
) -> Result<u32, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let login = target.login.clone();
    let session = match cred {
        Credential::Password(pw) => {
            let r = list
                .step("authenticate (LOGIN)", async {
                    client
                        .login(&login, pw)
                        .await
                        .map(|s| (s, format!("signed in as {login}")))
                        .map_err(|(e, _)| {
                            format!("the server refused the login: {}", clean(&e.to_string()))
                        })
                })
                .await;
            if r.is_err() {
                *auth_failed = true;
            }
            r?
        }
        Credential::Bearer(token) if target.mechanism == Mechanism::OAuthBearer => {
            let r = imap_oauthbearer(client, target, token, list).await;
            if r.is_err() {
                *auth_failed = true;
            }
            r?
        }
        Credential::Bearer(token) => {
            let mut sasl = Sasl {
                first: Some(xoauth2(&login, token).into_bytes()),
                challenge: None,
                oauthbearer: false,
            };
            let r = list
                .step("authenticate (XOAUTH2)", async {
                    match client.authenticate("XOAUTH2", &mut sasl).await {
                        Ok(s) => Ok((Ok(s), format!("signed in as {login} with XOAUTH2"))),
                        Err((e, client)) => {
                            let text = clean(&e.to_string());
                            // Only OAUTHBEARER advertised: try it on the same connection.
                            if sasl.challenge.is_none()
                                && text.to_ascii_lowercase().contains("mechanism")
                            {
                                Ok((
                                    Err(client),
                                    format!("XOAUTH2 not supported ({text}); trying OAUTHBEARER"),
                                ))
                            } else {
                                Err(refused(&text, &sasl.challenge))
                            }
                        }
                    }
                })
                .await;
            let r = match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(client)) => imap_oauthbearer(client, target, token, list).await,
                Err(e) => Err(e),
            };
            if r.is_err() {
                *auth_failed = true;
            }
            r?
        }
    };
    let mut session = session;
    let count = list
        .step("select INBOX", async {
            let mailbox = session
                .select("INBOX")
                .await
                .map_err(|e| format!("SELECT INBOX failed: {}", clean(&e.to_string())))?;
            Ok((
                mailbox.exists,
                format!("INBOX holds {} messages", mailbox.exists),
            ))
        })
        .await?;
    let _ = tokio::time::timeout(Duration::from_secs(3), session.logout()).await;
    Ok(count)
}

/// SMTP: connect, TLS per the server's setting, EHLO, AUTH, QUIT. No mail is sent.
pub async fn smtp(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    timeout: Duration,
) -> ProtocolResult {
    let mut list = Checklist {
        steps: vec![],
        timeout,
    };
    let mut auth_failed = false;
    let result = smtp_inner(target, cred, extra, &mut list, &mut auth_failed).await;
    finish(Protocol::Smtp, list, result.map(|_| None), auth_failed)
}

async fn smtp_inner(
    target: &Target,
    cred: &Credential,
    extra: &ExtraCa,
    list: &mut Checklist,
    auth_failed: &mut bool,
) -> Result<(), String> {
    use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;

    let hello = ClientId::Domain("mailbridge.localhost".into());
    let mut params = TlsParameters::builder(target.host.clone())
        .dangerous_accept_invalid_certs(!target.validate_certificate);
    for der in &extra.certs {
        let cert =
            Certificate::from_der(der.to_vec()).map_err(|e| format!("MAILBRIDGE_CA_FILE: {e}"))?;
        params = params.add_root_certificate(cert);
    }
    let params = params
        .build_rustls()
        .map_err(|e| format!("TLS settings: {e}"))?;
    let addr = (target.host.clone(), target.port);
    let smtp_err = |e: lettre::transport::smtp::Error| clean(&super::error_chain(&e).join(": "));
    let mut conn = match target.encryption {
        Encryption::SslTls => {
            list.step("connect, TLS and EHLO", async {
                let c = AsyncSmtpConnection::connect_tokio1(
                    addr.clone(),
                    None,
                    &hello,
                    Some(params.clone()),
                    None,
                )
                .await
                .map_err(smtp_err)?;
                Ok((c, "connected with TLS; EHLO answered".to_string()))
            })
            .await?
        }
        Encryption::StartTls => {
            let mut c = list
                .step("connect and EHLO", async {
                    let c =
                        AsyncSmtpConnection::connect_tokio1(addr.clone(), None, &hello, None, None)
                            .await
                            .map_err(smtp_err)?;
                    Ok((c, "connected; EHLO answered".to_string()))
                })
                .await?;
            list.step("STARTTLS", async {
                if !c.can_starttls() {
                    return Err("the server does not offer STARTTLS".to_string());
                }
                c.starttls(params.clone(), &hello).await.map_err(smtp_err)?;
                Ok(((), "TLS established; EHLO answered again".to_string()))
            })
            .await?;
            c
        }
        Encryption::None => {
            list.step("connect and EHLO", async {
                let c = AsyncSmtpConnection::connect_tokio1(addr.clone(), None, &hello, None, None)
                    .await
                    .map_err(smtp_err)?;
                Ok((c, "connected (no encryption); EHLO answered".to_string()))
            })
            .await?
        }
    };
    let info = conn.server_info().to_string();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let login = target.login.clone();
    let result = list
        .step("authenticate", async {
            match cred {
                Credential::Password(pw) => {
                    let payload = b64(&format!("\0{login}\0{pw}"));
                    conn.command(format!("AUTH PLAIN {payload}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    Ok(((), format!("signed in as {login} with PLAIN")))
                }
                Credential::Bearer(token) => {
                    let upper = info.to_ascii_uppercase();
                    let bearer_only = target.mechanism == Mechanism::OAuthBearer
                        || !upper.contains("XOAUTH2") && upper.contains("OAUTHBEARER");
                    let (mech, payload) = if !bearer_only {
                        ("XOAUTH2", b64(&xoauth2(&login, token)))
                    } else {
                        (
                            "OAUTHBEARER",
                            b64(&oauthbearer(&login, &target.host, target.port, token)),
                        )
                    };
                    // The bare AUTH line first: long tokens exceed some servers' line limit.
                    let first = conn
                        .command(format!("AUTH {mech}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    if first.code().to_string() != "334" {
                        return Err(format!(
                            "unexpected answer to AUTH {mech}: {}",
                            first.code()
                        ));
                    }
                    let answer = conn
                        .command(format!("{payload}\r\n"))
                        .await
                        .map_err(smtp_err)?;
                    if answer.code().to_string() == "334" {
                        // A challenge: the token was refused; decode it, then end the exchange.
                        let challenge = answer
                            .first_line()
                            .and_then(|l| {
                                base64::engine::general_purpose::STANDARD
                                    .decode(l.trim())
                                    .ok()
                            })
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default();
                        let reply = if mech == "OAUTHBEARER" {
                            "AQ==\r\n"
                        } else {
                            "\r\n"
                        };
                        let fin = conn.command(reply).await.map_err(smtp_err);
                        let fin = match fin {
                            Ok(r) => format!(
                                "{} {}",
                                r.code(),
                                r.message().collect::<Vec<_>>().join(" ")
                            ),
                            Err(e) => e,
                        };
                        return Err(format!(
                            "the server refused the token: {fin} — server said: {}",
                            clean(&challenge)
                        ));
                    }
                    Ok(((), format!("signed in as {login} with {mech}")))
                }
            }
        })
        .await;
    if result.is_err() {
        *auth_failed = true;
        conn.abort().await;
        return result;
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), conn.quit()).await;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AccountTarget {
    login: String,
    mail_server_id: i64,
    auth_method: String,
    password_enc: Option<Vec<u8>>,
    imap_host: String,
    imap_port: i64,
    imap_encryption: String,
    smtp_host: String,
    smtp_port: i64,
    smtp_encryption: String,
    validate_certificate: bool,
}

/// Runs one protocol's test for an account: a fresh token first, one refresh-and-retry if the
/// login is refused, and the result stored on the account.
pub async fn run_account_test(
    state: &AppState,
    id: i64,
    protocol: Protocol,
) -> Result<ProtocolResult, AppError> {
    let a: AccountTarget = sqlx::query_as(
        "SELECT a.login, a.mail_server_id, s.auth_method, a.password_enc, s.imap_host, s.imap_port, s.imap_encryption,
                s.smtp_host, s.smtp_port, s.smtp_encryption, s.validate_certificate
         FROM mail_accounts a JOIN mail_servers s ON s.id = a.mail_server_id WHERE a.id = ?1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| internal("reading a mail account", e))?
    .ok_or_else(|| AppError::NotFound("The mail account".into()))?;
    let (host, port, enc) = match protocol {
        Protocol::Imap => (a.imap_host.clone(), a.imap_port, a.imap_encryption.clone()),
        Protocol::Smtp => (a.smtp_host.clone(), a.smtp_port, a.smtp_encryption.clone()),
    };
    let target = Target {
        host,
        port: port as u16,
        encryption: Encryption::parse(&enc).unwrap_or(Encryption::SslTls),
        validate_certificate: a.validate_certificate,
        login: a.login.clone(),
        mechanism: Mechanism::Auto,
    };
    let timeout = Duration::from_secs(state.mail.timeout_secs);
    let run = |cred: Credential| {
        let target = &target;
        let extra = state.mail.extra_ca.clone();
        async move {
            match protocol {
                Protocol::Imap => imap(target, &cred, &extra, timeout).await,
                Protocol::Smtp => smtp(target, &cred, &extra, timeout).await,
            }
        }
    };
    let result = if a.auth_method == "password" {
        let pw = a
            .password_enc
            .as_ref()
            .and_then(|b| state.secrets.open_str(b, "mail_accounts.password").ok())
            .ok_or_else(|| AppError::Refused("This mail account has no password stored.".into()))?;
        run(Credential::Password(pw)).await
    } else {
        let _ = load_server(state, a.mail_server_id).await?;
        let token = match refresh::ensure_fresh(state, id, 120).await {
            Ok(t) => t,
            Err(e) => return Ok(not_authorised(protocol, &e.to_string())),
        };
        let first = run(Credential::Bearer(token)).await;
        if first.ok || !first.auth_failed {
            first
        } else {
            // A refused token: refresh once and retry once before reporting.
            match refresh::refresh(state, id, 0, true).await {
                Ok(()) => match refresh::ensure_fresh(state, id, 0).await {
                    Ok(t) => {
                        let mut second = run(Credential::Bearer(t)).await;
                        if !second.ok {
                            second.message = format!(
                                "{} (after refreshing the token and retrying once)",
                                second.message
                            );
                        }
                        second
                    }
                    Err(e) => not_authorised(protocol, &e.to_string()),
                },
                Err(e) => {
                    let mut r = first;
                    r.message = format!("{} The refresh that followed failed too: {e}", r.message);
                    r.hint = Some(
                        "The provider refused the refresh token: authorize the mailbox again."
                            .into(),
                    );
                    r
                }
            }
        }
    };
    store(state, id, protocol, &result).await?;
    Ok(result)
}

fn not_authorised(protocol: Protocol, message: &str) -> ProtocolResult {
    let mut list = Checklist {
        steps: vec![],
        timeout: Duration::from_secs(1),
    };
    list.steps.push(TestStep {
        name: "access token".into(),
        ok: false,
        millis: 0,
        detail: clean(message),
    });
    let mut r = finish(
        protocol,
        list,
        Err(format!("no usable access token: {}", clean(message))),
        true,
    );
    r.hint = Some("Authorize the mailbox again.".into());
    r
}

async fn store(
    state: &AppState,
    id: i64,
    protocol: Protocol,
    r: &ProtocolResult,
) -> Result<(), AppError> {
    let t = now();
    let q = match protocol {
        Protocol::Imap => {
            "UPDATE mail_accounts SET test_at = ?1, test_imap_ok = ?2, test_smtp_ok = NULL, test_message = ?3,
                last_login_at = CASE WHEN ?2 THEN ?1 ELSE last_login_at END WHERE id = ?4"
        }
        Protocol::Smtp => {
            "UPDATE mail_accounts SET test_at = ?1, test_smtp_ok = ?2,
                test_message = CASE WHEN test_message IS NULL OR test_imap_ok IS NULL THEN ?3 ELSE test_message || ' ' || ?3 END
             WHERE id = ?4"
        }
    };
    sqlx::query(q)
        .bind(t)
        .bind(r.ok)
        .bind(&r.message)
        .bind(id)
        .execute(&state.pool)
        .await
        .map_err(|e| internal("storing a test result", e))?;
    Ok(())
}

/// Mail-test settings (`MAILBRIDGE_MAIL_TIMEOUT_SECS`, `MAILBRIDGE_CA_FILE`).
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    pub timeout_secs: u64,
    pub extra_ca: ExtraCa,
}
