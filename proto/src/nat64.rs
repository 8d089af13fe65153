//! NAT64 address arithmetic (RFC 6052) and prefix discovery (RFC 7050), as pure functions
//! (HE-7.3, HE-7.4, HE-7.7). Nothing here sends anything: the driver asks, these compute.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::sort::Candidate;

/// The well-known NAT64 prefix, `64:ff9b::/96` (RFC 6052 §2.1).
pub const WELL_KNOWN: Nat64Prefix = Nat64Prefix::WELL_KNOWN;

/// The name whose AAAA answer reveals the prefix (RFC 7050 §2.1).
pub const IPV4ONLY_ARPA: &str = "ipv4only.arpa.";

/// The well-known IPv4 addresses of `ipv4only.arpa` (RFC 7050 §2.2).
const WKA: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];

/// The prefix lengths RFC 6052 §2.2 allows.
const LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// A NAT64 prefix (RFC 6052): an IPv6 prefix of one of the lengths 32, 40, 48, 56, 64 or 96,
/// with the bits past it zero. IPv4 addresses embed in it and are extracted from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nat64Prefix {
    addr: Ipv6Addr,
    len: u8,
}

/// Why a prefix was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Nat64PrefixError {
    /// The length is not one of RFC 6052's (32, 40, 48, 56, 64, 96).
    Length(u8),
    /// The addresses it would synthesize are not unicast addresses a NAT64 can answer for: inside
    /// `::/16` (unspecified, loopback, IPv4-compatible and IPv4-mapped addresses), link-local
    /// (`fe80::/10`), site-local (`fec0::/10`, deprecated) or multicast (`ff00::/8`).
    Reserved(&'static str),
}

impl fmt::Display for Nat64PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nat64PrefixError::Length(len) => write!(
                f,
                "a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052 section 2.2), not /{len}"
            ),
            Nat64PrefixError::Reserved(what) => write!(
                f,
                "a NAT64 prefix must give global unicast addresses; this one is {what}"
            ),
        }
    }
}

/// What a prefix starting with these bits would synthesize, when that is not usable.
fn reserved(addr: Ipv6Addr) -> Option<&'static str> {
    let first = addr.segments()[0];
    match first {
        0 => Some("inside ::/16 (unspecified, loopback, IPv4-compatible or IPv4-mapped addresses)"),
        _ if first & 0xffc0 == 0xfe80 => Some("link-local (fe80::/10)"),
        _ if first & 0xffc0 == 0xfec0 => Some("site-local (fec0::/10, deprecated)"),
        _ if first & 0xff00 == 0xff00 => Some("multicast (ff00::/8)"),
        _ => None,
    }
}

impl std::error::Error for Nat64PrefixError {}

impl Nat64Prefix {
    /// The well-known NAT64 prefix, `64:ff9b::/96` (RFC 6052 §2.1).
    pub const WELL_KNOWN: Nat64Prefix = Nat64Prefix {
        addr: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        len: 96,
    };

