//! QUIC raced against TCP+TLS: the Happy Eyeballs v3 draft's protocol dimension (HE-12.x), on
//! [quinn]. HTTP/3 where UDP works; no delay where it is blocked.
//!
//! [`QuicConnector`] wraps an [`HttpsConnector`]: each connect races a QUIC attempt next to the
//! TCP+TLS attempt of every destination that speaks HTTP/3, QUIC first, TCP one Connection
//! Attempt Delay (250 ms) later or at once when the QUIC attempt fails, and returns whichever
//! handshake completes first ([`Connected`]). Which destinations speak HTTP/3 (HE-12.1): the
//! endpoints of HTTPS records whose ALPN set lists `h3` (records are on by default, as in
//! `HttpsConnector`), origins marked with [`QuicConnector::mark_h3`], and origins whose
//! `Alt-Svc` header was handed over with [`QuicConnector::alt_svc`].
//!
//! The timeline, with the default 250 ms attempt delay and one address per family:
//!
//! | network | what happens |
//! | --- | --- |
//! | UDP and TCP work | QUIC to the IPv6 address at 0 ms wins after one round trip; no TCP connection is made |
//! | UDP silently dropped | QUIC at 0 ms, TCP+TLS to the same address at 250 ms wins; the next connects to that destination on this network start TCP at 0 ms and QUIC 10 ms later, for 5 minutes (doubling while QUIC keeps failing) |
//! | UDP refused (ICMP port unreachable) | QUIC at 0 ms fails when the ICMP error comes back; TCP starts at that instant |
//! | no UDP socket can be made (a sandbox) | the QUIC attempt fails before sending anything, with a warning; TCP at 0 ms |
//!
//! The connector owns one quinn endpoint per family, made on the first QUIC attempt of that
//! family and shared by every connect of the connector and its clones (one UDP socket each,
//! IPv6-only for IPv6), as quinn's own clients share one; it is closed when the last clone goes
//! and its connections are done. On Linux the socket has `IP_RECVERR`: the kernel queues each
//! ICMP error (port, host or network unreachable) with the destination it concerns, and the
//! attempts to that destination fail at once. Elsewhere a refused UDP port is found by the
//! stagger (250 ms). A winner's connection lives on the shared socket; losers are closed with a
//! CONNECTION_CLOSE, and quinn keeps their state for the closing period (three probe timeouts,
//! about 3 s for a server that never answered) before freeing it. The endpoints belong to the
//! tokio runtime of their first connect; a connect on another runtime after that one is gone
//! makes new ones.
//!
//! QUIC attempts do not use Encrypted Client Hello: with `HttpsConnector::ech_required`, a
//! connect makes no QUIC attempt at all, so the name is never sent in clear text.
//!
//! [quinn]: https://docs.rs/quinn

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use socket2::{Domain, Protocol as IpProtocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tracing::debug;

use crate::driver::lock;
use crate::handshake::{Destination, Handshake};
use crate::hyper::{HttpsConnector, TlsConnected, TlsHandshake};
use crate::proto::altsvc::{self, AltSvcCache, AltSvcError, Update};
use crate::proto::svcb::ServiceRecord;
use crate::{Error, Protocol, QuicPlan, Report};

/// At most this many origins' `Alt-Svc` alternatives are kept (HE-12.5).
const ALT_SVC_ORIGINS: usize = 1024;

/// Races QUIC (HTTP/3) against TCP+TLS (HE-12.x). Cheap to clone: clones share the `Alt-Svc`
/// memory and the marked origins, and the history of the [`crate::Connector`] inside.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let tls: rustls::ClientConfig = unimplemented!();
/// let https = eyeballs::hyper::HttpsConnector::new(eyeballs::Connector::new(), tls);
/// let quic = eyeballs::quic::QuicConnector::new(https)?;
/// // The origin said `Alt-Svc: h3=":443"; ma=86400` over HTTP/1.1 or HTTP/2 earlier.
/// quic.alt_svc("example.com", 443, br#"h3=":443"; ma=86400"#)?;
/// match quic.connect("example.com", 443).await? {
///     eyeballs::quic::Connected::Quic(connection) => { /* HTTP/3 with h3-quinn */ }
///     eyeballs::quic::Connected::Tcp(tls) => { /* HTTP/1.1 or HTTP/2 with hyper */ }
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct QuicConnector {
    https: HttpsConnector,
    /// The QUIC client configuration: the TLS configuration's, with the QUIC ALPN protocols.
    quic: quinn::ClientConfig,
    /// The ALPN protocols spoken over QUIC (`h3`).
    protocols: Arc<[Vec<u8>]>,
    origins: Arc<Origins>,
    /// Its QUIC endpoints, shared by clones.
    endpoints: Arc<Endpoints>,
    prefer_tcp: bool,
}

/// What the connector knows of which origins speak HTTP/3.
#[derive(Debug)]
struct Origins {
    /// From `Alt-Svc` headers (HE-12.5).
    alt_svc: Mutex<AltSvcCache>,
    /// Marked by the caller: origin (host, port) to UDP port.
    marked: Mutex<HashMap<(String, u16), u16>>,
}

impl fmt::Debug for QuicConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicConnector")
            .field("https", &self.https)
            .field("prefer_tcp", &self.prefer_tcp)
            .finish_non_exhaustive()
    }
}

