//! TLS for IMAP and SMTP: the web PKI roots plus `MAILBRIDGE_CA_FILE`, or (for a test server
//! with "Validate certificate" off, password servers only) any certificate with valid
//! handshake signatures.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

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

pub fn tls_connector(
    validate: bool,
    extra: &ExtraCa,
) -> Result<tokio_rustls::TlsConnector, String> {
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

/// Connects to an address `host` resolves to that the policy allows (the one checked is the
/// one connected to).
pub async fn tcp(
    policy: &crate::ssr::outbound::NetPolicy,
    host: &str,
    port: u16,
) -> Result<(TcpStream, String), String> {
    let s = policy.connect(host, port).await?;
    let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    Ok((s, format!("connected to {peer}")))
}

pub async fn tls(
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
