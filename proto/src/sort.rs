//! RFC 6724 §6 destination address selection, as a pure function (HE-4.1).
//!
//! The caller supplies, for every destination, the source address the kernel would use (or `None`
//! when the destination is unreachable). Rules that need data a user-space client cannot see are
//! skipped: rule 3 (avoid deprecated addresses), rule 4 (prefer home addresses) and rule 7 (prefer
//! native transport). Rule 9 (longest matching prefix) is applied to IPv6 only, because on IPv4 it
//! defeats DNS round robin (Go's resolver makes the same choice).

use std::cmp::Ordering;

use super::history::Remembered;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::Family;
use super::nat64::Translation;

/// A destination to sort, with the source address the kernel would pick for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Where to connect.
    pub dst: SocketAddr,
    /// The local address the kernel would use; `None` when no route exists (rule 1).
    pub src: Option<IpAddr>,
    /// What earlier connects learned about it (empty without history).
    pub hist: Remembered,
    /// The IPv4 address this IPv6 destination stands for when it is a NAT64 translation
    /// (synthesized here or by DNS64, HE-7.8): it is sorted and grouped as that IPv4 address.
    pub origin: Option<Translation>,
}

impl Candidate {
    /// A destination with no history.
    pub fn new(dst: SocketAddr, src: Option<IpAddr>) -> Candidate {
        Candidate {
            dst,
            src,
            hist: Remembered::default(),
            origin: None,
        }
    }

    /// The family the destination is sorted and interleaved as: IPv4 for a NAT64 translation
    /// (HE-7.8), otherwise its address's.
    pub fn family(&self) -> Family {
        Family::of_ip(&self.stands_for())
    }

    /// The address the destination stands for: a NAT64 translation's IPv4 address, otherwise
    /// its own (what a hint lists, HE-10.5, and what sorts its family, HE-7.8).
    pub(crate) fn stands_for(&self) -> std::net::IpAddr {
        match self.origin {
            Some(t) => std::net::IpAddr::V4(t.ipv4),
            None => self.dst.ip(),
        }
    }
}

/// Sorts `candidates` in place by RFC 6724 §6 rules 1, 2, 5, 6, 8, then the two history rules of
/// RFC 8305 §4 (HE-4.2: lower smoothed RTT, within about 25%; then addresses that worked before),
/// then 9 (IPv6 only) and 10.
///
/// The sort is stable (rule 10: otherwise leave the order unchanged) and total.
pub fn sort_destinations(candidates: &mut [Candidate]) {
    sort_destinations_with(candidates, PolicyTable::default_ref());
}

/// [`sort_destinations`] with this policy table (rules 5 and 6) instead of RFC 6724's default.
pub(crate) fn sort_destinations_with(candidates: &mut [Candidate], table: &PolicyTable) {
    // Precompute the attributes once per candidate: the comparator is then cheap.
    let mut keyed: Vec<(Attrs, Candidate)> = candidates
        .iter()
        .map(|c| (Attrs::of(c, table, &mut SourceLabels::default()), *c))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| compare(a, b));
    for (slot, (_, c)) in candidates.iter_mut().zip(keyed) {
        *slot = c;
    }
}

/// A destination as the race's ordering sees it: whether it failed recently (HE-4.2), its
/// sorting attributes, where it goes and the family it counts as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyed {
    failed: bool,
    attrs: Attrs,
    pub(crate) dst: SocketAddr,
    pub(crate) family: Family,
}

impl Keyed {
    /// A placeholder, for filling a buffer before use.
    pub(crate) const EMPTY: Keyed = Keyed {
        failed: false,
        attrs: Attrs {
            usable: false,
            scope_match: false,
            label_match: false,
            precedence: 0,
            scope: 0,
            prefix: None,
            rtt_step: None,
            worked: false,
        },
        dst: SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        )),
        family: Family::V4,
    };

    /// `c` as sorting sees it; without `history`, as if nothing were known of it.
    pub(crate) fn of(
        c: &Candidate,
        table: &PolicyTable,
        history: bool,
        labels: &mut SourceLabels,
    ) -> Keyed {
        let plain;
        let c = match history {
            true => c,
            false => {
                plain = Candidate {
                    hist: Remembered::default(),
                    ..*c
                };
                &plain
            }
        };
        Keyed {
            failed: c.hist.failed().is_some(),
            attrs: Attrs::of(c, table, labels),
            dst: c.dst,
            family: c.family(),
        }
    }
}

