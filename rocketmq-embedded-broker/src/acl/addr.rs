//! Remote-address patterns of `whiteRemoteAddress` and `globalWhiteRemoteAddresses`
//! (upstream `RemoteAddressStrategyFactory`).

use std::fmt;
use std::net::IpAddr;

/// One whitelist entry.
///
/// Forms accepted (IPv4 unless said otherwise):
/// * `*`, `*.*.*.*` or `*:*:*:*:*:*:*:*` — every address;
/// * `192.168.0.1` (or an IPv6 address) — exactly that address;
/// * `192.168.0.1,192.168.0.2` — any of a list of exact addresses (IPv4 or IPv6);
/// * `192.168.0.{1,2,3}` — any of a list of last octets;
/// * `192.168.1.*`, `192.168.*.*`, `192.*.*.*` — a prefix, the rest anything;
/// * `192.168.1.10-20`, `192.168.1-9.*` — a range in one octet, anything after it.
///
/// An empty pattern matches nothing (upstream's "blank" strategy).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AddressPattern {
    source: String,
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Nothing,
    Any,
    Set(Vec<IpAddr>),
    /// Leading octets fixed, one octet within `lo..=hi`, the octets after it anything.
    Range {
        head: Vec<u8>,
        lo: u8,
        hi: u8,
    },
}

impl fmt::Debug for AddressPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl AddressPattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// A sentence saying what is wrong with it.
    pub(crate) fn parse(pattern: &str) -> Result<AddressPattern, String> {
        let p = pattern.trim();
        let kind = if p.is_empty() {
            Kind::Nothing
        } else if p == "*" || p == "*.*.*.*" || p == "*:*:*:*:*:*:*:*" {
            Kind::Any
        } else if let Some(open) = p.find('{') {
            let (head, rest) = p.split_at(open);
            let inner = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| {
                    format!("{pattern:?}: a '{{' list must close with '}}' at the end")
                })?;
            if head.matches('.').count() != 3 || !head.ends_with('.') {
                return Err(format!(
                    "{pattern:?}: a '{{a,b}}' list is only allowed as the last IPv4 octet"
                ));
            }
            let addrs = inner
                .split(',')
                .map(|last| exact(&format!("{head}{}", last.trim()), pattern))
                .collect::<Result<Vec<_>, _>>()?;
            Kind::Set(addrs)
        } else if p.contains(',') {
            Kind::Set(
                p.split(',')
                    .map(|a| exact(a.trim(), pattern))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else if p.contains('*') || p.contains('-') {
            range(p, pattern)?
        } else {
            Kind::Set(vec![exact(p, pattern)?])
        };
        Ok(AddressPattern {
            source: pattern.to_owned(),
            kind,
        })
    }

    /// Whether `ip` matches. IPv4-mapped IPv6 addresses are compared as IPv4.
    pub(crate) fn matches(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match &self.kind {
            Kind::Nothing => false,
            Kind::Any => true,
            Kind::Set(set) => set.contains(&ip),
            Kind::Range { head, lo, hi } => match ip {
                IpAddr::V4(v4) => {
                    let o = v4.octets();
                    o.starts_with(head) && (*lo..=*hi).contains(&o[head.len()])
                }
                IpAddr::V6(_) => false,
            },
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn exact(addr: &str, pattern: &str) -> Result<IpAddr, String> {
    addr.parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| format!("{pattern:?}: {addr:?} is not an IP address"))
}

fn octet(s: &str, pattern: &str) -> Result<u8, String> {
    s.trim()
        .parse::<u8>()
        .map_err(|_| format!("{pattern:?}: {s:?} is not an octet (0-255)"))
}

fn range(p: &str, pattern: &str) -> Result<Kind, String> {
    if p.contains(':') {
        return Err(format!(
            "{pattern:?}: IPv6 ranges are not supported; list the addresses or use '*'"
        ));
    }
    let parts: Vec<&str> = p.split('.').map(str::trim).collect();
    if parts.len() != 4 {
        return Err(format!("{pattern:?}: an IPv4 pattern has four octets"));
    }
    let Some(at) = parts.iter().position(|o| *o == "*" || o.contains('-')) else {
        return Err(format!("{pattern:?}: no '*' or range octet"));
    };
    if at == 0 {
        return Err(format!("{pattern:?}: the first octet must be fixed"));
    }
    let head = parts[..at]
        .iter()
        .map(|o| octet(o, pattern))
        .collect::<Result<Vec<_>, _>>()?;
    let (lo, hi) = if parts[at] == "*" {
        (0, 255)
    } else {
        let (a, b) = parts[at]
            .split_once('-')
            .ok_or_else(|| format!("{pattern:?}: bad range {:?}", parts[at]))?;
        let (a, b) = (octet(a, pattern)?, octet(b, pattern)?);
        if a > b {
            return Err(format!("{pattern:?}: range {a}-{b} is empty"));
        }
        (a, b)
    };
    if parts[at + 1..].iter().any(|o| *o != "*") {
        return Err(format!(
            "{pattern:?}: the octets after a '*' or a range must be '*'"
        ));
    }
    Ok(Kind::Range { head, lo, hi })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn m(p: &str, ip: IpAddr) -> bool {
        AddressPattern::parse(p).unwrap().matches(ip)
    }

    #[test]
    fn forms() {
        assert!(m("*", v4(10, 1, 2, 3)));
        assert!(m("*.*.*.*", "::1".parse().unwrap()));
        assert!(!m("", v4(127, 0, 0, 1)));
        assert!(m("127.0.0.1", v4(127, 0, 0, 1)));
        assert!(!m("127.0.0.1", v4(127, 0, 0, 2)));
        assert!(m("127.0.0.*", v4(127, 0, 0, 9)));
        assert!(!m("127.0.0.*", v4(127, 0, 1, 9)));
        assert!(m("192.168.*.*", v4(192, 168, 7, 9)));
        assert!(m("192.168.1.10-20", v4(192, 168, 1, 15)));
        assert!(!m("192.168.1.10-20", v4(192, 168, 1, 21)));
        assert!(m("192.168.1-3.*", v4(192, 168, 2, 200)));
        assert!(m("192.168.0.{1,2}", v4(192, 168, 0, 2)));
        assert!(!m("192.168.0.{1,2}", v4(192, 168, 0, 3)));
        assert!(m("10.0.0.1, 10.0.0.2", v4(10, 0, 0, 2)));
        assert!(m("::1", "::1".parse().unwrap()));
        assert!(m("127.0.0.1", "::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for p in [
            "127.0.0",
            "127.0.0.300",
            "*.0.0.1",
            "127.*.0.1",
            "10.0.0.20-10",
            "host.example",
            "1.2.{3,4}.5",
        ] {
            assert!(AddressPattern::parse(p).is_err(), "{p}");
        }
    }
}
