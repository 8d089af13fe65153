//! [`Report`]: what happened during one connect, for logs, metrics and the probe.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::nat64::{Nat64Prefix, PrefixSource, Translation};
pub use crate::proto::history::{DelayBasis, PastFailure, Remembered};
use crate::proto::machine::Placement;
use crate::proto::svcb::{ServiceEndpoint, ServiceRecord};
use crate::proto::{Family, Protocol};
use crate::resolve::ResolveError;

/// One DNS answer, as it arrived.
#[derive(Debug, Clone)]
pub struct Answer {
    pub(crate) family: Family,
    /// [`Answer::at`] in nanoseconds (compact, like the rest: a connect in flight keeps its
    /// answers).
    at: u64,
    /// Compact, as a connect in flight keeps its answers: one address inline, more without
    /// spare room, and the error (most answers have none) out of line.
    pub(crate) result: Result<Addrs, Box<ResolveError>>,
    /// [`Answer::stale`] in nanoseconds; `u64::MAX`: not stale.
    stale: u64,
    /// Addresses past the limit (HE-5.12), not looked at and not kept.
    pub(crate) over_limit: u32,
}

/// An answer's addresses: none or one inline (most answers a connect gets), more in one
/// allocation of exactly their size (issue 23).
#[derive(Debug, Clone)]
pub(crate) enum Addrs {
    One(Option<IpAddr>),
    Many(Box<[IpAddr]>),
}

impl Addrs {
    pub(crate) fn as_slice(&self) -> &[IpAddr] {
        match self {
            Addrs::One(one) => one.as_slice(),
            Addrs::Many(many) => many,
        }
    }
}

impl std::ops::Deref for Addrs {
    type Target = [IpAddr];

    fn deref(&self) -> &[IpAddr] {
        self.as_slice()
    }
}

impl From<Vec<IpAddr>> for Addrs {
    fn from(ips: Vec<IpAddr>) -> Addrs {
        match ips.len() {
            0 | 1 => Addrs::One(ips.first().copied()),
            _ => Addrs::Many(ips.into_boxed_slice()),
        }
    }
}

/// `d` in nanoseconds, saturating just below `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX - 1)
        .min(u64::MAX - 1)
}

impl Answer {
    pub(crate) fn new(
        family: Family,
        at: Duration,
        result: Result<Addrs, Box<ResolveError>>,
        stale: Option<Duration>,
        over_limit: u32,
    ) -> Answer {
        Answer {
            family,
            at: nanos(at),
            result,
            stale: stale.map_or(u64::MAX, nanos),
            over_limit,
        }
    }

    /// Which family was asked for (AAAA for [`Family::V6`], A for [`Family::V4`]).
    pub fn family(&self) -> Family {
        self.family
    }

    /// When the answer arrived, from the start of the connect.
    pub fn at(&self) -> Duration {
        Duration::from_nanos(self.at)
    }

    /// The addresses (empty for NODATA), or the error.
    pub fn result(&self) -> Result<&[IpAddr], &ResolveError> {
        self.result.as_ref().map(Addrs::as_slice).map_err(|e| &**e)
    }

    /// For an expired answer served while the name server was silent or failing (RFC 8767,
    /// HE-8.7): how long ago it expired. Its refresh, when it came, is the next answer of the
    /// same family in the report.
    pub fn stale(&self) -> Option<Duration> {
        (self.stale != u64::MAX).then(|| Duration::from_nanos(self.stale))
    }

    /// How many of the answer's addresses were ignored because it had more than
    /// [`MAX_ADDRESSES`](crate::proto::admit::MAX_ADDRESSES) usable ones (HE-5.12): a connect takes the
    /// first ones in the answer's order. [`Answer::result`] lists the addresses looked at, not
    /// these.
    pub fn over_limit(&self) -> usize {
        self.over_limit as usize
    }
}

