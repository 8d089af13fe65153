//! [`Connector`] and its [`Builder`]: the public entry points.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::{Either, ready};
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::config::{Config, ConfigError, FamilyPolicy, HistoryConfig, SocketOptions};
use crate::connect::{Connect, Kind, Target, split_host_port};
use crate::dial::TcpDial;
use crate::driver::{self, Request, Settings, Shared, SharedHistory, Source, Want};
use crate::error::Error;
use crate::handshake::Handshake;
use crate::host::{Host, HostRef, InputError, Zone, parse_host, parse_host_ref};
use crate::nat64::Nat64Shared;
use crate::proto::admit::Refusal;
use crate::proto::history::{History, Limits};
use crate::proto::sort::PolicyTable;
use crate::report::Report;
use crate::resolve::{Resolve, SystemResolver, default_resolver};

/// The future of a rarer connect, boxed on its own.
type BoxedRun<'a, T> = Pin<Box<dyn Future<Output = Result<(T, Report), Error>> + Send + 'a>>;

/// Opens TCP connections with Happy Eyeballs v2 (RFC 8305).
///
/// Cheap to clone: clones share the configuration and the resolver (and its cache). Create one
/// per program (or per configuration) and reuse it.
///
/// Connects run on a tokio runtime with both I/O and time enabled
/// (`Builder::enable_all()`, which `#[tokio::main]` does): the attempt delay and the timeouts
/// are tokio timers, and a runtime without the time driver panics in tokio ("timers are
/// disabled") on the first connect that needs one.
///
/// ```no_run
/// # async fn run() -> Result<(), eyeballs::Error> {
/// use std::time::Duration;
/// use eyeballs::config::SocketOptions;
///
/// let connector = eyeballs::Connector::builder()
///     .connect_timeout(Duration::from_secs(10))
///     .socket_options(SocketOptions::default().nodelay(true))
///     .build()
///     .expect("valid configuration");
/// let stream = connector.connect(("example.com", 443)).await?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    resolver: Arc<dyn Resolve>,
    dial: TcpDial,
    /// Memory of earlier connects, shared by every clone (HE-4.2); `None` when turned off.
    history: Option<SharedHistory>,
    /// The address-selection policy table; `None` when it is RFC 6724's default.
    policy: Option<Arc<PolicyTable>>,
    /// What NAT64 discovery learned, per network (HE-7.7).
    nat64: Arc<Nat64Shared>,
    /// Whether the configuration leaves a connect to one address one possible course (no
    /// timeouts, no address policy, default socket options): see [`Connector::direct_addr`].
    direct: bool,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("config", &self.inner.config)
            .field("resolver", &self.inner.resolver)
            .finish()
    }
}

impl Inner {
    fn shared(&self) -> Shared<'_> {
        Shared {
            history: self.history.as_ref(),
            policy: self.policy.as_ref(),
            nat64: Some(&self.nat64),
            resolver: Some(&*self.resolver),
        }
    }
}

impl Default for Connector {
    fn default() -> Connector {
        Connector::new()
    }
}

/// Connects to `host:port` with a process-wide default [`Connector`] (created on first use, so
/// its resolver cache is shared by every call).
///
/// ```no_run
/// # async fn run() -> Result<(), eyeballs::Error> {
/// let stream = eyeballs::connect("example.com", 443).await?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
pub async fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    static DEFAULT: OnceLock<Connector> = OnceLock::new();
    DEFAULT
        .get_or_init(Connector::new)
        .connect((host, port))
        .await
}