impl QuicConnector {
    /// Races QUIC against `https`'s TCP+TLS connects. The QUIC attempts use `https`'s TLS
    /// configuration (its roots, its crypto provider), offering ALPN `h3`; it must support
    /// TLS 1.3 and AES-128-GCM-SHA256 (QUIC's initial packets), or this fails.
    pub fn new(https: HttpsConnector) -> io::Result<QuicConnector> {
        let mut tls = (**https.tls_config()).clone();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        QuicConnector::with_quic_tls(https, tls)
    }

    /// The same, with a TLS configuration of its own for QUIC (its ALPN protocols are what the
    /// QUIC attempts offer, `h3` when it has none).
    pub fn with_quic_tls(
        https: HttpsConnector,
        mut tls: rustls::ClientConfig,
    ) -> io::Result<QuicConnector> {
        if tls.alpn_protocols.is_empty() {
            tls.alpn_protocols = vec![b"h3".to_vec()];
        }
        let protocols: Arc<[Vec<u8>]> = tls.alpn_protocols.clone().into();
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TLS configuration unusable for QUIC: {e}"),
            )
        })?;
        Ok(QuicConnector {
            https,
            quic: quinn::ClientConfig::new(Arc::new(crypto)),
            protocols,
            origins: Arc::new(Origins {
                alt_svc: Mutex::new(AltSvcCache::new(ALT_SVC_ORIGINS)),
                marked: Mutex::new(HashMap::new()),
            }),
            endpoints: Arc::default(),
            prefer_tcp: false,
        })
    }

    /// Start each destination's TCP attempt first and its QUIC attempt one attempt delay later,
    /// where QUIC goes first by default (HE-12.2).
    pub fn prefer_tcp(&mut self, on: bool) {
        self.prefer_tcp = on;
    }

    /// The TCP+TLS connector underneath.
    pub fn https(&self) -> &HttpsConnector {
        &self.https
    }

    /// Takes an `Alt-Svc` header value that `host`:`port` sent (over HTTP/1.1 or HTTP/2): its
    /// first `h3` alternative on the same host is used for later connects to the origin until
    /// its `ma` runs out; any value replaces what the origin had, and `clear` (or a value
    /// without an `h3` alternative there) removes it (HE-12.5). A malformed value is an error
    /// and changes nothing; malformed alternatives among good ones are skipped with a warning.
    pub fn alt_svc(&self, host: &str, port: u16, value: &[u8]) -> Result<Update, AltSvcError> {
        let parsed = altsvc::parse(value)?;
        if let altsvc::AltSvc::Alternatives { skipped, .. } = &parsed
            && *skipped > 0
        {
            tracing::warn!(
                host,
                port,
                skipped,
                "Alt-Svc alternatives ignored (malformed)"
            );
        }
        let mut cache = lock(&self.origins.alt_svc);
        let host = origin_host(host);
        Ok(cache.update(&host, port, &parsed, &self.protocols, Instant::now()))
    }

    /// Marks `host`:`port` as speaking HTTP/3 on UDP port `udp_port` (usually the same): its
    /// own addresses get QUIC attempts, not only endpoints of HTTPS records that list `h3`
    /// (HE-12.1). Kept until [`QuicConnector::unmark_h3`].
    /// The host is matched as an origin: case, brackets around an IPv6 literal and a final dot
    /// do not matter.
    pub fn mark_h3(&self, host: &str, port: u16, udp_port: u16) {
        let mut marked = lock(&self.origins.marked);
        marked.insert((origin_host(host), port), udp_port);
    }

    /// Removes a mark of [`QuicConnector::mark_h3`], and what `Alt-Svc` said of the origin.
    pub fn unmark_h3(&self, host: &str, port: u16) {
        let key = (origin_host(host), port);
        lock(&self.origins.marked).remove(&key);
        let mut cache = lock(&self.origins.alt_svc);
        cache.clear(&key.0, port);
    }

    /// The handshake a connect to `host`:`port` races through: TLS on each TCP attempt, and
    /// QUIC attempts where the origin speaks HTTP/3. For a connect of your own
    /// ([`crate::Connect::handshake`], with a report, say). Fails when `host` is not a valid
    /// TLS server name.
    pub fn handshake(&self, host: &str, port: u16) -> io::Result<QuicHandshake> {
        let tls = self.https.tls_handshake(host)?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let origin = (origin_host(host), port);
        let marked = lock(&self.origins.marked);
        let origin_port = marked.get(&origin).copied().or_else(|| {
            let cache = lock(&self.origins.alt_svc);
            cache.quic_port(&origin.0, port, Instant::now())
        });
        drop(marked);
        // HE-11.5: a connect that must not send the name in clear text makes no QUIC attempt
        // (QUIC here has no ECH).
        let plan = (tls.required_record().is_none()).then(|| QuicPlan {
            protocols: self.protocols.to_vec(),
            origin_port,
            prefer_tcp: self.prefer_tcp,
            recently_broken: false,
        });
        Ok(QuicHandshake {
            tls,
            quic: self.quic.clone(),
            endpoints: self.endpoints.clone(),
            server_name: bare.to_string(),
            plan,
        })
    }

    /// Connects to `host`:`port`, racing QUIC against TCP+TLS (HE-12.x).
    pub async fn connect(&self, host: &str, port: u16) -> Result<Connected, Error> {
        self.prepare(host, port)?.await
    }

    /// [`QuicConnector::connect`], with the race's [`Report`]: every attempt's protocol
    /// ([`crate::report::Attempt::protocol`]), timing and outcome.
    pub async fn connect_with_report(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(Connected, Report), Error> {
        self.prepare(host, port)?.with_report().await
    }

    /// The connect to `host`:`port` with this connector's handshake and HTTPS-record settings.
    fn prepare<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Result<crate::Connect<'a, QuicHandshake>, Error> {
        let invalid = |problem| Error::InvalidInput {
            input: host.to_string(),
            problem,
        };
        // A host TLS cannot name: the host parser's own error when it has one (the connect
        // would give it), else that TLS cannot. A good host is parsed once, by the connect.
        let handshake = match self.handshake(host, port) {
            Ok(handshake) => handshake,
            Err(_) => {
                crate::host::parse_host(host).map_err(invalid)?;
                return Err(invalid(crate::error::InputError::NotTlsServerName));
            }
        };
        let (records, alpn) = self.https.records();
        let mut connect = self.https.connector().connect((host, port));
        if records {
            connect = connect.https_records(true).alpn(alpn.iter());
        }
        Ok(connect.handshake(handshake))
    }
}

