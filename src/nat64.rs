//! NAT64 in connects (RFC 8305 §7, RFC 7050, RFC 6052; HE-7.1 to HE-7.9): on a network without an
//! IPv4 route, IPv4 destinations (literals, A answers, `ipv4hint`s) are reached through the
//! network's NAT64 prefix, learned once per network by asking for `ipv4only.arpa`.
//!
//! Turned on and off with [`crate::Builder::nat64`] and [`crate::Builder::nat64_prefix`]; what
//! a connect did shows in [`crate::Report::nat64_prefix`] and each attempt's
//! [`crate::report::Attempt::translation`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use tokio::time::Instant;

use crate::dial::Dial;
use crate::driver::lock;
use crate::proto::Family;
use crate::proto::nat64::{IPV4ONLY_ARPA, Nat64, Nat64Memory, WELL_KNOWN, discover};
use crate::proto::{Answer, Candidate};
use crate::resolve::Resolve;

pub use crate::proto::nat64::{
    Nat64Prefix, Nat64PrefixError, PrefixSource, SynthesizedBy, Translation,
};

/// What a connect does on a network without an IPv4 route (HE-7.7). Default:
/// [`Nat64Mode::Discover`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Nat64Mode {
    /// Learn the network's NAT64 prefix from the resolver (RFC 7050: the AAAA answer for
    /// `ipv4only.arpa`), once per network, and reach IPv4 destinations through it.
    #[default]
    Discover,
    /// Reach IPv4 destinations through this prefix, without discovery (a network whose resolver
    /// does not answer for `ipv4only.arpa`, or a prefix learned elsewhere, e.g. from a router
    /// advertisement, RFC 8781).
    Prefix(Nat64Prefix),
    /// Never synthesize: IPv4 destinations fail as "network unreachable" on such a network.
    Off,
}

/// A discovery's answer: the AAAA addresses of `ipv4only.arpa`, `None` when the query failed.
#[derive(Clone)]
pub(crate) struct Found(Option<Vec<Ipv6Addr>>);

impl Found {
    /// The answer for the race ([`crate::proto::Query::Nat64Prefix`]).
    pub(crate) fn into_answer(self) -> Answer {
        match self.0 {
            Some(v6) => Answer::Addresses(
                v6.into_iter()
                    .map(|ip| Candidate::new(SocketAddr::new(ip.into(), 0), None))
                    .collect(),
            ),
            None => Answer::Failed,
        }
    }
}

/// The RFC 7050 query and the reading of its answer.
type Work = BoxFuture<'static, Found>;

/// A discovery that concurrent connects share.
pub(crate) type Discovery = Shared<Work>;

/// What a connector keeps about NAT64 across connects, shared by its clones: the memory per
/// network and the discovery in flight, which concurrent connects share instead of each asking.
/// The connector holds the discovery weakly: when every connect awaiting it is gone (and no
/// background task finishes it), it is dropped with its socket, and the next connect asks again.
#[derive(Default)]
pub(crate) struct Nat64Shared {
    memory: Mutex<Nat64Memory>,
    in_flight: Mutex<Option<(Ipv6Addr, WeakShared<Work>)>>,
}

impl fmt::Debug for Nat64Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nat64Shared")
            .field("memory", &*lock(&self.memory))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Nat64Shared {
    /// Forgets every network's prefix.
    pub(crate) fn clear(&self) {
        lock(&self.memory).clear();
        *lock(&self.in_flight) = None;
    }
}

/// A representative IPv4 destination for "is there an IPv4 route at all": an address a default
/// route covers (192.0.0.170, RFC 7050's well-known address; nothing is sent to it).
const PROBE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 0, 170);

/// NAT64 for one connect, decided before its first attempt: what the race is told
/// ([`crate::proto::Race::with_nat64`]) and the discovery that answers its query, if one runs.
#[derive(Default)]
pub(crate) struct Nat64Plan {
    pub(crate) nat64: Nat64,
    pub(crate) discovery: Option<Discovery>,
}

impl fmt::Debug for Nat64Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nat64Plan")
            .field("nat64", &self.nat64)
            .field("discovery", &self.discovery.is_some())
            .finish()
    }
}

