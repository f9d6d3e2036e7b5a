//! The client's address behind the reverse proxies you run ([`TrustedProxies`]), and the key
//! limits count one client by ([`address_key`]).

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies (load balancers, ingress controllers) in front of your server: a request
/// that comes from one of them carries the client's address in `Forwarded` (RFC 7239) or
/// `X-Forwarded-For`; from anyone else, those headers are ignored (anybody can write them).
///
/// The forwarding chain is read right to left (the right end is what the nearest proxy saw):
/// the first address that is not one of your proxies is the client's. A chain of your proxies
/// only names the leftmost; an entry that is no address (`unknown`, an obfuscated name) stops
/// the walk at the proxy that wrote it. `Forwarded` is read when present, else
/// `X-Forwarded-For`; several header lines count as one list, in order.
///
/// # Example
/// ```
/// use socketioxide_jwt::limits::TrustedProxies;
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "::1"]).unwrap();
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-forwarded-for", "198.51.100.7, 10.0.0.3".parse().unwrap());
/// // From a proxy: the first address from the right that is not one.
/// assert_eq!(proxies.client_ip("10.0.0.2".parse().unwrap(), &headers), "198.51.100.7".parse::<std::net::IpAddr>().unwrap());
/// // From anyone else: the peer, whatever the headers say.
/// assert_eq!(proxies.client_ip("203.0.113.9".parse().unwrap(), &headers), "203.0.113.9".parse::<std::net::IpAddr>().unwrap());
/// ```
///
/// With the builder, so that the logs, the failed-authentication limit and the pending places
/// see clients, not your proxy (feature `axum`: the peer from axum's `ConnectInfo`):
/// ```
/// # #[cfg(feature = "axum")] {
/// use socketioxide_jwt::limits::TrustedProxies;
/// let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
/// let builder = socketioxide_jwt::JwtAuth::builder().client_ip(move |parts| proxies.client_ip_of(parts));
/// # let _ = builder; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A proxy range that does not parse: neither `ADDRESS` nor `ADDRESS/PREFIX`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not an IP address or CIDR range: {0:?}")]
pub struct InvalidProxyRange(pub String);

impl TrustedProxies {
    /// Trusts the proxies in these ranges (`10.0.0.0/8`, `fd00::/8`) or at these addresses
    /// (`127.0.0.1`, `::1`).
    ///
    /// # Errors
    /// The first entry that is neither.
    pub fn new<I, S>(ranges: I) -> Result<Self, InvalidProxyRange>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = ranges
            .into_iter()
            .map(|range| {
                let range = range.as_ref().trim();
                range
                    .parse::<IpNet>()
                    .or_else(|_| range.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| InvalidProxyRange(range.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether `ip` is one of the proxies (an IPv4-mapped IPv6 address as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address of a request that came from `peer` with `headers`: `peer` itself
    /// unless it is one of the proxies (see the type's docs).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarding_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.contains(*ip) => client = *ip,
                Some(ip) => return *ip,
                // Not an address: what the proxy behind it saw is unknown.
                None => return client,
            }
        }
        client
    }

    /// [`client_ip`](Self::client_ip) of a request whose peer axum recorded
    /// (`into_make_service_with_connect_info::<SocketAddr>`); `None` without it.
    #[cfg(feature = "axum")]
    pub fn client_ip_of(&self, parts: &http::request::Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
            .0
            .ip();
        Some(self.client_ip(peer, &parts.headers))
    }
}

/// The addresses the proxies recorded, left (the first) to right (the nearest); `None` for an
/// entry that is no address.
fn forwarding_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<_> = headers.get_all(http::header::FORWARDED).iter().collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("unknown").split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_node(value.trim().trim_matches('"')))
                    })
                    .flatten()
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("unknown").split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(bracketed) = node.strip_prefix('[') {
        return bracketed.split(']').next()?.parse().ok();
    }
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| {
            node.rsplit_once(':')?
                .0
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(IpAddr::V4)
        })
        .map(|ip| ip.to_canonical())
}

/// What limits count one client by: an IPv4 address (IPv4-mapped IPv6 included) as is, an
/// IPv6 address by its /64 (what one host or one customer is usually given: counting single
/// IPv6 addresses would let one host have 2^64 of them).
///
/// # Example
/// ```
/// use socketioxide_jwt::limits::address_key;
/// let a = address_key("2001:db8:1:2::1".parse().unwrap());
/// let b = address_key("2001:db8:1:2:ffff::9".parse().unwrap());
/// assert_eq!(a, b);
/// assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let forged = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            proxies.client_ip(ip("203.0.113.5"), &forged),
            ip("203.0.113.5")
        );
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &forged), ip("1.2.3.4"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.1.2.3"), &forged),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_chain_is_read_right_to_left_past_trusted_hops_only() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "::1"]).unwrap();
        // The client wrote "6.6.6.6" itself; the outer proxy appended what it saw.
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(proxies.client_ip(ip("::1"), &spoofed), ip("198.51.100.7"));
        let lines = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &lines),
            ip("198.51.100.7")
        );
        let only_proxies = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &only_proxies),
            ip("10.0.0.5")
        );
        let unknown = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.6")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &unknown), ip("10.0.0.6"));
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn forwarded_wins_and_is_parsed_as_rfc_7239_writes_it() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let both = headers(&[
            (
                "forwarded",
                r#"for=192.0.2.60;proto=https, For="[2001:db8:cafe::17]:4711""#,
            ),
            ("x-forwarded-for", "6.6.6.6"),
        ]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &both),
            ip("2001:db8:cafe::17")
        );
        let port = headers(&[("forwarded", "for=\"192.0.2.60:1234\", for=10.0.0.2")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &port), ip("192.0.2.60"));
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.2")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &hidden), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_addresses_and_ranges_normalise() {
        let proxies = TrustedProxies::new(["127.0.0.1", " 10.9.8.7/8 "]).unwrap();
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(proxies.contains(ip("10.200.0.1")));
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        assert!(TrustedProxies::new(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::new(["nginx"]).is_err());
        assert!(TrustedProxies::new([""]).is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            address_key(ip("2001:db8::1")),
            address_key(ip("2001:db8::ffff:1"))
        );
        assert_ne!(
            address_key(ip("2001:db8:0:1::1")),
            address_key(ip("2001:db8:0:2::1"))
        );
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