/// Sorts `keyed` in the order [`crate::interleave::sort_and_interleave_into`] places them
/// before interleaving: those that did not fail recently first, then those that did (HE-4.2),
/// each part in [`sort_destinations`] order. Returns where the failed part starts.
pub(crate) fn sort_keyed_slice(keyed: &mut [Keyed]) -> usize {
    let order = |a: &Keyed, b: &Keyed| {
        a.failed
            .cmp(&b.failed)
            .then_with(|| compare(&a.attrs, &b.attrs))
    };
    match &mut *keyed {
        // The common two-address answer: one comparison (stable: equal keeps the order).
        [a, b] => {
            if order(b, a) == Ordering::Less {
                std::mem::swap(a, b);
            }
        }
        all => all.sort_by(order),
    }
    keyed.partition_point(|k| !k.failed)
}

#[derive(Debug, Clone, Copy)]
struct Attrs {
    usable: bool,
    scope_match: bool,
    label_match: bool,
    precedence: u32,
    scope: u8,
    /// Common prefix length of source and destination, IPv6 only (rule 9).
    prefix: Option<u8>,
    /// The smoothed RTT on a logarithmic scale of 25% steps (so noise does not reorder); `None`
    /// without one, which sorts after every known RTT.
    rtt_step: Option<u32>,
    worked: bool,
}

/// `rtt` in steps of 25%: 1 ms and below is step 0.
fn rtt_step(rtt: std::time::Duration) -> u32 {
    let micros = rtt.as_micros().max(1000) as f64 / 1000.0;
    (micros.ln() / 1.25f64.ln()).floor() as u32
}

/// The labels of the source addresses one sort has looked up: a race's destinations share one
/// source per family, so each sort looks up about two, not one per destination.
#[derive(Debug, Default)]
pub(crate) struct SourceLabels([Option<(IpAddr, u32)>; 2]);

impl SourceLabels {
    fn of(&mut self, table: &PolicyTable, src: IpAddr) -> u32 {
        let slot = &mut self.0[usize::from(src.is_ipv4())];
        match *slot {
            Some((ip, label)) if ip == src => label,
            _ => {
                let label = table.label(&to_v6(src));
                *slot = Some((src, label));
                label
            }
        }
    }
}

impl Attrs {
    fn of(c: &Candidate, table: &PolicyTable, labels: &mut SourceLabels) -> Self {
        // HE-7.8: a NAT64 translation is sorted as the IPv4 address it carries, reached through
        // the IPv6 source the kernel picked for it (so its label never matches that source's:
        // native IPv6 goes first, as IPv4 would on a dual-stack network).
        let d_ip = c.origin.map_or(c.dst.ip(), |t| IpAddr::V4(t.ipv4));
        let dst = to_v6(d_ip);
        let d_policy = table.lookup(&dst);
        let d_scope = scope(&d_ip);
        let rtt_step = c.hist.rtt().map(|(srtt, _)| rtt_step(srtt));
        let worked = c.hist.worked();
        match c.src {
            None => Attrs {
                usable: false,
                scope_match: false,
                label_match: false,
                precedence: d_policy.precedence,
                scope: d_scope,
                prefix: None,
                rtt_step,
                worked,
            },
            Some(src) => {
                let prefix = match (d_ip, src) {
                    (IpAddr::V6(d), IpAddr::V6(s)) if d.to_ipv4_mapped().is_none() => {
                        Some(common_prefix_len(&d, &s).min(64))
                    }
                    _ => None,
                };
                Attrs {
                    usable: true,
                    scope_match: d_scope == scope(&src),
                    label_match: d_policy.label == labels.of(table, src),
                    precedence: d_policy.precedence,
                    scope: d_scope,
                    prefix,
                    rtt_step,
                    worked,
                }
            }
        }
    }
}

/// `Less` means `a` is preferred.
fn compare(a: &Attrs, b: &Attrs) -> Ordering {
    // Rule 1: avoid unusable destinations.
    b.usable
        .cmp(&a.usable)
        // Rule 2: prefer matching scope.
        .then_with(|| b.scope_match.cmp(&a.scope_match))
        // Rule 5: prefer matching label.
        .then_with(|| b.label_match.cmp(&a.label_match))
        // Rule 6: prefer higher precedence.
        .then_with(|| b.precedence.cmp(&a.precedence))
        // Rule 8: prefer smaller scope.
        .then_with(|| a.scope.cmp(&b.scope))
        // RFC 8305 §4 (HE-4.2): prefer lower RTT (a known one before an unknown one), then
        // addresses used before.
        .then_with(|| match (a.rtt_step, b.rtt_step) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| b.worked.cmp(&a.worked))
        // Rule 9: longest matching prefix, IPv6 only. An IPv4 destination counts as 0; that never
        // decides between IPv4 and IPv6, since no IPv6 destination ties with an IPv4 one on
        // precedence (rule 6) but the IPv4-mapped form, which also counts as 0. Comparing a
        // plain key keeps the order total, which a sort requires.
        .then_with(|| b.prefix.unwrap_or(0).cmp(&a.prefix.unwrap_or(0)))
    // Rule 10: otherwise leave the order unchanged (the sort is stable).
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    precedence: u32,
    label: u32,
}

