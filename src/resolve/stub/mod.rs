//! The stub resolver of the system configuration (HE-8.3 to HE-8.6): what `resolv.conf` says,
//! done as glibc does it, from a task of the caller's runtime, with one cache every runtime
//! shares. hickory's resolver answers only the special-use names ([`rules::is_special`]) and
//! configurations given as hickory's own types.
//!
//! - [`rules`]: the pure rules (search list, screens, verdicts, TTLs, server order);
//! - [`cache`]: the one bounded cache, positive and negative;
//! - [`exchange`]: the one question on the wire.
//!
//! Why not hickory's resolver with a connection provider of ours: measured on 2026-12-02
//! (`benches/by_name.rs`, concurrency 1), eyeballs with hickory's resolver answering every
//! query made 3,561 connects a second against 4,498 on this path (0.79x; 1.21x to 1.37x
//! in favour of this path at every concurrency), and hickory's resolver has no
//! serve-stale, no `rotate`, and asks two servers at once by default where glibc asks one at a
//! time. The rules here are written once, table-tested, and hickory-proto reads and writes
//! every message.

pub(crate) mod cache;
mod exchange;
pub(crate) mod rules;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use hickory_resolver::proto::rr::Name;

use self::cache::{Cache, Kept};
use self::exchange::Settings;
use self::rules::{Found, Kind, Outcome, Step, Verdict, Walk};

/// How long a lookup waits for a fresh answer before an expired one is served (RFC 8767's
/// client response timer, 1.8 s as it recommends).
pub(crate) const STALE_AFTER: Duration = Duration::from_millis(1_800);

/// How long a server that stayed silent while another answered goes to the end of the order
/// (the HEv3 draft's "marked as penalized").
pub(crate) const PENALTY: Duration = Duration::from_secs(60);

/// The configuration the stub follows: `resolv.conf` as glibc reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StubConfig {
    /// Every `nameserver` line, in order, on port 53.
    pub(crate) servers: Vec<SocketAddr>,
    /// The search list (`search`, or `domain`, whichever came last).
    pub(crate) search: Vec<Name>,
    pub(crate) ndots: usize,
    pub(crate) timeout: Duration,
    pub(crate) attempts: usize,
    pub(crate) rotate: bool,
    pub(crate) edns: bool,
}

impl StubConfig {
    /// Reads `resolv.conf`'s bytes; `None` without a usable name server. A line that cannot be
    /// read is skipped with a warning, as glibc skips it.
    pub(crate) fn parse(data: &[u8]) -> Option<StubConfig> {
        let (parsed, errors) = resolv_conf::Config::parse_with_errors(data);
        for error in errors {
            tracing::warn!(%error, "resolv.conf: a line is ignored");
        }
        let servers: Vec<SocketAddr> = parsed
            .nameservers
            .iter()
            .filter_map(|ip| match ip {
                resolv_conf::ScopedIp::V4(v4) => Some(SocketAddr::new(IpAddr::V4(*v4), 53)),
                resolv_conf::ScopedIp::V6(v6, scope) => {
                    let scope_id = match scope.as_deref() {
                        None => 0,
                        Some(scope) => scope_index(scope)?,
                    };
                    Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                        *v6, 53, 0, scope_id,
                    )))
                }
            })
            .collect();
        if servers.is_empty() {
            return None;
        }
        let search = parsed
            .get_last_search_or_domain()
            .filter_map(|domain| {
                let mut name = Name::from_ascii(domain).ok()?;
                name.set_fqdn(true);
                Some(name)
            })
            .collect();
        Some(StubConfig {
            servers,
            search,
            ndots: parsed.ndots as usize,
            // glibc's bounds: `timeout:` at most 30 s, `attempts:` at most 5.
            timeout: Duration::from_secs(u64::from(parsed.timeout.clamp(1, 30))),
            attempts: parsed.attempts.clamp(1, 5) as usize,
            rotate: parsed.rotate,
            edns: parsed.edns0,
        })
    }
}