/// The HTTPS-record answer (RFC 9460, HE-10.2), as it arrived: [`Report::service_answer`].
#[derive(Debug, Clone)]
pub struct ServiceAnswer {
    pub(crate) at: Duration,
    pub(crate) result: Result<Vec<ServiceRecord>, ResolveError>,
    pub(crate) malformed: usize,
    pub(crate) over_limit: usize,
}

impl ServiceAnswer {
    /// When the answer arrived, from the start of the connect.
    pub fn at(&self) -> Duration {
        self.at
    }

    /// The records that parsed (empty for NODATA), or the lookup's error.
    pub fn result(&self) -> Result<&[ServiceRecord], &ResolveError> {
        self.result.as_deref()
    }

    /// How many records were malformed and ignored (HE-10.1).
    pub fn malformed(&self) -> usize {
        self.malformed
    }

    /// How many records and hint addresses were past the limits and ignored (HE-10.8: at most
    /// 32 ServiceMode records, the best by priority, one AliasMode record, 16 hints of each
    /// family per record). [`ServiceAnswer::result`] holds what was kept.
    pub fn over_limit(&self) -> usize {
        self.over_limit
    }
}

/// How one connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The handshake completed and this attempt won.
    Connected,
    /// The connect failed (refused, unreachable, ...).
    Failed {
        /// The error's kind.
        kind: io::ErrorKind,
        /// The error's text.
        message: String,
    },
    /// The attempt ran out of its own timeout, or was still running when the connect timed out.
    TimedOut,
    /// Cancelled because another attempt won.
    Cancelled,
    /// Not attempted: the address policy denied the address.
    Denied,
    /// TCP connected, then the connect's own handshake (TLS) failed (HE-9.2).
    HandshakeFailed {
        /// The error's kind.
        kind: io::ErrorKind,
        /// The error's text.
        message: String,
    },
}

impl AttemptOutcome {
    /// A short word for the outcome: `connected`, `refused`, `unreachable`, `failed`,
    /// `timed out`, `cancelled`, `denied` or `handshake failed`.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptOutcome::Connected => "connected",
            AttemptOutcome::Failed {
                kind: io::ErrorKind::ConnectionRefused,
                ..
            } => "refused",
            AttemptOutcome::Failed {
                kind: io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable,
                ..
            } => "unreachable",
            AttemptOutcome::Failed {
                kind: io::ErrorKind::TimedOut,
                ..
            } => "timed out",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::TimedOut => "timed out",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Denied => "denied",
            AttemptOutcome::HandshakeFailed { .. } => "handshake failed",
        }
    }
}

/// One connection attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub(crate) addr: SocketAddr,
    /// TCP, or QUIC (HE-12.x).
    pub(crate) protocol: Protocol,
    pub(crate) started: Duration,
    pub(crate) ended: Option<Duration>,
    pub(crate) outcome: Option<AttemptOutcome>,
    pub(crate) history: Option<Remembered>,
    /// Filled in when the race ends.
    pub(crate) placement: Option<Placement>,
    /// The HTTPS-record endpoint it belonged to; filled in when the race ends.
    pub(crate) endpoint: Option<std::sync::Arc<ServiceEndpoint>>,
    /// When its TCP handshake completed, if the connect runs a handshake of its own on top.
    pub(crate) tcp_connected: Option<Duration>,
    /// The IPv4 address this IPv6 destination stands for through NAT64 (HE-7.9).
    pub(crate) translation: Option<Translation>,
    /// The winner's handshake, in its own words ([`crate::Handshake::note`]).
    pub(crate) note: Option<std::borrow::Cow<'static, str>>,
}

/// History moved an attempt: [`Attempt::moved_by_history`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Moved {
    /// Where the attempt would have come without history (0 for first).
    pub from: usize,
    /// Where it came (0 for first).
    pub to: usize,
}

