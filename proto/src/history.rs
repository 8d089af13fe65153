//! What earlier connects learned, per network and destination (HE-4.2, HE-5.3): smoothed RTT and
//! its variation (RFC 6298), whether the address worked, and when and how it last failed. Pure:
//! every call takes `now`.
//!
//! Entries are keyed by the source address the kernel picks for the destination, so verdicts never
//! cross networks: on another network the source differs and the old entry is simply not found.
//! The table is bounded (least recently used entries go first) and failure verdicts expire.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::fasthash::FastMap;

/// How a destination last failed, as the history remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PastFailure {
    /// The connection was refused (RST).
    Refused,
    /// No route, or an ICMP unreachable.
    Unreachable,
    /// No answer before the attempt's or the connect's timeout.
    TimedOut,
    /// Cancelled because another attempt won before this one completed.
    LostRace,
    /// Any other error.
    Other,
}

/// What the history knew about a destination when a connect ordered and timed its attempts
/// (eyeballs' `report::Attempt::history`). Compact, as every candidate of a connect in flight
/// carries one (16 bytes; issue 23): the RTTs are kept in microseconds (at most 71 minutes), how
/// long ago it connected in milliseconds (at most 49 days); longer ones saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Remembered {
    /// The smoothed RTT in microseconds, plus one (`None`: no RTT known).
    srtt: Option<NonZeroU32>,
    /// Its variation, in microseconds.
    rttvar: u32,
    /// How long before this connect it last connected, in milliseconds, plus one.
    ago: Option<NonZeroU32>,
    prefix_rtt: bool,
    worked: bool,
    failed: Option<PastFailure>,
    quic_broken: bool,
}

/// `d` in `unit`s plus one, saturating: never zero.
fn plus_one(d: Duration, per_unit_nanos: u128) -> NonZeroU32 {
    let units = u32::try_from(d.as_nanos() / per_unit_nanos).unwrap_or(u32::MAX - 1);
    NonZeroU32::MIN.saturating_add(units)
}

impl Remembered {
    /// The smoothed RTT and its variation, if the destination ever connected (or, see
    /// [`Remembered::prefix_rtt`], if another address of its network prefix did).
    pub fn rtt(&self) -> Option<(Duration, Duration)> {
        let srtt = u64::from(self.srtt?.get() - 1);
        let rttvar = u64::from(self.rttvar);
        Some((Duration::from_micros(srtt), Duration::from_micros(rttvar)))
    }

    /// Whether the RTT is its network prefix's (/24, /64): the destination itself never
    /// connected.
    pub fn prefix_rtt(&self) -> bool {
        self.prefix_rtt
    }

    /// How long before this connect the destination last connected, if it ever did (the table
    /// remembers it as long as the entry lives).
    pub fn connected_ago(&self) -> Option<Duration> {
        self.ago
            .map(|ms| Duration::from_millis(u64::from(ms.get() - 1)))
    }

    /// Whether it connected before (and has not failed since).
    pub fn worked(&self) -> bool {
        self.worked
    }

    /// Whether it failed recently (within the failure time to live), and how.
    pub fn failed(&self) -> Option<PastFailure> {
        self.failed
    }

    /// Whether QUIC to it failed on this network while TCP worked, and the backoff since has
    /// not run out (HE-12.4): its TCP attempt goes first, its QUIC attempt right after.
    pub fn quic_broken(&self) -> bool {
        self.quic_broken
    }

    /// With this smoothed RTT and variation (or none).
    pub fn with_rtt(mut self, rtt: Option<(Duration, Duration)>) -> Self {
        self.srtt = rtt.map(|(srtt, _)| plus_one(srtt, 1_000));
        self.rttvar = rtt.map_or(0, |(_, var)| plus_one(var, 1_000).get() - 1);
        self
    }

    /// With [`Remembered::prefix_rtt`] set.
    pub fn with_prefix_rtt(mut self, prefix_rtt: bool) -> Self {
        self.prefix_rtt = prefix_rtt;
        self
    }

    /// With [`Remembered::connected_ago`] set.
    pub fn with_connected_ago(mut self, ago: Option<Duration>) -> Self {
        self.ago = ago.map(|ago| plus_one(ago, 1_000_000));
        self
    }

