//! The default resolver, on hickory-resolver: one hickory resolver per tokio runtime (HE-8.1),
//! and a system configuration that is re-read when it changes and never cached when it fails
//! (HE-8.2).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use super::stub::rules::{self, Chain, Found, Kind, Outcome};
use super::stub::{STALE_AFTER, Stub, StubConfig};
use super::{Answers, Resolved};
use super::{Lookup, RecordLookup, Resolve, ResolveError, ResolveErrorKind, TtlLookup};
use crate::proto::Family;
use futures::{FutureExt, StreamExt};

/// How often a healthy configuration's files are checked for changes (glibc checks on every
/// lookup; once a second costs nothing and still follows an edit at once for a person).
const RECHECK: Duration = Duration::from_secs(1);

/// How many runtimes keep a resolver of their own; the least recently used is dropped beyond that.
const MAX_RUNTIMES: usize = 32;

/// A resolver built on hickory-resolver: the default.
///
/// [`HickoryResolver::from_system_conf`] follows the system configuration (`/etc/resolv.conf` and
/// `/etc/hosts`, so `localhost` and local names work):
/// - it is read on first use and checked for changes at most once a second afterwards, as glibc
///   does, so a fixed or changed configuration is picked up without a restart;
/// - a configuration that cannot be used (missing, empty, no name server) is never cached: names
///   in the hosts file still resolve, other names fail with [`ResolveErrorKind::Config`], and
///   the next lookup looks again;
/// - each tokio runtime gets a hickory resolver of its own (hickory binds its sockets to the
///   runtime that opened them), so one `HickoryResolver` works from any number of runtimes at
///   once, whichever is idle, blocked or gone. Each runtime's resolver has its own cache.
/// - a name the hosts file lists is answered from it, for both families (a family it does not
///   list has no address, as with glibc), and never reaches a name server; `localhost` names
///   keep both loopback addresses.
/// - every other name is looked up by eyeballs' own stub resolver, as glibc would look it up
///   (the search list and `ndots`; every `nameserver`, IPv6 ones first; `options timeout:`,
///   `attempts:`, `rotate`, `edns0`), one UDP query per family (and one for HTTPS records when
///   a connect asks for them) sent from a task of the caller's runtime on a random port with a
///   random ID, over TCP when the reply is truncated. A datagram is the reply only when it comes
///   from a server asked, has the query's ID and question, and is a response to a QUERY; only
///   records of the name (or its CNAME chain's end) count. What each name said, positive or
///   negative (NXDOMAIN, NODATA), is kept for its TTL in one bounded cache every runtime shares.
///   Special-use names (`.local`, `.onion`, `invalid`, ...) go to hickory's resolver.
///
/// Clones share all of this. [`HickoryResolver::from_config`] and
/// [`HickoryResolver::from_resolver`] always use hickory's resolver as configured.
#[derive(Clone)]
pub struct HickoryResolver {
    shared: Arc<Shared>,
}

struct Shared {
    origin: Origin,
    state: Mutex<State>,
}

enum Origin {
    /// Configuration files, re-read when they change.
    Files {
        resolv_conf: PathBuf,
        hosts: PathBuf,
    },
    /// A configuration given by the caller; a resolver is built from it per runtime.
    Config(Box<(ResolverConfig, ResolverOpts)>),
    /// A resolver built by the caller, used as it is.
    Resolver(Arc<TokioResolver>),
}

#[derive(Default)]
struct State {
    conf: Option<Conf>,
    runtimes: Vec<PerRuntime>,
    /// A counter for least-recently-used eviction.
    clock: u64,
}

/// What the configuration files said, and when that was checked.
struct Conf {
    /// The name servers and options, or why there are none.
    servers: Result<(ResolverConfig, ResolverOpts), ResolveError>,
    /// The stub resolver for these servers (HE-8.3).
    stub: Option<Arc<Stub>>,
    hosts: Arc<Hosts>,
    stamps: [Option<Stamp>; 2],
    checked: Instant,
    generation: u64,
}