    /// The prefix `addr/len`; the bits of `addr` past `len` are cleared. `len` must be one of
    /// RFC 6052's: 32, 40, 48, 56, 64 or 96; and the addresses the prefix synthesizes must be
    /// unicast ones a NAT64 can answer for: not inside `::/16` (which holds `::/96` and
    /// `::ffff:0:0/96`), link-local, site-local or multicast ([`Nat64PrefixError::Reserved`]).
    /// Discovery (RFC 7050) applies the same rules, so a DNS64 answer cannot install such a
    /// prefix either.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Nat64Prefix, Nat64PrefixError> {
        if !LENGTHS.contains(&len) {
            return Err(Nat64PrefixError::Length(len));
        }
        let mask = u128::MAX << (128 - u32::from(len));
        let addr = Ipv6Addr::from(u128::from(addr) & mask);
        if let Some(what) = reserved(addr) {
            return Err(Nat64PrefixError::Reserved(what));
        }
        Ok(Nat64Prefix { addr, len })
    }

    /// The prefix's address (bits past its length are zero).
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The IPv4-embedded IPv6 address of `v4` under this prefix (RFC 6052 §2.2): the IPv4 bits
    /// follow the prefix, skipping bits 64 to 71 (the "u" octet, always zero); the suffix is zero.
    pub fn synthesize(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut bytes = self.addr.octets();
        let v4 = v4.octets();
        let mut at = usize::from(self.len / 8);
        for b in v4 {
            if at == 8 {
                at += 1; // the u octet
            }
            bytes[at] = b;
            at += 1;
        }
        Ipv6Addr::from(bytes)
    }

    /// The IPv4 address embedded in `v6` under this prefix, if `v6` lies within the prefix and
    /// its "u" octet is zero (RFC 6052 §2.2).
    pub fn extract(&self, v6: Ipv6Addr) -> Option<Ipv4Addr> {
        let mask = u128::MAX << (128 - u32::from(self.len));
        if u128::from(v6) & mask != u128::from(self.addr) {
            return None;
        }
        let bytes = v6.octets();
        if self.len < 96 && bytes[8] != 0 {
            return None;
        }
        let mut out = [0u8; 4];
        let mut at = usize::from(self.len / 8);
        for slot in &mut out {
            if at == 8 {
                at += 1;
            }
            *slot = bytes[at];
            at += 1;
        }
        Some(Ipv4Addr::from(out))
    }
}

impl fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Whether an IPv4 destination may be reached through NAT64 at all (HEv3 §synthesizing): never
/// "this network" (0.0.0.0/8), loopback (127.0.0.0/8), link-local (169.254.0.0/16) or the
/// limited broadcast address.
pub fn may_synthesize(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(o[0] == 0 || o[0] == 127 || (o[0] == 169 && o[1] == 254) || v4.is_broadcast())
}

/// The NAT64 prefixes an AAAA answer for `ipv4only.arpa` reveals (RFC 7050 §3): for each
/// address, the prefix at which one of the well-known IPv4 addresses sits (trying every RFC 6052
/// length), without duplicates, in answer order. Addresses that reveal none are ignored.
pub fn discover(answer: &[Ipv6Addr]) -> Vec<Nat64Prefix> {
    let mut found: Vec<Nat64Prefix> = Vec::new();
    for addr in answer {
        // The longest prefix first: /96 is by far the most common, and a shorter length could
        // only match by coincidence of the suffix being zero.
        for len in LENGTHS.iter().rev() {
            let Ok(prefix) = Nat64Prefix::new(*addr, *len) else {
                continue;
            };
            let Some(v4) = prefix.extract(*addr) else {
                continue;
            };
            // The suffix past the embedded address must be zero too.
            if WKA.contains(&v4) && prefix.synthesize(v4) == *addr {
                if !found.contains(&prefix) {
                    found.push(prefix);
                }
                break;
            }
        }
    }
    found
}

/// How the NAT64 prefix of a translation was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrefixSource {
    /// From the network's resolver (RFC 7050).
    Discovered,
    /// Given in the configuration.
    Configured,
    /// The well-known prefix `64:ff9b::/96`, which always means NAT64 (RFC 6052 §2.1).
    WellKnown,
}

/// Who turned an IPv4 address into the IPv6 destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SynthesizedBy {
    /// The client, because the host has no IPv4 route (HE-7.1).
    Client,
    /// The network's DNS64 resolver, in an AAAA answer (HE-7.6).
    Dns64,
}

/// An IPv6 destination that stands for an IPv4 address through NAT64: sorted and grouped as
/// that IPv4 address (HE-7.8), and judged by it under an address policy (HE-7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The IPv4 address reached.
    pub ipv4: Ipv4Addr,
    /// The prefix it sits in.
    pub prefix: Nat64Prefix,
    /// Who synthesized it.
    pub by: SynthesizedBy,
    /// How the prefix was learned.
    pub learned: PrefixSource,
}

impl fmt::Display for Translation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.by {
            SynthesizedBy::Client => "synthesized here",
            SynthesizedBy::Dns64 => "synthesized by DNS64",
        };
        let learned = match self.learned {
            PrefixSource::Discovered => "discovered (RFC 7050)",
            PrefixSource::Configured => "configured",
            PrefixSource::WellKnown => "well-known",
        };
        write!(
            f,
            "NAT64 to {}, {by}, prefix {} {learned}",
            self.ipv4, self.prefix
        )
    }
}

