//! [`AddressPolicy`]: which destination addresses a connect may use (an SSRF guard).
//!
//! The policy is applied to every address right before its connection attempt starts, after DNS,
//! so a name that resolves to an internal address (DNS rebinding included) cannot slip past it.
//! With reqwest, whose IP-literal URLs never reach a resolver, check URLs with
//! `eyeballs::reqwest::Resolver::check_url` (feature `reqwest`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Which destination addresses a connect may use. Default: [`AddressPolicy::allow_all`].
///
/// ```
/// use eyeballs_proto::policy::AddressPolicy;
///
/// // A service that fetches user-supplied URLs: never reach internal addresses...
/// let policy = AddressPolicy::public_only()
///     // ...and never this one public address either.
///     .and(AddressPolicy::custom(|ip| ip != "203.0.113.7".parse::<std::net::IpAddr>().unwrap()));
/// assert!(!policy.allows("203.0.113.7".parse().unwrap()));
/// assert!(policy.allows("8.8.8.8".parse().unwrap()));
/// assert!(!AddressPolicy::public_only().allows("10.0.0.1".parse().unwrap()));
/// assert!(!AddressPolicy::public_only().allows("::ffff:127.0.0.1".parse().unwrap()));
/// ```
#[derive(Clone)]
pub struct AddressPolicy {
    /// Shared: a clone (one per connect that applies the policy) copies no rule.
    rules: Arc<[Rule]>,
}

#[derive(Clone)]
enum Rule {
    PublicOnly,
    Custom(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>),
    Ports(Arc<dyn Fn(u16) -> bool + Send + Sync>),
}

impl Default for AddressPolicy {
    fn default() -> AddressPolicy {
        AddressPolicy::allow_all()
    }
}

impl fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .rules
            .iter()
            .map(|r| match r {
                Rule::PublicOnly => "public_only",
                Rule::Custom(_) => "custom",
                Rule::Ports(_) => "ports",
            })
            .collect();
        if names.is_empty() {
            f.write_str("AddressPolicy(allow_all)")
        } else {
            write!(f, "AddressPolicy({})", names.join(" and "))
        }
    }
}

impl AddressPolicy {
    /// Every address is allowed (the default).
    pub fn allow_all() -> AddressPolicy {
        AddressPolicy {
            rules: Arc::new([]),
        }
    }

    /// Only globally reachable unicast addresses: see [`is_public`] for what is denied.
    pub fn public_only() -> AddressPolicy {
        AddressPolicy {
            rules: Arc::new([Rule::PublicOnly]),
        }
    }

    /// Addresses for which `allow` returns `true`.
    pub fn custom(allow: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> AddressPolicy {
        AddressPolicy {
            rules: Arc::new([Rule::Custom(Arc::new(allow))]),
        }
    }

    /// Destinations whose port `allow` accepts, whatever their address. A connect's own port is
    /// the caller's; an HTTPS record can steer a connect to another (HE-10.9 leaves out only the
    /// Fetch standard's bad ports): this rule judges every destination's port, the connect's
    /// own included, right before its attempt, as the address rules judge its address.
    ///
    /// ```
    /// use eyeballs_proto::policy::AddressPolicy;
    ///
    /// // Web ports only, on public addresses.
    /// let policy = AddressPolicy::public_only().and(AddressPolicy::ports(|p| p == 443 || p == 80));
    /// let ip = "8.8.8.8".parse().unwrap();
    /// assert!(policy.allows_destination(ip, 443));
    /// assert!(!policy.allows_destination(ip, 8443));
    /// assert!(policy.allows(ip), "the address alone passes");
    /// ```
    pub fn ports(allow: impl Fn(u16) -> bool + Send + Sync + 'static) -> AddressPolicy {
        AddressPolicy {
            rules: Arc::new([Rule::Ports(Arc::new(allow))]),
        }
    }

    /// Allows an address only if both policies do.
    pub fn and(self, other: AddressPolicy) -> AddressPolicy {
        let rules: Vec<Rule> = self
            .rules
            .iter()
            .chain(other.rules.iter())
            .cloned()
            .collect();
        AddressPolicy {
            rules: rules.into(),
        }
    }

    /// Whether `ip` may be connected to, by the address rules (a [`AddressPolicy::ports`] rule
    /// is not asked: see [`AddressPolicy::allows_destination`]).
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.judge(ip, None)
    }

