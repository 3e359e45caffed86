//! Every connection Mailbridge opens to another machine — OAuth discovery, token, userinfo,
//! revocation and key requests, IMAP and SMTP — goes to public addresses only, unless the
//! operator allowed a private range (`MAILBRIDGE_ALLOW_PRIVATE_NETWORKS`). The check is made on
//! the addresses a name resolves to, and those very addresses are the ones connected to, so a
//! name cannot resolve to a public address for the check and a private one for the connection.
//! HTTP answers are read as a stream and cut off at a size cap.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::domain::CidrList;

/// Size caps of provider answers.
pub mod cap {
    pub const DISCOVERY: usize = 512 * 1024;
    pub const JWKS: usize = 512 * 1024;
    pub const TOKEN: usize = 64 * 1024;
    pub const USERINFO: usize = 64 * 1024;
    pub const REVOCATION: usize = 64 * 1024;
}

/// Which kind of special-purpose range `ip` is in, if any.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("carrier-grade NAT")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("multicast")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("benchmarking")
            } else if o[0] >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_range(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address inside.
            let embedded = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return special_range(IpAddr::V4(embedded(s[6], s[7])));
            }
            if s[0] == 0x2002 {
                return special_range(IpAddr::V4(embedded(s[1], s[2])));
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("private")
            } else {
                None
            }
        }
    }
}

/// Where outbound connections may go.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    allowed: CidrList,
}

impl NetPolicy {
    /// `allowed`: the private ranges the operator opened (`MAILBRIDGE_ALLOW_PRIVATE_NETWORKS`).
    pub fn new(allowed: CidrList) -> Self {
        NetPolicy { allowed }
    }

    /// Whether a connection to `ip` is allowed; the refusal names the range and the setting.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        match special_range(ip) {
            Some(kind) if !self.explicitly_allowed(ip) => Err(format!(
                "{host} is {ip}, a {kind} address: Mailbridge connects to public addresses only (allow a range with MAILBRIDGE_ALLOW_PRIVATE_NETWORKS)"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `ip` is inside a range the operator allowed explicitly.
    pub fn explicitly_allowed(&self, ip: IpAddr) -> bool {
        // An empty list allows nothing here (CidrList alone reads it as "anyone").
        !self.allowed.is_empty() && self.allowed.allows(ip)
    }

    /// The addresses `host` resolves to that may be connected to; an error when there are
    /// none (naming the first refused one).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.check(host, a.ip()) {
                Ok(()) => true,
                Err(m) => {
                    refused.get_or_insert(m);
                    false
                }
            })
            .collect();
        if allowed.is_empty() {
            return Err(refused.unwrap_or_else(|| format!("{host} resolves to no address")));
        }
        Ok(allowed)
    }

    /// Connects to `host:port` through the first allowed address that answers.
    pub async fn connect(&self, host: &str, port: u16) -> Result<tokio::net::TcpStream, String> {
        let mut last = String::new();
        for addr in self.resolve(host, port).await? {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = format!("cannot connect to {host}:{port} ({addr}): {e}"),
            }
        }
        Err(last)
    }
}

/// reqwest's resolver, filtered by the policy: what it returns is what reqwest connects to.
/// `explicit_only` (the plain-http client): only addresses in an allowed range.
struct PolicyResolver {
    policy: Arc<NetPolicy>,
    explicit_only: bool,
}

