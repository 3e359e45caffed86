//! Mail for programs that cannot speak OAuth: the SMTP submission relay
//! (`MAILBRIDGE_SMTP_RELAY_ADDR`) and the IMAP proxy (`MAILBRIDGE_IMAP_PROXY_ADDR`). A program
//! signs in with a mailbox address and an app password, over TLS; Mailbridge signs in to the
//! mailbox's own server with its OAuth token. Each listener is off unless its address is set.

pub mod imap;
pub mod smtp;
pub mod stream;
pub mod token;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use app::ssr::AppState;

use crate::config::Config;

/// What one listener's connections share.
pub struct Settings {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// TLS from the first byte, rather than STARTTLS.
    pub implicit_tls: bool,
    /// Our name in greetings.
    pub hostname: String,
    /// A client silent this long is disconnected (mid-DATA too).
    pub idle: Duration,
    /// Each step with the upstream server.
    pub upstream_timeout: Duration,
    /// The largest message the relay takes.
    pub max_bytes: u64,
    /// How often a proxied session checks that its app password and mailbox are still good.
    pub recheck: Duration,
}

/// The listeners started, by the address each is bound to (a port 0 in the configuration
/// becomes the one the system chose).
#[derive(Debug, Default)]
pub struct Gateways {
    pub smtp: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("MAILBRIDGE_TLS_CERT_FILE / MAILBRIDGE_TLS_KEY_FILE: {0}")]
    Tls(String),
    #[error("{var}: cannot listen on {addr}: {source}")]
    Bind {
        var: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The TLS server configuration from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, GatewayError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| GatewayError::Tls(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            GatewayError::Tls(format!(
                "{} is not a PEM certificate file: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(GatewayError::Tls(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| GatewayError::Tls(format!("{}: no usable private key: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            GatewayError::Tls(format!("the certificate and key do not go together: {e}"))
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The client's stream: the TCP connection itself (STARTTLS comes later), or — on an
/// implicit-TLS port — the TLS session, when the handshake finishes within the idle time.
pub(crate) async fn client_stream(
    set: &Settings,
    tcp: tokio::net::TcpStream,
) -> Option<stream::Stream> {
    if !set.implicit_tls {
        return Some(stream::Stream::Plain(tcp));
    }
    match tokio::time::timeout(set.idle, set.acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(stream::Stream::Accepted(Box::new(s))),
        _ => None,
    }
}

/// Binds and serves the listeners the configuration asks for.
pub async fn start(state: &AppState, config: &Config) -> Result<Gateways, GatewayError> {
    let mut out = Gateways::default();
    if config.smtp_relay_addr.is_none() && config.imap_proxy_addr.is_none() {
        return Ok(out);
    }
    let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) else {
        return Err(GatewayError::Tls(
            "the SMTP relay and the IMAP proxy take passwords only over TLS: set both files".into(),
        ));
    };
    let acceptor = tls_acceptor(cert, key)?;
    let hostname = url::Url::parse(&state.settings.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "mailbridge".into());
    let settings = |implicit_tls| Settings {
        acceptor: acceptor.clone(),
        implicit_tls,
        hostname: hostname.clone(),
        idle: Duration::from_secs(config.gateway_idle_secs as u64),
        upstream_timeout: Duration::from_secs(config.mail_timeout_secs as u64),
        max_bytes: config.smtp_relay_max_bytes as u64,
        recheck: Duration::from_secs(config.gateway_recheck_secs as u64),
    };
    if let Some(addr) = config.smtp_relay_addr {
        let listener = bind("MAILBRIDGE_SMTP_RELAY_ADDR", addr).await?;
        out.smtp = listener.local_addr().ok();
        let set = Arc::new(settings(config.smtp_relay_implicit_tls));
        let limit = config.smtp_relay_max_connections as usize;
        tracing::info!(addr = ?out.smtp, implicit_tls = set.implicit_tls, "SMTP relay listening");
        tokio::spawn(accept(listener, state.clone(), set, limit, Protocol::Smtp));
    }
    if let Some(addr) = config.imap_proxy_addr {
        let listener = bind("MAILBRIDGE_IMAP_PROXY_ADDR", addr).await?;
        out.imap = listener.local_addr().ok();
        let set = Arc::new(settings(config.imap_proxy_implicit_tls));
        let limit = config.imap_proxy_max_connections as usize;
        tracing::info!(addr = ?out.imap, implicit_tls = set.implicit_tls, "IMAP proxy listening");
        tokio::spawn(accept(listener, state.clone(), set, limit, Protocol::Imap));
    }
    Ok(out)
}

async fn bind(var: &'static str, addr: SocketAddr) -> Result<TcpListener, GatewayError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| GatewayError::Bind { var, addr, source })
}

#[derive(Clone, Copy)]
enum Protocol {
    Smtp,
    Imap,
}

async fn accept(
    listener: TcpListener,
    state: AppState,
    set: Arc<Settings>,
    limit: usize,
    protocol: Protocol,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    loop {
        let (mut tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accepting a mail connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Told in the clear on a STARTTLS port; on an implicit-TLS one the connection is
            // only closed (a handshake would spend what the limit protects).
            let busy: &[u8] = match protocol {
                Protocol::Smtp => b"421 4.7.0 Too many connections; try again later\r\n",
                Protocol::Imap => b"* BYE Too many connections; try again later\r\n",
            };
            let implicit = set.implicit_tls;
            tokio::spawn(async move {
                if !implicit {
                    let _ = tcp.write_all(busy).await;
                }
                let _ = tcp.shutdown().await;
            });
            continue;
        };
        let (st, set) = (state.clone(), set.clone());
        tokio::spawn(async move {
            match protocol {
                Protocol::Smtp => smtp::serve(st, set, tcp, peer).await,
                Protocol::Imap => imap::serve(st, set, tcp, peer).await,
            }
            drop(permit);
        });
    }
}