/// Enough of a file's metadata to notice that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
}

struct PerRuntime {
    id: tokio::runtime::Id,
    generation: u64,
    resolver: Arc<TokioResolver>,
    used: u64,
}

/// What one lookup will do, decided under the lock.
enum Plan {
    Query(Arc<TokioResolver>),
    /// No usable name servers: answer from the hosts file, or fail with this error.
    HostsOnly(Arc<Hosts>, ResolveError),
    Fail(ResolveError),
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        let mut d = f.debug_struct("HickoryResolver");
        match &self.shared.origin {
            Origin::Files { resolv_conf, hosts } => d
                .field("resolv_conf", resolv_conf)
                .field("hosts", hosts)
                .field(
                    "servers",
                    &state.conf.as_ref().map(|c| match &c.servers {
                        Ok((config, _)) => Ok(config.name_servers.len()),
                        Err(e) => Err(e.to_string()),
                    }),
                ),
            Origin::Config(_) => d.field("origin", &"config"),
            Origin::Resolver(_) => d.field("origin", &"resolver"),
        };
        d.field("runtimes", &state.runtimes.len()).finish()
    }
}

impl HickoryResolver {
    /// A resolver that follows the system's DNS configuration (on Unix `/etc/resolv.conf` and
    /// `/etc/hosts`; elsewhere what hickory reads from the system), read on first use.
    pub fn from_system_conf() -> HickoryResolver {
        HickoryResolver::from_files("/etc/resolv.conf", hosts_path())
    }

    /// Like [`HickoryResolver::from_system_conf`], from these files instead (a container's own
    /// configuration, or a test's). On systems without `resolv.conf` the first file is read
    /// in its format all the same.
    pub fn from_files(
        resolv_conf: impl Into<PathBuf>,
        hosts: impl Into<PathBuf>,
    ) -> HickoryResolver {
        HickoryResolver::with_origin(Origin::Files {
            resolv_conf: resolv_conf.into(),
            hosts: hosts.into(),
        })
    }

    /// A resolver with this hickory configuration (name servers, options). A hickory resolver is
    /// built from it for each tokio runtime that uses it.
    ///
    /// `ResolverConfig` and `ResolverOpts` are hickory-resolver's types, a public dependency of
    /// this constructor: use the hickory-resolver version eyeballs depends on.
    pub fn from_config(config: ResolverConfig, options: ResolverOpts) -> HickoryResolver {
        HickoryResolver::with_origin(Origin::Config(Box::new((config, options))))
    }

    /// Wraps a hickory resolver you built yourself, used as it is.
    ///
    /// hickory binds a resolver's sockets to the runtime that first used it: a resolver given
    /// here must only be used from that runtime (while it runs). Prefer
    /// [`HickoryResolver::from_config`], which builds one per runtime. `TokioResolver` is
    /// hickory-resolver's type: use the same version as eyeballs.
    pub fn from_resolver(resolver: TokioResolver) -> HickoryResolver {
        HickoryResolver::with_origin(Origin::Resolver(Arc::new(resolver)))
    }