impl oauth2::reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: oauth2::reqwest::dns::Name) -> oauth2::reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let explicit_only = self.explicit_only;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let mut addrs = policy
                .resolve(&host, 0)
                .await
                .map_err(|m| -> Box<dyn std::error::Error + Send + Sync> { m.into() })?;
            if explicit_only {
                addrs.retain(|a| policy.explicitly_allowed(a.ip()));
                if addrs.is_empty() {
                    let m = format!("{host}: plain http is used only inside MAILBRIDGE_ALLOW_PRIVATE_NETWORKS; use https");
                    return Err(m.into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as oauth2::reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The destination is not allowed (a private address, plain http to a public host).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
    #[error("the answer is larger than {} KB", .0 / 1024)]
    TooLarge(usize),
}

/// The HTTP client for providers: the policy's resolver, no redirects (a redirect could point
/// anywhere), no proxy from the environment (it would resolve names itself), `MAILBRIDGE_CA_FILE`
/// trusted, timeouts.
#[derive(Clone)]
pub struct Outbound {
    client: oauth2::reqwest::Client,
    /// For plain-http URLs: its resolver admits only explicitly allowed ranges, checked on the
    /// address it then connects to.
    plain: oauth2::reqwest::Client,
    pub policy: Arc<NetPolicy>,
}

impl Outbound {
    pub fn new(extra: &super::mail::tls::ExtraCa, policy: NetPolicy) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let build = |explicit_only: bool| -> Result<oauth2::reqwest::Client, String> {
            let mut builder = oauth2::reqwest::Client::builder();
            for der in &extra.certs {
                let cert = oauth2::reqwest::Certificate::from_der(der)
                    .map_err(|e| format!("MAILBRIDGE_CA_FILE: {e}"))?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .dns_resolver(Arc::new(PolicyResolver {
                    policy: policy.clone(),
                    explicit_only,
                }))
                .no_proxy()
                .redirect(oauth2::reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(15))
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| e.to_string())
        };
        Ok(Outbound {
            client: build(false)?,
            plain: build(true)?,
            policy,
        })
    }

    /// Checks a URL before any connection: http(s) only, an IP literal against the policy
    /// (reqwest does not resolve those), and plain http only to an explicitly allowed range.
    pub async fn check_url(&self, url: &url::Url) -> Result<(), OutboundError> {
        let host = url
            .host_str()
            .ok_or_else(|| OutboundError::Refused(format!("{url} has no host")))?;
        match url.scheme() {
            "https" => {
                if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                    self.policy
                        .check(host, ip)
                        .map_err(OutboundError::Refused)?;
                }
                Ok(())
            }
            "http" => {
                // A name is checked by the plain client's resolver, on the address it connects
                // to; an address literal (which it does not resolve) here.
                match host.trim_matches(['[', ']']).parse::<IpAddr>() {
                    Ok(ip) if !self.policy.explicitly_allowed(ip) => {
                        self.policy
                            .check(host, ip)
                            .map_err(OutboundError::Refused)?;
                        Err(OutboundError::Refused(format!(
                            "{host}: plain http is used only inside MAILBRIDGE_ALLOW_PRIVATE_NETWORKS; use https"
                        )))
                    }
                    _ => Ok(()),
                }
            }
            other => Err(OutboundError::Refused(format!(
                "{url}: the scheme {other} is not http(s)"
            ))),
        }
    }

    /// Checks the destination and sends `request`; the answer's body is not read yet.
    async fn execute(
        &self,
        request: HttpRequest,
    ) -> Result<oauth2::reqwest::Response, OutboundError> {
        let url = url::Url::parse(&request.uri().to_string())
            .map_err(|e| OutboundError::Refused(format!("not a URL: {e}")))?;
        self.check_url(&url).await?;
        let req: oauth2::reqwest::Request = request
            .try_into()
            .map_err(|e: oauth2::reqwest::Error| OutboundError::Failed(describe(&e)))?;
        let client = if url.scheme() == "http" {
            &self.plain
        } else {
            &self.client
        };
        client.execute(req).await.map_err(|e| {
            let m = describe(&e);
            // The resolver's refusals arrive as connection errors; they are refusals.
            if m.contains("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS") {
                OutboundError::Refused(m)
            } else {
                OutboundError::Failed(m)
            }
        })
    }

    /// Sends `request` and answers the status alone, reading none of the body (a webhook
    /// receiver's answer means nothing beyond its status).
    pub async fn status_of(&self, request: HttpRequest) -> Result<u16, OutboundError> {
        Ok(self.execute(request).await?.status().as_u16())
    }

    /// Sends `request` and reads at most `cap` bytes of the answer.
    pub async fn send(
        &self,
        request: HttpRequest,
        cap: usize,
    ) -> Result<HttpResponse, OutboundError> {
        let res = self.execute(request).await?;
        if res.content_length().is_some_and(|n| n as usize > cap) {
            return Err(OutboundError::TooLarge(cap));
        }
        let mut builder = http::Response::builder().status(res.status());
        for (name, value) in res.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        let mut res = res;
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| OutboundError::Failed(describe(&e)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(OutboundError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| OutboundError::Failed(e.to_string()))
    }

    /// A GET with `Accept: application/json`, capped.
    pub async fn get(
        &self,
        url: &str,
        bearer: Option<&str>,
        cap: usize,
    ) -> Result<HttpResponse, OutboundError> {
        let mut b = http::Request::get(url).header(http::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = b
            .body(Vec::new())
            .map_err(|e| OutboundError::Refused(e.to_string()))?;
        self.send(req, cap).await
    }

    /// The oauth2 crate's client for this connection, with a cap on answers.
    pub fn capped(&self, cap: usize) -> Capped {
        Capped {
            out: self.clone(),
            cap,
        }
    }
}

/// [`Outbound`] as the oauth2 (and openidconnect) crates' HTTP client.
pub struct Capped {
    out: Outbound,
    cap: usize,
}

impl<'c> AsyncHttpClient<'c> for Capped {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.out.send(request, self.cap))
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what happened.
pub fn describe(e: &oauth2::reqwest::Error) -> String {
    let mut parts = super::error_chain(e);
    if parts.len() > 1 {
        parts.remove(0);
    }
    if e.is_timeout() {
        parts.insert(0, "timed out".to_string());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ranges_are_recognised_in_both_families() {
        for (ip, kind) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.128.0.1", None),
            ("224.0.0.1", Some("multicast")),
            ("0.0.0.0", Some("unspecified")),
            ("8.8.8.8", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("private")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("2001:4860:4860::8888", None),
            ("198.18.0.1", Some("benchmarking")),
            ("250.1.2.3", Some("reserved")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::808:808", None),
            ("2002:a00:1::", Some("private")),
        ] {
            assert_eq!(special_range(ip.parse().unwrap()), kind, "{ip}");
        }
    }

    #[tokio::test]
    async fn names_are_checked_on_what_they_resolve_to() {
        let closed = NetPolicy::default();
        let m = closed.resolve("localhost", 25).await.unwrap_err();
        assert!(
            m.contains("loopback") && m.contains("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS"),
            "{m}"
        );
        assert!(closed.resolve("[::1]", 25).await.is_err());
        let open = NetPolicy::new(CidrList::parse("127.0.0.0/8, ::1/128").unwrap());
        assert!(open.resolve("localhost", 25).await.is_ok());
        assert!(open.resolve("10.0.0.1", 25).await.is_err());
    }
}