/// What one race knows of the network's NAT64 (HE-7.1 to HE-7.9), given with
/// `Race::with_nat64`: the prefix to synthesize IPv4 destinations with (none on a network with
/// an IPv4 route), the network's other prefixes, and the IPv6 source address synthesized
/// destinations go out from. The default knows only the well-known prefix, and only to
/// recognise DNS64 answers in it.
#[derive(Debug, Clone)]
pub struct Nat64 {
    synth: Option<(Nat64Prefix, PrefixSource)>,
    /// Every other prefix the network revealed (RFC 7050 allows several): DNS64 answers in
    /// them are translations too.
    others: Vec<Nat64Prefix>,
    /// The local address of the route to the NAT64 prefix.
    source: Option<IpAddr>,
    /// The prefix is still to be discovered: the race asks `Query::Nat64Prefix`.
    discovering: bool,
}

impl Default for Nat64 {
    fn default() -> Nat64 {
        Nat64::WELL_KNOWN_ONLY
    }
}

impl Nat64 {
    /// Whether it knows nothing beyond [`Nat64::WELL_KNOWN_ONLY`].
    pub(crate) fn is_well_known_only(&self) -> bool {
        self.synth.is_none() && self.others.is_empty() && self.source.is_none() && !self.discovering
    }

    /// Knows only the well-known prefix, to recognise DNS64 answers in it (the default).
    pub const WELL_KNOWN_ONLY: Nat64 = Nat64 {
        synth: None,
        others: Vec::new(),
        source: None,
        discovering: false,
    };

    /// IPv4 destinations without a route are synthesized in `prefix`, learned as `learned`, and
    /// sent from `source` (the host's address on the route to the prefix).
    pub fn with_prefix(
        prefix: Nat64Prefix,
        learned: PrefixSource,
        source: Option<IpAddr>,
    ) -> Nat64 {
        Nat64 {
            synth: Some((prefix, learned)),
            source,
            ..Nat64::default()
        }
    }

    /// What a discovery on this network found (RFC 7050, earlier or by another connect): the
    /// first prefix synthesizes, all of them recognise DNS64 answers; none: no NAT64 here.
    pub fn discovered(prefixes: &[Nat64Prefix], source: Option<IpAddr>) -> Nat64 {
        let mut nat64 = Nat64 {
            source,
            ..Nat64::default()
        };
        nat64.learn(prefixes);
        nat64
    }

    /// The prefix is not known yet: the race asks for the AAAA records of
    /// [`IPV4ONLY_ARPA`] (`Query::Nat64Prefix`), and IPv4 destinations wait for the answer
    /// (HE-7.7). Synthesized destinations go out from `source`.
    pub fn discover(source: Option<IpAddr>) -> Nat64 {
        Nat64 {
            source,
            discovering: true,
            ..Nat64::default()
        }
    }

    /// Takes the AAAA answer for [`IPV4ONLY_ARPA`] (HE-7.4): the prefixes it reveals, none
    /// when it reveals none (or the query failed: an empty answer).
    pub fn learn_from_answer(&mut self, answer: &[Ipv6Addr]) {
        self.learn(&discover(answer));
    }

    /// Whether the prefix is still being discovered.
    pub fn is_discovering(&self) -> bool {
        self.discovering
    }

    /// Takes what discovery found (HE-7.3): the first prefix synthesizes, the others only
    /// recognise DNS64 answers.
    pub fn learn(&mut self, prefixes: &[Nat64Prefix]) {
        self.discovering = false;
        self.synth = prefixes.first().map(|p| (*p, PrefixSource::Discovered));
        self.others = prefixes.iter().skip(1).copied().collect();
    }

    /// The prefix IPv4 destinations are synthesized in, and how it was learned.
    pub fn prefix(&self) -> Option<(Nat64Prefix, PrefixSource)> {
        self.synth
    }