impl Connector {
    /// A connector with the default configuration and resolver (see [`Config`]).
    pub fn new() -> Connector {
        Builder::default()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to configure a connector.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Forgets everything earlier connects taught this connector and its clones (RTTs and
    /// failure verdicts). History is already kept per network (by the source address the kernel
    /// picks); call this when you know the network changed in a way that keeps the addresses.
    /// Also forgets the NAT64 prefixes discovered (HE-7.7).
    pub fn clear_history(&self) {
        if let Some(history) = &self.inner.history {
            driver::lock(history).clear();
        }
        self.inner.nat64.clear();
    }

    /// Connects to `target`: a host and port (`("example.com", 443)`), a `"host:port"` string,
    /// a [`SocketAddr`], or a list of addresses already resolved (see [`Target`]). Returns the
    /// connect as a value: `.await` it for the first stream that connects, or configure it first
    /// ([`Connect::handshake`], [`Connect::with_report`], [`Connect::https_records`],
    /// [`Connect::alpn`], [`Connect::timeout`]).
    ///
    /// A host is a DNS name (any case, optional trailing dot), an IPv4 literal, or an IPv6
    /// literal with or without brackets and with an optional zone id (`fe80::1%eth0`,
    /// `[fe80::1%2]`). Literals skip DNS. Addresses given as a list are sorted (RFC 6724),
    /// interleaved and staggered like DNS answers; duplicates are tried once. Malformed input
    /// fails at once with [`Error::InvalidInput`].
    ///
    /// On loopback (`localhost` from the hosts file: `::1` and `127.0.0.1`, raced):
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::net::{Ipv4Addr, SocketAddr};
    /// use std::time::Duration;
    ///
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let port = listener.local_addr()?.port();
    /// let connector = eyeballs::Connector::new();
    ///
    /// // A host and port, or "host:port": resolved, sorted, raced.
    /// let stream = connector.connect(("localhost", port)).await?;
    /// assert_eq!(stream.peer_addr()?.port(), port);
    ///
    /// // Addresses already resolved, with a limit and the report of the race.
    /// let addrs = [SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
    /// let (stream, report) = connector
    ///     .connect(addrs)
    ///     .timeout(Duration::from_secs(5))
    ///     .with_report()
    ///     .await?;
    /// assert_eq!(report.winner().unwrap().addr(), stream.peer_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect<'a>(&'a self, target: impl Into<Target<'a>>) -> Connect<'a> {
        Connect::new(self, target.into())
    }

    /// Runs a connect to `target` in its tracing span. What can be decided at once (the host
    /// parsed, the request made, the driver's first decisions) is decided here, before the
    /// future is made: a connect to a host keeps only the driver's state and its span.
    pub(crate) fn run<'a, H: Handshake>(
        &'a self,
        target: &'a Target<'_>,
        settings: Settings<'a>,
        want: Want,
        handshake: &'a H,
    ) -> impl Future<Output = Result<(H::Output, Report), Error>> + Send + 'a {
        let host_port = match &target.0 {
            Kind::Addrs(addrs) => {
                // Rare (several addresses given, or one with a timeout): boxed, so that its
                // label and target do not sit in every connect's future.
                let addrs = self.run_addrs(addrs, settings, want, handshake);
                let addrs: BoxedRun<'a, H::Output> = Box::pin(addrs);
                return Either::Left(addrs);
            }
            Kind::Host { host, port } => Ok((&**host, *port)),
            Kind::HostPort(host_port) => split_host_port(host_port),
        };
        Either::Right(self.run_host(host_port, settings, want, handshake))
    }

    /// A connect to addresses given.
    async fn run_addrs<H: Handshake>(
        &self,
        addrs: &[SocketAddr],
        settings: Settings<'_>,
        want: Want,
        handshake: &H,
    ) -> Result<(H::Output, Report), Error> {
        let inner = &*self.inner;
        let port = addrs.first().map_or(0, SocketAddr::port);
        if let Some(bad) = addrs.iter().find(|a| a.port() == 0) {
            return Err(Error::invalid(bad.to_string(), InputError::PortZero));
        }
        let (label, target) = match addrs {
            [one] => (one.ip().to_string(), None),
            _ if addrs.iter().all(|a| a.port() == port) => {
                let n = addrs.len();
                (
                    format!("{n} addresses"),
                    Some(format!("{n} addresses (port {port})")),
                )
            }
            _ => {
                let n = addrs.len();
                (format!("{n} addresses"), Some(format!("{n} addresses")))
            }
        };
        let span = tracing::debug_span!("eyeballs::connect", host = %label, port);
        let request = Request {
            want,
            config: &inner.config,
            settings,
            source: Source::Addrs(addrs),
            label: &label,
            host: None,
            port,
            shared: inner.shared(),
        };
        let result = driver::run(request, &inner.dial, handshake)
            .instrument(span)
            .await;
        match (result, target) {
            (Ok((stream, mut report)), Some(target)) => {
                report.target = Some(target);
                Ok((stream, report))
            }
            (Err(e), Some(target)) => Err(e.with_target(target)),
            (result, None) => result,
        }
    }

    /// The one address a connect to `target` goes to when the connect has exactly one possible
    /// course (start one attempt now; its outcome is the result): an IP literal or one given
    /// address that admission leaves as it is, no timeout, default socket options, and no NAT64
    /// to consider (HE-7.1). Such a connect needs no race, no driver and no report.
    pub(crate) fn direct_addr(
        &self,
        target: &Target<'_>,
        timeout: Option<Duration>,
    ) -> Option<SocketAddr> {
        let inner = &*self.inner;
        let config = &inner.config;
        if timeout.is_some() || !inner.direct {
            return None;
        }
        let literal = |host: &str, port: u16| match parse_host_ref(host).ok()? {
            HostRef::Ip(ip, None) => Some(SocketAddr::new(ip, port)),
            _ => None,
        };
        let addr = match &target.0 {
            Kind::Addrs(addrs) => match &addrs[..] {
                [one] => *one,
                _ => return None,
            },
            Kind::Host { host, port } => literal(host, *port)?,
            Kind::HostPort(host_port) => {
                let (host, port) = split_host_port(host_port).ok()?;
                literal(host, port)?
            }
        };
        let admission = config.admission();
        if addr.port() == 0 || admission.admit_addr(addr) != Ok(addr) {
            return None;
        }
        let both = admission.v4 && admission.v6;
        let nat64 =
            addr.is_ipv4() && crate::nat64::may_apply(config.nat64, both, &inner.dial, addr.port());
        (!nat64).then_some(addr)
    }

    /// A connect to a name or literal (`host_port`: the host and port, or why they are not).
    fn run_host<'a, H: Handshake>(
        &'a self,
        host_port: Result<(&'a str, u16), Error>,
        settings: Settings<'a>,
        want: Want,
        handshake: &'a H,
    ) -> impl Future<Output = Result<(H::Output, Report), Error>> + Send + 'a {
        let request =
            host_port.and_then(|(host, port)| self.host_request(host, port, settings, want));
        match request {
            Ok(request) => {
                let span = tracing::debug_span!(
                    "eyeballs::connect",
                    host = request.label,
                    port = request.port
                );
                let inner = &*self.inner;
                Either::Right(driver::run(request, &inner.dial, handshake).instrument(span))
            }
            Err(e) => Either::Left(ready(Err(e))),
        }
    }

    /// The request of a connect to a name or literal, or why `host` and `port` make none.
    fn host_request<'a>(
        &'a self,
        host: &'a str,
        port: u16,
        settings: Settings<'a>,
        want: Want,
    ) -> Result<Request<'a>, Error> {
        if port == 0 {
            return Err(Error::invalid(format!("{host}:0"), InputError::PortZero));
        }
        let inner = &*self.inner;
        let source = match parse_host_ref(host).map_err(|e| Error::invalid(host, e))? {
            HostRef::Name(name) => Source::Resolve {
                resolver: &*inner.resolver,
                name,
            },
            HostRef::Ip(ip, zone) => Source::Literal(self.literal(host, ip, zone, port)?),
        };
        Ok(Request {
            want,
            config: &inner.config,
            settings,
            source,
            label: host,
            host: Some(host),
            port,
            shared: inner.shared(),
        })
    }

    /// Resolves `host` and returns its addresses with `port`, in the order a connect would try
    /// them: both families looked up concurrently (both answers awaited), sorted by RFC 6724,
    /// families interleaved, duplicates and unusable addresses removed.
    ///
    /// The same rules as [`Connector::connect`] apply, to names and IP literals alike: an
    /// IPv4-mapped IPv6 address is returned as the IPv4 address it carries, a literal of a family
    /// the [`FamilyPolicy`] excludes is [`Error::InvalidInput`], and addresses the
    /// [`crate::AddressPolicy`] denies are left out ([`Error::Denied`] when none is left), and at
    /// most [`MAX_ADDRESSES`](crate::proto::admit::MAX_ADDRESSES) (64) of each family are taken
    /// from an answer, the first ones, with a warning for the rest (HE-5.12). Useful
    /// to hand RFC 8305-ordered addresses to a client that does its own connecting, to check a
    /// target before using it, or to test every address of a host on its own.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
        let planned = self.plan(host, port, false).await?;
        Ok(planned.into_iter().map(|(addr, _)| addr).collect())
    }

    /// [`Connector::resolve`] with the host's HTTPS records (RFC 9460, HE-10.x): every
    /// destination in the order a connect with [`crate::Connect::https_records`] would try them
    /// (the record endpoints by priority, each on its port with its hints and its TargetName's
    /// addresses, then the name's own addresses on `port`), each with the endpoint it came from
    /// (`None` for the name's own). The `ALPN` protocols endpoints are chosen for are the
    /// configuration's ([`crate::Builder::alpn`]). For checking each endpoint on its own (the
    /// probe's `--all --https-records`), with [`crate::Destination::new`] for its handshake.
    pub async fn resolve_endpoints(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<(SocketAddr, Option<crate::https_records::ServiceEndpoint>)>, Error> {
        self.plan(host, port, true).await
    }

    async fn plan(
        &self,
        host: &str,
        port: u16,
        https_records: bool,
    ) -> Result<Vec<driver::Planned>, Error> {
        if port == 0 {
            return Err(Error::invalid(format!("{host}:0"), InputError::PortZero));
        }
        let inner = &*self.inner;
        match parse_host(host).map_err(|e| Error::invalid(host, e))? {
            Host::Ip(ip, zone) => {
                let addr = self.checked_literal(host, ip, zone, port)?;
                // HE-7.1: an IPv4 literal on a network without an IPv4 route is returned as its
                // NAT64 translation, as a connect would use it.
                let addr =
                    driver::translate_literal(&inner.config, &inner.dial, inner.shared(), addr)
                        .await;
                Ok(vec![(addr, None)])
            }
            Host::Name(name) => {
                let resolver = &*inner.resolver;
                let shared = inner.shared();
                driver::resolve_all(
                    &inner.config,
                    &inner.dial,
                    resolver,
                    &name,
                    host,
                    port,
                    shared,
                    https_records,
                )
                .await
            }
        }
    }

    /// Checks `host` as every entry point does before anything is sent: a malformed host is
    /// [`Error::InvalidInput`]; an IP literal must pass the family and address policies (as in
    /// [`Connector::resolve`]). A name passes: its addresses are checked once resolved.
    #[cfg(feature = "reqwest")]
    pub(crate) fn check_host(&self, host: &str, port: u16) -> Result<(), Error> {
        match parse_host(host).map_err(|e| Error::invalid(host, e))? {
            Host::Ip(ip, zone) => self.checked_literal(host, ip, zone, port).map(drop),
            Host::Name(_) => Ok(()),
        }
    }

    /// [`Connector::literal`], then the address policy (HE-5.9).
    fn checked_literal(
        &self,
        host: &str,
        ip: IpAddr,
        zone: Option<Zone>,
        port: u16,
    ) -> Result<SocketAddr, Error> {
        let addr = self.literal(host, ip, zone, port)?;
        let policy = &self.inner.config.address_policy;
        if policy.allows_destination(addr.ip(), addr.port()) {
            Ok(addr)
        } else {
            let report = Report::new(host, port);
            Err(driver::denied_error(report, vec![addr]))
        }
    }

    fn literal(
        &self,
        host: &str,
        ip: IpAddr,
        zone: Option<Zone>,
        port: u16,
    ) -> Result<SocketAddr, Error> {
        let config = &self.inner.config;
        // HE-5.7 / HE-5.9: the rules every destination passes; a literal that fails them is the
        // caller's mistake, said at once.
        let ip = config.admission().admit(ip).map_err(|refusal| {
            let problem = match refusal {
                Refusal::NotUnicast => InputError::NotUnicast(ip),
                Refusal::Unspecified => InputError::Unspecified(ip),
                Refusal::Family(_) => InputError::FamilyNotAllowed {
                    ip,
                    policy: config.family,
                },
            };
            Error::invalid(host, problem)
        })?;
        match ip {
            IpAddr::V4(_) => Ok(SocketAddr::new(ip, port)),
            IpAddr::V6(v6) => {
                let scope = match zone {
                    None => 0,
                    Some(Zone::Index(i)) => i,
                    Some(Zone::Interface(name)) => interface_index(&name)
                        .ok_or_else(|| Error::invalid(host, InputError::UnknownInterface(name)))?,
                };
                Ok(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)))
            }
        }
    }
}

