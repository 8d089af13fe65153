//! Configuration: [`Config`], [`SocketOptions`] and the errors the builder reports.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Which address families a connect may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FamilyPolicy {
    /// Both IPv6 and IPv4, raced per RFC 8305. The default.
    #[default]
    Both,
    /// IPv4 only: no AAAA query is sent and IPv6 literals are rejected.
    Ipv4Only,
    /// IPv6 only: no A query is sent and IPv4 literals are rejected.
    Ipv6Only,
}

impl FamilyPolicy {
    pub(crate) fn allows(self, family: crate::Family) -> bool {
        !matches!(
            (self, family),
            (FamilyPolicy::Ipv4Only, crate::Family::V6)
                | (FamilyPolicy::Ipv6Only, crate::Family::V4)
        )
    }
}

/// The kernel's range for `TCP_KEEPIDLE` and `TCP_KEEPINTVL` (Linux's `MAX_TCP_KEEPIDLE`,
/// `MAX_TCP_KEEPINTVL`): whole seconds.
const KEEPALIVE_SECONDS: std::ops::RangeInclusive<u64> = 1..=32_767;
/// The kernel's range for `TCP_KEEPCNT` (Linux's `MAX_TCP_KEEPCNT`).
const KEEPALIVE_RETRIES: std::ops::RangeInclusive<u32> = 1..=127;

impl SocketOptions {
    /// Rejects values every attempt's socket would refuse ([`ConfigError::SocketOptionOutOfRange`]).
    fn validate(&self) -> Result<(), ConfigError> {
        let out = |option, value: String, range| {
            Err(ConfigError::SocketOptionOutOfRange {
                option,
                value,
                range,
            })
        };
        if let Some(k) = &self.keepalive {
            for (option, d) in [
                ("keepalive time", k.time),
                ("keepalive interval", k.interval),
            ] {
                if let Some(d) = d
                    && !KEEPALIVE_SECONDS.contains(&d.as_secs())
                {
                    return out(option, format!("{d:?}"), "1s..=32767s");
                }
            }
            if let Some(n) = k.retries
                && !KEEPALIVE_RETRIES.contains(&n)
            {
                return out("keepalive retries", n.to_string(), "1..=127");
            }
        }
        if let Some(t) = self.user_timeout
            && t.as_millis() > u128::from(u32::MAX)
        {
            return out("user_timeout", format!("{t:?}"), "at most 4294967295ms");
        }
        Ok(())
    }
}