/// How the connector's memory names an origin's host: lowercase, without brackets around an
/// IPv6 literal or a final dot, so that `[2001:DB8::1]` and `2001:db8::1`, `example.com.` and
/// `Example.com` are one origin.
fn origin_host(host: &str) -> String {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase()
}

/// The connection a [`QuicConnector`] made: QUIC, or TCP with TLS on it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Connected {
    /// QUIC won: an HTTP/3 connection's transport (hand it to `h3-quinn`).
    Quic(quinn::Connection),
    /// TCP and TLS won (QUIC failed, was slower, or was not offered). Boxed: a TLS session is
    /// about a kilobyte, a QUIC connection a pointer.
    Tcp(Box<TlsConnected>),
}

impl Connected {
    /// [`Protocol::Quic`] or [`Protocol::Tcp`].
    pub fn protocol(&self) -> Protocol {
        match self {
            Connected::Quic(_) => Protocol::Quic,
            Connected::Tcp(_) => Protocol::Tcp,
        }
    }

    /// The ALPN protocol the server chose (`h3` over QUIC; `h2` or `http/1.1` over TLS).
    pub fn alpn(&self) -> Option<Vec<u8>> {
        match self {
            Connected::Quic(connection) => {
                connection
                    .handshake_data()?
                    .downcast::<quinn::crypto::rustls::HandshakeData>()
                    .ok()?
                    .protocol
            }
            Connected::Tcp(tls) => tls
                .get_ref()
                .get_ref()
                .1
                .alpn_protocol()
                .map(<[u8]>::to_vec),
        }
    }