impl Attempt {
    /// For the winning attempt, what its handshake said of how it went
    /// ([`crate::Handshake::note`]): `HttpsConnector`'s TLS handshake says what happened to
    /// Encrypted Client Hello (`"ECH accepted"`, `"ECH accepted on the retry"`, `"ECH GREASE"`).
    /// A failed attempt's error says why it failed.
    pub fn handshake_note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// What the connector's history knew about this address when the race ordered it (its RTT,
    /// whether it worked, whether and how it failed recently), or `None` when it knew nothing
    /// (or history is off). [`Remembered::describe`] says how that moved the attempt.
    pub fn history(&self) -> Option<&Remembered> {
        self.history.as_ref()
    }

    /// Whether history moved this attempt in the order (HE-4.2): where the same addresses,
    /// sorted and interleaved without history, would have put it, and where it came. `None`
    /// when it came where it would have anyway. [`Attempt::history`] says why.
    pub fn moved_by_history(&self) -> Option<Moved> {
        let p = self.placement?;
        let from = p.plain_position?;
        (from != p.position).then_some(Moved {
            from,
            to: p.position,
        })
    }

    /// The Connection Attempt Delay this attempt set before the next one, and where it came
    /// from (HE-5.3): the configured delay, or with history one worked out from an RTT. `None`
    /// when the attempt failed or the race ended before it was worked out, and for a
    /// connect that never raced (a single address).
    pub fn attempt_delay(&self) -> Option<(Duration, DelayBasis)> {
        self.placement?.delay
    }

    /// When its TCP handshake completed, from the start of the connect, for a connect that
    /// runs a handshake of its own on top ([`crate::Connect::handshake`]); `None` if TCP
    /// never completed, and for a plain connect (where [`Attempt::ended`] is that time). The
    /// handshake then ran until [`Attempt::ended`] (HE-9.1).
    pub fn tcp_connected(&self) -> Option<Duration> {
        self.tcp_connected
    }

    /// The HTTPS-record endpoint (priority, port, ALPN set, ECH configuration) this address
    /// belonged to, when the connect used HTTPS records ([`crate::Builder::https_records`]).
    pub fn endpoint(&self) -> Option<&ServiceEndpoint> {
        self.endpoint.as_deref()
    }

    /// The address tried.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Over what it connected: TCP (and the connect's handshake on it), or QUIC when the
    /// connect raced QUIC against TCP (HE-12.2); a QUIC attempt's [`Attempt::addr`] is its UDP
    /// address.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// When the address tried is a NAT64 translation (an IPv4 destination on a network without
    /// an IPv4 route, or a DNS64 answer): the IPv4 address it reaches, the prefix, who
    /// synthesized it and how the prefix was learned (HE-7.9).
    pub fn translation(&self) -> Option<&Translation> {
        self.translation.as_ref()
    }

    /// The address's family (the family on the wire: IPv6 for a NAT64 translation).
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// When the attempt started, from the start of the connect.
    pub fn started(&self) -> Duration {
        self.started
    }

    /// When the attempt ended, from the start of the connect.
    pub fn ended(&self) -> Option<Duration> {
        self.ended
    }

    /// How it ended; `None` only while the connect is still running.
    pub fn outcome(&self) -> Option<&AttemptOutcome> {
        self.outcome.as_ref()
    }
}

/// What happened during one connect: each DNS answer, each attempt, the winner and the total.
///
/// Yielded by a connect with [`crate::Connect::with_report`], and carried by a failed connect's
/// [`crate::Error`]. Its `Display` is a compact multi-line timeline.
#[derive(Debug, Clone)]
pub struct Report {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// How messages name the target when `host:port` would mislead (several addresses given to
    /// `connect`; a lookup whose port is not known).
    pub(crate) target: Option<String>,
    pub(crate) answers: Vec<Answer>,
    pub(crate) service: Option<ServiceAnswer>,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) winner: Option<usize>,
    pub(crate) elapsed: Duration,
    /// The NAT64 prefix the connect synthesized with, when it had no IPv4 route (HE-7.9).
    pub(crate) nat64: Option<(Nat64Prefix, PrefixSource)>,
    /// Addresses ignored past the limit (HE-5.12), from every source.
    pub(crate) over_limit: usize,
}

