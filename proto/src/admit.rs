//! Which destination addresses a connect may use at all, decided before any system call
//! (HE-5.7, HE-5.9). One pure rule for every entry point: DNS answers, IP literals,
//! `connect` with addresses, and `resolve`.

use crate::fasthash::FastSet;
use std::net::{IpAddr, SocketAddr};

use super::Family;

/// At most this many usable addresses of each family are taken from the name's answers (a
/// refresh takes the place of its stale answer's untried addresses), from each TargetName's
/// answer, and from the addresses given to a connect (HE-5.12): the first ones in the answer's
/// order, as stub resolvers cap an answer (musl keeps 48 per name). The rest are not looked at,
/// and are counted ([`crate::Race::over_limit`]). No real service publishes more: a 1,232-byte
/// EDNS answer holds about 74 A records or 42 AAAA records, and 64 addresses staggered at 250 ms
/// take 16 s to try.
pub const MAX_ADDRESSES: usize = 64;

/// The rules that admit a destination: the families the configuration allows and whether the
/// unspecified address may be used. (The address policy, user code, is applied by the driver right
/// before each attempt.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// IPv6 destinations allowed.
    pub v6: bool,
    /// IPv4 destinations allowed.
    pub v4: bool,
    /// `0.0.0.0` and `::` allowed.
    pub allow_unspecified: bool,
}

/// Why an address is not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Multicast or broadcast: never a TCP destination.
    NotUnicast,
    /// The unspecified address, not allowed by the configuration.
    Unspecified,
    /// The address's family (after unmapping) is not allowed by the family policy.
    Family(Family),
}

impl Admission {
    /// Whether the configuration allows `family` at all (and so whether to query its records).
    pub fn allows(&self, family: Family) -> bool {
        match family {
            Family::V6 => self.v6,
            Family::V4 => self.v4,
        }
    }

    /// The address to use for `ip`, or why there is none. An IPv4-mapped IPv6 address is the IPv4
    /// address it carries (HE-5.7), so the family policy sees its real family.
    pub fn admit(&self, ip: IpAddr) -> Result<IpAddr, Refusal> {
        let ip = ip.to_canonical();
        let unicast = match ip {
            IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
            IpAddr::V6(v6) => !v6.is_multicast(),
        };
        if !unicast {
            return Err(Refusal::NotUnicast);
        }
        if ip.is_unspecified() && !self.allow_unspecified {
            return Err(Refusal::Unspecified);
        }
        let family = Family::of_ip(&ip);
        if !self.allows(family) {
            return Err(Refusal::Family(family));
        }
        Ok(ip)
    }

    /// [`Admission::admit`] for a socket address; an IPv6 address that stays IPv6 keeps its scope
    /// id and flow info.
    pub fn admit_addr(&self, addr: SocketAddr) -> Result<SocketAddr, Refusal> {
        let ip = self.admit(addr.ip())?;
        Ok(if ip == addr.ip() {
            addr
        } else {
            SocketAddr::new(ip, addr.port())
        })
    }
}

/// The destinations already taken in one connect, for dropping duplicates (HE-5.6): the race's
/// own rule, and the driver's check before it spends a system call on an address. The first two
/// are kept inline (most connects have one or two: nothing to allocate), up to 16 are searched
/// directly, longer lists hashed.
#[derive(Debug, Default)]
pub struct Seen {
    /// The first two, in order.
    first: [Option<SocketAddr>; 2],
    /// The next ones, up to `LINEAR_MAX` in all, searched in order.
    more: Vec<SocketAddr>,
    /// Past that, every address; boxed, so the common case carries a pointer, not a table.
    #[allow(
        clippy::box_collection,
        reason = "a pointer in every connect's state, the table only for long answers"
    )]
    set: Option<Box<FastSet<SocketAddr>>>,
}

impl Seen {
    /// The longest list searched directly.
    const LINEAR_MAX: usize = 16;