    /// The server's address (a UDP address for QUIC).
    pub fn remote_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Connected::Quic(connection) => Ok(connection.remote_address()),
            Connected::Tcp(tls) => tls.get_ref().get_ref().0.peer_addr(),
        }
    }
}

/// [`QuicConnector`]'s handshake: TLS on each connected TCP attempt, and QUIC attempts where
/// the origin speaks HTTP/3 ([`QuicConnector::handshake`]).
pub struct QuicHandshake {
    tls: TlsHandshake,
    quic: quinn::ClientConfig,
    endpoints: Arc<Endpoints>,
    server_name: String,
    plan: Option<QuicPlan>,
}

impl fmt::Debug for QuicHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicHandshake")
            .field("server_name", &self.server_name)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// A QUIC or TLS attempt's handshake in progress.
pub type QuicHandshaking = Pin<Box<dyn Future<Output = io::Result<Connected>> + Send>>;

impl Handshake for QuicHandshake {
    type Output = Connected;
    type Future = QuicHandshaking;

    fn handshake(&self, stream: TcpStream, to: &Destination<'_>) -> QuicHandshaking {
        let tls = self.tls.handshake(stream, to);
        Box::pin(async move { tls.await.map(|tls| Connected::Tcp(Box::new(tls))) })
    }

    fn waits_for_service(&self) -> bool {
        self.tls.waits_for_service()
    }

    fn required_record(&self) -> Option<fn(&ServiceRecord) -> bool> {
        self.tls.required_record()
    }

    fn note(&self, output: &Connected) -> Option<std::borrow::Cow<'static, str>> {
        match output {
            Connected::Tcp(tls) => self.tls.note(tls),
            Connected::Quic(_) => {
                let alpn = output
                    .alpn()
                    .map(|p| String::from_utf8_lossy(&p).into_owned());
                Some(format!("QUIC, ALPN {}", alpn.as_deref().unwrap_or("none")).into())
            }
        }
    }

    fn quic_plan(&self) -> Option<&QuicPlan> {
        self.plan.as_ref()
    }

    /// A UDP socket of its own, connected to the destination, and a quinn endpoint on it
    /// (HE-12.3); fails when no UDP socket can be made (HE-12.7).
    fn quic(&self, to: &Destination<'_>) -> io::Result<QuicHandshaking> {
        let attempt = QuicAttempt::start(
            &self.endpoints,
            self.quic.clone(),
            to.addr(),
            &self.server_name,
        )?;
        Ok(Box::pin(attempt))
    }
}