#[cfg(unix)]
fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string; if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(not(unix))]
fn interface_index(_name: &str) -> Option<u32> {
    None
}

/// Configures a [`Connector`]. Every setting starts at its documented default (see [`Config`]);
/// [`Builder::build`] checks the values (an attempt delay of 10 ms to 2 s, a Resolution Delay of
/// at most 2 s, ...) and says which one is wrong.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use eyeballs::{AddressPolicy, Connector, config::SocketOptions};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
///
/// let connector = Connector::builder()
///     .attempt_delay(Duration::from_millis(150))
///     .connect_timeout(Duration::from_secs(10))
///     .socket_options(SocketOptions::default().nodelay(true))
///     .build()?;
/// let stream = connector.connect(("127.0.0.1", port)).await?;
/// assert!(stream.nodelay()?);
///
/// // A bad value is an error from build(), not a panic or a silent clamp.
/// assert!(Connector::builder().attempt_delay(Duration::ZERO).build().is_err());
///
/// // The SSRF guard: loopback is not public, so this connect is refused before any SYN.
/// let guarded = Connector::builder().address_policy(AddressPolicy::public_only()).build()?;
/// assert!(guarded.connect(("127.0.0.1", port)).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
#[must_use = "a Builder does nothing until `build()` is called"]
pub struct Builder {
    config: Config,
    resolver: Option<Arc<dyn Resolve>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("resolver", &self.resolver)
            .finish()
    }
}

