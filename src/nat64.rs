//! NAT64 in connects (RFC 8305 §7, RFC 7050, RFC 6052; HE-7.1 to HE-7.9): on a network without an
//! IPv4 route, IPv4 destinations (literals, A answers, `ipv4hint`s) are reached through the
//! network's NAT64 prefix, learned once per network by asking for `ipv4only.arpa`.
//!
//! Turned on and off with [`crate::Builder::nat64`] and [`crate::Builder::nat64_prefix`]; what
//! a connect did shows in [`crate::Report::nat64_prefix`] and each attempt's
//! [`crate::report::Attempt::translation`].

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use tokio::time::Instant;

use crate::dial::Dial;
use crate::proto::Family;
use crate::proto::nat64::{IPV4ONLY_ARPA, Nat64Memory, WELL_KNOWN, discover, may_synthesize};
use crate::resolve::Resolve;

pub use crate::proto::nat64::{Nat64Prefix, Nat64PrefixError};

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

/// How the NAT64 prefix of a translation was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrefixSource {
    /// From the network's resolver (RFC 7050).
    Discovered,
    /// Given in the configuration ([`Nat64Mode::Prefix`]).
    Configured,
    /// The well-known prefix `64:ff9b::/96`, which always means NAT64 (RFC 6052 §2.1).
    WellKnown,
}

/// Who turned an IPv4 address into the IPv6 destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SynthesizedBy {
    /// This library, because the host has no IPv4 route (HE-7.1).
    Client,
    /// The network's DNS64 resolver, in an AAAA answer (HE-7.6).
    Dns64,
}

/// An IPv6 destination that stands for an IPv4 address through NAT64: sorted and grouped as
/// that IPv4 address, and judged by it under the [`crate::AddressPolicy`].
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

/// A discovery's result: the prefixes found (none: no NAT64, or the query failed).
#[derive(Clone)]
struct Found {
    prefixes: Vec<Nat64Prefix>,
}

/// The RFC 7050 query and the reading of its answer.
type Work = BoxFuture<'static, Found>;

type Discovery = Shared<Work>;

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
        f.debug_list().entries(&self.prefixes).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// NAT64 within one connect.
#[derive(Default)]
pub(crate) struct Nat64Race {
    /// The prefix to synthesize with, and how it was learned; `None`: no synthesis (an IPv4
    /// route, NAT64 off, no prefix known, or discovery still running).
    synth: Option<(Nat64Prefix, PrefixSource)>,
    /// Every other prefix the network revealed (RFC 7050 allows several): DNS64 answers in
    /// them are translations too.
    others: Vec<Nat64Prefix>,
    /// The discovery this connect waits for before using IPv4 destinations.
    pending: Option<Discovery>,
    /// The translations among this connect's destinations.
    pub(crate) translations: HashMap<SocketAddr, Translation>,
}

impl fmt::Debug for Nat64Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nat64Race")
            .field("synth", &self.synth)
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

impl Nat64Race {
    /// Decides, before the connect's first attempt, whether IPv4 destinations need NAT64 and
    /// with which prefix (HE-7.7). Costs one route lookup (cached by the dialer); on a network
    /// with an IPv4 route nothing else happens. Without a fresh prefix for this network, starts
    /// discovery (or joins the one in flight): IPv4 destinations wait for it, IPv6 ones do not.
    pub(crate) fn plan<D: Dial>(
        mode: Nat64Mode,
        both_families: bool,
        dial: &D,
        shared: Option<&Arc<Nat64Shared>>,
        resolver: Option<&dyn Resolve>,
        port: u16,
    ) -> Nat64Race {
        let mut race = Nat64Race::default();
        if !Nat64Race::may_apply(mode, both_families, dial, port) {
            return race; // An IPv4 route: nothing to do (no extra work on dual-stack networks).
        }
        let probe_v6 = SocketAddr::new(WELL_KNOWN.synthesize(PROBE_V4).into(), port);
        let Some(IpAddr::V6(network)) = dial.source(probe_v6) else {
            return race; // No IPv6 route either: nothing NAT64 could use.
        };
        if let Nat64Mode::Prefix(prefix) = mode {
            race.synth = Some((prefix, PrefixSource::Configured));
            return race;
        }
        let (Some(shared), Some(resolver)) = (shared, resolver) else {
            return race;
        };
        let now = Instant::now();
        if let Some(prefixes) = lock(&shared.memory).get(network, now.into_std()) {
            race.learn(prefixes);
            return race;
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
        race.pending = Some(discovery);
        race
    }

    /// Whether IPv4 destinations may need NAT64 (HE-7.1): it is on, both families are allowed,
    /// and the network has no IPv4 route. One route lookup, cached by the dialer.
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

    /// Uses what discovery found: the first prefix to synthesize with, all of them to recognise
    /// DNS64 answers.
    fn learn(&mut self, prefixes: &[Nat64Prefix]) {
        self.synth = prefixes.first().map(|p| (*p, PrefixSource::Discovered));
        self.others = prefixes.iter().skip(1).copied().collect();
    }

    /// Whether IPv4 destinations wait for discovery.
    pub(crate) fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Waits for the pending discovery, if any, to end.
    pub(crate) async fn settle(&mut self) {
        if self.waiting() {
            std::future::poll_fn(|cx| match self.poll_discovery(cx) {
                true => std::task::Poll::Ready(()),
                false => std::task::Poll::Pending,
            })
            .await;
        }
    }

    /// Polls the pending discovery; `true` once it has ended (then IPv4 destinations may go).
    pub(crate) fn poll_discovery(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        let Some(pending) = &mut self.pending else {
            return false;
        };
        let std::task::Poll::Ready(found) = pending.poll_unpin(cx) else {
            return false;
        };
        self.pending = None;
        self.learn(&found.prefixes);
        tracing::debug!(prefix = ?self.synth.map(|(p, _)| p), "NAT64 discovery ended");
        true
    }

    /// The discovery still running when the connect ends, to finish in the background (its
    /// result is kept for the next connect).
    pub(crate) fn take_pending(&mut self) -> Option<BoxFuture<'static, ()>> {
        self.pending.take().map(|d| d.map(|_| ()).boxed())
    }