    /// With [`Remembered::worked`] set.
    pub fn with_worked(mut self, worked: bool) -> Self {
        self.worked = worked;
        self
    }

    /// With [`Remembered::failed`] set.
    pub fn with_failed(mut self, failed: Option<PastFailure>) -> Self {
        self.failed = failed;
        self
    }

    /// With [`Remembered::quic_broken`] set.
    pub fn with_quic_broken(mut self, quic_broken: bool) -> Self {
        self.quic_broken = quic_broken;
        self
    }
}

/// How long QUIC counts as broken to a destination after its first failure there while TCP
/// worked (HE-12.4): 5 minutes, as Chromium marks a broken alternative service.
pub const QUIC_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// The longest the backoff grows to, doubling with each failure after it ran out: 2 days.
pub const QUIC_BACKOFF_MAX: Duration = Duration::from_secs(2 * 86_400);

impl PastFailure {
    /// A short word: `refused`, `unreachable`, `timed out`, `lost the race` or `failed`.
    pub fn label(self) -> &'static str {
        match self {
            PastFailure::Refused => "refused",
            PastFailure::Unreachable => "unreachable",
            PastFailure::TimedOut => "timed out",
            PastFailure::LostRace => "lost the race",
            PastFailure::Other => "failed",
        }
    }
}

impl Remembered {
    /// Whether the history knew anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Remembered::default()
    }

    /// How it moved the address: `"failed recently (timed out): tried after the others"`,
    /// `"worked before, 12.0 ms RTT"`, and so on; `None` when nothing was known.
    pub fn describe(&self) -> Option<String> {
        if let Some(failure) = self.failed {
            return Some(format!(
                "{} recently: tried after the others",
                failure.label()
            ));
        }
        if self.quic_broken {
            return Some("QUIC failed here recently: its TCP attempt went first".into());
        }
        match (self.rtt(), self.worked) {
            (Some((srtt, _)), true) => Some(format!(
                "worked before, {:.1} ms RTT",
                srtt.as_secs_f64() * 1e3
            )),
            (Some((srtt, _)), false) if self.prefix_rtt => Some(format!(
                "{:.1} ms RTT to its network",
                srtt.as_secs_f64() * 1e3
            )),
            (Some((srtt, _)), false) => Some(format!("{:.1} ms RTT", srtt.as_secs_f64() * 1e3)),
            (None, true) => Some("worked before".to_string()),
            (None, false) => None,
        }
    }

    /// The Connection Attempt Delay after starting this destination (HE-5.3): about when its
    /// first SYN would be retransmitted, `SRTT + max(10 ms, 4 RTTVAR)` (RFC 6298 §2 with a 10 ms
    /// clock granularity), within `bounds`; `None` without an RTT.
    pub fn attempt_delay(&self, bounds: (Duration, Duration)) -> Option<Duration> {
        let (srtt, rttvar) = self.rtt()?;
        let rto = srtt + (4 * rttvar).max(Duration::from_millis(10));
        Some(rto.clamp(bounds.0, bounds.1))
    }
}

/// Where the Connection Attempt Delay after an attempt came from (HE-5.3,
/// eyeballs' `report::Attempt::attempt_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DelayBasis {
    /// The configured delay: no RTT was known (or history is off).
    Configured,
    /// The attempt's own destination's RTT.
    OwnRtt,
    /// The RTT of the destination's network prefix (/24, /64).
    PrefixRtt,
    /// The RTT of another of this connect's addresses, the nearest known: how far the server
    /// is, whichever family told.
    NearestRtt(SocketAddr),
}

impl std::fmt::Display for DelayBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DelayBasis::Configured => f.write_str("configured"),
            DelayBasis::OwnRtt => f.write_str("from its RTT"),
            DelayBasis::PrefixRtt => f.write_str("from its network's RTT"),
            DelayBasis::NearestRtt(addr) => write!(f, "from the RTT of {addr}"),
        }
    }
}

/// The history's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many destinations are remembered.
    pub max_entries: usize,
    /// A failure verdict is forgotten after this long.
    pub failure_ttl: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    srtt: Option<(Duration, Duration)>,
    /// When it last connected.
    connected: Option<Instant>,
    /// The latest outcome was a success.
    worked: bool,
    failure: Option<(Instant, PastFailure)>,
    /// QUIC failed while TCP worked (HE-12.4): broken until this instant, and the backoff that
    /// set it.
    quic: Option<(Instant, Duration)>,
    /// When the entry was last read or written, for eviction.
    used: u64,
}

