//! The default resolver, on hickory-resolver: one hickory resolver per tokio runtime (HE-8.1),
//! and a system configuration that is re-read when it changes and never cached when it fails
//! (HE-8.2).

use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use super::direct::{Direct, Found, HEDGE, Kind, Question, Step};
use super::{Lookup, RecordLookup, Resolve, ResolveError, ResolveErrorKind, TtlLookup};
use crate::proto::Family;

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
/// - the common case takes a direct path: a name asked as it is (a trailing dot, or more labels
///   than `ndots`) goes to the first name server as one UDP query per family (and one for HTTPS
///   records when a connect asks for them), sent from a task of the caller's runtime, with hickory's checks of the reply (random source port and ID,
///   the reply's source and question). A reply with addresses (or records), or NODATA where no
///   search domain follows, is the answer, kept for its TTL in a cache every runtime shares. Everything else
///   (NXDOMAIN and the search list, truncated replies, unfinished CNAME chains, server failures,
///   no reply within a second) is answered by hickory's resolver, and a failing name server
///   turns the direct path off for a while.
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
    /// The direct path for these servers, when they allow one (HE-8.3).
    direct: Option<Arc<Direct>>,
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
    let servers = read_servers(resolv_conf);
    let direct = servers
        .as_ref()
        .ok()
        .and_then(|(config, options)| Direct::new(config, options))
        .map(Arc::new);
    state.conf = Some(Conf {
        servers,
        direct,
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

fn read_servers(path: &Path) -> Result<(ResolverConfig, ResolverOpts), ResolveError> {
    let config_error = |why: String| {
        ResolveError::new(
            ResolveErrorKind::Config,
            format!("no usable name server in {}: {why}", path.display()),
        )
    };
    let data = std::fs::read(path).map_err(|e| config_error(e.to_string()))?;
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
        Some(lookup) => Some(answer_ips(lookup.answers().iter().map(|r| &r.data), family)),
        // Listed with the other family only: no address of this one (NODATA).
        None => hosts
            .lookup_static_host(&Query::query(fqdn, other))
            .map(|_| Vec::new()),
    }
}

fn answer_ips<'a>(data: impl Iterator<Item = &'a RData>, family: Family) -> Vec<IpAddr> {
    data.filter_map(|d| match d {
        RData::AAAA(a) if family == Family::V6 => Some(IpAddr::V6(a.0)),
        RData::A(a) if family == Family::V4 => Some(IpAddr::V4(a.0)),
        _ => None,
    })
    .collect()
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
            let ips = answer_ips(lookup.answers().iter().map(|r| &r.data), family);
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
    use hickory_resolver::proto::serialize::binary::BinEncodable;
    match resolver.lookup(name.as_str(), RecordType::HTTPS).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter(|r| matches!(r.data, RData::HTTPS(_)))
            .filter_map(|r| r.data.to_bytes().ok())
            .collect()),
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
    /// The system configuration's hosts table and direct path, read (again when due); `None`
    /// for a resolver built from a hickory configuration or resolver.
    fn system_conf(&self) -> Option<(Arc<Hosts>, Option<Arc<Direct>>)> {
        let Origin::Files { resolv_conf, hosts } = &self.shared.origin else {
            return None;
        };
        Some(self.with_conf(resolv_conf, hosts, |conf| {
            (conf.hosts.clone(), conf.direct.clone())
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

    /// One family's addresses: the hosts file, then the direct path, then hickory's resolver.
    /// A name the hosts file lists is answered from it for both families, as glibc does: with
    /// no address of one family, that family has none (and the name never goes to a name
    /// server), except that `localhost` names keep both loopback addresses (RFC 6761 §6.3),
    /// which hickory's resolver answers.
    async fn addresses(
        self,
        name: String,
        family: Family,
    ) -> Result<(Vec<IpAddr>, Option<Duration>), ResolveError> {
        let Some((table, direct)) = self.system_conf() else {
            return self.hickory(name, family).await;
        };
        match from_hosts(&table, &name, family) {
            Some(ips) if ips.is_empty() && is_localhost(&name) => {
                return self.hickory(name, family).await;
            }
            Some(ips) => return Ok((ips, None)),
            None => {}
        }
        let shape = |found: Found, ttl| answer_ttl(found.into_ips(), ttl);
        match route(direct, &name, family.into()) {
            Route::Kept(found, left) => Ok(shape(found, left)),
            Route::Direct(direct, question) => {
                let hickory = || self.hickory(name.clone(), family);
                direct_or(direct, question, hickory, shape).await
            }
            Route::Hickory => self.hickory(name, family).await,
        }
    }

    /// The HTTPS records of `name` (already the query name): none for local names, then the
    /// direct path, then hickory's resolver.
    async fn https_records(self, name: String) -> Result<Vec<Vec<u8>>, ResolveError> {
        let conf = self.system_conf();
        if local_only(&name, conf.as_ref().map(|(hosts, _)| &**hosts)) {
            return Ok(Vec::new());
        }
        let direct = conf.and_then(|(_, direct)| direct);
        let shape = |found: Found, _| found.into_records();
        match route(direct, &name, Kind::Https) {
            Route::Kept(found, left) => Ok(shape(found, left)),
            Route::Direct(direct, question) => {
                let hickory = || self.hickory_https(name.clone());
                direct_or(direct, question, hickory, shape).await
            }
            Route::Hickory => self.hickory_https(name).await,
        }
    }
}

/// Where a lookup goes once the hosts file had nothing (HE-8.3).
enum Route {
    /// Answered from the direct path's cache: what was found and the time it has left.
    Kept(Found, Duration),
    /// Ask the first name server directly; hickory's resolver if that gives no usable answer.
    Direct(Arc<Direct>, Question),
    /// hickory's resolver answers.
    Hickory,
}

/// The route for `name` through `direct`, when there is one and a tokio runtime to fall back
/// on hickory's resolver in.
fn route(direct: Option<Arc<Direct>>, name: &str, kind: Kind) -> Route {
    let Some(direct) = direct else {
        return Route::Hickory;
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return Route::Hickory;
    }
    match direct.begin(name, kind, Instant::now()) {
        Step::Kept(found, left) => Route::Kept(found, left),
        Step::Ask(question) => Route::Direct(direct, question),
        Step::Skip => Route::Hickory,
    }
}

/// The direct query, shaped into the lookup's answer; hickory's resolver when it gives no
/// usable answer, and alongside it when it has none after [`HEDGE`] (the first usable answer
/// wins; when hickory's comes first, the direct path goes off for a while).
async fn direct_or<T>(
    direct: Arc<Direct>,
    question: Question,
    hickory: impl Fn() -> Pin<Box<dyn Future<Output = Result<T, ResolveError>> + Send>>,
    shape: impl Fn(Found, Duration) -> T,
) -> Result<T, ResolveError> {
    use futures::future::{Either, select};
    let asked = question.asked().to_string();
    let ask = direct.query(question);
    let hedge = std::pin::pin!(tokio::time::sleep(HEDGE));
    let ask = match select(ask, hedge).await {
        Either::Left((Ok((found, ttl)), _)) => return Ok(shape(found, ttl)),
        Either::Left((Err(_), _)) => return hickory().await,
        Either::Right(((), ask)) => ask,
    };
    tracing::debug!(name = %asked, "no direct answer within {HEDGE:?}: asking hickory's resolver too");
    match select(ask, hickory()).await {
        Either::Left((Ok((found, ttl)), _)) => Ok(shape(found, ttl)),
        Either::Left((Err(_), hickory)) => hickory.await,
        Either::Right((answer, _)) => {
            direct.turn_off(Instant::now());
            answer
        }
    }
}

/// An answer's TTL as lookups report it: none for "no address", as hickory's answers.
fn answer_ttl(ips: Vec<IpAddr>, ttl: Duration) -> (Vec<IpAddr>, Option<Duration>) {
    let ttl = (!ips.is_empty()).then_some(ttl);
    (ips, ttl)
}

impl Resolve for HickoryResolver {
    fn lookup_https(&self, name: &str) -> Option<RecordLookup> {
        // Everything happens when first polled, inside the runtime that polls it.
        Some(Box::pin(self.clone().https_records(name.to_string())))
    }

    fn lookup_with_ttl(&self, name: &str, family: Family) -> TtlLookup {
        // Everything happens when first polled, inside the runtime that polls it.
        Box::pin(self.clone().addresses(name.to_string(), family))
    }

    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let lookup = self.lookup_with_ttl(name, family);
        Box::pin(async move { lookup.await.map(|(ips, _)| ips) })
    }
}