    /// Adds `addr`; `false` if it was already there.
    pub fn insert(&mut self, addr: SocketAddr) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(addr);
        }
        if self.first.contains(&Some(addr)) || self.more.contains(&addr) {
            return false;
        }
        if let Some(slot) = self.first.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(addr);
            return true;
        }
        if self.more.len() + self.first.len() < Self::LINEAR_MAX {
            if self.more.len() == self.more.capacity() {
                // Room for 2, then 4, 8 (`Vec` would start at 4).
                self.more.reserve_exact(self.more.len().max(2));
            }
            self.more.push(addr);
            return true;
        }
        let first = self.first.iter_mut().filter_map(Option::take);
        let mut set: FastSet<SocketAddr> = first.chain(std::mem::take(&mut self.more)).collect();
        set.insert(addr);
        self.set = Some(Box::new(set));
        true
    }

    /// Removes `addr` (a destination withdrawn, HE-8.7).
    pub fn remove(&mut self, addr: &SocketAddr) {
        match &mut self.set {
            Some(set) => {
                set.remove(addr);
            }
            None => {
                for slot in &mut self.first {
                    if *slot == Some(*addr) {
                        *slot = None;
                    }
                }
                self.more.retain(|a| a != addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Admission = Admission {
        v6: true,
        v4: true,
        allow_unspecified: false,
    };

    // HE-5.7 / HE-5.9: one table for every entry point.
    #[test]
    fn he_5_9_admission_table() {
        let v6_only = Admission { v4: false, ..BOTH };
        let v4_only = Admission { v6: false, ..BOTH };
        let unspec = Admission {
            allow_unspecified: true,
            ..BOTH
        };
        let table: &[(Admission, &str, Result<&str, Refusal>)] = &[
            (BOTH, "2001:db8::1", Ok("2001:db8::1")),
            (BOTH, "192.0.2.1", Ok("192.0.2.1")),
            (BOTH, "::ffff:192.0.2.1", Ok("192.0.2.1")),
            (
                v6_only,
                "::ffff:192.0.2.1",
                Err(Refusal::Family(Family::V4)),
            ),
            (v6_only, "192.0.2.1", Err(Refusal::Family(Family::V4))),
            (v4_only, "::ffff:192.0.2.1", Ok("192.0.2.1")),
            (v4_only, "2001:db8::1", Err(Refusal::Family(Family::V6))),
            (BOTH, "ff02::1", Err(Refusal::NotUnicast)),
            (BOTH, "::ffff:224.0.0.1", Err(Refusal::NotUnicast)),
            (BOTH, "255.255.255.255", Err(Refusal::NotUnicast)),
            (BOTH, "0.0.0.0", Err(Refusal::Unspecified)),
            (BOTH, "::", Err(Refusal::Unspecified)),
            (BOTH, "::ffff:0.0.0.0", Err(Refusal::Unspecified)),
            (unspec, "::", Ok("::")),
            // IPv4-compatible (deprecated ::a.b.c.d) is not mapped: it stays IPv6.
            (BOTH, "::192.0.2.1", Ok("::192.0.2.1")),
        ];
        for (rules, input, want) in table {
            let got = rules.admit(input.parse().unwrap());
            let want = want.map(|s| s.parse::<IpAddr>().unwrap());
            assert_eq!(got, want, "{input} under {rules:?}");
        }
    }

    // HE-5.6: duplicates are found in short and long lists alike.
    #[test]
    fn he_5_6_seen_finds_duplicates_short_and_long() {
        let mut seen = Seen::default();
        for i in 0..100u16 {
            let addr = SocketAddr::new(IpAddr::from([192, 0, 2, (i % 50) as u8]), 443);
            assert_eq!(seen.insert(addr), i < 50, "{addr} at {i}");
        }
        // Removed addresses can come again, wherever they were kept: inline, listed, hashed.
        for n in [1u8, 2, 3, 16, 17, 40] {
            let mut seen = Seen::default();
            let addr = |i: u8| SocketAddr::new(IpAddr::from([192, 0, 2, i]), 443);
            for i in 0..n {
                assert!(seen.insert(addr(i)));
            }
            for i in (0..n).step_by(2) {
                seen.remove(&addr(i));
            }
            for i in 0..n {
                assert_eq!(seen.insert(addr(i)), i % 2 == 0, "{n} addresses, {i}");
                assert!(!seen.insert(addr(i)), "{n} addresses, {i} again");
            }
        }
    }

    #[test]
    fn he_5_7_admit_addr_keeps_the_scope_of_real_ipv6() {
        let scoped: SocketAddr = "[fe80::1%7]:80".parse().unwrap();
        assert_eq!(BOTH.admit_addr(scoped), Ok(scoped));
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:80".parse().unwrap();
        assert_eq!(BOTH.admit_addr(mapped), Ok("192.0.2.1:80".parse().unwrap()));
    }
}