/// An RFC 6724 §2.1 policy table: each address's precedence (rule 6) and label (rule 5), by the
/// longest matching prefix. [`PolicyTable::rfc6724`] is the RFC's default; a system's
/// `/etc/gai.conf` may change it, as it does for getaddrinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTable {
    /// Longest prefix first.
    precedence: Vec<Entry>,
    label: Vec<Entry>,
    /// Both in one: every prefix of either, longest first, with the precedence and label an
    /// address under it has ([`PolicyTable::combine`]), so a destination costs one walk.
    both: Vec<(u128, u128, Policy)>,
}

/// One line of a policy table: (prefix, its mask, value), the prefix already masked.
type Entry = (u128, u128, u32);

/// The mask of a prefix `len` bits long.
fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        len => u128::MAX << (128 - u32::from(len.min(128))),
    }
}

impl PolicyTable {
    /// The RFC 6724 §2.1 default table.
    pub fn rfc6724() -> PolicyTable {
        PolicyTable::combine(
            POLICY_TABLE
                .iter()
                .map(|(p, l, pol)| (*p, mask(*l), pol.precedence))
                .collect(),
            POLICY_TABLE
                .iter()
                .map(|(p, l, pol)| (*p, mask(*l), pol.label))
                .collect(),
        )
    }

    /// The table of these precedence and label lines (each longest prefix first), with their
    /// union: for each prefix of either, the value of the longest line of each kind that holds
    /// it. The first union entry an address matches then gives both of its values: a longer
    /// line of either kind holding the address would be in the union ahead of it, so the
    /// longest line of each kind holding the address holds the entry's whole prefix.
    fn combine(precedence: Vec<Entry>, label: Vec<Entry>) -> PolicyTable {
        // The longest line of `table` whose prefix holds the prefix (`bits`, `mask`).
        let holding = |table: &[Entry], bits: u128, mask: u128| {
            table
                .iter()
                .find(|(p, m, _)| m & mask == *m && bits & m == *p)
                .map_or(0, |(_, _, v)| *v)
        };
        let mut both: Vec<(u128, u128, Policy)> = Vec::new();
        for &(bits, mask, _) in precedence.iter().chain(&label) {
            if both.iter().any(|(b, m, _)| (*b, *m) == (bits, mask)) {
                continue;
            }
            let policy = Policy {
                precedence: holding(&precedence, bits, mask),
                label: holding(&label, bits, mask),
            };
            both.push((bits, mask, policy));
        }
        both.sort_by_key(|entry| std::cmp::Reverse(entry.1.count_ones()));
        PolicyTable {
            precedence,
            label,
            both,
        }
    }

    /// The most `precedence` lines, and the most `label` lines, a `gai.conf` contributes.
    pub const MAX_ENTRIES: usize = 64;
    /// The most problems [`PolicyTable::parse_gai_conf`] describes one by one.
    pub const MAX_PROBLEMS: usize = 16;