/// A link-local server's scope (`fe80::1%eth0`): an interface index or name.
fn scope_index(scope: &str) -> Option<u32> {
    if let Ok(index) = scope.parse() {
        return Some(index);
    }
    #[cfg(unix)]
    {
        let name = std::ffi::CString::new(scope).ok()?;
        // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        (index != 0).then_some(index)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One name's answer for one kind, as the cache keeps it and a query task gives it.
#[derive(Debug, Clone)]
enum Answered {
    Kept(Kept, Duration),
    Failed(String),
    TimedOut,
}

/// A query in flight, shared by every lookup of the same name and kind on the same runtime.
type InFlight = Shared<BoxFuture<'static, Answered>>;

type InFlightKey = (Box<str>, Kind, tokio::runtime::Id);

/// The stub resolver for one configuration.
pub(crate) struct Stub {
    config: StubConfig,
    cache: Cache,
    state: Mutex<State>,
}

struct State {
    /// Queries in flight, held weakly: the last lookup that drops one aborts its task. Keyed by
    /// runtime too: a query's task runs on the runtime that started it, and a lookup on another
    /// runtime must not wait on one that may be blocked (HE-8.1).
    in_flight: HashMap<InFlightKey, WeakShared<BoxFuture<'static, Answered>>>,
    /// For `rotate`: how many queries went out.
    turn: usize,
    /// Until when each server is penalized for silence.
    penalized_until: Vec<Option<Instant>>,
}

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Stub {
    pub(crate) fn new(config: StubConfig) -> Stub {
        let servers = config.servers.len();
        Stub {
            config,
            cache: Cache::new(cache::CAPACITY),
            state: Mutex::new(State {
                in_flight: HashMap::new(),
                turn: 0,
                penalized_until: vec![None; servers],
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the stub answers `name` (validated, lowercase, maybe with a trailing dot): every
    /// domain name but the special-use ones.
    pub(crate) fn takes(name: &str) -> bool {
        Name::from_ascii(name).is_ok_and(|n| !rules::is_special(&n))
    }

    /// The names a lookup of `name` asks, in order ([`rules::candidates`]); `None` when `name`
    /// is no domain name.
    pub(crate) fn candidates(&self, name: &str) -> Option<Vec<Name>> {
        rules::candidates(name, self.config.ndots, &self.config.search)
    }

    /// Looks records of `kind` up for `names` ([`Stub::candidates`]): each in turn, each
    /// from the cache or asked, following CNAME chains a reply leaves unfinished. Must be called
    /// within a tokio runtime.
    pub(crate) async fn lookup(self: Arc<Self>, names: Vec<Name>, kind: Kind) -> Outcome {
        let mut walk = Walk::default();
        for candidate in names {
            let step = self.resolve(candidate, kind).await;
            if let Some(outcome) = walk.step(step) {
                return outcome;
            }
        }
        walk.end()
    }

    /// What the cache has for `name`'s `kind` when expired answers count too (RFC 8767,
    /// HE-8.7): the first candidate name with records, through its kept aliases, and how long
    /// ago the oldest part of that answer expired. `None` when the cache has no such answer, or
    /// none that expired (a fresh one is the lookup's own).
    pub(crate) fn stale(
        &self,
        names: &[Name],
        kind: Kind,
        now: Instant,
    ) -> Option<(Found, Duration)> {
        for candidate in names {
            let mut qname = candidate.clone();
            let mut expired = Duration::ZERO;
            for _ in 0..=rules::MAX_ALIAS_QUERIES {
                let Some((kept, ago)) = self.cache.get_stale(&qname, kind, now) else {
                    break;
                };
                expired = expired.max(ago);
                match kept {
                    Kept::Found(found) if !expired.is_zero() => return Some((found, expired)),
                    Kept::Found(_) => return None,
                    Kept::Alias(target) => qname = target,
                    Kept::NoData | Kept::NxDomain => break,
                }
            }
        }
        None
    }

    /// One candidate name, through its aliases.
    async fn resolve(self: &Arc<Self>, name: Name, kind: Kind) -> Step {
        let mut qname = name;
        let mut ttl = Duration::MAX;
        for _ in 0..=rules::MAX_ALIAS_QUERIES {
            let answered = match self.cache.get(&qname, kind, Instant::now()) {
                Some((kept, left)) => Answered::Kept(kept, left),
                None => self.query(qname.clone(), kind).await,
            };
            match answered {
                Answered::Kept(Kept::Found(found), left) => {
                    return Step::Found(found, ttl.min(left));
                }
                Answered::Kept(Kept::NoData, _) => return Step::NoData,
                Answered::Kept(Kept::NxDomain, _) => return Step::NxDomain,
                Answered::Kept(Kept::Alias(target), left) => {
                    qname = target;
                    ttl = ttl.min(left);
                }
                Answered::Failed(why) => return Step::Failed(why),
                Answered::TimedOut => return Step::TimedOut,
            }
        }
        Step::Failed(format!(
            "more than {} aliases to follow",
            rules::MAX_ALIAS_QUERIES
        ))
    }

    /// The query for `qname`'s `kind`: the one in flight on this runtime, or a new one sent from a
    /// task of the current runtime (so many lookups polled by one task still send and receive on
    /// every worker).
    fn query(self: &Arc<Self>, qname: Name, kind: Kind) -> InFlight {
        let runtime = tokio::runtime::Handle::current().id();
        let (name, kind) = cache::key(&qname, kind);
        let key = (name, kind, runtime);
        let mut state = self.state();
        if let Some(query) = state.in_flight.get(&key).and_then(WeakShared::upgrade) {
            return query;
        }
        let order = self.order(&mut state, Instant::now());
        let (stub, done) = (self.clone(), key.clone());
        let task = tokio::spawn(async move {
            let answered = stub.ask(&qname, kind, &order).await;
            stub.state().in_flight.remove(&done);
            answered
        });
        let abort = AbortOnDrop(task.abort_handle());
        let query = async move {
            let _abort = abort;
            task.await
                .unwrap_or_else(|_| Answered::Failed("the query's task was cancelled".into()))
        }
        .boxed()
        .shared();
        if state.in_flight.len() >= cache::CAPACITY as usize {
            state.in_flight.retain(|_, weak| weak.upgrade().is_some());
        }
        if let Some(weak) = query.downgrade() {
            state.in_flight.insert(key, weak);
        }
        query
    }

    /// The servers' order for the next query (and the turn taken, for `rotate`).
    fn order(&self, state: &mut State, now: Instant) -> Vec<usize> {
        let turn = if self.config.rotate {
            state.turn = state.turn.wrapping_add(1);
            state.turn - 1
        } else {
            0
        };
        let mut any = false;
        let penalized: Vec<bool> = state
            .penalized_until
            .iter_mut()
            .map(|until| {
                // A penalty that ran out is forgotten.
                let on = until.is_some_and(|until| now < until);
                if !on {
                    *until = None;
                }
                any |= on;
                on
            })
            .collect();
        let penalized = if any { &penalized[..] } else { &[] };
        rules::server_order(&self.config.servers, turn, penalized)
    }

    /// Asks the servers and keeps what they said.
    async fn ask(&self, qname: &Name, kind: Kind, order: &[usize]) -> Answered {
        let settings = Settings {
            timeout: self.config.timeout,
            attempts: self.config.attempts,
            edns: self.config.edns,
        };
        let exchanged =
            match exchange::exchange(&self.config.servers, order, qname, kind, settings).await {
                Ok(exchanged) => exchanged,
                Err(e) => return Answered::Failed(format!("no name server could be asked: {e}")),
            };
        let now = Instant::now();
        {
            let mut state = self.state();
            if exchanged.answered.is_some() {
                for &i in &exchanged.silent {
                    state.penalized_until[i] = Some(now + PENALTY);
                }
            }
            if let Some(i) = exchanged.answered {
                state.penalized_until[i] = None;
            }
        }
        let (kept, ttl) = match exchanged.verdict {
            None => return Answered::TimedOut,
            Some(Verdict::Answer { found, ttl }) => (Kept::Found(found), ttl),
            Some(Verdict::NoData { ttl }) => (Kept::NoData, ttl),
            Some(Verdict::NxDomain { ttl }) => (Kept::NxDomain, ttl),
            Some(Verdict::Alias { target, ttl }) => (Kept::Alias(target), ttl),
            Some(Verdict::ServerFailure(code)) => {
                return Answered::Failed(format!("the name servers failed the query ({code})"));
            }
            Some(Verdict::Broken(why)) => return Answered::Failed(format!("{qname}: {why}")),
            Some(Verdict::Truncated) => {
                return Answered::Failed("the reply did not fit, even over TCP".into());
            }
        };
        self.cache.put(qname, kind, kept.clone(), ttl, now);
        Answered::Kept(kept, ttl)
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // HE-8.6: what `resolv.conf` says, as glibc reads it: every name server in order (no limit
    // of three), `search` or `domain` (the last one), `ndots:`, `timeout:` and `attempts:`
    // within glibc's bounds, `rotate`, `edns0`; a link-local server keeps its scope.
    #[test]
    fn he_8_6_resolv_conf() {
        let conf = StubConfig::parse(
            b"nameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver 192.0.2.2\n\
              nameserver 192.0.2.3\nnameserver fe80::1%1\ndomain old.test\n\
              search corp.test test\noptions ndots:2 timeout:3 attempts:4 rotate edns0\n",
        )
        .unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            conf.servers,
            [
                addr("192.0.2.1:53"),
                addr("[2001:db8::1]:53"),
                addr("192.0.2.2:53"),
                addr("192.0.2.3:53"),
                addr("[fe80::1%1]:53"),
            ]
        );
        assert_eq!(
            conf.search,
            [
                Name::from_ascii("corp.test.").unwrap(),
                Name::from_ascii("test.").unwrap()
            ]
        );
        assert_eq!(
            (
                conf.ndots,
                conf.timeout,
                conf.attempts,
                conf.rotate,
                conf.edns
            ),
            (2, Duration::from_secs(3), 4, true, true)
        );
        let defaults = StubConfig::parse(b"nameserver 192.0.2.1\n").unwrap();
        assert_eq!(
            (
                defaults.ndots,
                defaults.timeout,
                defaults.attempts,
                defaults.rotate,
                defaults.edns
            ),
            (1, Duration::from_secs(5), 2, false, false),
            "glibc's defaults"
        );
        assert!(defaults.search.is_empty());
        let bounded =
            StubConfig::parse(b"nameserver 192.0.2.1\noptions timeout:99 attempts:9\n").unwrap();
        assert_eq!(
            (bounded.timeout, bounded.attempts),
            (Duration::from_secs(30), 5)
        );
        assert_eq!(
            StubConfig::parse(b"search corp.test\n"),
            None,
            "no name server"
        );
        assert_eq!(StubConfig::parse(b"nameserver not-an-address\n"), None);
        let one_bad_line =
            StubConfig::parse(b"nameserver not-an-address\nnameserver 192.0.2.9\n").unwrap();
        assert_eq!(
            one_bad_line.servers,
            [addr("192.0.2.9:53")],
            "the bad line is skipped"
        );
    }
}