    /// Whether a connect may go to `ip` on `port`: every rule, the port rules included. This is
    /// what a race asks right before each attempt.
    pub fn allows_destination(&self, ip: IpAddr, port: u16) -> bool {
        self.judge(ip, Some(port))
    }

    /// Every rule on `ip`, and the port rules on `port` when there is one.
    fn judge(&self, ip: IpAddr, port: Option<u16>) -> bool {
        self.rules.iter().all(|r| match r {
            Rule::PublicOnly => is_public(ip),
            Rule::Custom(f) => f(ip),
            Rule::Ports(f) => port.is_none_or(|port| f(port)),
        })
    }

    /// Whether every address is allowed (no rule).
    pub fn is_allow_all(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Whether `ip` is a globally reachable unicast address, by the IANA IPv4 and IPv6
/// Special-Purpose Address Registries.
///
/// Denied: unspecified, loopback, private (RFC 1918), shared/CGNAT (100.64.0.0/10), link-local,
/// unique-local (fc00::/7), site-local, multicast, broadcast, documentation (192.0.2.0/24,
/// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20), benchmarking (198.18.0.0/15,
/// 2001:2::/48), IETF protocol assignments (192.0.0.0/24, 2001::/23), reserved (240.0.0.0/4,
/// 0.0.0.0/8), 6to4 relay anycast, discard-only (100::/64), local-use NAT64 (64:ff9b:1::/48),
/// SRv6 SIDs (5f00::/16), deprecated IPv4-compatible (::/96), and any IPv6 outside 2000::/3.
/// IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`) addresses
/// are judged by the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    u128::from(ip) & mask == net & mask
}

const DENIED_V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the broadcast address
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !DENIED_V4.iter().any(|(net, len)| in_v4(ip, *net, *len))
}

const DENIED_V6: &[(u128, u32)] = &[
    (0x0100_0000_0000_0000 << 64, 64), // 100::/64 discard-only
    (0x2001_0000 << 96, 23), // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
    (0x2001_0db8 << 96, 32), // documentation
    (0x3fff << 112, 20),     // documentation (RFC 9637)
    (0x5f00 << 112, 16),     // SRv6 SIDs
    (0x0064_ff9b_0001 << 80, 48), // local-use NAT64
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    // Forms that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return is_public_v4(Ipv4Addr::from(bits as u32)); // NAT64 well-known prefix
    }
    if in_v6(ip, 0x2002 << 112, 16) {
        return is_public_v4(Ipv4Addr::from((bits >> 80) as u32)); // 6to4
    }
    // Global unicast only; this excludes ::, ::1, ::/96, fc00::/7, fe80::/10, fec0::/10, ff00::/8.
    in_v6(ip, 0x2000 << 112, 3) && !DENIED_V6.iter().any(|(net, len)| in_v6(ip, *net, *len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_purpose_range_is_denied() {
        let denied = [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::c0a8:101",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:192.168.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "4000::1",
            "1::1",
        ];
        for s in denied {
            let ip: IpAddr = s.parse().unwrap();
            assert!(!is_public(ip), "{s} must be denied");
            assert!(!AddressPolicy::public_only().allows(ip), "{s}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let allowed = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for s in allowed {
            let ip: IpAddr = s.parse().unwrap();
            assert!(is_public(ip), "{s} must be allowed");
        }
    }

    #[test]
    fn policies_combine() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(AddressPolicy::allow_all().allows(ip("127.0.0.1")));
        let no_eight = AddressPolicy::custom(|a| a != "8.8.8.8".parse::<IpAddr>().unwrap());
        let both = AddressPolicy::public_only().and(no_eight);
        assert!(!both.allows(ip("8.8.8.8")));
        assert!(both.allows(ip("1.1.1.1")));
        assert!(!both.allows(ip("10.0.0.1")));
        assert_eq!(format!("{both:?}"), "AddressPolicy(public_only and custom)");
    }
}