/// TCP keepalive settings applied to every attempt's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Keepalive {
    /// Idle time before the first probe (`TCP_KEEPIDLE`). `None`: the system default.
    pub time: Option<Duration>,
    /// Time between probes (`TCP_KEEPINTVL`). `None`: the system default.
    pub interval: Option<Duration>,
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`). `None`: the system default.
    pub retries: Option<u32>,
}

impl Keepalive {
    /// Keepalive on, probing after `time` of idleness.
    #[must_use]
    pub fn new(time: Duration) -> Keepalive {
        Keepalive {
            time: Some(time),
            interval: None,
            retries: None,
        }
    }

    /// Sets the probe interval.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Keepalive {
        self.interval = Some(interval);
        self
    }

    /// Sets the number of probes.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Keepalive {
        self.retries = Some(retries);
        self
    }
}

/// A hook called with each attempt's socket before it connects.
///
/// `socket2::Socket` is a public dependency here: use the socket2 version eyeballs depends on
/// (0.6).
pub type SocketHook = Arc<dyn Fn(&socket2::Socket, SocketAddr) -> io::Result<()> + Send + Sync>;

/// Socket options applied to every connection attempt (parity with hyper-util's `HttpConnector`).
///
/// All are off (the system default) unless set.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SocketOptions {
    /// `TCP_NODELAY`. Default: `false` (the system default, Nagle on).
    pub nodelay: bool,
    /// TCP keepalive. Default: off.
    pub keepalive: Option<Keepalive>,
    /// Local address to bind IPv4 attempts to. Default: none (the kernel picks).
    pub local_v4: Option<Ipv4Addr>,
    /// Local address to bind IPv6 attempts to. Default: none (the kernel picks).
    pub local_v6: Option<Ipv6Addr>,
    /// Network interface to bind to (`SO_BINDTODEVICE`, Linux, Android and Fuchsia). Default: none.
    pub interface: Option<String>,
    /// `SO_MARK` (Linux). Default: none.
    pub mark: Option<u32>,
    /// `SO_SNDBUF` in bytes. Default: the system's.
    pub send_buffer_size: Option<usize>,
    /// `SO_RCVBUF` in bytes. Default: the system's.
    pub recv_buffer_size: Option<usize>,
    /// `TCP_USER_TIMEOUT` (Linux). Default: none.
    pub user_timeout: Option<Duration>,
    /// `SO_REUSEADDR`. Default: `false`.
    pub reuse_address: bool,
    /// Called with each socket, after the options above and before `connect`. Default: none.
    pub hook: Option<SocketHook>,
}

impl fmt::Debug for SocketOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketOptions")
            .field("nodelay", &self.nodelay)
            .field("keepalive", &self.keepalive)
            .field("local_v4", &self.local_v4)
            .field("local_v6", &self.local_v6)
            .field("interface", &self.interface)
            .field("mark", &self.mark)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("recv_buffer_size", &self.recv_buffer_size)
            .field("user_timeout", &self.user_timeout)
            .field("reuse_address", &self.reuse_address)
            .field(
                "hook",
                &self.hook.as_ref().map(|_| "Fn(&Socket, SocketAddr)"),
            )
            .finish()
    }
}

/// Each option's setter, for building the options in one expression:
/// `SocketOptions::default().nodelay(true).keepalive(..)`.
impl SocketOptions {
    /// `TCP_NODELAY`.
    pub fn nodelay(mut self, nodelay: bool) -> SocketOptions {
        self.nodelay = nodelay;
        self
    }

    /// TCP keepalive: time and interval 1 s ..= 32,767 s, retries 1 ..= 127 (the kernel's
    /// ranges), else [`Builder::build`](crate::Builder::build) fails with
    /// [`ConfigError::SocketOptionOutOfRange`].
    pub fn keepalive(mut self, keepalive: Keepalive) -> SocketOptions {
        self.keepalive = Some(keepalive);
        self
    }

    /// Bind IPv4 attempts to this local address.
    ///
    /// This binds; it does not restrict. IPv6 attempts are still made, unbound (the kernel picks
    /// their source), unless [`SocketOptions::local_v6`] is set too, as with hyper-util's
    /// `set_local_address`. To connect over IPv4 only, add
    /// `.family(FamilyPolicy::Ipv4Only)` on the builder.
    pub fn local_v4(mut self, addr: Ipv4Addr) -> SocketOptions {
        self.local_v4 = Some(addr);
        self
    }

    /// Bind IPv6 attempts to this local address. Like [`SocketOptions::local_v4`], this binds
    /// and does not restrict.
    pub fn local_v6(mut self, addr: Ipv6Addr) -> SocketOptions {
        self.local_v6 = Some(addr);
        self
    }

    /// Bind to a network interface (`SO_BINDTODEVICE`; Linux, Android, Fuchsia).
    pub fn interface(mut self, name: impl Into<String>) -> SocketOptions {
        self.interface = Some(name.into());
        self
    }

    /// `SO_MARK` (Linux).
    pub fn mark(mut self, mark: u32) -> SocketOptions {
        self.mark = Some(mark);
        self
    }

    /// `SO_SNDBUF`, in bytes.
    pub fn send_buffer_size(mut self, size: usize) -> SocketOptions {
        self.send_buffer_size = Some(size);
        self
    }

    /// `SO_RCVBUF`, in bytes.
    pub fn recv_buffer_size(mut self, size: usize) -> SocketOptions {
        self.recv_buffer_size = Some(size);
        self
    }

    /// `TCP_USER_TIMEOUT` (Linux): at most 2^32 - 1 ms, else [`Builder::build`](crate::Builder::build)
    /// fails with [`ConfigError::SocketOptionOutOfRange`].
    pub fn user_timeout(mut self, timeout: Duration) -> SocketOptions {
        self.user_timeout = Some(timeout);
        self
    }

    /// `SO_REUSEADDR`.
    pub fn reuse_address(mut self, reuse: bool) -> SocketOptions {
        self.reuse_address = reuse;
        self
    }

    /// Calls `hook` with every attempt's socket after the options above are set and before it
    /// connects. An error from the hook fails that attempt (the next address is tried at once).
    pub fn hook(
        mut self,
        hook: impl Fn(&socket2::Socket, SocketAddr) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> SocketOptions {
        self.hook = Some(Arc::new(hook));
        self
    }
}

/// Options are equal when every field is; hooks are equal when they are the same `Arc`.
impl PartialEq for SocketOptions {
    fn eq(&self, other: &SocketOptions) -> bool {
        // Destructured without `..`: a new option does not compile until it is compared here, so
        // it can never be skipped by `is_default` (and the plain-socket fast path) by mistake.
        let SocketOptions {
            nodelay,
            keepalive,
            local_v4,
            local_v6,
            interface,
            mark,
            send_buffer_size,
            recv_buffer_size,
            user_timeout,
            reuse_address,
            hook,
        } = self;
        let same_hook = match (hook, &other.hook) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        *nodelay == other.nodelay
            && *keepalive == other.keepalive
            && *local_v4 == other.local_v4
            && *local_v6 == other.local_v6
            && *interface == other.interface
            && *mark == other.mark
            && *send_buffer_size == other.send_buffer_size
            && *recv_buffer_size == other.recv_buffer_size
            && *user_timeout == other.user_timeout
            && *reuse_address == other.reuse_address
            && same_hook
    }
}

impl SocketOptions {
    /// Whether every option is at its default, so a socket needs no extra system calls.
    pub(crate) fn is_default(&self) -> bool {
        *self == SocketOptions::default()
    }
}

pub use crate::proto::sort::PolicyTable;

/// The system's address-selection policy table: `/etc/gai.conf` when it exists (each line that
/// cannot be read ignored with a tracing warning), else RFC 6724's default.
pub fn system_policy_table() -> PolicyTable {
    let Ok(text) = std::fs::read_to_string("/etc/gai.conf") else {
        return PolicyTable::rfc6724();
    };
    let (table, problems) = PolicyTable::parse_gai_conf(&text);
    for problem in problems {
        tracing::warn!(%problem, "gai.conf: line ignored");
    }
    table
}

/// Bounds on the Connection Attempt Delay (RFC 8305 §5, §8).
pub const MIN_ATTEMPT_DELAY: Duration = crate::proto::machine::MIN_ATTEMPT_GAP;
/// The RFC's recommended minimum: smaller values are allowed but not recommended.
pub const RECOMMENDED_MIN_ATTEMPT_DELAY: Duration = Duration::from_millis(100);
/// The largest Connection Attempt Delay the builder accepts (RFC 8305 §8).
pub const MAX_ATTEMPT_DELAY: Duration = Duration::from_secs(2);
/// The largest Resolution Delay the builder accepts: past 2 s, waiting for AAAA costs more than
/// any IPv6 preference could win back (the RFC recommends 50 ms and gives no bound; we use the
/// attempt delay's).
pub const MAX_RESOLUTION_DELAY: Duration = Duration::from_secs(2);

/// Memory of earlier connects (HE-4.2, HE-5.3), shared by a [`crate::Connector`]'s clones. On by
/// default; [`crate::Builder::without_history`] turns it off.
///
/// Per network (the source address the kernel picks) and destination, eyeballs remembers the
/// smoothed handshake RTT (RFC 6298), whether the address worked, and when and how it last failed
/// (refused, unreachable, timed out, or lost the race without completing). Sorting then prefers
/// lower RTTs and addresses that worked, and puts recently failed ones last (tried at once when
/// the others fail); the Connection Attempt Delay after an address with a known RTT is about its
/// first SYN retransmission time, within the bounds below. A connect to a single address (an IP
/// literal) takes the fast path and is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryConfig {
    /// At most this many (network, destination) pairs are remembered; the least recently used go
    /// first. Default: 4096 (about 2.3 MB when full, measured 2026-12-02: some 560 bytes an
    /// entry with its index and eviction order).
    pub max_entries: usize,
    /// How long a failure verdict lasts; afterwards the address takes its RFC 6724 place again.
    /// Default: 5 minutes.
    pub failure_ttl: Duration,
    /// The adaptive Connection Attempt Delay's floor. Default: 100 ms, RFC 8305's recommended
    /// minimum; at least 10 ms.
    pub min_attempt_delay: Duration,
    /// The adaptive Connection Attempt Delay's ceiling. Default: 2 s, RFC 8305's maximum.
    pub max_attempt_delay: Duration,
}

impl Default for HistoryConfig {
    fn default() -> HistoryConfig {
        HistoryConfig {
            max_entries: 4096,
            failure_ttl: Duration::from_secs(300),
            min_attempt_delay: RECOMMENDED_MIN_ATTEMPT_DELAY,
            max_attempt_delay: MAX_ATTEMPT_DELAY,
        }
    }
}

/// The timing and policy of a [`crate::Connector`]. Build it through [`crate::Builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// How long to wait for AAAA after a positive A answer arrived first (RFC 8305 §3).
    /// Default: 50 ms, the RFC's recommendation.
    pub resolution_delay: Duration,
    /// The Connection Attempt Delay between staggered attempts (RFC 8305 §5). Default: 250 ms,
    /// the RFC's recommendation. Accepted range 10 ms to 2 s; below 100 ms is not recommended.
    pub attempt_delay: Duration,
    /// How many addresses of the preferred family are tried before the families alternate
    /// (RFC 8305 §4). Default: 1, the RFC's recommendation (2 may be used).
    pub first_address_family_count: usize,
    /// Which families to use. Default: [`FamilyPolicy::Both`].
    pub family: FamilyPolicy,
    /// A limit on the whole connect, resolution included. Default: none; a connect to black-holed
    /// addresses then ends only when the kernel gives up on each SYN (about two minutes on Linux).
    /// A limit too far away to be an instant (`Duration::MAX`) is no limit.
    pub connect_timeout: Option<Duration>,
    /// A limit on each attempt; an attempt that runs out counts as failed and the next address
    /// starts at once. Default: none (attempts end when the kernel gives up or another wins).
    /// `Duration::MAX` is no limit.
    pub attempt_timeout: Option<Duration>,
    /// Allow `0.0.0.0` and `::` as destinations (Linux connects them to the local host).
    /// Default: `false`.
    pub allow_unspecified: bool,
    /// Which destination addresses may be connected to, checked right before each attempt.
    /// Default: [`crate::AddressPolicy::allow_all`].
    pub address_policy: crate::AddressPolicy,
    /// Socket options applied to every attempt.
    pub socket: SocketOptions,
    /// Memory of earlier connects. Default: on, [`HistoryConfig::default`].
    pub history: Option<HistoryConfig>,
    /// The address-selection policy table. Default: `None`, the system's: `/etc/gai.conf`
    /// when present (read when the connector is built), else RFC 6724's.
    pub policy_table: Option<PolicyTable>,
    /// Look up the name's HTTPS records (RFC 9460) with AAAA and A, and use them: their hint
    /// addresses, ports, priorities and ALPN sets (Happy Eyeballs v3). Default: `false`.
    pub https_records: bool,
    /// The ALPN protocols the connection can use over TCP: an HTTPS-record endpoint that offers
    /// none of them is skipped. Default: `h2` and `http/1.1`.
    pub alpn: Vec<Vec<u8>>,
    /// Let HTTPS records steer connects to the Fetch standard's bad ports (22, 25, 6667, ...;
    /// [`crate::proto::svcb::BAD_PORTS`]). Default: `false`: such a record is left out, as
    /// browsers do (HE-10.9), since the address policy judges addresses, not ports.
    pub allow_bad_record_ports: bool,
    /// What to do on a network without an IPv4 route (NAT64, HE-7.1). Default:
    /// [`crate::nat64::Nat64Mode::Discover`].
    pub nat64: crate::nat64::Nat64Mode,
    /// Use an expired answer the resolver serves while its name server is silent or failing
    /// (RFC 8767, HE-8.7), replaced when the refresh answers. Default: `true`.
    pub serve_stale: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            resolution_delay: Duration::from_millis(50),
            attempt_delay: Duration::from_millis(250),
            first_address_family_count: 1,
            family: FamilyPolicy::Both,
            connect_timeout: None,
            attempt_timeout: None,
            allow_unspecified: false,
            address_policy: crate::AddressPolicy::allow_all(),
            socket: SocketOptions::default(),
            history: Some(HistoryConfig::default()),
            policy_table: None,
            https_records: false,
            allow_bad_record_ports: false,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            nat64: crate::nat64::Nat64Mode::Discover,
            serve_stale: true,
        }
    }
}