/// The connector's QUIC endpoints, one per family, made on first use and shared by every
/// connect of the connector and its clones: one UDP socket each (IPv6-only for IPv6, so the
/// families never mix), as quinn's own clients share one. A socket of its own per attempt would
/// cost a quinn endpoint each (its receive buffers and driver): twice the time of a connect.
#[derive(Debug, Default)]
struct Endpoints {
    families: [Mutex<Option<Arc<FamilyEndpoint>>>; 2],
}

/// One family's endpoint, and what hears its socket's ICMP errors.
#[derive(Debug)]
struct FamilyEndpoint {
    endpoint: quinn::Endpoint,
    refusals: Arc<Refusals>,
    /// Reads the socket's error queue (Linux); stopped when the endpoint goes.
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FamilyEndpoint {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

impl Endpoints {
    /// The endpoint for `addr`'s family: the one made earlier while its driver runs, else a
    /// new one on the current runtime (the first connect's runtime's may be gone). Fails when
    /// no UDP socket can be made (HE-12.7).
    fn for_addr(&self, addr: SocketAddr, fresh: bool) -> io::Result<Arc<FamilyEndpoint>> {
        let mut slot = lock(&self.families[usize::from(addr.is_ipv4())]);
        if !fresh && let Some(endpoint) = slot.as_ref() {
            return Ok(endpoint.clone());
        }
        let endpoint = Arc::new(FamilyEndpoint::new(addr)?);
        *slot = Some(endpoint.clone());
        Ok(endpoint)
    }
}

impl FamilyEndpoint {
    fn new(addr: SocketAddr) -> io::Result<FamilyEndpoint> {
        let socket = udp_socket(addr)?;
        let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
        let refusals = Arc::new(Refusals::default());
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let watcher = {
            // A second descriptor of the socket, registered with the runtime to hear its
            // errors; quinn reads the first.
            let watch = tokio::net::UdpSocket::from_std(socket.try_clone()?.into())?;
            Some(tokio::spawn(watch_errors(watch, refusals.clone())))
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let watcher = None;
        let wrapped = Arc::new(IcmpTolerant(runtime.wrap_udp_socket(socket.into())?));
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            quinn::EndpointConfig::default(),
            None,
            wrapped,
            runtime,
        )?;
        debug!(local = ?endpoint.local_addr().ok(), "QUIC endpoint made");
        Ok(FamilyEndpoint {
            endpoint,
            refusals,
            watcher,
        })
    }
}

/// The QUIC attempts waiting to hear of an ICMP error for their destination.
#[derive(Debug, Default)]
struct Refusals {
    waiting: Mutex<HashMap<SocketAddr, Vec<Arc<Refusal>>>>,
}

/// One attempt's ICMP error, once it came.
#[derive(Debug, Default)]
struct Refusal {
    error: Mutex<Option<io::Error>>,
    waker: futures::task::AtomicWaker,
}

impl Refusals {
    fn register(self: &Arc<Self>, addr: SocketAddr) -> Registration {
        let refusal = Arc::new(Refusal::default());
        let mut waiting = lock(&self.waiting);
        waiting.entry(addr).or_default().push(refusal.clone());
        Registration {
            refusals: self.clone(),
            addr,
            refusal,
        }
    }

    /// `addr` answered with an ICMP error: every attempt to it fails with it.
    fn notify(&self, addr: SocketAddr, error: &io::Error) {
        let waiting = lock(&self.waiting);
        for refusal in waiting.get(&addr).into_iter().flatten() {
            let mut slot = lock(&refusal.error);
            slot.get_or_insert_with(|| io::Error::new(error.kind(), error.to_string()));
            refusal.waker.wake();
        }
    }
}

/// An attempt's place among [`Refusals`]; dropping it takes it out.
struct Registration {
    refusals: Arc<Refusals>,
    addr: SocketAddr,
    refusal: Arc<Refusal>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut waiting = lock(&self.refusals.waiting);
        if let Some(list) = waiting.get_mut(&self.addr) {
            list.retain(|r| !Arc::ptr_eq(r, &self.refusal));
            if list.is_empty() {
                waiting.remove(&self.addr);
            }
        }
    }
}

impl Future for Registration {
    type Output = io::Error;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Error> {
        self.refusal.waker.register(cx.waker());
        let mut slot = lock(&self.refusal.error);
        match slot.take() {
            Some(e) => std::task::Poll::Ready(e),
            None => std::task::Poll::Pending,
        }
    }
}

/// One QUIC attempt (HE-12.3): the handshake on the family's shared endpoint, raced against an
/// ICMP error for its destination.
struct QuicAttempt;

impl QuicAttempt {
    fn start(
        endpoints: &Endpoints,
        config: quinn::ClientConfig,
        addr: SocketAddr,
        name: &str,
    ) -> io::Result<impl Future<Output = io::Result<Connected>> + Send + 'static> {
        let mut family = endpoints.for_addr(addr, false)?;
        let connecting = match family.endpoint.connect_with(config.clone(), addr, name) {
            // The runtime that made the endpoint is gone (its driver with it): a new one here.
            Err(quinn::ConnectError::EndpointStopping) => {
                family = endpoints.for_addr(addr, true)?;
                family.endpoint.connect_with(config, addr, name)
            }
            other => other,
        }
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let refused = family.refusals.register(addr);
        debug!(%addr, "QUIC attempt started");
        Ok(async move {
            // Keeps the endpoint's error watcher while the attempt runs.
            let _family = family;
            let handshake = std::pin::pin!(connecting);
            match futures::future::select(handshake, refused).await {
                futures::future::Either::Left((result, _)) => {
                    result.map(Connected::Quic).map_err(quic_error)
                }
                futures::future::Either::Right((e, _)) => {
                    debug!(%addr, error = %e, "QUIC attempt: ICMP error");
                    Err(e)
                }
            }
        })
    }
}