    /// The RFC 6724 §2.1 default table, built once and shared.
    pub fn default_ref() -> &'static PolicyTable {
        static DEFAULT: std::sync::OnceLock<PolicyTable> = std::sync::OnceLock::new();
        DEFAULT.get_or_init(PolicyTable::rfc6724)
    }

    /// Reads a `gai.conf` file's text (glibc's format, `gai.conf(5)`): `precedence` and `label`
    /// lines replace the default table of their kind. Lines that cannot be read are ignored
    /// ([`PolicyTable::parse_gai_conf`] says which); this never fails.
    ///
    /// ```
    /// use eyeballs_proto::sort::PolicyTable;
    ///
    /// // The classic "prefer IPv4" configuration.
    /// let table = PolicyTable::from_gai_conf("precedence ::ffff:0:0/96 100\n");
    /// assert_ne!(table, PolicyTable::rfc6724());
    /// ```
    pub fn from_gai_conf(text: &str) -> PolicyTable {
        PolicyTable::parse_gai_conf(text).0
    }

    /// Reads `gai.conf` text as glibc does: `precedence PREFIX/LEN VALUE` and `label PREFIX/LEN
    /// VALUE` lines; if the file has any line of a kind, it replaces the default table of that
    /// kind (an address matching no line then has precedence or label 0). Comments (`#`) and
    /// blank lines are skipped; `reload` and `scopev4` lines are accepted and not used. Returns
    /// the table and a description of each line that could not be read (those lines are
    /// ignored).
    ///
    /// Bounded whatever the file: at most [`PolicyTable::MAX_ENTRIES`] lines of each kind are
    /// used (every lookup walks the table; real files have a handful), later ones are ignored
    /// and reported, and at most [`PolicyTable::MAX_PROBLEMS`] problems are described, then one
    /// line counting the rest.
    pub fn parse_gai_conf(text: &str) -> (PolicyTable, Vec<String>) {
        let mut problems = Vec::new();
        let mut unreported = 0usize;
        let mut report = |problem: String| {
            if problems.len() < PolicyTable::MAX_PROBLEMS {
                problems.push(problem);
            } else {
                unreported += 1;
            }
        };
        let (mut precedence, mut label) = (Vec::new(), Vec::new());
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let table = match keyword {
                "precedence" => &mut precedence,
                "label" => &mut label,
                "reload" | "scopev4" => continue,
                other => {
                    report(format!("line {}: unknown keyword {other:?}", n + 1));
                    continue;
                }
            };
            if table.len() >= PolicyTable::MAX_ENTRIES {
                report(format!(
                    "line {}: more than {} {keyword} lines; ignored",
                    n + 1,
                    PolicyTable::MAX_ENTRIES
                ));
                continue;
            }
            let parsed = (|| {
                let (prefix, value) = (words.next()?, words.next()?);
                if words.next().is_some() {
                    return None;
                }
                let (addr, len) = prefix.split_once('/')?;
                let addr: Ipv6Addr = addr.parse().ok()?;
                let len: u8 = len.parse().ok().filter(|l| *l <= 128)?;
                let value: u32 = value.parse().ok()?;
                let mask = mask(len);
                Some((u128::from(addr) & mask, mask, value))
            })();
            match parsed {
                Some(entry) => table.push(entry),
                None => report(format!("line {}: cannot read {line:?}", n + 1)),
            }
        }
        if unreported > 0 {
            problems.push(format!("{unreported} more lines ignored"));
        }
        let default = PolicyTable::rfc6724();
        let by_length = |mut t: Vec<Entry>| {
            t.sort_by_key(|entry| std::cmp::Reverse(entry.1.count_ones()));
            t
        };
        let table = PolicyTable::combine(
            if precedence.is_empty() {
                default.precedence
            } else {
                by_length(precedence)
            },
            if label.is_empty() {
                default.label
            } else {
                by_length(label)
            },
        );
        (table, problems)
    }

    fn lookup(&self, addr: &Ipv6Addr) -> Policy {
        let bits = u128::from(*addr);
        self.both
            .iter()
            .find(|(prefix, mask, _)| bits & mask == *prefix)
            .map_or(
                Policy {
                    precedence: 0,
                    label: 0,
                },
                |(_, _, policy)| *policy,
            )
    }

    /// `addr`'s label only (a source address needs no precedence).
    fn label(&self, addr: &Ipv6Addr) -> u32 {
        find(&self.label, u128::from(*addr))
    }
}

/// The value of the longest prefix in `table` that holds `bits`; 0 when none does.
#[inline]
fn find(table: &[Entry], bits: u128) -> u32 {
    table
        .iter()
        .find(|(prefix, mask, _)| bits & mask == *prefix)
        .map_or(0, |(_, _, v)| *v)
}

/// The RFC 6724 §2.1 default policy table, longest prefix first.
const POLICY_TABLE: [(u128, u8, Policy); 9] = [
    (
        1,
        128,
        Policy {
            precedence: 50,
            label: 0,
        },
    ), // ::1/128
    (
        0xffff_0000_0000,
        96,
        Policy {
            precedence: 35,
            label: 4,
        },
    ), // ::ffff:0:0/96
    (
        0,
        96,
        Policy {
            precedence: 1,
            label: 3,
        },
    ), // ::/96
    (
        0x2001_0000 << 96,
        32,
        Policy {
            precedence: 5,
            label: 5,
        },
    ), // 2001::/32
    (
        0x2002 << 112,
        16,
        Policy {
            precedence: 30,
            label: 2,
        },
    ), // 2002::/16
    (
        0x3ffe << 112,
        16,
        Policy {
            precedence: 1,
            label: 12,
        },
    ), // 3ffe::/16
    (
        0xfec0 << 112,
        10,
        Policy {
            precedence: 1,
            label: 11,
        },
    ), // fec0::/10
    (
        0xfc00 << 112,
        7,
        Policy {
            precedence: 3,
            label: 13,
        },
    ), // fc00::/7
    (
        0,
        0,
        Policy {
            precedence: 40,
            label: 1,
        },
    ), // ::/0
];