/// A configuration value the builder rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The Connection Attempt Delay lies outside 10 ms ..= 2 s (RFC 8305 §5: "MUST NOT" below 10 ms).
    #[error("connection attempt delay {value:?} is outside {min:?}..={max:?} (RFC 8305 section 5)")]
    AttemptDelayOutOfRange {
        /// The rejected value.
        value: Duration,
        /// The smallest accepted value.
        min: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// The Resolution Delay is above [`MAX_RESOLUTION_DELAY`].
    #[error("resolution delay {0:?} is above {MAX_RESOLUTION_DELAY:?}")]
    ResolutionDelayTooLong(Duration),
    /// First Address Family Count must be at least 1.
    #[error("first address family count must be at least 1")]
    FirstAddressFamilyCountZero,
    /// A timeout of zero would fail every connect.
    #[error("the {0} timeout must be greater than zero")]
    ZeroTimeout(Timeout),
    /// The history's adaptive attempt delay bounds lie outside 10 ms ..= 2 s or are reversed.
    #[error("adaptive attempt delay bounds {min:?}..={max:?} are not within 10ms..=2s")]
    AdaptiveDelayOutOfRange {
        /// The rejected floor.
        min: Duration,
        /// The rejected ceiling.
        max: Duration,
    },
    /// A socket option's value is outside what the kernel accepts (Linux: `TCP_KEEPIDLE` and
    /// `TCP_KEEPINTVL` 1 s ..= 32,767 s, `TCP_KEEPCNT` 1 ..= 127, `TCP_USER_TIMEOUT` at most
    /// 2^32 - 1 ms); every attempt would fail with "invalid input".
    #[error("socket option {option} = {value} is out of range ({range})")]
    SocketOptionOutOfRange {
        /// The option (`keepalive time`, `keepalive interval`, `keepalive retries`,
        /// `user_timeout`).
        option: &'static str,
        /// The rejected value, as given.
        value: String,
        /// The accepted range.
        range: &'static str,
    },
    /// The history must be able to hold at least one entry (turn it off instead).
    #[error(
        "the history must hold at least one entry; use Builder::without_history to turn it off"
    )]
    HistoryEmpty,
}