/// quinn's socket, where an ICMP error the kernel reports on a receive (with `IP_RECVERR`) is
/// not fatal: the error watcher reads it from the error queue, and the endpoint goes on. quinn
/// ends an endpoint on any receive error but a reset.
#[derive(Debug)]
struct IcmpTolerant(Arc<dyn quinn::AsyncUdpSocket>);

impl quinn::AsyncUdpSocket for IcmpTolerant {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn quinn::UdpPoller>> {
        self.0.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &quinn::udp::Transmit<'_>) -> io::Result<()> {
        match self.0.try_send(transmit) {
            Err(e) if is_icmp(&e) => Ok(()),
            other => other,
        }
    }

    fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
        bufs: &mut [std::io::IoSliceMut<'_>],
        meta: &mut [quinn::udp::RecvMeta],
    ) -> std::task::Poll<io::Result<usize>> {
        loop {
            match self.0.poll_recv(cx, bufs, meta) {
                std::task::Poll::Ready(Err(e)) if is_icmp(&e) => continue,
                other => return other,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.0.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.0.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.0.may_fragment()
    }
}

/// An error an ICMP message causes on a UDP socket.
fn is_icmp(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::ECONNREFUSED | libc::EPROTO)
    )
}

/// Reads the socket's error queue whenever it has something: each ICMP error fails the
/// attempts to the destination of the datagram that caused it (HE-12.3).
#[cfg(any(target_os = "linux", target_os = "android"))]
async fn watch_errors(watch: tokio::net::UdpSocket, refusals: Arc<Refusals>) {
    use std::os::fd::AsRawFd;
    loop {
        if watch.ready(Interest::ERROR).await.is_err() {
            return;
        }
        for (addr, error) in read_error_queue(watch.as_raw_fd()) {
            debug!(%addr, %error, "ICMP error on the QUIC socket");
            refusals.notify(addr, &error);
        }
        // The queue is empty: wait for the next error.
        let clear = || Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock));
        let _ = watch.try_io(Interest::ERROR, clear);
    }
}