#[cfg(test)]
fn policy(addr: &Ipv6Addr) -> Policy {
    PolicyTable::default_ref().lookup(addr)
}

// Scope values from RFC 6724 §3.1 / RFC 4291.
const SCOPE_LINK_LOCAL: u8 = 0x2;
const SCOPE_SITE_LOCAL: u8 = 0x5;
const SCOPE_GLOBAL: u8 = 0xe;

fn scope(ip: &IpAddr) -> u8 {
    match ip {
        // RFC 6724 §3.2: 127/8 and 169.254/16 are link-local; everything else (private included) global.
        IpAddr::V4(v4) => {
            if v4.is_loopback() || v4.is_link_local() {
                SCOPE_LINK_LOCAL
            } else {
                SCOPE_GLOBAL
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return scope(&IpAddr::V4(v4));
            }
            let seg0 = v6.segments()[0];
            if v6.is_multicast() {
                (seg0 & 0x000f) as u8
            } else if v6.is_loopback() || seg0 & 0xffc0 == 0xfe80 {
                SCOPE_LINK_LOCAL
            } else if seg0 & 0xffc0 == 0xfec0 {
                SCOPE_SITE_LOCAL
            } else {
                SCOPE_GLOBAL
            }
        }
    }
}

fn common_prefix_len(a: &Ipv6Addr, b: &Ipv6Addr) -> u8 {
    (u128::from(*a) ^ u128::from(*b)).leading_zeros() as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat64::{Nat64Prefix, PrefixSource, SynthesizedBy};

    fn cand(dst: &str, src: Option<&str>) -> Candidate {
        let ip: IpAddr = dst.parse().unwrap();
        Candidate {
            dst: SocketAddr::new(ip, 443),
            src: src.map(|s| s.parse().unwrap()),
            hist: Default::default(),
            origin: None,
        }
    }

    fn sorted(input: &[(&str, Option<&str>)]) -> Vec<String> {
        let mut c: Vec<Candidate> = input.iter().map(|(d, s)| cand(d, *s)).collect();
        sort_destinations(&mut c);
        c.iter().map(|c| c.dst.ip().to_string()).collect()
    }

    /// HE-4.1: the RFC 6724 §10.2 destination address selection examples, each in both input orders.
    #[test]
    fn he_4_1_rfc6724_section_10_2_examples() {
        // (destinations with the source the kernel picks, expected order)
        type Example<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)], &'a [&'a str]);
        let table: &[Example] = &[
            (
                "prefer matching scope (IPv6 first)",
                &[
                    ("2001:db8:1::1", Some("2001:db8:1::2")),
                    ("198.51.100.121", Some("169.254.13.78")),
                ],
                &["2001:db8:1::1", "198.51.100.121"],
            ),
            (
                "prefer matching scope (IPv4 first)",
                &[
                    ("2001:db8:1::1", Some("fe80::1")),
                    ("198.51.100.121", Some("198.51.100.117")),
                ],
                &["198.51.100.121", "2001:db8:1::1"],
            ),
            (
                "prefer higher precedence",
                &[
                    ("2001:db8:1::1", Some("2001:db8:1::2")),
                    ("10.1.2.3", Some("10.1.2.4")),
                ],
                &["2001:db8:1::1", "10.1.2.3"],
            ),
            (
                "prefer smaller scope",
                &[
                    ("2001:db8:1::1", Some("2001:db8:1::2")),
                    ("fe80::1", Some("fe80::2")),
                ],
                &["fe80::1", "2001:db8:1::1"],
            ),
            (
                // The RFC's example has each destination matched by its own source (a tie that rule 10
                // settles); with one source, rule 9 decides, whatever the input order.
                "use longest matching prefix",
                &[
                    ("2001:db8:1::1", Some("2001:db8:1::2")),
                    ("2001:db8:3ffe::1", Some("2001:db8:1::2")),
                ],
                &["2001:db8:1::1", "2001:db8:3ffe::1"],
            ),
            (
                "prefer matching label (6to4 source)",
                &[
                    ("2002:c633:6401::1", Some("2002:c633:6401::2")),
                    ("2001:db8:1::1", Some("2002:c633:6401::2")),
                ],
                &["2002:c633:6401::1", "2001:db8:1::1"],
            ),
            (
                "prefer higher precedence over 6to4",
                &[
                    ("2002:c633:6401::1", Some("2002:c633:6401::2")),
                    ("2001:db8:1::1", Some("2001:db8:1::2")),
                ],
                &["2001:db8:1::1", "2002:c633:6401::1"],
            ),
        ];
        for (name, input, want) in table {
            assert_eq!(sorted(input), *want, "{name}");
            let reversed: Vec<_> = input.iter().rev().copied().collect();
            assert_eq!(sorted(&reversed), *want, "{name} (reversed input)");
        }
    }

    /// HE-4.1: the RFC's own longest-prefix example keeps the input order (a tie at 64 bits).
    #[test]
    fn he_4_1_rfc6724_longest_prefix_example_as_written() {
        let got = sorted(&[
            ("2001:db8:1::1", Some("2001:db8:1::2")),
            ("2001:db8:3ffe::1", Some("2001:db8:3ffe::2")),
        ]);
        assert_eq!(got, ["2001:db8:1::1", "2001:db8:3ffe::1"]);
    }

    /// HE-4.1 rule 1: a destination with no route (no source) goes last.
    #[test]
    fn he_4_1_rule1_unusable_last() {
        let got = sorted(&[("2001:db8::1", None), ("192.0.2.1", Some("192.0.2.100"))]);
        assert_eq!(got, ["192.0.2.1", "2001:db8::1"]);
    }

    /// HE-4.1 rule 9 applies to IPv6 only; IPv4 keeps DNS order (round robin survives).
    #[test]
    fn he_4_1_rule9_ipv4_keeps_dns_order() {
        let got = sorted(&[
            ("203.0.113.9", Some("192.0.2.100")),
            ("192.0.2.1", Some("192.0.2.100")),
        ]);
        assert_eq!(got, ["203.0.113.9", "192.0.2.1"]);
    }

    /// HE-4.1 rule 10: equal destinations keep their order.
    #[test]
    fn he_4_1_rule10_stable() {
        let input: Vec<(String, Option<&str>)> = (1..=20)
            .map(|i| (format!("2001:db8::{i:x}"), Some("2001:db8::ffff")))
            .collect();
        let input: Vec<(&str, Option<&str>)> =
            input.iter().map(|(d, s)| (d.as_str(), *s)).collect();
        // All share the same 64-bit prefix with the source: rule 9 (capped at 64) ties them.
        let want: Vec<String> = input
            .iter()
            .map(|(d, _)| d.parse::<IpAddr>().unwrap().to_string())
            .collect();
        assert_eq!(sorted(&input), want);
    }

    // HE-4.4, issue 24: a gai.conf of 100,000 lines gives a table of at most MAX_ENTRIES lines
    // per kind (every lookup walks it) and a bounded list of problems.
    #[test]
    fn he_4_4_huge_gai_conf_is_capped() {
        let mut text = String::new();
        for i in 0..50_000u32 {
            text += &format!(
                "precedence 2001:db8:{:x}::/48 {i}\nbogus line {i}\n",
                i % 65_536
            );
        }
        let (t, problems) = PolicyTable::parse_gai_conf(&text);
        assert_eq!(t.precedence.len(), PolicyTable::MAX_ENTRIES);
        assert_eq!(
            t.label,
            PolicyTable::rfc6724().label,
            "no label lines: the default"
        );
        assert_eq!(
            problems.len(),
            PolicyTable::MAX_PROBLEMS + 1,
            "{problems:?}"
        );
        let last = problems.last().unwrap();
        assert!(last.ends_with("more lines ignored"), "{last}");
        let text: String = (0..65)
            .map(|i| format!("precedence 2001:db8:{i:x}::/48 {i}\n"))
            .collect();
        let (t, problems) = PolicyTable::parse_gai_conf(&text);
        assert_eq!(t.precedence.len(), PolicyTable::MAX_ENTRIES);
        assert_eq!(
            problems,
            ["line 65: more than 64 precedence lines; ignored"]
        );
    }

    // HE-4.4: gai.conf lines replace the default table of their kind; bad lines are ignored
    // and reported, never a panic.
    #[test]
    fn he_4_4_gai_conf() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let (t, problems) = PolicyTable::parse_gai_conf(
            "# prefer IPv4\nprecedence  ::ffff:0:0/96  100\nreload yes\nscopev4 ::ffff:169.254.0.0/112 2\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(t.lookup(&v6("::ffff:192.0.2.1")).precedence, 100);
        assert_eq!(
            t.lookup(&v6("2001:db8::1")).precedence,
            0,
            "the default table is replaced"
        );
        assert_eq!(
            t.lookup(&v6("2001:db8::1")).label,
            PolicyTable::rfc6724().lookup(&v6("2001:db8::1")).label,
            "no label lines: the default labels stay"
        );
        let (t, problems) = PolicyTable::parse_gai_conf(
            "label ::/0 7\nlabel 2001:db8::/32 9\nprecedence x 1\nlabel ::/129 1\nbogus 1 2\nlabel ::/0\nlabel ::/0 1 2\nprecedence ::/0 -1\n",
        );
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert_eq!(
            t.lookup(&v6("2001:db8::1")).label,
            9,
            "longest prefix first"
        );
        assert_eq!(t.lookup(&v6("2001:db9::1")).label, 7);
        assert_eq!(t.precedence, PolicyTable::rfc6724().precedence);
        let (t, problems) = PolicyTable::parse_gai_conf("");
        assert!(problems.is_empty());
        assert_eq!(t, PolicyTable::rfc6724());
    }

    // HE-4.4: with the "prefer IPv4" gai.conf, 127.0.0.1 sorts before ::1.
    #[test]
    fn he_4_4_gai_conf_prefer_ipv4_sorts_ipv4_first() {
        let (table, _) = PolicyTable::parse_gai_conf("precedence ::ffff:0:0/96 100\n");
        let mut c = vec![
            Candidate::new("[::1]:80".parse().unwrap(), Some("::1".parse().unwrap())),
            Candidate::new(
                "127.0.0.1:80".parse().unwrap(),
                Some("127.0.0.1".parse().unwrap()),
            ),
        ];
        sort_destinations_with(&mut c, &table);
        assert_eq!(c[0].dst, "127.0.0.1:80".parse().unwrap());
    }

    /// HE-7.8: a NAT64 translation is sorted as the IPv4 address it stands for: after native
    /// IPv6 (precedence 35 < 40, and its label never matches the IPv6 source), whatever order
    /// they came in; and it counts as IPv4 for interleaving.
    #[test]
    fn he_7_8_translations_sort_as_their_ipv4_origin() {
        let native = cand("2001:db8:ffff::10", Some("2001:db8:2::2"));
        let translated = Candidate {
            origin: Some(Translation {
                ipv4: "198.51.100.10".parse().unwrap(),
                prefix: Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap(),
                by: SynthesizedBy::Dns64,
                learned: PrefixSource::Discovered,
            }),
            ..cand("2001:db8:64::c633:640a", Some("2001:db8:2::2"))
        };
        // Without the origin, rule 9 (a longer common prefix with the source) would put the
        // translation first.
        let plain = Candidate {
            origin: None,
            ..translated
        };
        let mut both = [native, plain];
        sort_destinations(&mut both);
        assert_eq!(both[0].dst, plain.dst);
        for input in [[native, translated], [translated, native]] {
            let mut c = input;
            sort_destinations(&mut c);
            assert_eq!([c[0].dst, c[1].dst], [native.dst, translated.dst]);
        }
        assert_eq!(translated.family(), Family::V4);
        assert_eq!(native.family(), Family::V6);
        // The race's own sort says the same, with the family each counts as.
        let (table, mut labels) = (PolicyTable::default_ref(), SourceLabels::default());
        let mut keyed = [translated, native].map(|c| Keyed::of(&c, table, true, &mut labels));
        sort_keyed_slice(&mut keyed);
        let order = keyed.map(|k| (k.dst, k.family));
        assert_eq!(
            order,
            [(native.dst, Family::V6), (translated.dst, Family::V4)]
        );
    }

    /// HE-4.1: loopback on both families: ::1 (precedence 50) before 127.0.0.1 (35).
    #[test]
    fn he_4_1_loopback_prefers_ipv6() {
        let got = sorted(&[("127.0.0.1", Some("127.0.0.1")), ("::1", Some("::1"))]);
        assert_eq!(got, ["::1", "127.0.0.1"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        // The comparator's own equivalence: rule 9 counts "no prefix" (IPv4, or no source) as
        // 0, so the key does too; otherwise equal candidates would look different.
        fn key(c: &Candidate) -> (bool, bool, bool, u32, u8, u8) {
            let a = Attrs::of(c, PolicyTable::default_ref(), &mut SourceLabels::default());
            (
                a.usable,
                a.scope_match,
                a.label_match,
                a.precedence,
                a.scope,
                a.prefix.unwrap_or(0),
            )
        }

        fn candidate() -> impl Strategy<Value = Candidate> {
            let dst = prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u8; 16]>().prop_map(IpAddr::from),
                // Equal-precedence pools, so ties are common.
                (0u16..6).prop_map(|i| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, i])),
                (0u8..6).prop_map(|i| IpAddr::from([192, 0, 2, i])),
            ];
            let src = prop_oneof![
                Just(None),
                Just(Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100]))),
                Just(Some(IpAddr::from([192, 0, 2, 200]))),
                Just(Some(IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, 1]))),
            ];
            (dst, src).prop_map(|(ip, src)| Candidate {
                dst: SocketAddr::new(ip, 443),
                src,
                hist: Default::default(),
                origin: None,
            })
        }

        proptest! {
            // HE-4.1: sorting is deterministic and total: sorting twice changes nothing, and any
            // permutation of the input sorts to the same sequence of preferences.
            #[test]
            fn he_4_1_sort_is_deterministic_and_total(
                input in proptest::collection::vec(candidate(), 0..40),
                seed in any::<u64>(),
            ) {
                let mut once = input.clone();
                sort_destinations(&mut once);
                let mut twice = once.clone();
                sort_destinations(&mut twice);
                prop_assert_eq!(&once, &twice);

                let mut shuffled = input.clone();
                let mut x = seed | 1;
                for i in (1..shuffled.len()).rev() {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    shuffled.swap(i, (x % (i as u64 + 1)) as usize);
                }
                sort_destinations(&mut shuffled);
                let keys = |v: &[Candidate]| v.iter().map(key).collect::<Vec<_>>();
                prop_assert_eq!(keys(&once), keys(&shuffled));
                let mut a: Vec<_> = once.iter().map(|c| (c.dst, c.src)).collect();
                let mut b: Vec<_> = shuffled.iter().map(|c| (c.dst, c.src)).collect();
                a.sort();
                b.sort();
                prop_assert_eq!(a, b, "a permutation of the input");
            }

            // HE-4.1 rule 10: among destinations the rules cannot tell apart, input order is kept.
            #[test]
            fn he_4_1_rule_10_keeps_order_among_equals(input in proptest::collection::vec(candidate(), 0..40)) {
                let mut sorted = input.clone();
                sort_destinations(&mut sorted);
                for k in sorted.iter().map(key).collect::<std::collections::BTreeSet<_>>() {
                    let from_input: Vec<_> = input.iter().filter(|c| key(c) == k).collect();
                    let from_sorted: Vec<_> = sorted.iter().filter(|c| key(c) == k).collect();
                    prop_assert_eq!(from_input, from_sorted);
                }
            }
        }
    }

    #[test]
    fn policy_table_lookups() {
        let p = |s: &str| policy(&to_v6(s.parse().unwrap()));
        assert_eq!(p("::1").precedence, 50);
        assert_eq!(p("192.0.2.1").label, 4);
        assert_eq!(p("2002::1").label, 2);
        assert_eq!(p("2001::1").label, 5);
        assert_eq!(p("2001:db8::1").label, 1);
        assert_eq!(p("fd00::1").label, 13);
        assert_eq!(p("::c000:201").label, 3);
        assert_eq!(p("fec0::1").label, 11);
        assert_eq!(p("3ffe::1").label, 12);
    }

    #[test]
    fn scopes() {
        let s = |a: &str| scope(&a.parse().unwrap());
        assert_eq!(s("fe80::1"), SCOPE_LINK_LOCAL);
        assert_eq!(s("::1"), SCOPE_LINK_LOCAL);
        assert_eq!(s("127.0.0.1"), SCOPE_LINK_LOCAL);
        assert_eq!(s("169.254.1.1"), SCOPE_LINK_LOCAL);
        assert_eq!(s("10.0.0.1"), SCOPE_GLOBAL);
        assert_eq!(s("fec0::1"), SCOPE_SITE_LOCAL);
        assert_eq!(s("ff05::1"), 5);
        assert_eq!(s("::ffff:127.0.0.1"), SCOPE_LINK_LOCAL);
    }

    // The combined table gives what the two tables would, line by line, for any table a
    // `gai.conf` can make (nested, overlapping, duplicate and disjoint prefixes) and any address.
    #[test]
    fn combined_policy_table_agrees_with_its_two_tables() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            // Prefixes drawn near a few roots, so that they nest and overlap.
            let roots = [0u128, 0xffff_0000_0000, 0x2001_0db8 << 96, 0xfe80 << 112];
            let mut conf = String::new();
            for _ in 0..(next() % 12) {
                let kind = if next() % 2 == 0 {
                    "precedence"
                } else {
                    "label"
                };
                let root = roots[(next() % 4) as usize];
                let len = (next() % 129) as u8;
                let addr = Ipv6Addr::from(root | u128::from(next() as u16) << (next() % 100));
                conf.push_str(&format!("{kind} {addr}/{len} {}\n", next() % 100));
            }
            let table = PolicyTable::from_gai_conf(&conf);
            for _ in 0..50 {
                let root = roots[(next() % 4) as usize];
                let addr = Ipv6Addr::from(root ^ (u128::from(next()) >> (next() % 128)));
                let bits = u128::from(addr);
                let want = Policy {
                    precedence: find(&table.precedence, bits),
                    label: find(&table.label, bits),
                };
                assert_eq!(table.lookup(&addr), want, "{addr} in {conf:?}");
            }
        }
    }
}