/// The table. One per `Connector`, shared by its clones (behind a lock in the driver).
#[derive(Debug)]
pub struct History {
    limits: Limits,
    entries: FastMap<(Option<IpAddr>, SocketAddr), Entry>,
    clock: u64,
}

impl History {
    /// An empty history.
    pub fn new(limits: Limits) -> History {
        History {
            limits,
            entries: FastMap::default(),
            clock: 0,
        }
    }

    /// How many entries (destinations and prefixes) are remembered. For the tests and the fuzz
    /// target only.
    #[cfg(any(test, fuzzing))]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets everything (the network changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// What is known about `dst` reached from `src`. Without an RTT of its own, the RTT of its
    /// network prefix (/24 for IPv4, /64 for IPv6) stands in (HE-5.3).
    pub fn verdict(&mut self, src: Option<IpAddr>, dst: SocketAddr, now: Instant) -> Remembered {
        self.clock += 1;
        let clock = self.clock;
        let ttl = self.limits.failure_ttl;
        let own = self.entries.get_mut(&(src, dst)).map(|e| {
            e.used = clock;
            let failed = e
                .failure
                .filter(|(at, _)| now.saturating_duration_since(*at) < ttl)
                .map(|(_, kind)| kind);
            Remembered::default()
                .with_rtt(e.srtt)
                .with_connected_ago(e.connected.map(|at| now.saturating_duration_since(at)))
                .with_worked(e.worked)
                .with_failed(failed)
                .with_quic_broken(e.quic.is_some_and(|(until, _)| now < until))
        });
        let mut verdict = own.unwrap_or_default();
        if verdict.srtt.is_none() {
            let rtt = self.entries.get_mut(&(src, prefix(dst))).and_then(|e| {
                e.used = clock;
                e.srtt
            });
            verdict = verdict.with_rtt(rtt).with_prefix_rtt(rtt.is_some());
        }
        verdict
    }

    /// `dst` connected at `now` with this handshake time: RFC 6298 §2 smoothing, for the
    /// destination and for its prefix; clears the destination's failure.
    pub fn success(&mut self, src: Option<IpAddr>, dst: SocketAddr, rtt: Duration, now: Instant) {
        let smooth = |e: &mut Entry| {
            e.srtt = Some(match e.srtt {
                None => (rtt, rtt / 2),
                Some((srtt, rttvar)) => {
                    let diff = srtt.abs_diff(rtt);
                    (srtt * 7 / 8 + rtt / 8, rttvar * 3 / 4 + diff / 4)
                }
            });
        };
        // The prefix first: writing the destination last means a full table never evicts the
        // destination's own entry to make room for its prefix.
        smooth(self.entry(src, prefix(dst)));
        let e = self.entry(src, dst);
        smooth(e);
        e.worked = true;
        e.failure = None;
        e.connected = Some(now);
    }

    /// `dst` failed this way.
    pub fn failure(
        &mut self,
        src: Option<IpAddr>,
        dst: SocketAddr,
        kind: PastFailure,
        now: Instant,
    ) {
        let e = self.entry(src, dst);
        e.failure = Some((now, kind));
        e.worked = false;
    }

    /// A QUIC attempt to `dst` failed (or lost) while TCP worked (HE-12.4): QUIC counts as
    /// broken to it for [`QUIC_BACKOFF`]; a failure after the backoff ran out doubles it (up to
    /// [`QUIC_BACKOFF_MAX`]); one while it runs changes nothing (QUIC started behind TCP then).
    /// Returns the backoff in force.
    pub fn quic_failure(&mut self, src: Option<IpAddr>, dst: SocketAddr, now: Instant) -> Duration {
        let e = self.entry(src, dst);
        let (until, backoff) = match e.quic {
            Some((until, backoff)) if now < until => (until, backoff),
            Some((_, backoff)) => {
                let backoff = (backoff * 2).min(QUIC_BACKOFF_MAX);
                (now + backoff, backoff)
            }
            None => (now + QUIC_BACKOFF, QUIC_BACKOFF),
        };
        e.quic = Some((until, backoff));
        backoff
    }

