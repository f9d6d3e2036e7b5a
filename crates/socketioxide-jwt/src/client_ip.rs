//! The client's address behind the reverse proxies you run ([`TrustedProxies`]), and the key
//! limits count one client by ([`address_key`]).

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies (load balancers, ingress controllers) in front of your server: a request
/// that comes from one of them carries the client's address in the forwarding header they write
/// (`X-Forwarded-For` by default, or RFC 7239's `Forwarded`: [`header`](Self::header)); from
/// anyone else, that header is ignored (anybody can write it). The other header is never read:
/// a proxy passes on whatever the client put in the header it does not write itself.
///
/// The forwarding chain is read right to left (the right end is what the nearest proxy saw):
/// the first address that is not one of your proxies is the client's. A chain of your proxies
/// only names the leftmost; an entry that is no address (`unknown`, an obfuscated name, bytes
/// that are not text) stops the walk at the proxy that wrote it, and so does the 32nd entry.
/// Several header lines count as one list, in order.
///
/// List your proxies only, never a range your clients are in: a client inside a trusted range
/// can write the header.
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
/// use socketioxide_jwt::{keys::Keys, JwtAuth};
/// let builder = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!"))
///     .client_ip(move |parts| proxies.client_ip_of(parts));
/// # let _ = builder; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardingHeader,
}

/// The header your proxies write the client's address in: the one [`TrustedProxies`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's `$proxy_add_x_forwarded_for`, AWS
    /// ALB, most load balancers). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client;proto=https, for=proxy1` (Envoy, HAProxy and others
    /// when told to).
    Forwarded,
}

/// A proxy range that cannot be used: neither `ADDRESS` nor `ADDRESS/PREFIX`, or wider than a
/// /8 (it would hold clients, who could then write the header).
#[derive(Debug, Clone, thiserror::Error)]
#[error("not an IP address or a CIDR range of /8 or narrower: {0:?}")]
pub struct InvalidProxyRange(pub String);

/// Entries of a forwarding chain looked at, at most: a longer chain is no proxy's doing.
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    /// Trusts the proxies in these ranges (`10.0.0.0/8`, `fd00::/8`) or at these addresses
    /// (`127.0.0.1`, `::1`), which write `X-Forwarded-For`.
    ///
    /// # Errors
    /// The first entry that is neither, or a range wider than /8.
    pub fn new<I, S>(ranges: I) -> Result<Self, InvalidProxyRange>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = ranges
            .into_iter()
            .map(|range| {
                let text = range.as_ref().trim();
                let net = text
                    .parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxyRange(text.to_owned()))?;
                let net = canonical_net(net.trunc());
                if net.prefix_len() < 8 {
                    return Err(InvalidProxyRange(text.to_owned()));
                }
                Ok(net)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            nets,
            header: ForwardingHeader::default(),
        })
    }

    /// Reads the client's address from `header` (the one your proxies write), and never from the
    /// other.
    ///
    /// # Example
    /// ```
    /// use socketioxide_jwt::limits::{ForwardingHeader, TrustedProxies};
    /// let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap().header(ForwardingHeader::Forwarded);
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#.parse().unwrap());
    /// headers.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    /// assert_eq!(proxies.client_ip("10.0.0.1".parse().unwrap(), &headers), "2001:db8::7".parse::<std::net::IpAddr>().unwrap());
    /// ```
    #[must_use]
    pub fn header(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
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
        let mut client = peer;
        for hop in self.chain_from_the_right(headers).take(MAX_HOPS) {
            match hop {
                Some(ip) if self.contains(ip) => client = ip,
                Some(ip) => return ip,
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

    /// The addresses the proxies recorded, nearest first; `None` for an entry that is no
    /// address.
    fn chain_from_the_right<'a>(
        &self,
        headers: &'a HeaderMap,
    ) -> Box<dyn Iterator<Item = Option<IpAddr>> + 'a> {
        match self.header {
            ForwardingHeader::XForwardedFor => Box::new(
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .rev()
                    .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
                    .map(|entry| parse_node(std::str::from_utf8(entry).ok()?.trim())),
            ),
            ForwardingHeader::Forwarded => Box::new(
                headers
                    .get_all(http::header::FORWARDED)
                    .iter()
                    .rev()
                    .flat_map(|line| forwarded_elements(line.as_bytes()).into_iter().rev()),
            ),
        }
    }
}

/// An IPv4-mapped range (`::ffff:10.0.0.0/104`) as the IPv4 range it is, since addresses are
/// compared in their canonical form.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