    /// The candidate for destination `dst`, whose route's source address is `src` (`None`: no
    /// route), NAT64 translated where it applies (HE-7.1, HE-7.6):
    /// - an IPv4 destination without a route becomes its synthesized IPv6 destination, sent
    ///   from the prefix's source, when a prefix is known and the address may be synthesized;
    /// - an IPv6 destination inside the well-known prefix or a prefix of the network stands for
    ///   the IPv4 address it embeds (DNS64).
    pub fn candidate(&self, dst: SocketAddr, src: Option<IpAddr>) -> Candidate {
        let origin = match dst.ip() {
            IpAddr::V4(v4) => {
                let Some((prefix, learned)) = self.synth.filter(|_| src.is_none()) else {
                    return Candidate::new(dst, src);
                };
                if !may_synthesize(v4) {
                    return Candidate::new(dst, src);
                }
                let to = SocketAddr::new(prefix.synthesize(v4).into(), dst.port());
                let translation = Translation {
                    ipv4: v4,
                    prefix,
                    by: SynthesizedBy::Client,
                    learned,
                };
                return Candidate {
                    origin: Some(translation),
                    ..Candidate::new(to, self.source)
                };
            }
            IpAddr::V6(v6) => self.dns64(v6),
        };
        Candidate {
            origin,
            ..Candidate::new(dst, src)
        }
    }

    /// The translation an IPv6 address from DNS carries, if it sits in a prefix known to be
    /// NAT64's: the well-known one always, the network's when known.
    fn dns64(&self, v6: Ipv6Addr) -> Option<Translation> {
        let others = self.others.iter().map(|p| (*p, PrefixSource::Discovered));
        let known = self
            .synth
            .into_iter()
            .chain(others)
            .chain([(WELL_KNOWN, PrefixSource::WellKnown)]);
        for (prefix, learned) in known {
            if let Some(ipv4) = prefix.extract(v6) {
                return Some(Translation {
                    ipv4,
                    prefix,
                    by: SynthesizedBy::Dns64,
                    learned,
                });
            }
        }
        None
    }
}

/// How long a discovered prefix is kept when the answer's TTL is unknown (a resolver that does
/// not report it).
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// The shortest time a discovery's result is kept, whatever its TTL: a TTL of 0 must not cost a
/// query per connect.
pub const MIN_TTL: Duration = Duration::from_secs(10);

/// The longest.
pub const MAX_TTL: Duration = Duration::from_secs(86_400);

/// How long "this network has no NAT64" (no prefix in the answer, or the query failed) is kept
/// before asking again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(60);

/// What discovery found on one network (HE-7.3): the prefixes (none: no NAT64 there), until when
/// it holds. The network is told by the IPv6 source address the kernel picks for a NAT64
/// destination: on another network (another address) the memory does not apply.
#[derive(Debug, Clone, Default)]
pub struct Nat64Memory {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    network: Ipv6Addr,
    prefixes: Vec<Nat64Prefix>,
    expires: Instant,
}

/// At most this many networks are remembered (a laptop going back and forth between a few).
const NETWORKS: usize = 4;

impl Nat64Memory {
    /// What is known of `network` at `now`: `Some` with its prefixes (empty: no NAT64 there),
    /// `None` when nothing fresh is known and discovery must run.
    pub fn get(&self, network: Ipv6Addr, now: Instant) -> Option<&[Nat64Prefix]> {
        self.entries
            .iter()
            .find(|e| e.network == network && now < e.expires)
            .map(|e| e.prefixes.as_slice())
    }

    /// Keeps what discovery found on `network` at `now`: `prefixes` for `ttl` (the answer's, or
    /// [`DEFAULT_TTL`] when unknown; within [`MIN_TTL`] and [`MAX_TTL`]); no prefix for
    /// [`NEGATIVE_TTL`].
    pub fn learn(
        &mut self,
        network: Ipv6Addr,
        prefixes: Vec<Nat64Prefix>,
        ttl: Option<Duration>,
        now: Instant,
    ) {
        let keep = if prefixes.is_empty() {
            NEGATIVE_TTL
        } else {
            ttl.unwrap_or(DEFAULT_TTL).clamp(MIN_TTL, MAX_TTL)
        };
        self.entries
            .retain(|e| e.network != network && now < e.expires);
        if self.entries.len() >= NETWORKS {
            self.entries.remove(0);
        }
        self.entries.push(Entry {
            network,
            prefixes,
            expires: now + keep,
        });
    }