    /// A QUIC attempt to `dst` completed: QUIC works there again (HE-12.4).
    pub fn quic_success(&mut self, src: Option<IpAddr>, dst: SocketAddr) {
        if let Some(e) = self.entries.get_mut(&(src, dst)) {
            e.quic = None;
        }
    }

    fn entry(&mut self, src: Option<IpAddr>, dst: SocketAddr) -> &mut Entry {
        self.clock += 1;
        let clock = self.clock;
        if !self.entries.contains_key(&(src, dst)) && self.entries.len() >= self.limits.max_entries
        {
            self.evict();
        }
        let e = self.entries.entry((src, dst)).or_insert(Entry {
            srtt: None,
            connected: None,
            worked: false,
            failure: None,
            quic: None,
            used: clock,
        });
        e.used = clock;
        e
    }

    /// Drops the least recently used eighth (at least one entry), so eviction costs O(log n) per
    /// insert, amortised, and the table never exceeds its bound.
    fn evict(&mut self) {
        let n = (self.limits.max_entries / 8).max(1).min(self.entries.len());
        let mut used: Vec<u64> = self.entries.values().map(|e| e.used).collect();
        let (_, cutoff, _) = used.select_nth_unstable(n - 1);
        let cutoff = *cutoff;
        self.entries.retain(|_, e| e.used > cutoff);
    }
}

