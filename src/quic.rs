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
//! Each QUIC attempt has a UDP socket of its own, connected to the destination (the kernel then
//! reports the destination's ICMP errors to it, which is how a refused port fails the attempt at
//! once; an unconnected socket shared by every connect hears none) and its own quinn endpoint;
//! the winner's connection keeps it, the losers' are closed with a CONNECTION_CLOSE and their
//! sockets released. One socket per connection, as browsers do, also keeps connections to
//! different servers from sharing a source port.
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
        let mut cache = self
            .origins
            .alt_svc
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(cache.update(host, port, &parsed, &self.protocols, Instant::now()))
    }

    /// Marks `host`:`port` as speaking HTTP/3 on UDP port `udp_port` (usually the same): its
    /// own addresses get QUIC attempts, not only endpoints of HTTPS records that list `h3`
    /// (HE-12.1). Kept until [`QuicConnector::unmark_h3`].
    pub fn mark_h3(&self, host: &str, port: u16, udp_port: u16) {
        let mut marked = self
            .origins
            .marked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        marked.insert((host.to_ascii_lowercase(), port), udp_port);
    }

    /// Removes a mark of [`QuicConnector::mark_h3`], and what `Alt-Svc` said of the origin.
    pub fn unmark_h3(&self, host: &str, port: u16) {
        let key = (host.to_ascii_lowercase(), port);
        (self
            .origins
            .marked
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
        .remove(&key);
        let mut cache = self
            .origins
            .alt_svc
            .lock()
            .unwrap_or_else(|e| e.into_inner());
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
        let origin = (bare.to_ascii_lowercase(), port);
        let marked = self
            .origins
            .marked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let origin_port = marked.get(&origin).copied().or_else(|| {
            let cache = self
                .origins
                .alt_svc
                .lock()
                .unwrap_or_else(|e| e.into_inner());
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
            server_name: bare.to_string(),
            plan,
        })
    }

    /// Connects to `host`:`port`, racing QUIC against TCP+TLS (HE-12.x).
    pub async fn connect(&self, host: &str, port: u16) -> Result<Connected, Error> {
        Ok(self.connect_with_report(host, port).await?.0)
    }

    /// [`QuicConnector::connect`], with the race's [`Report`]: every attempt's protocol
    /// ([`crate::report::Attempt::protocol`]), timing and outcome.
    pub async fn connect_with_report(
        &self,
        host: &str,
        port: u16,
    ) -> Result<(Connected, Report), Error> {
        let invalid = |problem| Error::InvalidInput {
            input: host.to_string(),
            problem,
        };
        crate::host::parse_host(host).map_err(invalid)?;
        let handshake = self
            .handshake(host, port)
            .map_err(|_| invalid(crate::error::InputError::NotTlsServerName))?;
        let (records, alpn) = self.https.records();
        let mut connect = self.https.connector().connect((host, port));
        if records {
            connect = connect.https_records(true).alpn(alpn.iter());
        }
        connect.handshake(handshake).with_report().await
    }
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

    fn quic_plan(&self) -> Option<QuicPlan> {
        self.plan.clone()
    }

    /// A UDP socket of its own, connected to the destination, and a quinn endpoint on it
    /// (HE-12.3); fails when no UDP socket can be made (HE-12.7).
    fn quic(&self, to: &Destination<'_>) -> io::Result<QuicHandshaking> {
        let attempt = QuicAttempt::start(self.quic.clone(), to.addr(), &self.server_name)?;
        Ok(Box::pin(attempt))
    }
}

/// One QUIC attempt (HE-12.3): the handshake, raced against a watch on its socket for ICMP
/// errors.
struct QuicAttempt;

impl QuicAttempt {
    fn start(
        config: quinn::ClientConfig,
        addr: SocketAddr,
        name: &str,
    ) -> io::Result<impl Future<Output = io::Result<Connected>> + Send + 'static> {
        let socket = udp_socket(addr)?;
        // A second descriptor of the socket, registered with the runtime only to hear its
        // errors; quinn reads the first.
        let watch = tokio::net::UdpSocket::from_std(socket.try_clone()?.into())?;
        let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            None,
            socket.into(),
            runtime,
        )?;
        let connecting = endpoint
            .connect_with(config, addr, name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        debug!(%addr, "QUIC attempt started");
        Ok(async move {
            // The endpoint handle lives as long as the attempt; after it the connection keeps
            // the endpoint's driver, and a lost attempt's drop closes both.
            let _endpoint = endpoint;
            let handshake = std::pin::pin!(connecting);
            let icmp = std::pin::pin!(icmp_error(&watch));
            match futures::future::select(handshake, icmp).await {
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

/// The first ICMP error the kernel reports on the attempt's socket (connection refused, host
/// or network unreachable).
async fn icmp_error(watch: &tokio::net::UdpSocket) -> io::Error {
    loop {
        if let Err(e) = watch.ready(Interest::ERROR).await {
            return e;
        }
        match watch.take_error() {
            Ok(Some(e)) | Err(e) => return e,
            // Seen by quinn's descriptor first: clear the readiness and wait for another.
            Ok(None) => {
                let clear = || Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock));
                let _ = watch.try_io(Interest::ERROR, clear);
            }
        }
    }
}

/// A UDP socket for one QUIC attempt to `addr`: bound to the family's unspecified address,
/// connected to `addr` so that the kernel reports its ICMP errors (with `IP_RECVERR`, the soft
/// ones too: host and network unreachable). `SO_SELECT_ERR_QUEUE` makes such an error wake a
/// reader. No UDP socket at all (a sandbox) is the error (HE-12.7).
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
    socket.connect(&addr.into())?;
    Ok(socket)
}

/// `IP_RECVERR` / `IPV6_RECVERR` and `SO_SELECT_ERR_QUEUE`, best effort.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn recverr(socket: &Socket, v6: bool) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let set = |level, name| {
        // SAFETY: a valid descriptor, and a c_int option of the right size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    match v6 {
        true => set(libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
        false => set(libc::IPPROTO_IP, libc::IP_RECVERR),
    };
    set(libc::SOL_SOCKET, libc::SO_SELECT_ERR_QUEUE);
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