    /// Forgets every network (the caller knows the network changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // HE-7.3: RFC 6052 §2.4's table, 192.0.2.33 under each prefix length, and back.
    #[test]
    fn he_7_3_rfc6052_examples() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        let table = [
            ("2001:db8::", 32, "2001:db8:c000:221::"),
            ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
            ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::", 96, "2001:db8:122:344::c000:221"),
            ("64:ff9b::", 96, "64:ff9b::c000:221"),
        ];
        for (prefix, len, want) in table {
            let p = Nat64Prefix::new(v6(prefix), len).unwrap();
            assert_eq!(p.synthesize(v4), v6(want), "{p}");
            assert_eq!(p.extract(v6(want)), Some(v4), "{p}");
        }
        assert_eq!(WELL_KNOWN.synthesize(v4), v6("64:ff9b::192.0.2.33"));
    }

    // HE-7.7: discovery's result is kept per network, for the answer's TTL within bounds, a
    // negative result for a minute; another network starts unknown.
    #[test]
    fn he_7_7_memory_per_network_with_ttl() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let (a, b) = (v6("2001:db8:1::2"), v6("2001:db8:2::2"));
        let nsp = Nat64Prefix::new(v6("2001:db8:64::"), 96).unwrap();
        let mut m = Nat64Memory::default();
        assert_eq!(m.get(a, t0), None);
        m.learn(a, vec![nsp], Some(s(300)), t0);
        assert_eq!(m.get(a, t0 + s(299)), Some(&[nsp][..]));
        assert_eq!(m.get(a, t0 + s(300)), None, "expired with its TTL");
        assert_eq!(m.get(b, t0), None, "another network");
        // A TTL of 0 is kept for MIN_TTL; an unknown one for DEFAULT_TTL; a huge one MAX_TTL.
        for (ttl, kept) in [
            (Some(s(0)), MIN_TTL),
            (None, DEFAULT_TTL),
            (Some(s(1 << 30)), MAX_TTL),
        ] {
            m.learn(a, vec![nsp], ttl, t0);
            assert!(m.get(a, t0 + kept - s(1)).is_some(), "{ttl:?}");
            assert!(m.get(a, t0 + kept).is_none(), "{ttl:?}");
        }
        // No NAT64 on b: known (empty) for NEGATIVE_TTL, whatever the TTL.
        m.learn(b, Vec::new(), Some(s(3600)), t0);
        assert_eq!(m.get(b, t0 + NEGATIVE_TTL - s(1)), Some(&[][..]));
        assert_eq!(m.get(b, t0 + NEGATIVE_TTL), None);
        // Bounded: the oldest network goes first.
        for i in 0..10u16 {
            m.learn(
                Ipv6Addr::new(0x2001, 0xdb8, 9, i, 0, 0, 0, 1),
                vec![nsp],
                None,
                t0,
            );
        }
        assert!(m.entries.len() <= NETWORKS);
        m.clear();
        assert!(m.entries.is_empty());
    }

    // HE-7.3: only RFC 6052's lengths; addresses outside the prefix, or with the u octet set,
    // carry no IPv4 address.
    #[test]
    fn he_7_3_prefix_rules() {
        for len in [0, 31, 33, 80, 128] {
            assert_eq!(
                Nat64Prefix::new(v6("2001:db8::"), len),
                Err(Nat64PrefixError::Length(len))
            );
        }
        // Prefixes whose addresses are not global unicast: refused, and never discovered.
        for (addr, len) in [
            ("::", 96),
            ("::ffff:0:0", 96),
            ("::", 32),
            ("fe80::", 64),
            ("febf::", 32),
            ("fec0::", 64),
            ("ff0e::", 96),
        ] {
            assert!(
                matches!(
                    Nat64Prefix::new(v6(addr), len),
                    Err(Nat64PrefixError::Reserved(_))
                ),
                "{addr}/{len}"
            );
            let revealing = Nat64Prefix {
                addr: v6(addr),
                len,
            }
            .synthesize(Ipv4Addr::new(192, 0, 0, 170));
            assert_eq!(discover(&[revealing]), [], "{addr}/{len} discovered");
        }
        for ok in ["64:ff9b::", "64:ff9b:1::", "2001:db8:64::", "fd00:64::"] {
            assert!(Nat64Prefix::new(v6(ok), 96).is_ok(), "{ok}");
        }
        let e = Nat64Prefix::new(v6("::ffff:0:0"), 96)
            .unwrap_err()
            .to_string();
        assert!(e.contains("IPv4-mapped"), "{e}");
        let p = Nat64Prefix::new(v6("2001:db8:122:344::ffff"), 64).unwrap();
        assert_eq!(
            p.addr(),
            v6("2001:db8:122:344::"),
            "bits past the length cleared"
        );
        assert_eq!(p.extract(v6("2001:db8:122:345:c0:2:2100:0")), None);
        assert_eq!(
            p.extract(v6("2001:db8:122:344:1c0:2:2100:0")),
            None,
            "u octet"
        );
        assert_eq!(WELL_KNOWN.extract(v6("2001:db8::c000:221")), None);
    }

    // HE-7.4: RFC 7050 discovery: the well-known addresses located in the answer give the
    // prefix, at any RFC 6052 length; other addresses reveal nothing.
    #[test]
    fn he_7_4_discovery() {
        assert_eq!(
            discover(&[v6("64:ff9b::c000:aa"), v6("64:ff9b::c000:ab")]),
            [WELL_KNOWN]
        );
        for len in LENGTHS {
            let p = Nat64Prefix::new(v6("2001:db8:64:6400::"), len).unwrap();
            let answer = [p.synthesize(Ipv4Addr::new(192, 0, 0, 171))];
            assert_eq!(discover(&answer), [p], "/{len}");
        }
        assert!(discover(&[v6("2001:db8::1"), v6("64:ff9b::c000:221")]).is_empty());
        assert!(discover(&[]).is_empty());
    }

    // HE-7.5: never synthesized: this network, loopback, link-local, broadcast.
    #[test]
    fn he_7_5_never_synthesized() {
        for bad in ["0.1.2.3", "127.0.0.1", "169.254.1.1", "255.255.255.255"] {
            assert!(!may_synthesize(bad.parse().unwrap()), "{bad}");
        }
        for ok in ["192.0.2.1", "10.0.0.1", "198.51.100.10"] {
            assert!(may_synthesize(ok.parse().unwrap()), "{ok}");
        }
    }

    proptest::proptest! {
        // HE-7.3: synthesis and extraction are inverses at every length, and discovery finds a
        // prefix back from its synthesized well-known address.
        #[test]
        fn he_7_3_synthesis_and_extraction_are_inverses(
            prefix in proptest::num::u128::ANY,
            v4 in proptest::num::u32::ANY,
            i in 0usize..6,
        ) {
            let p = Nat64Prefix::new(Ipv6Addr::from(prefix), LENGTHS[i]);
            // Reserved ranges (::/16, link-local, multicast) are refused: a small share.
            proptest::prop_assume!(p.is_ok());
            let p = p.unwrap();
            let v4 = Ipv4Addr::from(v4);
            let v6 = p.synthesize(v4);
            proptest::prop_assert_eq!(p.extract(v6), Some(v4));
            let wka = p.synthesize(WKA[0]);
            proptest::prop_assert_eq!(discover(&[wka]), vec![p]);
        }

        // HE-7.4: any answer: a result, never a panic, and every prefix found is valid.
        #[test]
        fn he_7_4_discovery_is_total(answer in proptest::collection::vec(proptest::num::u128::ANY, 0..8)) {
            let answer: Vec<Ipv6Addr> = answer.into_iter().map(Ipv6Addr::from).collect();
            for p in discover(&answer) {
                proptest::prop_assert!(LENGTHS.contains(&p.prefix_len()));
                proptest::prop_assert!(answer.iter().any(|a| p.extract(*a).is_some_and(|v4| WKA.contains(&v4))));
            }
        }
    }
}
