//! # eyeballs-proto: Happy Eyeballs as a sans-IO state machine
//!
//! The core of [eyeballs](https://docs.rs/eyeballs): the rules of Happy Eyeballs v2 (RFC 8305)
//! and of the Happy Eyeballs v3 draft's parts that eyeballs implements (HTTPS records, racing
//! through a handshake, NAT64, history), as data in and data out. It has no dependencies: no
//! runtime, no sockets, no clock reads. Every call takes `now`; the same inputs at the same
//! instants give the same actions, so a driver on any runtime or event loop (or a test with
//! explicit times) gets exactly the behaviour of eyeballs' tokio driver.
//!
//! - [`Race`] is one connect: from the first DNS query to a winner or a failure. It says which
//!   queries to send ([`Action::Query`]), when to start which attempt ([`Action::Start`]),
//!   which to cancel ([`Action::Cancel`]) and when it is over ([`Action::Done`]); the driver
//!   feeds back answers ([`Input::Answer`]) and attempt outcomes, and calls
//!   [`Race::handle_timeout`] at [`Race::poll_timeout`].
//! - [`sort`] orders destinations by RFC 6724, [`history`] remembers earlier connects per
//!   network, [`nat64`] discovers NAT64 prefixes (RFC 7050) and synthesizes addresses (RFC
//!   6052), [`svcb`] reads HTTPS records (RFC 9460), [`admit`] decides which answer addresses
//!   are usable at all.
//!
//! ## Driving a race by hand
//!
//! A driver sends the queries the race asks for, feeds each answer under its query's id,
//! starts and cancels attempts as told, and keeps one timer at [`Race::poll_timeout`]. Here the
//! AAAA answer comes after 10 ms, its IPv6 address never connects, and the IPv4 address from
//! the A answer is tried one Connection Attempt Delay (250 ms) after it and wins:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use eyeballs_proto::{Action, Addresses, Answer, Candidate, Family, Input, Query, Race, RaceConfig};
//!
//! let ms = Duration::from_millis;
//! let config = RaceConfig {
//!     resolution_delay: ms(50),
//!     attempt_delay: ms(250),
//!     first_family_count: 1,
//!     attempt_timeout: None,
//!     connect_timeout: Some(Duration::from_secs(10)),
//!     adaptive_delay: None,
//! };
//! let t0 = Instant::now();
//! let mut race = Race::new(config, t0, Addresses::Query { v6: true, v4: true });
//!
//! // AAAA first, then A, at once (HE-3.1).
//! let mut queries = Vec::new();
//! while let Some(action) = race.poll_action() {
//!     let Action::Query { id, query } = action else { unreachable!() };
//!     queries.push((query, id));
//! }
//! assert_eq!(queries[0].0, Query::Addresses(Family::V6));
//! assert_eq!(queries[1].0, Query::Addresses(Family::V4));
//!
//! // A destination, with the source address the kernel would use for it (RFC 6724 needs it).
//! let candidate = |dst: &str, src: &str| Candidate::new(dst.parse().unwrap(), Some(src.parse().unwrap()));
//! let v6 = vec![candidate("[2001:db8::1]:443", "2001:db8::100")];
//! let v4 = vec![candidate("192.0.2.1:443", "192.0.2.100")];
//!
//! // The AAAA answer at 10 ms starts the first attempt at once (HE-3.3).
//! let id = queries[0].1;
//! race.handle(Input::Answer { id, answer: Answer::Addresses(v6) }, t0 + ms(10));
//! let Some(Action::Start { id: first, addr, .. }) = race.poll_action() else { unreachable!() };
//! assert_eq!(addr.to_string(), "[2001:db8::1]:443");
//!
//! // The A answer at 20 ms: its address waits for the stagger.
//! let id = queries[1].1;
//! race.handle(Input::Answer { id, answer: Answer::Addresses(v4) }, t0 + ms(20));
//! assert!(race.poll_action().is_none());
//! assert_eq!(race.poll_timeout(), Some(t0 + ms(260)), "250 ms after the first start (HE-5.1)");
//!
//! // The timer fires: the IPv4 attempt starts; it connects at 280 ms and wins (HE-5.4).
//! race.handle_timeout(t0 + ms(260));
//! let Some(Action::Start { id: second, addr, .. }) = race.poll_action() else { unreachable!() };
//! assert_eq!(addr.to_string(), "192.0.2.1:443");
//! race.handle(Input::Connected(second), t0 + ms(280));
//! assert!(matches!(race.poll_action(), Some(Action::Cancel { id, .. }) if id == first));
//! assert_eq!(race.poll_action(), Some(Action::Done(Ok(second))));
//! assert_eq!(race.poll_action(), None);
//! ```
//!
//! The requirement ids in the docs (HE-3.1, HE-5.4, ...) are those of eyeballs' requirement
//! table, where each rule is stated and the tests that check it are named.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod admit;
pub mod altsvc;
/// The invariant checker, for the property tests and the fuzz target only.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod check;
mod fasthash;
pub mod history;
pub mod interleave;
pub mod machine;
pub mod nat64;
pub mod policy;
#[cfg(test)]
mod properties;
pub mod sort;
pub mod svcb;

pub use machine::{
    Action, Addresses, Answer, AttemptId, AttemptRecord, AttemptState, CancelReason, Failure,
    Input, Placement, Protocol, Query, QueryId, QuicPlan, Race, RaceConfig,
};
pub use sort::Candidate;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv6 (AAAA records).
    V6,
    /// IPv4 (A records).
    V4,
}

impl Family {
    /// The family of a socket address.
    pub fn of(addr: &SocketAddr) -> Family {
        Family::of_ip(&addr.ip())
    }

    /// The family of an IP address.
    pub fn of_ip(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// `"ipv6"` or `"ipv4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V6 => "ipv6",
            Family::V4 => "ipv4",
        }
    }

    /// 0 for IPv6, 1 for IPv4: the index of per-family arrays, in the order a race asks.
    pub fn index(self) -> usize {
        match self {
            Family::V6 => 0,
            Family::V4 => 1,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