/// The errors queued on socket `fd` (`IP_RECVERR`), at most 64: each with the destination of
/// the datagram that caused it, as `recvmsg(MSG_ERRQUEUE)` gives them.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_error_queue(fd: std::os::fd::RawFd) -> Vec<(SocketAddr, io::Error)> {
    let mut found = Vec::new();
    for _ in 0..64 {
        // SAFETY: plain C structs, zero is a valid value for each.
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut payload = [0u8; 64];
        let mut control = [0u64; 64];
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` points at a live buffer of the length it gives.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            break; // EAGAIN: the queue is empty.
        }
        let mut errno = None;
        // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control buffer.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: a header inside the control buffer.
            let header = unsafe { &*cmsg };
            let ours = (header.cmsg_level == libc::SOL_IP && header.cmsg_type == libc::IP_RECVERR)
                || (header.cmsg_level == libc::SOL_IPV6 && header.cmsg_type == libc::IPV6_RECVERR);
            if ours {
                // SAFETY: the kernel puts a sock_extended_err in these messages' data.
                let err = unsafe {
                    std::ptr::read_unaligned(
                        libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>(),
                    )
                };
                errno = Some(err.ee_errno as i32);
            }
            // SAFETY: as above.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
        if let (Some(addr), Some(errno)) = (socket_addr(&name), errno) {
            found.push((addr, io::Error::from_raw_os_error(errno)));
        }
    }
    found
}

/// A `sockaddr_storage` as a socket address, if it holds an IPv4 or IPv6 one.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in, which fits the storage.
            let sin =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6, which fits the storage.
            let sin6 =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let v6 = std::net::SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            );
            Some(SocketAddr::V6(v6))
        }
        _ => None,
    }
}

/// The UDP socket of a family's endpoint: bound to the family's unspecified address (IPv6 only
/// for IPv6), with `IP_RECVERR` / `IPV6_RECVERR` on Linux, so that ICMP errors for any
/// destination (port unreachable, host and network unreachable) are queued with the address
/// they concern. No UDP socket at all (a sandbox) is the error (HE-12.7).
fn udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(IpProtocol::UDP),
    )?;
    let unspecified: IpAddr = match addr {
        SocketAddr::V6(_) => {
            socket.set_only_v6(true)?;
            Ipv6Addr::UNSPECIFIED.into()
        }
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
    };
    socket.set_nonblocking(true)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    recverr(&socket, addr.is_ipv6());
    socket.bind(&SocketAddr::new(unspecified, 0).into())?;
    Ok(socket)
}

/// `IP_RECVERR` or `IPV6_RECVERR`, best effort.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn recverr(socket: &Socket, v6: bool) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let (level, name) = match v6 {
        true => (libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
        false => (libc::IPPROTO_IP, libc::IP_RECVERR),
    };
    // SAFETY: a valid descriptor, and a c_int option of the right size.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// A QUIC handshake's failure as an I/O error of the matching kind (HE-12.3).
fn quic_error(e: quinn::ConnectionError) -> io::Error {
    use quinn::ConnectionError as E;
    let kind = match &e {
        E::TimedOut => io::ErrorKind::TimedOut,
        E::Reset => io::ErrorKind::ConnectionReset,
        E::ConnectionClosed(_) | E::ApplicationClosed(_) => io::ErrorKind::ConnectionAborted,
        E::VersionMismatch => io::ErrorKind::Unsupported,
        E::TransportError(_) => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("QUIC handshake failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // HE-12.5: one origin however its host is written.
    #[test]
    fn origin_hosts_are_normalised() {
        assert_eq!(origin_host("[2001:DB8::1]"), "2001:db8::1");
        assert_eq!(origin_host("2001:db8::1"), "2001:db8::1");
        assert_eq!(origin_host("Example.COM."), "example.com");
        assert_eq!(origin_host("example.com"), "example.com");
    }

    // HE-12.3: the errors an ICMP message causes, and only those, are passed over.
    #[test]
    fn icmp_errors_are_recognised() {
        use io::ErrorKind::*;
        for kind in [ConnectionRefused, HostUnreachable, NetworkUnreachable] {
            assert!(is_icmp(&io::Error::from(kind)), "{kind:?}");
        }
        for kind in [WouldBlock, InvalidInput, Other, ConnectionReset] {
            assert!(!is_icmp(&io::Error::from(kind)), "{kind:?}");
        }
    }
}