impl Builder {
    /// The Resolution Delay (RFC 8305 §3). Default: 50 ms. At most 2 s.
    pub fn resolution_delay(mut self, delay: Duration) -> Builder {
        self.config.resolution_delay = delay;
        self
    }

    /// The Connection Attempt Delay (RFC 8305 §5). Default: 250 ms. Accepted 10 ms ..= 2 s;
    /// below 100 ms is not recommended by the RFC.
    pub fn attempt_delay(mut self, delay: Duration) -> Builder {
        self.config.attempt_delay = delay;
        self
    }

    /// The First Address Family Count (RFC 8305 §4). Default: 1.
    pub fn first_address_family_count(mut self, count: usize) -> Builder {
        self.config.first_address_family_count = count;
        self
    }

    /// Which address families to use. Default: both.
    pub fn family(mut self, policy: FamilyPolicy) -> Builder {
        self.config.family = policy;
        self
    }

    /// A limit on the whole connect, resolution included. Default: none.
    pub fn connect_timeout(mut self, timeout: Duration) -> Builder {
        self.config.connect_timeout = Some(timeout);
        self
    }

    /// A limit on each attempt; the next address starts when it runs out. Default: none.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Builder {
        self.config.attempt_timeout = Some(timeout);
        self
    }

    /// Allow connecting to `0.0.0.0` and `::` (the local host on Linux). Default: `false`.
    pub fn allow_unspecified(mut self, allow: bool) -> Builder {
        self.config.allow_unspecified = allow;
        self
    }

    /// Which destination addresses may be connected to (an SSRF guard), checked right before each
    /// attempt, after DNS. Denied addresses appear in the [`Report`] and the error. Default:
    /// [`crate::AddressPolicy::allow_all`].
    pub fn address_policy(mut self, policy: crate::AddressPolicy) -> Builder {
        self.config.address_policy = policy;
        self
    }

    /// The resolver to use. Default: [`crate::resolve::HickoryResolver`] with the system configuration
    /// (with the `hickory` feature, on by default), else [`SystemResolver`].
    pub fn resolver(mut self, resolver: impl Resolve) -> Builder {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Use the system's getaddrinfo ([`SystemResolver`]).
    pub fn system_resolver(self) -> Builder {
        self.resolver(SystemResolver::new())
    }

    /// Memory of earlier connects: its size, how long failures count, and the bounds of the
    /// adaptive attempt delay. Default: on, [`HistoryConfig::default`].
    pub fn history(mut self, history: HistoryConfig) -> Builder {
        self.config.history = Some(history);
        self
    }

    /// No memory of earlier connects: every connect starts from zero, with the fixed
    /// Connection Attempt Delay.
    pub fn without_history(mut self) -> Builder {
        self.config.history = None;
        self
    }

    /// Also look up the name's HTTPS records (RFC 9460), with AAAA and A, and use them (Happy
    /// Eyeballs v3): `ipv6hint`/`ipv4hint` addresses are tried before the address answers arrive
    /// (and replaced by them), endpoints are tried by SvcPriority, the `port` parameter is
    /// honoured, and endpoints whose ALPN set has nothing in common with [`Builder::alpn`] are
    /// skipped. Connecting waits for the HTTPS answer as it waits for AAAA: at most the
    /// Resolution Delay. Malformed records are ignored. The report says which endpoint won
    /// ([`crate::report::Attempt::endpoint`]). Default: off. Needs a resolver that answers HTTPS queries
    /// (hickory does; others go on without).
    pub fn https_records(mut self, on: bool) -> Builder {
        self.config.https_records = on;
        self
    }

    /// Lets HTTPS records steer connects to any port. By default a record whose `port` is one
    /// of the Fetch standard's bad ports ([`crate::proto::svcb::BAD_PORTS`]: 22, 25, 6667, ...)
    /// is left out, as browsers do: the [`AddressPolicy`](crate::AddressPolicy) judges
    /// addresses, and a record could otherwise point an HTTP client at a mail or chat server
    /// (HE-10.9).
    pub fn allow_bad_record_ports(mut self, allow: bool) -> Builder {
        self.config.allow_bad_record_ports = allow;
        self
    }

    /// Connect with an expired answer while the name server is silent or failing (RFC 8767
    /// serve-stale, HE-8.7): when the resolver has an answer that expired recently (the default
    /// resolver keeps them for a day) and no fresh one comes within 1.8 s, or the lookup fails,
    /// the race starts with the stale addresses; when the refresh answers, its addresses
    /// replace them (attempts already running go on). The report marks the stale answer
    /// ([`crate::report::Answer::stale`]). Off: a stale answer is not used, and a failed lookup
    /// is the connect's error. Default: on.
    pub fn serve_stale(mut self, on: bool) -> Builder {
        self.config.serve_stale = on;
        self
    }

    /// NAT64 (RFC 8305 §7, HE-7.1): on a network without an IPv4 route, reach IPv4
    /// destinations (literals, A answers, `ipv4hint`s) through the network's NAT64 prefix,
    /// discovered by asking the resolver for `ipv4only.arpa` (RFC 7050) once per network. On a
    /// network with an IPv4 route nothing changes and nothing is asked. A translation is an IPv6
    /// connection, so this needs both families allowed ([`FamilyPolicy::Both`]). Default: on.
    pub fn nat64(mut self, on: bool) -> Builder {
        self.config.nat64 = if on {
            crate::nat64::Nat64Mode::Discover
        } else {
            crate::nat64::Nat64Mode::Off
        };
        self
    }

    /// Use this NAT64 prefix on networks without an IPv4 route, without discovery (for a
    /// resolver that does not answer `ipv4only.arpa`, or a prefix learned from a router
    /// advertisement, RFC 8781).
    pub fn nat64_prefix(mut self, prefix: crate::nat64::Nat64Prefix) -> Builder {
        self.config.nat64 = crate::nat64::Nat64Mode::Prefix(prefix);
        self
    }

    /// The ALPN protocols connections can use over TCP, for choosing HTTPS-record endpoints.
    /// Default: `h2`, `http/1.1`.
    pub fn alpn<P: AsRef<[u8]>>(mut self, protocols: impl IntoIterator<Item = P>) -> Builder {
        self.config.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The address-selection policy table for sorting (RFC 6724 rules 5 and 6). Default: the
    /// system's, read from `/etc/gai.conf` when the connector is built (as getaddrinfo does),
    /// else RFC 6724's.
    pub fn policy_table(mut self, table: PolicyTable) -> Builder {
        self.config.policy_table = Some(table);
        self
    }

    /// The options every attempt's socket gets: `TCP_NODELAY`, keepalive, local addresses, the
    /// interface, `SO_MARK`, buffer sizes, `TCP_USER_TIMEOUT`, `SO_REUSEADDR` and a hook, all
    /// defined in one place, [`SocketOptions`]. Default: none (the system's defaults, and the
    /// system calls of a plain `TcpStream::connect`).
    ///
    /// ```
    /// use eyeballs::config::SocketOptions;
    ///
    /// let connector = eyeballs::Connector::builder()
    ///     .socket_options(SocketOptions::default().nodelay(true).reuse_address(true))
    ///     .build()
    ///     .expect("valid configuration");
    /// assert!(connector.config().socket.nodelay);
    /// ```
    pub fn socket_options(mut self, options: SocketOptions) -> Builder {
        self.config.socket = options;
        self
    }

    /// Builds the connector, or says which value is out of range.
    pub fn build(self) -> Result<Connector, ConfigError> {
        self.config.validate()?;
        let resolver = self.resolver.unwrap_or_else(default_resolver);
        let dial = TcpDial::new(self.config.socket.clone());
        let history = self.config.history.map(|h| {
            Mutex::new(History::new(Limits {
                max_entries: h.max_entries,
                failure_ttl: h.failure_ttl,
            }))
        });
        // The system's table (gai.conf) unless one was given; the default needs no lookup.
        let table = self
            .config
            .policy_table
            .clone()
            .unwrap_or_else(crate::config::system_policy_table);
        let policy = (table != PolicyTable::rfc6724()).then(|| Arc::new(table));
        let direct = self.config.allows_single_attempt() && self.config.socket.is_default();
        Ok(Connector {
            inner: Arc::new(Inner {
                direct,
                config: self.config,
                resolver,
                dial,
                history,
                policy,
                nat64: Arc::default(),
            }),
        })
    }
}
