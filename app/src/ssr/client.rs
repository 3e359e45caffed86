//! Who is calling: the socket's peer, or — only when that peer is a trusted reverse proxy
//! (`MAILBRIDGE_TRUSTED_PROXIES`) — the client the proxies say they forwarded for. The one
//! address the lock-out, the applications' allowed addresses and the logs all use.

use std::net::IpAddr;

use http::HeaderMap;

use crate::domain::CidrList;

/// The resolved client address of a request, put in its extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client of a request that reached us from `peer`. From an untrusted peer, forwarded
/// headers are ignored (anyone can send them). From a trusted proxy, the right-most
/// `X-Forwarded-For` (else RFC 7239 `Forwarded: for=`) entry that is not itself a trusted proxy:
/// entries to its left were written by the client and prove nothing. An entry that is not an
/// address (a misconfigured proxy) leaves the peer as the client.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &CidrList) -> IpAddr {
    if trusted.is_empty() || !trusted.allows(peer) {
        return peer;
    }
    let mut hops = forwarded_for(headers);
    while let Some(hop) = hops.pop() {
        match hop {
            Some(ip) if trusted.allows(ip) => continue,
            Some(ip) => return ip,
            None => return peer,
        }
    }
    peer
}

/// The forwarded-for chain, left (first hop) to right (last hop); `None` for an entry that is
/// not an address.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| parse_hop(s.trim()))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(v.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

/// The key the lock-out counts a client's failures under: the address, except that an IPv6
/// client is its /64 (one household or server gets a whole /64 and can pick any address in it).
pub fn lockout_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        let none = CidrList::default();
        assert_eq!(resolve(ip("198.51.100.1"), &h, &none), ip("198.51.100.1"));
        let other = CidrList::parse("10.0.0.0/8").unwrap();
        assert_eq!(resolve(ip("198.51.100.1"), &h, &other), ip("198.51.100.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = CidrList::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        // The client forged the first entry; our proxies appended the real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.5")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.7"));
        let h = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::1]:4711\";proto=https",
        )]);
        assert_eq!(resolve(ip("10.1.1.1"), &h, &trusted), ip("2001:db8::1"));
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(resolve(ip("10.1.1.1"), &h, &trusted), ip("10.1.1.1"));
        assert_eq!(
            resolve(ip("10.1.1.1"), &HeaderMap::new(), &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(
            lockout_key(ip("2001:db8:1:2:aaaa::1")),
            lockout_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            lockout_key(ip("2001:db8:1:2::1")),
            lockout_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(lockout_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
