//! The pure Happy Eyeballs core: no tokio, no sockets, no clock reads.
//!
//! Everything here takes `now` as a parameter and answers with data: [`sort`] orders destinations
//! (RFC 6724), [`interleave`] alternates the families, and [`machine::Race`] is the state machine
//! that decides when to start which attempt. The tokio driver feeds it events and carries out its
//! actions.

pub(crate) mod admit;
/// The invariant checker, for the property tests and the fuzz target only.
#[cfg(any(test, fuzzing))]
pub(crate) mod check;
pub(crate) mod history;
pub(crate) mod interleave;
pub(crate) mod machine;
pub(crate) mod nat64;
#[cfg(test)]
mod properties;
pub(crate) mod sort;
pub(crate) mod svcb;

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

    pub(crate) fn index(self) -> usize {
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