/// Which timeout a [`ConfigError::ZeroTimeout`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// [`Config::connect_timeout`].
    Connect,
    /// [`Config::attempt_timeout`].
    Attempt,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connect",
            Timeout::Attempt => "attempt",
        })
    }
}

impl Config {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_ATTEMPT_DELAY..=MAX_ATTEMPT_DELAY).contains(&self.attempt_delay) {
            return Err(ConfigError::AttemptDelayOutOfRange {
                value: self.attempt_delay,
                min: MIN_ATTEMPT_DELAY,
                max: MAX_ATTEMPT_DELAY,
            });
        }
        if self.resolution_delay > MAX_RESOLUTION_DELAY {
            return Err(ConfigError::ResolutionDelayTooLong(self.resolution_delay));
        }
        if self.first_address_family_count == 0 {
            return Err(ConfigError::FirstAddressFamilyCountZero);
        }
        if self.connect_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTimeout(Timeout::Connect));
        }
        if self.attempt_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTimeout(Timeout::Attempt));
        }
        self.socket.validate()?;
        if let Some(h) = &self.history {
            let (min, max) = (h.min_attempt_delay, h.max_attempt_delay);
            if min < MIN_ATTEMPT_DELAY || max > MAX_ATTEMPT_DELAY || min > max {
                return Err(ConfigError::AdaptiveDelayOutOfRange { min, max });
            }
            if h.max_entries == 0 {
                return Err(ConfigError::HistoryEmpty);
            }
        }
        Ok(())
    }

    /// Which destinations this configuration admits (family policy, unspecified address).
    pub(crate) fn admission(&self) -> crate::proto::admit::Admission {
        crate::proto::admit::Admission {
            v6: self.family.allows(crate::Family::V6),
            v4: self.family.allows(crate::Family::V4),
            allow_unspecified: self.allow_unspecified,
        }
    }

    /// Whether a connect to one usable address may skip the state machine: nothing in this
    /// configuration can change the course of a one-address race (start now; its outcome is the
    /// result). Every field is named, so a new setting does not compile until it is classified
    /// here.
    pub(crate) fn allows_single_attempt(&self) -> bool {
        let Config {
            // Only shape a race with DNS or several addresses.
            resolution_delay: _,
            attempt_delay: _,
            first_address_family_count: _,
            // Checked per address by the caller (`admission()`).
            family: _,
            allow_unspecified: _,
            // Applied by the dialer on either path.
            socket: _,
            // Orders several addresses and times the next attempt; one address has neither.
            history: _,
            policy_table: _,
            // Only for names: an IP literal has no HTTPS record.
            https_records: _,
            alpn: _,
            allow_bad_record_ports: _,
            // Checked by the caller: an IPv4 address without a route takes the full path.
            nat64: _,
            // Only for names.
            serve_stale: _,
            // Change the course of the race: only their defaults allow the fast path.
            connect_timeout,
            attempt_timeout,
            address_policy,
        } = self;
        connect_timeout.is_none() && attempt_timeout.is_none() && address_policy.is_allow_all()
    }

    pub(crate) fn race(&self) -> crate::proto::machine::RaceConfig {
        crate::proto::machine::RaceConfig {
            resolution_delay: self.resolution_delay,
            attempt_delay: self.attempt_delay,
            first_family_count: self.first_address_family_count,
            attempt_timeout: self.attempt_timeout,
            connect_timeout: self.connect_timeout,
            adaptive_delay: self
                .history
                .map(|h| (h.min_attempt_delay, h.max_attempt_delay)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // HE-5.2: the delay is bounded: below 10 ms or above 2 s is rejected.
    #[test]
    fn he_5_2_attempt_delay_bounds() {
        let ms = Duration::from_millis;
        for (delay, ok) in [
            (ms(9), false),
            (ms(10), true),
            (ms(250), true),
            (ms(2000), true),
            (ms(2001), false),
        ] {
            let c = Config {
                attempt_delay: delay,
                ..Config::default()
            };
            assert_eq!(c.validate().is_ok(), ok, "{delay:?}");
        }
    }

    // HE-3.4 / HE-4.3 / HE-5.1: the RFC's recommended defaults (§8).
    #[test]
    fn defaults_are_the_rfc_recommendations() {
        let c = Config::default();
        assert_eq!(c.resolution_delay, Duration::from_millis(50));
        assert_eq!(c.attempt_delay, Duration::from_millis(250));
        assert_eq!(c.first_address_family_count, 1);
        assert!(c.validate().is_ok());
    }

    // The fast-path predicates: each non-default setting that changes a one-address race turns the
    // fast path off; socket options compare to their defaults field by field.
    #[test]
    fn fast_path_predicates() {
        assert!(Config::default().allows_single_attempt());
        let ms = Duration::from_millis;
        let off = [
            Config {
                connect_timeout: Some(ms(1)),
                ..Config::default()
            },
            Config {
                attempt_timeout: Some(ms(1)),
                ..Config::default()
            },
            Config {
                address_policy: crate::AddressPolicy::public_only(),
                ..Config::default()
            },
        ];
        for c in off {
            assert!(!c.allows_single_attempt(), "{c:?}");
        }
        assert!(SocketOptions::default().is_default());
        let hook: SocketHook = Arc::new(|_, _| Ok(()));
        let changed = [
            SocketOptions {
                nodelay: true,
                ..SocketOptions::default()
            },
            SocketOptions {
                keepalive: Some(Keepalive::new(ms(1))),
                ..SocketOptions::default()
            },
            SocketOptions {
                local_v4: Some(Ipv4Addr::LOCALHOST),
                ..SocketOptions::default()
            },
            SocketOptions {
                local_v6: Some(Ipv6Addr::LOCALHOST),
                ..SocketOptions::default()
            },
            SocketOptions {
                interface: Some("lo".into()),
                ..SocketOptions::default()
            },
            SocketOptions {
                mark: Some(1),
                ..SocketOptions::default()
            },
            SocketOptions {
                send_buffer_size: Some(1),
                ..SocketOptions::default()
            },
            SocketOptions {
                recv_buffer_size: Some(1),
                ..SocketOptions::default()
            },
            SocketOptions {
                user_timeout: Some(ms(1)),
                ..SocketOptions::default()
            },
            SocketOptions {
                reuse_address: true,
                ..SocketOptions::default()
            },
            SocketOptions {
                hook: Some(hook.clone()),
                ..SocketOptions::default()
            },
        ];
        for o in &changed {
            assert!(!o.is_default(), "{o:?}");
            assert_eq!(o, &o.clone());
        }
        let other_hook: SocketHook = Arc::new(|_, _| Ok(()));
        assert_ne!(
            SocketOptions {
                hook: Some(hook),
                ..SocketOptions::default()
            },
            SocketOptions {
                hook: Some(other_hook),
                ..SocketOptions::default()
            }
        );
    }

    #[test]
    fn other_bad_values() {
        let bad = [
            Config {
                first_address_family_count: 0,
                ..Config::default()
            },
            Config {
                connect_timeout: Some(Duration::ZERO),
                ..Config::default()
            },
            Config {
                attempt_timeout: Some(Duration::ZERO),
                ..Config::default()
            },
            Config {
                resolution_delay: Duration::from_secs(3),
                ..Config::default()
            },
        ];
        for c in bad {
            let e = c.validate().unwrap_err();
            assert!(!e.to_string().is_empty());
        }
    }

    // Issue 24: socket options the kernel would refuse on every attempt are refused at build(),
    // with the range; the bounds themselves are accepted.
    #[test]
    fn socket_options_out_of_range() {
        let s = Duration::from_secs;
        let with = |socket: SocketOptions| Config {
            socket,
            ..Config::default()
        };
        let bad = [
            (
                SocketOptions::default().keepalive(Keepalive::new(Duration::MAX)),
                "keepalive time",
            ),
            (
                SocketOptions::default().keepalive(Keepalive::new(Duration::from_millis(500))),
                "keepalive time",
            ),
            (
                SocketOptions::default().keepalive(Keepalive::new(s(60)).interval(s(40_000))),
                "keepalive interval",
            ),
            (
                SocketOptions::default().keepalive(Keepalive::new(s(60)).retries(128)),
                "keepalive retries",
            ),
            (
                SocketOptions::default().user_timeout(Duration::MAX),
                "user_timeout",
            ),
        ];
        for (socket, option) in bad {
            match with(socket).validate() {
                Err(e @ ConfigError::SocketOptionOutOfRange { option: o, .. }) => {
                    assert_eq!(o, option);
                    assert!(e.to_string().contains("out of range"), "{e}");
                }
                other => panic!("{option}: {other:?}"),
            }
        }
        let edges = SocketOptions::default()
            .keepalive(Keepalive::new(s(32_767)).interval(s(1)).retries(127))
            .user_timeout(Duration::from_millis(u64::from(u32::MAX)));
        assert!(with(edges).validate().is_ok());
    }
}