/// The key of `dst`'s network prefix: its /24 (IPv4) or /64 (IPv6), on port 0, which no
/// destination can have.
fn prefix(dst: SocketAddr) -> SocketAddr {
    let ip = match dst.ip() {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & !0xff).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
    };
    SocketAddr::new(ip, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // HE-5.3: a destination never connected to takes its prefix's RTT, same family only.
    #[test]
    fn he_5_3_prefix_rtt_stands_in() {
        let mut h = History::new(LIMITS);
        let t0 = Instant::now();
        let src = Some("192.0.2.200".parse().unwrap());
        h.success(src, addr("192.0.2.1:443"), 2 * MS, t0);
        let sibling = h.verdict(src, addr("192.0.2.7:443"), t0);
        assert_eq!(sibling.rtt(), Some((2 * MS, MS)));
        assert!(!sibling.worked(), "worked is the destination's own");
        assert_eq!(h.verdict(src, addr("198.51.100.1:443"), t0).rtt(), None);
        let v6 = Some("2001:db8::100".parse().unwrap());
        h.success(v6, addr("[2001:db8:0:1::1]:443"), 3 * MS, t0);
        assert_eq!(
            h.verdict(v6, addr("[2001:db8:0:1::9]:443"), t0).rtt(),
            Some((3 * MS, 1500 * Duration::from_micros(1)))
        );
        assert_eq!(h.verdict(v6, addr("[2001:db8:0:2::1]:443"), t0).rtt(), None);
    }

    // HE-4.2: the history says when a destination last connected, and whether its RTT is its
    // own or its network's.
    #[test]
    fn he_4_2_remembers_when_it_connected() {
        let mut h = History::new(LIMITS);
        let t0 = Instant::now();
        let src = Some("192.0.2.200".parse().unwrap());
        let dst = addr("192.0.2.1:443");
        assert_eq!(h.verdict(src, dst, t0).connected_ago(), None);
        h.success(src, dst, 2 * MS, t0);
        let later = h.verdict(src, dst, t0 + 90 * MS);
        assert_eq!(later.connected_ago(), Some(90 * MS));
        assert!(!later.prefix_rtt());
        h.failure(src, dst, PastFailure::Refused, t0 + 100 * MS);
        assert_eq!(
            h.verdict(src, dst, t0 + 200 * MS).connected_ago(),
            Some(200 * MS),
            "a failure does not erase when it last connected"
        );
        let sibling = h.verdict(src, addr("192.0.2.9:443"), t0);
        assert!(sibling.prefix_rtt() && sibling.connected_ago().is_none());
        assert_eq!(
            sibling.describe().as_deref(),
            Some("2.0 ms RTT to its network")
        );
    }

    const MS: Duration = Duration::from_millis(1);
    const LIMITS: Limits = Limits {
        max_entries: 64,
        failure_ttl: Duration::from_secs(300),
    };

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    // HE-5.3: RFC 6298 §2.2 and §2.3: the first RTT sets SRTT = R, RTTVAR = R/2; later ones
    // smooth with 1/8 and 1/4.
    #[test]
    fn he_5_3_rtt_smoothing_follows_rfc_6298() {
        let mut h = History::new(LIMITS);
        let t0 = Instant::now();
        let (src, dst) = (
            Some("2001:db8::100".parse().unwrap()),
            addr("[2001:db8::1]:443"),
        );
        h.success(src, dst, 80 * MS, t0);
        assert_eq!(h.verdict(src, dst, t0).rtt(), Some((80 * MS, 40 * MS)));
        h.success(src, dst, 160 * MS, t0);
        // SRTT = 7/8 80 + 1/8 160 = 90; RTTVAR = 3/4 40 + 1/4 |80 - 160| = 50.
        assert_eq!(h.verdict(src, dst, t0).rtt(), Some((90 * MS, 50 * MS)));
        assert!(h.verdict(src, dst, t0).worked());
    }

    // HE-5.3: the attempt delay follows the first retransmission, within the bounds.
    #[test]
    fn he_5_3_attempt_delay_from_rtt() {
        let bounds = (100 * MS, 2000 * MS);
        let v = |srtt: u32, var: u32| Remembered::default().with_rtt(Some((srtt * MS, var * MS)));
        assert_eq!(
            Remembered::default().attempt_delay(bounds),
            None,
            "no history"
        );
        assert_eq!(
            v(350, 175).attempt_delay(bounds),
            Some(1050 * MS),
            "far server"
        );
        assert_eq!(
            v(2, 1).attempt_delay(bounds),
            Some(100 * MS),
            "near: the minimum"
        );
        assert_eq!(
            v(900, 400).attempt_delay(bounds),
            Some(2000 * MS),
            "the maximum"
        );
        assert_eq!(
            v(50, 1).attempt_delay((10 * MS, 2000 * MS)),
            Some(60 * MS),
            "10 ms granularity"
        );
    }

    // HE-12.4: QUIC broken to a destination for 5 minutes after a failure while TCP worked;
    // failures while it runs change nothing, one after it ran out doubles it (to at most 2
    // days); a QUIC success clears it; per network, as the rest of the history.
    #[test]
    fn he_12_4_quic_backoff_doubles_while_quic_keeps_failing() {
        let mut h = History::new(Limits {
            max_entries: 16,
            failure_ttl: Duration::from_secs(600),
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (src, other) = (Some(ip("2001:db8::100")), Some(ip("2001:db8:1::100")));
        let dst = "[2001:db8::1]:443".parse().unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(!h.verdict(src, dst, t0).quic_broken());
        assert_eq!(h.quic_failure(src, dst, t0), QUIC_BACKOFF);
        assert!(h.verdict(src, dst, at(299)).quic_broken());
        assert!(
            !h.verdict(other, dst, at(1)).quic_broken(),
            "another network"
        );
        assert_eq!(
            h.quic_failure(src, dst, at(100)),
            QUIC_BACKOFF,
            "within: unchanged"
        );
        assert!(!h.verdict(src, dst, at(300)).quic_broken(), "ran out");
        assert_eq!(h.quic_failure(src, dst, at(300)), 2 * QUIC_BACKOFF);
        assert!(h.verdict(src, dst, at(899)).quic_broken());
        assert!(!h.verdict(src, dst, at(900)).quic_broken());
        let mut now = 900;
        for _ in 0..20 {
            let backoff = h.quic_failure(src, dst, at(now));
            now += backoff.as_secs();
        }
        assert_eq!(h.quic_failure(src, dst, at(now)), QUIC_BACKOFF_MAX);
        h.quic_success(src, dst);
        assert!(!h.verdict(src, dst, at(now + 1)).quic_broken());
        assert_eq!(
            h.quic_failure(src, dst, at(now + 1)),
            QUIC_BACKOFF,
            "starts over"
        );
        // A QUIC failure is not the address's failure.
        assert_eq!(h.verdict(src, dst, at(now + 1)).failed(), None);
    }

    // HE-4.2: a failure is a verdict until it expires; a later success clears it; history is per
    // network (source address).
    #[test]
    fn he_4_2_failures_expire_and_never_cross_networks() {
        let mut h = History::new(LIMITS);
        let t0 = Instant::now();
        let home = Some("2001:db8:1::100".parse().unwrap());
        let cafe = Some("2001:db8:2::100".parse().unwrap());
        let dst = addr("[2001:db8::1]:443");
        h.failure(home, dst, PastFailure::TimedOut, t0);
        assert_eq!(
            h.verdict(home, dst, t0).failed(),
            Some(PastFailure::TimedOut)
        );
        assert_eq!(
            h.verdict(cafe, dst, t0),
            Remembered::default(),
            "another network"
        );
        let almost = t0 + LIMITS.failure_ttl - MS;
        assert_eq!(
            h.verdict(home, dst, almost).failed(),
            Some(PastFailure::TimedOut)
        );
        assert_eq!(
            h.verdict(home, dst, t0 + LIMITS.failure_ttl).failed(),
            None,
            "expired"
        );
        h.success(home, dst, 5 * MS, t0);
        let v = h.verdict(home, dst, t0 + MS);
        assert_eq!((v.failed(), v.worked()), (None, true));
        h.failure(home, dst, PastFailure::LostRace, t0 + 2 * MS);
        let v = h.verdict(home, dst, t0 + 2 * MS);
        assert_eq!(
            (v.failed(), v.worked()),
            (Some(PastFailure::LostRace), false)
        );
        h.clear();
        assert_eq!(h.len(), 0);
    }

    // Bounded: a million distinct destinations never hold more than the maximum, and the most
    // recently used survive.
    #[test]
    fn bounded_under_a_million_destinations() {
        let limits = Limits {
            max_entries: 4096,
            ..LIMITS
        };
        let mut h = History::new(limits);
        let t0 = Instant::now();
        let keep = addr("[2001:db8::ffff]:443");
        for i in 0..1_000_000u32 {
            let dst = SocketAddr::new(IpAddr::from(i.to_be_bytes()), 443);
            h.failure(None, dst, PastFailure::Refused, t0);
            if i % 1000 == 0 {
                h.success(None, keep, MS, t0);
            }
            assert!(h.len() <= limits.max_entries);
        }
        assert!(h.verdict(None, keep, t0).worked(), "a hot entry is kept");
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        // HE-4.2: over any sequence of outcomes and lookups: the table never grows past its
        // bound; the latest outcome decides the verdict (a success clears a failure, a failure
        // shows until it expires); the RTT stays within the samples' range.
        #[test]
        fn he_4_2_history_invariants(ops in proptest::collection::vec((0u8..3, 0u8..40, 0u16..400, 0u32..1000), 1..400)) {
            let limits = Limits { max_entries: 16, failure_ttl: 100 * MS };
            let mut h = History::new(limits);
            let t0 = Instant::now();
            let mut now = t0;
            for (op, key, rtt_ms, advance_ms) in ops {
                now += Duration::from_millis(u64::from(advance_ms % 50));
                let dst = SocketAddr::new(IpAddr::from([192, 0, 2, key]), 443);
                let src = (key % 2 == 0).then(|| IpAddr::from([192, 0, 2, 200]));
                match op {
                    0 => {
                        let rtt = Duration::from_millis(u64::from(rtt_ms) + 1);
                        h.success(src, dst, rtt, now);
                        let v = h.verdict(src, dst, now);
                        prop_assert!(v.worked() && v.failed().is_none());
                        let (srtt, _) = v.rtt().unwrap();
                        prop_assert!(srtt >= MS && srtt <= Duration::from_millis(401));
                    }
                    1 => {
                        h.failure(src, dst, PastFailure::TimedOut, now);
                        let v = h.verdict(src, dst, now);
                        prop_assert_eq!(v.failed(), Some(PastFailure::TimedOut));
                        prop_assert!(!v.worked());
                        let later = h.verdict(src, dst, now + limits.failure_ttl);
                        prop_assert_eq!(later.failed(), None, "expired");
                    }
                    _ => {
                        let _ = h.verdict(src, dst, now);
                    }
                }
                prop_assert!(h.len() <= limits.max_entries);
            }
        }
    }
}