/// The `for` of each element of one `Forwarded` line (RFC 7239: elements separated by `,`,
/// pairs by `;`, values tokens or quoted strings, in which `,` `;` `=` are text): `None` for an
/// element whose `for` is missing, given twice, or no address.
fn forwarded_elements(line: &[u8]) -> Vec<Option<IpAddr>> {
    let Ok(line) = std::str::from_utf8(line) else {
        return vec![None];
    };
    let mut elements = Vec::new();
    let mut fors: Vec<String> = Vec::new();
    let (mut pair, mut quoted, mut escaped) = (String::new(), false, false);
    let end_pair = |pair: &mut String, fors: &mut Vec<String>| {
        if let Some((name, value)) = pair.split_once('=') {
            if name.trim().eq_ignore_ascii_case("for") {
                fors.push(value.trim().to_owned());
            }
        }
        pair.clear();
    };
    for c in line.chars() {
        match c {
            _ if escaped => {
                pair.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => end_pair(&mut pair, &mut fors),
            ',' if !quoted => {
                end_pair(&mut pair, &mut fors);
                elements.push(element_for(&fors));
                fors.clear();
            }
            _ => pair.push(c),
        }
    }
    end_pair(&mut pair, &mut fors);
    // An unterminated quoted string: the element is unreadable.
    elements.push(if quoted { None } else { element_for(&fors) });
    elements
}

/// The address of an element whose `for` values are `fors`: one, and an address.
fn element_for(fors: &[String]) -> Option<IpAddr> {
    match fors {
        [only] => parse_node(only),
        _ => None,
    }
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let ip = match node.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?.parse().ok()?,
        None => node.parse::<IpAddr>().ok().or_else(|| {
            node.rsplit_once(':')?
                .0
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(IpAddr::V4)
        })?,
    };
    Some(ip.to_canonical())
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
    fn only_the_header_the_proxies_write_is_read() {
        // nginx writes X-Forwarded-For and passes the client's own Forwarded on untouched.
        let xff = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let forged = headers(&[
            ("forwarded", "for=198.51.100.77"),
            ("x-forwarded-for", "203.0.113.5"),
        ]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &forged), ip("203.0.113.5"));
        let empty = headers(&[("forwarded", ""), ("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &empty), ip("203.0.113.5"));
        let forwarded = xff.clone().header(ForwardingHeader::Forwarded);
        let forged = headers(&[
            ("x-forwarded-for", "198.51.100.77"),
            ("forwarded", "for=203.0.113.5"),
        ]);
        assert_eq!(
            forwarded.client_ip(ip("10.0.0.1"), &forged),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn forwarded_is_parsed_as_rfc_7239_writes_it() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardingHeader::Forwarded);
        let both = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=https, For="[2001:db8:cafe::17]:4711""#,
        )]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &both),
            ip("2001:db8:cafe::17")
        );
        let port = headers(&[("forwarded", "for=\"192.0.2.60:1234\", for=10.0.0.2")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &port), ip("192.0.2.60"));
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.2")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &hidden), ip("10.0.0.2"));
        // A client's Host copied by the proxy into a quoted value cannot add an element.
        let host = headers(&[("forwarded", r#"for=203.0.113.5;host="a,for=6.6.6.6""#)]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &host), ip("203.0.113.5"));
        // Two `for` in one element: which is the proxy's is unknown.
        let twice = headers(&[("forwarded", "for=6.6.6.6;for=203.0.113.5")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &twice), ip("10.0.0.1"));
        let mapped = headers(&[("forwarded", r#"for="[::ffff:198.51.100.7]""#)]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &mapped),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn bytes_that_are_not_text_spoil_their_entry_only() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let mut map = HeaderMap::new();
        map.append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"\xff, 203.0.113.9").unwrap(),
        );
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &map), ip("203.0.113.9"));
    }

    #[test]
    fn a_chain_longer_than_32_stops_at_a_trusted_hop() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let chain = std::iter::once("198.51.100.7".to_owned())
            .chain((0..40).map(|i| format!("10.0.0.{i}")))
            .collect::<Vec<_>>()
            .join(", ");
        let long = headers(&[("x-forwarded-for", chain.as_str())]);
        assert_eq!(proxies.client_ip(ip("10.9.9.9"), &long), ip("10.0.0.8"));
    }

    #[test]
    fn mapped_addresses_and_ranges_normalise() {
        let proxies = TrustedProxies::new(["127.0.0.1", " 10.9.8.7/8 "]).unwrap();
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(proxies.contains(ip("10.200.0.1")));
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        assert!(TrustedProxies::new(["::ffff:10.0.0.0/104"])
            .unwrap()
            .contains(ip("10.1.2.3")));
        assert!(TrustedProxies::new(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::new(["0.0.0.0/0"]).is_err());
        assert!(TrustedProxies::new(["::/0"]).is_err());
        assert!(TrustedProxies::new(["8.0.0.0/7"]).is_err());
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