impl Nat64Plan {
    /// Decides whether IPv4 destinations need NAT64 and with which prefix (HE-7.7). Costs one
    /// route lookup (cached by the dialer); on a network with an IPv4 route nothing else
    /// happens. Without a fresh prefix for this network, starts discovery (or joins the one in
    /// flight): IPv4 destinations wait for it, IPv6 ones do not.
    pub(crate) fn new<D: Dial>(
        mode: Nat64Mode,
        both_families: bool,
        dial: &D,
        shared: Option<&Arc<Nat64Shared>>,
        resolver: Option<&dyn Resolve>,
        port: u16,
    ) -> Nat64Plan {
        if !may_apply(mode, both_families, dial, port) {
            return Nat64Plan::default(); // An IPv4 route: nothing to do on dual-stack networks.
        }
        // The network is told by the source address of the route to NAT64 destinations, which
        // synthesized destinations go out from.
        let probe_v6 = SocketAddr::new(WELL_KNOWN.synthesize(PROBE_V4).into(), port);
        let Some(IpAddr::V6(network)) = dial.source(probe_v6) else {
            return Nat64Plan::default(); // No IPv6 route either: nothing NAT64 could use.
        };
        let source = Some(IpAddr::V6(network));
        let known = |nat64| Nat64Plan {
            nat64,
            discovery: None,
        };
        if let Nat64Mode::Prefix(prefix) = mode {
            return known(Nat64::with_prefix(prefix, PrefixSource::Configured, source));
        }
        let (Some(shared), Some(resolver)) = (shared, resolver) else {
            return Nat64Plan::default();
        };
        let now = Instant::now();
        if let Some(prefixes) = lock(&shared.memory).get(network, now.into_std()) {
            return known(Nat64::discovered(prefixes, source));
        }
        let mut in_flight = lock(&shared.in_flight);
        let joined = match &*in_flight {
            Some((net, weak)) if *net == network => weak.upgrade(),
            _ => None,
        };
        let discovery = joined.unwrap_or_else(|| {
            let d = start_discovery(resolver, shared.clone(), network);
            *in_flight = d.downgrade().map(|weak| (network, weak));
            d
        });
        tracing::debug!(%network, "no IPv4 route: discovering the NAT64 prefix");
        Nat64Plan {
            nat64: Nat64::discover(source),
            discovery: Some(discovery),
        }
    }

    /// Whether NAT64 may change this connect's destinations: a prefix is known or being
    /// discovered.
    pub(crate) fn active(&self) -> bool {
        self.discovery.is_some() || self.nat64.prefix().is_some()
    }

    /// What is known once the discovery, if one runs, has ended.
    pub(crate) async fn settle(self) -> Nat64 {
        let mut nat64 = self.nat64;
        if let Some(discovery) = self.discovery {
            let v6 = discovery.await.0.unwrap_or_default();
            nat64.learn_from_answer(&v6);
        }
        nat64
    }
}

/// Whether IPv4 destinations may need NAT64 (HE-7.1): it is on, both families are allowed, and
/// the network has no IPv4 route. One route lookup, cached by the dialer.
pub(crate) fn may_apply<D: Dial>(
    mode: Nat64Mode,
    both_families: bool,
    dial: &D,
    port: u16,
) -> bool {
    mode != Nat64Mode::Off
        && both_families
        && !dial.routes_v4(SocketAddr::new(PROBE_V4.into(), port))
}

/// Starts the RFC 7050 query; its result is kept in `shared`'s memory for `network` when it
/// ends, whether or not a connect still waits for it.
fn start_discovery(
    resolver: &dyn Resolve,
    shared: Arc<Nat64Shared>,
    network: Ipv6Addr,
) -> Discovery {
    let lookup = resolver.lookup_with_ttl(IPV4ONLY_ARPA, Family::V6);
    async move {
        let (found, ttl) = match lookup.await {
            Ok((ips, ttl)) => {
                let v6: Vec<Ipv6Addr> = ips
                    .into_iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V6(v6) => Some(v6),
                        IpAddr::V4(_) => None,
                    })
                    .collect();
                (Some(v6), ttl)
            }
            Err(e) => {
                tracing::debug!(error = %e, "NAT64 discovery failed");
                (None, None)
            }
        };
        let prefixes = discover(found.as_deref().unwrap_or_default());
        let now = Instant::now().into_std();
        lock(&shared.memory).learn(network, prefixes, ttl, now);
        let mut in_flight = lock(&shared.in_flight);
        if in_flight.as_ref().is_some_and(|(n, _)| *n == network) {
            *in_flight = None;
        }
        Found(found)
    }
    .boxed()
    .shared()
}