    fn with_origin(origin: Origin) -> HickoryResolver {
        HickoryResolver {
            shared: Arc::new(Shared {
                origin,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-done that matters: go on.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides how to answer one lookup: refreshes the configuration when due, and finds (or
    /// builds) the current runtime's resolver.
    fn plan(&self) -> Plan {
        match &self.shared.origin {
            Origin::Resolver(resolver) => Plan::Query(resolver.clone()),
            Origin::Config(conf) => {
                let (config, options) = &**conf;
                self.per_runtime(0, || build(config.clone(), options.clone(), None))
            }
            Origin::Files { resolv_conf, hosts } => self.plan_from_files(resolv_conf, hosts),
        }
    }

    /// Runs `f` on what the configuration files say now (re-read when due).
    fn with_conf<T>(&self, resolv_conf: &Path, hosts: &Path, f: impl FnOnce(&Conf) -> T) -> T {
        let mut state = self.state();
        refresh(&mut state, resolv_conf, hosts, Instant::now());
        f(state
            .conf
            .as_ref()
            .expect("refresh loads the configuration"))
    }

    fn plan_from_files(&self, resolv_conf: &Path, hosts: &Path) -> Plan {
        let (servers, hosts_table, generation) =
            match self.with_conf(resolv_conf, hosts, |conf| match &conf.servers {
                Err(e) => Err(Plan::HostsOnly(conf.hosts.clone(), e.clone())),
                Ok(servers) => Ok((servers.clone(), conf.hosts.clone(), conf.generation)),
            }) {
                Ok(usable) => usable,
                Err(hosts_only) => return hosts_only,
            };
        self.per_runtime(generation, move || {
            let (config, options) = servers;
            build(config, options, Some(hosts_table))
        })
    }

    /// The current runtime's resolver for this configuration generation, built when missing.
    fn per_runtime(
        &self,
        generation: u64,
        build: impl FnOnce() -> Result<TokioResolver, ResolveError>,
    ) -> Plan {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Plan::Fail(ResolveError::new(
                ResolveErrorKind::Config,
                "HickoryResolver must be used from within a tokio runtime",
            ));
        };
        let id = handle.id();
        let mut state = self.state();
        state.clock += 1;
        let clock = state.clock;
        if let Some(entry) = state
            .runtimes
            .iter_mut()
            .find(|r| r.id == id && r.generation == generation)
        {
            entry.used = clock;
            return Plan::Query(entry.resolver.clone());
        }
        let resolver = match build() {
            Ok(resolver) => Arc::new(resolver),
            Err(e) => return Plan::Fail(e),
        };
        // A runtime's resolver of an older configuration is replaced; beyond the limit, the least
        // recently used runtime's is dropped (a dropped runtime's never matches again).
        state.runtimes.retain(|r| r.id != id);
        if state.runtimes.len() >= MAX_RUNTIMES
            && let Some(oldest) = state
                .runtimes
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.used)
                .map(|(i, _)| i)
        {
            state.runtimes.swap_remove(oldest);
        }
        state.runtimes.push(PerRuntime {
            id,
            generation,
            resolver: resolver.clone(),
            used: clock,
        });
        Plan::Query(resolver)
    }
}

/// Re-reads the files when they are due for a check and have changed. A configuration without
/// usable name servers is checked again on every lookup (a `stat` of two files), so a fix is seen
/// at once; a healthy one at most once per [`RECHECK`].
fn refresh(state: &mut State, resolv_conf: &Path, hosts: &Path, now: Instant) {
    let stamps = match &mut state.conf {
        Some(conf) => {
            let interval = if conf.servers.is_ok() {
                RECHECK
            } else {
                Duration::ZERO
            };
            if now.saturating_duration_since(conf.checked) < interval {
                return;
            }
            let stamps = [stamp(resolv_conf), stamp(hosts)];
            if stamps == conf.stamps {
                conf.checked = now;
                return;
            }
            stamps
        }
        None => [stamp(resolv_conf), stamp(hosts)],
    };
    let generation = state.conf.as_ref().map_or(0, |c| c.generation + 1);
    let (servers, stub) = read_servers(resolv_conf);
    state.conf = Some(Conf {
        servers,
        stub: stub.map(|config| Arc::new(Stub::new(config))),
        hosts: Arc::new(read_hosts(hosts)),
        stamps,
        checked: now,
        generation,
    });
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        },
    })
}