    /// The prefix in use, if any.
    pub(crate) fn prefix(&self) -> Option<(Nat64Prefix, PrefixSource)> {
        self.synth
    }

    /// The destination to use for `dst`, whose source address (route) is `src`, and the
    /// translation it carries (HE-7.1, HE-7.6):
    /// - an IPv4 destination without a route becomes the synthesized IPv6 one when a prefix is
    ///   in use and the address may be synthesized;
    /// - an IPv6 destination inside the well-known prefix or the prefix in use stands for the
    ///   IPv4 address it embeds (DNS64).
    ///
    /// `source` looks up a synthesized destination's own source address.
    pub(crate) fn translate(
        &mut self,
        dst: SocketAddr,
        src: Option<IpAddr>,
        source: impl FnOnce(SocketAddr) -> Option<IpAddr>,
    ) -> (SocketAddr, Option<IpAddr>, Option<Ipv4Addr>) {
        match dst.ip() {
            IpAddr::V4(v4) => {
                let Some((prefix, learned)) = self.synth.filter(|_| src.is_none()) else {
                    return (dst, src, None);
                };
                if !may_synthesize(v4) {
                    return (dst, src, None);
                }
                let to = SocketAddr::new(prefix.synthesize(v4).into(), dst.port());
                let translation = Translation {
                    ipv4: v4,
                    prefix,
                    by: SynthesizedBy::Client,
                    learned,
                };
                // The network's DNS64 may have given the same address in an AAAA answer: that is
                // who made it (HE-7.6), whichever answer came first.
                self.translations.entry(to).or_insert(translation);
                (to, source(to), Some(v4))
            }
            IpAddr::V6(v6) => match self.dns64(v6) {
                Some(translation) => {
                    self.translations.insert(dst, translation);
                    (dst, src, Some(translation.ipv4))
                }
                None => (dst, src, None),
            },
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

/// Starts the RFC 7050 query; its result is kept in `shared`'s memory for `network` when it
/// ends, whether or not a connect still waits for it.
fn start_discovery(
    resolver: &dyn Resolve,
    shared: Arc<Nat64Shared>,
    network: Ipv6Addr,
) -> Discovery {
    let lookup = resolver.lookup_with_ttl(IPV4ONLY_ARPA, Family::V6);
    async move {
        let (prefixes, ttl) = match lookup.await {
            Ok((ips, ttl)) => {
                let v6: Vec<Ipv6Addr> = ips
                    .into_iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V6(v6) => Some(v6),
                        IpAddr::V4(_) => None,
                    })
                    .collect();
                (discover(&v6), ttl)
            }
            Err(e) => {
                tracing::debug!(error = %e, "NAT64 discovery failed");
                (Vec::new(), None)
            }
        };
        let now = Instant::now().into_std();
        lock(&shared.memory).learn(network, prefixes.clone(), ttl, now);
        let mut in_flight = lock(&shared.in_flight);
        if in_flight.as_ref().is_some_and(|(n, _)| *n == network) {
            *in_flight = None;
        }
        Found { prefixes }
    }
    .boxed()
    .shared()
}