impl Report {
    pub(crate) fn new(host: &str, port: u16) -> Report {
        Report {
            host: host.to_string(),
            port,
            target: None,
            answers: Vec::new(),
            service: None,
            attempts: Vec::new(),
            winner: None,
            elapsed: Duration::ZERO,
            nat64: None,
            over_limit: 0,
        }
    }

    /// The NAT64 prefix in use, and how it was learned, when the connect found no IPv4 route
    /// and a prefix (HE-7.9): IPv4 destinations were reached through it.
    pub fn nat64_prefix(&self) -> Option<(Nat64Prefix, PrefixSource)> {
        self.nat64
    }

    /// The HTTPS-record answer, when the connect looked HTTPS records up.
    pub fn service_answer(&self) -> Option<&ServiceAnswer> {
        self.service.as_ref()
    }

    /// The target as messages name it: `host:port`, `[v6]:port`, or for example `3 addresses
    /// (port 443)` for addresses given to [`crate::Connector::connect`].
    pub(crate) fn target(&self) -> String {
        if let Some(target) = &self.target {
            return target.clone();
        }
        let host = &self.host;
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The host as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The DNS answers in arrival order (empty for IP literals and addresses given to [`crate::Connector::connect`]).
    pub fn answers(&self) -> &[Answer] {
        &self.answers
    }

    /// The attempts in start order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The attempt that won, if any.
    pub fn winner(&self) -> Option<&Attempt> {
        self.winner.map(|i| &self.attempts[i])
    }

    /// Total time from the start of the connect to its end.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How many addresses the connect ignored because an answer, a TargetName's answer or the
    /// addresses given to [`crate::Connector::connect`] had more than
    /// [`MAX_ADDRESSES`](crate::proto::admit::MAX_ADDRESSES) usable ones of a family (HE-5.12);
    /// [`Answer::over_limit`] says which DNS answer. 0 on every ordinary connect.
    pub fn over_limit(&self) -> usize {
        self.over_limit
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elapsed = ms(self.elapsed);
        match &self.target {
            Some(target) => writeln!(f, "connect to {target} ({elapsed} ms)")?,
            None => writeln!(
                f,
                "connect to {} port {} ({elapsed} ms)",
                self.host, self.port
            )?,
        }
        for a in &self.answers {
            let rr = if a.family == Family::V6 { "AAAA" } else { "A" };
            match a.result() {
                Ok([]) => writeln!(f, "  {:>8} ms  {rr} no records", ms(a.at()))?,
                Ok(ips) => {
                    let list: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
                    let over = match a.over_limit {
                        0 => String::new(),
                        n => format!(" (and {n} more, past the limit, ignored)"),
                    };
                    writeln!(f, "  {:>8} ms  {rr} {}{over}", ms(a.at()), list.join(", "))?
                }
                Err(e) => writeln!(f, "  {:>8} ms  {rr} failed: {e}", ms(a.at()))?,
            }
        }
        // With QUIC in the race, each attempt says over what it went.
        let mixed = self.attempts.iter().any(|a| a.protocol == Protocol::Quic);
        for a in &self.attempts {
            let protocol = match (mixed, a.protocol) {
                (false, _) => "",
                (true, Protocol::Quic) => "quic ",
                (true, Protocol::Tcp) => "tcp  ",
            };
            let end = a
                .ended
                .map(|e| format!("{} ms", ms(e)))
                .unwrap_or_else(|| "-".into());
            let outcome = a.outcome.as_ref().map_or("running", AttemptOutcome::label);
            let note = a
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(
                f,
                "  {:>8} ms  {protocol}{} -> {end} {outcome}{note}",
                ms(a.started),
                a.addr
            )?;
            if let Some(t) = &a.translation {
                writeln!(f, "              ({t})")?;
            }
        }
        Ok(())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