/// The configuration file as hickory's resolver takes it, and as the stub resolver does.
fn read_servers(
    path: &Path,
) -> (
    Result<(ResolverConfig, ResolverOpts), ResolveError>,
    Option<StubConfig>,
) {
    let config_error = |why: String| {
        ResolveError::new(
            ResolveErrorKind::Config,
            format!("no usable name server in {}: {why}", path.display()),
        )
    };
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) => return (Err(config_error(e.to_string())), None),
    };
    let stub = StubConfig::parse(&data);
    (hickory_servers(data, config_error), stub)
}

fn hickory_servers(
    data: Vec<u8>,
    config_error: impl Fn(String) -> ResolveError,
) -> Result<(ResolverConfig, ResolverOpts), ResolveError> {
    #[cfg(unix)]
    let parsed = hickory_resolver::system_conf::parse_resolv_conf(data);
    #[cfg(not(unix))]
    let parsed = {
        let _ = data;
        hickory_resolver::system_conf::read_system_conf()
    };
    let (config, mut options) = parsed.map_err(|e| config_error(e.to_string()))?;
    // The hosts file is read here and handed over, not read again by hickory.
    options.use_hosts_file = ResolveHosts::Never;
    Ok((config, options))
}

/// The hosts file's table; a missing or unreadable file is an empty table.
fn read_hosts(path: &Path) -> Hosts {
    let mut hosts = Hosts::default();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = hosts.read_hosts_conf(file);
    }
    hosts
}

