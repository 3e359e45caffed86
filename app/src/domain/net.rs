//! Network fields: hosts, ports, TLS modes, allowed client addresses, URLs.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A DNS name or an IP address, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(String);

impl Host {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if value.is_empty() {
            return Err("is required".into());
        }
        if value.len() > 253 {
            return Err("must be at most 253 characters".into());
        }
        let bare = value.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(Host(bare.to_string()));
        }
        let ok = value.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !ok {
            return Err("must be a host name such as imap.example.com or an IP address".into());
        }
        Ok(Host(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A TCP port, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(u16);

impl Port {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        match value.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(Port(n as u16)),
            _ => Err("must be a number from 1 to 65535".into()),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// How a mail connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encryption {
    #[serde(rename = "ssl")]
    SslTls,
    #[serde(rename = "starttls")]
    StartTls,
    #[serde(rename = "none")]
    None,
}

impl Encryption {
    pub const ALL: [Encryption; 3] = [Encryption::SslTls, Encryption::StartTls, Encryption::None];

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "ssl" | "SSL/TLS" => Ok(Encryption::SslTls),
            "starttls" | "STARTTLS" => Ok(Encryption::StartTls),
            "none" | "None" => Ok(Encryption::None),
            _ => Err("must be SSL/TLS, STARTTLS or None".into()),
        }
    }

    /// The stored and submitted value.
    pub fn code(self) -> &'static str {
        match self {
            Encryption::SslTls => "ssl",
            Encryption::StartTls => "starttls",
            Encryption::None => "none",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Encryption::SslTls => "SSL/TLS",
            Encryption::StartTls => "STARTTLS",
            Encryption::None => "None",
        }
    }
}

/// One allowed client: an address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{}' is not an IP address or CIDR range", shorten(raw)))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("'{}' has a prefix length outside 0–{max}", shorten(raw))
                })?,
            };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn shorten(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    cleaned
}

/// "Allowed IP addresses": comma-separated addresses or CIDR ranges; empty means anyone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CidrList(Vec<Cidr>);

impl CidrList {
    pub const LABEL: &'static str = "Allowed IP addresses";

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 4000 {
            return Err("must be at most 4000 characters".into());
        }
        let items: Vec<Cidr> = raw
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()?;
        Ok(CidrList(items))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An empty list allows everyone.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.is_empty() || self.0.iter().any(|c| c.contains(ip))
    }

    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An absolute http(s) URL (an OAuth issuer or endpoint). https is expected; plain http only
/// for loopback and private test servers, which the admin chose explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        if value.len() > 2000 {
            return Err("must be at most 2000 characters".into());
        }
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or("must start with https:// or http://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty()
            || authority.contains('@')
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("must be a URL such as https://accounts.example.com".into());
        }
        if value.contains('#') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be a URL without spaces or a #fragment".into());
        }
        Ok(HttpUrl(value.trim_end_matches('/').to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ports() {
        assert_eq!(Port::parse("993").unwrap().get(), 993);
        assert_eq!(
            Port::parse("70000").unwrap_err(),
            "must be a number from 1 to 65535"
        );
        assert!(Port::parse("0").is_err());
        assert!(Port::parse("").is_err());
    }

    #[test]
    fn cidrs() {
        let l = CidrList::parse("10.0.0.0/8, 192.168.1.5,2001:db8::/32").unwrap();
        assert!(l.allows("10.2.3.4".parse().unwrap()));
        assert!(l.allows("192.168.1.5".parse().unwrap()));
        assert!(!l.allows("192.168.1.6".parse().unwrap()));
        assert!(l.allows("2001:db8::1".parse().unwrap()));
        assert!(l.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(l.to_text(), "10.0.0.0/8, 192.168.1.5, 2001:db8::/32");
        assert!(CidrList::parse("10.0.0.0/33").is_err());
        assert!(CidrList::parse("not-an-ip")
            .unwrap_err()
            .contains("not-an-ip"));
        assert!(CidrList::parse("")
            .unwrap()
            .allows("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn hosts_and_urls() {
        assert_eq!(
            Host::parse(" IMAP.Gmail.com ").unwrap().as_str(),
            "imap.gmail.com"
        );
        assert!(Host::parse("bad host").is_err());
        assert!(Host::parse("127.0.0.1").is_ok());
        assert_eq!(
            HttpUrl::parse("http://127.0.0.1:9090/").unwrap().as_str(),
            "http://127.0.0.1:9090"
        );
        assert!(HttpUrl::parse("ftp://x").is_err());
        assert!(HttpUrl::parse("https://").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,120}") {
            let _ = Host::parse(&s);
            let _ = Port::parse(&s);
            let _ = Encryption::parse(&s);
            let _ = HttpUrl::parse(&s);
            if let Ok(l) = CidrList::parse(&s) {
                prop_assert_eq!(CidrList::parse(&l.to_text()).unwrap(), l);
            }
        }

        #[test]
        fn cidr_round_trips(a in any::<u32>(), p in 0u8..=32) {
            let c = Cidr { addr: IpAddr::V4(std::net::Ipv4Addr::from(a)), prefix: p };
            prop_assert_eq!(Cidr::parse(&c.to_string()).unwrap(), c);
            prop_assert!(c.contains(c.addr));
        }

        #[test]
        fn port_round_trips(n in 1u16..) {
            prop_assert_eq!(Port::parse(&n.to_string()).unwrap().get(), n);
        }
    }
}