fn hosts_path() -> PathBuf {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        PathBuf::from(root).join("System32\\drivers\\etc\\hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

fn build(
    config: ResolverConfig,
    options: ResolverOpts,
    hosts: Option<Arc<Hosts>>,
) -> Result<TokioResolver, ResolveError> {
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = options;
    let mut resolver = builder
        .build()
        .map_err(|e| ResolveError::with_source(ResolveErrorKind::Config, e))?;
    if let Some(hosts) = hosts {
        resolver.set_hosts(hosts);
    }
    Ok(resolver)
}

/// The hosts file's addresses of `family` for `name`, if it lists the name.
fn from_hosts(hosts: &Hosts, name: &str, family: Family) -> Option<Vec<IpAddr>> {
    let mut fqdn = Name::from_ascii(name).ok()?;
    fqdn.set_fqdn(true);
    let record_type = match family {
        Family::V6 => RecordType::AAAA,
        Family::V4 => RecordType::A,
    };
    let other = match family {
        Family::V6 => RecordType::A,
        Family::V4 => RecordType::AAAA,
    };
    match hosts.lookup_static_host(&Query::query(fqdn.clone(), record_type)) {
        Some(lookup) => Some(
            lookup
                .answers()
                .iter()
                .filter_map(|r| match r.data {
                    RData::AAAA(a) if family == Family::V6 => Some(IpAddr::V6(a.0)),
                    RData::A(a) if family == Family::V4 => Some(IpAddr::V4(a.0)),
                    _ => None,
                })
                .collect(),
        ),
        // Listed with the other family only: no address of this one (NODATA).
        None => hosts
            .lookup_static_host(&Query::query(fqdn, other))
            .map(|_| Vec::new()),
    }
}

/// What hickory's answer has of `kind` for the name it asked (the search list's choice): only
/// records of that name or of the end of its CNAME chain ([`rules::follow`], the stub's own
/// rule), whatever else the server put in the answer section.
fn owned(lookup: &hickory_resolver::lookup::Lookup, kind: Kind) -> Option<Found> {
    match rules::follow(lookup.answers(), lookup.query().name(), kind) {
        Chain::Found { found, .. } => Some(found),
        _ => None,
    }
}

/// One family's addresses from hickory's resolver, with the answer's remaining time to live.
async fn query_with_ttl(
    resolver: Arc<TokioResolver>,
    name: String,
    family: Family,
) -> Result<(Vec<IpAddr>, Option<std::time::Duration>), ResolveError> {
    let record_type = match family {
        Family::V6 => RecordType::AAAA,
        Family::V4 => RecordType::A,
    };
    match resolver.lookup(name.as_str(), record_type).await {
        Ok(lookup) => {
            let ttl = lookup
                .valid_until()
                .saturating_duration_since(std::time::Instant::now());
            let ips = owned(&lookup, family.into()).map_or_else(Vec::new, Found::into_ips);
            Ok((ips, Some(ttl)))
        }
        Err(e) if e.is_no_records_found() && !e.is_nx_domain() => Ok((Vec::new(), None)),
        Err(e) => Err(lookup_error(e)),
    }
}

/// The error of a failed hickory lookup.
fn lookup_error(e: hickory_resolver::net::NetError) -> ResolveError {
    let kind = if e.is_nx_domain() {
        ResolveErrorKind::NotFound
    } else if matches!(e, hickory_resolver::net::NetError::Timeout) {
        ResolveErrorKind::TimedOut
    } else {
        ResolveErrorKind::Other
    };
    ResolveError::with_source(kind, e)
}

/// The HTTPS records of `name`, each as its RDATA (HE-10.2).
async fn query_https(
    resolver: Arc<TokioResolver>,
    name: String,
) -> Result<Vec<Vec<u8>>, ResolveError> {
    match resolver.lookup(name.as_str(), RecordType::HTTPS).await {
        Ok(lookup) => Ok(owned(&lookup, Kind::Https).map_or_else(Vec::new, Found::into_records)),
        Err(e) if e.is_no_records_found() && !e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(lookup_error(e)),
    }
}

/// Whether `name` is `localhost` or under it (RFC 6761 §6.3).
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').as_bytes();
    name.eq_ignore_ascii_case(b"localhost")
        || name.len() > 10 && name[name.len() - 10..].eq_ignore_ascii_case(b".localhost")
}

/// Whether the HTTPS query for `qname` must not go to a name server: `localhost` names
/// (RFC 6761 §6.3), and names the hosts file defines (they have no HTTPS records, and asking a
/// name server about them would leak them).
fn local_only(qname: &str, hosts: Option<&Hosts>) -> bool {
    let lower = qname.trim_end_matches('.').to_ascii_lowercase();
    // `_8443._https.host`: the host is what matters.
    let host = match lower.split_once("._https.") {
        Some((port, host)) if port.starts_with('_') => host,
        _ => lower.as_str(),
    };
    if is_localhost(host) {
        return true;
    }
    hosts.is_some_and(|hosts| {
        [Family::V6, Family::V4]
            .into_iter()
            .any(|family| from_hosts(hosts, host, family).is_some_and(|ips| !ips.is_empty()))
    })
}

impl HickoryResolver {
    /// The system configuration's hosts table and stub resolver, read (again when due); `None`
    /// for a resolver built from a hickory configuration or resolver.
    fn system_conf(&self) -> Option<(Arc<Hosts>, Option<Arc<Stub>>)> {
        let Origin::Files { resolv_conf, hosts } = &self.shared.origin else {
            return None;
        };
        Some(self.with_conf(resolv_conf, hosts, |conf| {
            (conf.hosts.clone(), conf.stub.clone())
        }))
    }

    /// hickory's resolver for one family's addresses (or the hosts file alone, without usable
    /// name servers).
    fn hickory(&self, name: String, family: Family) -> TtlLookup {
        let plan = self.plan();
        Box::pin(async move {
            match plan {
                Plan::Query(resolver) => query_with_ttl(resolver, name, family).await,
                Plan::HostsOnly(hosts, error) => from_hosts(&hosts, &name, family)
                    .map(|ips| (ips, None))
                    .ok_or(error),
                Plan::Fail(error) => Err(error),
            }
        })
    }

    /// hickory's resolver for HTTPS records (none without usable name servers: a hosts file
    /// has no HTTPS records).
    fn hickory_https(&self, name: String) -> RecordLookup {
        let plan = self.plan();
        Box::pin(async move {
            match plan {
                Plan::Query(resolver) => query_https(resolver, name).await,
                Plan::HostsOnly(..) => Ok(Vec::new()),
                Plan::Fail(error) => Err(error),
            }
        })
    }

    /// One family's addresses: the hosts file, then the stub resolver (hickory's resolver for
    /// special-use names). A name the hosts file lists is answered from it for both families,
    /// as glibc does: with no address of one family, that family has none (and the name never
    /// goes to a name server), except that `localhost` names keep both loopback addresses
    /// (RFC 6761 §6.3), which hickory's resolver answers.
    ///
    /// Decided at once where it can be (the hosts file and the stub resolver need no runtime): a
    /// connect's lookup then costs the stub's own stream and nothing around it. hickory's
    /// resolver is made when first polled, inside the runtime that polls it.
    fn addresses(&self, name: &str, family: Family) -> Answers {
        if let Some((table, stub)) = self.system_conf() {
            match from_hosts(&table, name, family) {
                Some(ips) if ips.is_empty() && is_localhost(name) => {}
                Some(ips) => {
                    let answer = Ok(Resolved::fresh(ips, None));
                    return Box::pin(futures::stream::once(std::future::ready(answer)));
                }
                None => {
                    if let Some(stub) = stub.filter(|_| Stub::takes(name)) {
                        return stub_answers(stub, name.to_string(), family);
                    }
                }
            }
        }
        let (this, name) = (self.clone(), name.to_string());
        Box::pin(futures::stream::once(async move {
            let answer = this.hickory(name, family).await;
            answer.map(|(ips, ttl)| Resolved::fresh(ips, ttl))
        }))
    }

    /// The HTTPS records of `name` (already the query name): none for local names, then the
    /// stub resolver (hickory's resolver for special-use names). A name that does not exist
    /// has none.
    async fn https_records(self, name: String) -> Result<Vec<Vec<u8>>, ResolveError> {
        let conf = self.system_conf();
        if local_only(&name, conf.as_ref().map(|(hosts, _)| &**hosts)) {
            return Ok(Vec::new());
        }
        match conf
            .and_then(|(_, stub)| stub)
            .filter(|_| Stub::takes(&name))
        {
            Some(stub) => {
                let outcome = match stub.candidates(&name) {
                    Some(names) => stub.lookup(names, Kind::Https).await,
                    None => Outcome::NotFound,
                };
                match outcome {
                    Outcome::Found { found, .. } => Ok(found.into_records()),
                    Outcome::NoData | Outcome::NotFound => Ok(Vec::new()),
                    outcome => Err(stub_error(&name, outcome)),
                }
            }
            None => self.hickory_https(name).await,
        }
    }
}

/// One family's answers from the stub resolver (HE-8.7): the fresh answer; or, when the cache
/// has an expired answer for the name and no fresh one comes within [`STALE_AFTER`] (or the
/// lookup fails sooner), that stale answer first and then the refresh's outcome.
fn stub_answers(stub: Arc<Stub>, name: String, family: Family) -> Answers {
    use futures::future::{Either, select};
    let kind = Kind::from(family);
    let shape = |name: &str, outcome: Outcome| match outcome {
        Outcome::Found { found, ttl } => Ok(Resolved::fresh(found.into_ips(), Some(ttl))),
        Outcome::NoData => Ok(Resolved::fresh(Vec::new(), None)),
        outcome => Err(stub_error(name, outcome)),
    };
    let Some(names) = stub.candidates(&name) else {
        let error = Err(stub_error(&name, Outcome::NotFound));
        return Box::pin(futures::stream::once(std::future::ready(error)));
    };
    if stub.stale(&names, kind, Instant::now()).is_none() {
        // The common case: nothing to fall back on, no timer.
        return Box::pin(futures::stream::once(async move {
            let outcome = stub.lookup(names, kind).await;
            shape(&name, outcome)
        }));
    }
    let names: Arc<[Name]> = names.into();
    let fresh = {
        let (stub, names) = (stub.clone(), names.to_vec());
        async move { stub.lookup(names, kind).await }.boxed()
    };
    enum Phase {
        Waiting(futures::future::BoxFuture<'static, Outcome>),
        Refreshing(futures::future::BoxFuture<'static, Outcome>),
        Failed(Result<Resolved, ResolveError>),
        Done,
    }
    Box::pin(futures::stream::unfold(
        Phase::Waiting(fresh),
        move |phase| {
            let (stub, name, names) = (stub.clone(), name.clone(), names.clone());
            async move {
                let stale = |stub: &Stub| {
                    stub.stale(&names, kind, Instant::now())
                        .map(|(found, expired)| Ok(Resolved::stale(found.into_ips(), expired)))
                };
                match phase {
                    Phase::Done => None,
                    Phase::Failed(error) => Some((error, Phase::Done)),
                    Phase::Refreshing(fresh) => Some((shape(&name, fresh.await), Phase::Done)),
                    Phase::Waiting(mut fresh) => {
                        let timer = std::pin::pin!(tokio::time::sleep(STALE_AFTER));
                        match select(&mut fresh, timer).await {
                            Either::Left((outcome, _)) => {
                                let failed =
                                    matches!(outcome, Outcome::TimedOut | Outcome::Failed(_));
                                match stale(&stub).filter(|_| failed) {
                                    // The error still follows, for a caller that takes no stale
                                    // answer.
                                    Some(stale) => {
                                        let error = shape(&name, outcome);
                                        Some((stale, Phase::Failed(error)))
                                    }
                                    None => Some((shape(&name, outcome), Phase::Done)),
                                }
                            }
                            Either::Right(((), _)) => match stale(&stub) {
                                Some(stale) => Some((stale, Phase::Refreshing(fresh))),
                                None => Some((shape(&name, fresh.await), Phase::Done)),
                            },
                        }
                    }
                }
            }
        },
    ))
}

/// The error of a stub lookup that found nothing.
fn stub_error(name: &str, outcome: Outcome) -> ResolveError {
    match outcome {
        Outcome::NotFound => ResolveError::new(
            ResolveErrorKind::NotFound,
            format!("{name}: no such name (NXDOMAIN)"),
        ),
        Outcome::TimedOut => ResolveError::new(
            ResolveErrorKind::TimedOut,
            format!("{name}: no name server answered"),
        ),
        Outcome::Failed(why) => {
            ResolveError::new(ResolveErrorKind::Other, format!("{name}: {why}"))
        }
        Outcome::Found { .. } | Outcome::NoData => {
            ResolveError::new(ResolveErrorKind::Other, format!("{name}: no error"))
        }
    }
}

impl Resolve for HickoryResolver {
    fn lookup_https(&self, name: &str) -> Option<RecordLookup> {
        // Everything happens when first polled, inside the runtime that polls it.
        Some(Box::pin(self.clone().https_records(name.to_string())))
    }

    fn lookup_answers(&self, name: &str, family: Family) -> Answers {
        self.addresses(name, family)
    }

    /// The answer; when only a stale one can be had (RFC 8767: the name server silent or
    /// failing), that one, once its refresh has failed.
    fn lookup_with_ttl(&self, name: &str, family: Family) -> TtlLookup {
        let mut answers = self.lookup_answers(name, family);
        Box::pin(async move {
            let ended = || ResolveError::new(ResolveErrorKind::Other, "no answer");
            let first = answers.next().await.unwrap_or_else(|| Err(ended()))?;
            if first.is_stale()
                && let Some(Ok(fresh)) = answers.next().await
            {
                let ttl = fresh.ttl();
                return Ok((fresh.into_ips(), ttl));
            }
            let ttl = first.ttl();
            Ok((first.into_ips(), ttl))
        })
    }

    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let lookup = self.lookup_with_ttl(name, family);
        Box::pin(async move { lookup.await.map(|(ips, _)| ips) })
    }
}
