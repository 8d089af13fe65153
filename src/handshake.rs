//! The handshake seam (HE-9.1): what runs on each attempt after its TCP handshake. Nothing for a
//! plain connect ([`NoHandshake`]); the caller's handshake (TLS, a protocol greeting) when a
//! connect is given one with [`crate::Connect::handshake`]. The crate's own TLS connector
//! ([`crate::hyper::HttpsConnector`]) is built on this trait alone, so an adapter for another TLS
//! stack (native-tls, BoringSSL) or another protocol is written the same way.

use std::future::{Future, Ready, ready};
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

use crate::proto::svcb::{ServiceEndpoint, ServiceRecord};

/// A handshake that runs on every attempt whose TCP handshake completes; the first attempt
/// whose handshake completes wins the race, and every other attempt is dropped (its socket
/// closed). An attempt whose handshake fails counts as failed: the next address starts at once
/// (HE-9.2).
///
/// Implemented for closures `Fn(S) -> Future<Output = io::Result<T>>`, which see only the
/// stream; implement it on a type of your own to see the [`Destination`] too (the address, the
/// host asked for, and the HTTPS-record endpoint the address came from).
///
/// ```
/// use std::future::Future;
/// use std::io;
/// use std::pin::Pin;
/// use tokio::io::AsyncWriteExt;
/// use tokio::net::TcpStream;
///
/// /// Says hello with the name that was asked for; the connection counts once that is sent.
/// struct Hello;
///
/// impl eyeballs::Handshake for Hello {
///     type Output = TcpStream;
///     type Future = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;
///
///     fn handshake(&self, mut stream: TcpStream, to: &eyeballs::Destination<'_>) -> Self::Future {
///         let greeting = format!("HELLO {}\r\n", to.host().unwrap_or("?"));
///         Box::pin(async move {
///             stream.write_all(greeting.as_bytes()).await?;
///             Ok(stream)
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), eyeballs::Error> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let port = listener.local_addr().unwrap().port();
/// let connector = eyeballs::Connector::new();
/// let stream = connector.connect(("127.0.0.1", port)).handshake(Hello).await?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
pub trait Handshake<S = TcpStream>: Send + Sync {
    /// What a connect returns when this handshake wins.
    type Output: Send + 'static;

    /// The handshake in progress. Dropping it abandons the handshake and closes its socket.
    type Future: Future<Output = io::Result<Self::Output>> + Send + 'static;

    /// Starts the handshake on a connected stream to `to`.
    fn handshake(&self, stream: S, to: &Destination<'_>) -> Self::Future;

    /// Whether this handshake relies on the connect's HTTPS records (an ECH configuration, say):
    /// then a connected stream waits for the HTTPS answer, while it is pending, before
    /// [`Handshake::handshake`] is called, so that [`Destination::endpoint`] is known (HE-11.5;
    /// the HEv3 draft's "wait for SVCB records before proceeding with the cryptographic
    /// handshake"). The wait ends when the answer, or its failure, comes; the attempt and
    /// connect timeouts still apply. Default: `false`.
    fn waits_for_service(&self) -> bool {
        false
    }

    /// Which HTTPS records this handshake can succeed on, when it can succeed only on an
    /// endpoint of one (a handshake that must have an ECH configuration, say): `Some(accept)`
    /// makes a connect by name SVCB-reliant (RFC 9460 §3, HE-11.5). It looks HTTPS records up
    /// whatever [`crate::Connect::https_records`] says, starts no attempt before their answer,
    /// and connects only to endpoints whose record `accept` accepts, never to the name's
    /// addresses without a record; with none it fails as [`crate::Error::NoAddresses`].
    /// Default: `None`.
    fn required_record(&self) -> Option<fn(&ServiceRecord) -> bool> {
        None
    }

    /// A few words on how a completed handshake went, for the winning attempt's
    /// [`crate::report::Attempt::handshake_note`] (the crate's TLS handshake says what happened
    /// to ECH). Asked only when a report is built. Default: none.
    fn note(&self, output: &Self::Output) -> Option<std::borrow::Cow<'static, str>> {
        let _ = output;
        None
    }

    /// How this handshake races QUIC against TCP (HE-12.1 to HE-12.4): which destinations get
    /// a QUIC attempt next to their TCP one, and in which order. `Some` makes every connect
    /// with this handshake call [`Handshake::quic`] for those attempts. Default: `None`, TCP
    /// only. The crate's own QUIC connector (`eyeballs::quic`, feature `quic`) is built on
    /// this and [`Handshake::quic`] alone.
    fn quic_plan(&self) -> Option<&crate::QuicPlan> {
        None
    }

    /// Starts a QUIC attempt to `to` (its [`Destination::addr`] is the UDP address); its
    /// completion wins the race as a completed handshake does, its error fails the attempt
    /// (the next one starts at once, HE-12.2). An `Err` here, where QUIC cannot be used at all
    /// (no UDP socket in a sandbox), fails the attempt before anything is sent, and the connect
    /// goes on over TCP (HE-12.7). Called only with a [`Handshake::quic_plan`]. Default: an
    /// error.
    fn quic(&self, to: &Destination<'_>) -> io::Result<Self::Future> {
        let _ = to;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this handshake has no QUIC",
        ))
    }

    /// Whether there is no handshake at all: the TCP stream is the result, with no handshake
    /// phase in the race or the report. Only [`NoHandshake`] says so.
    #[doc(hidden)]
    const TCP_ONLY: bool = false;
}

/// Where a handshake runs: the attempt's address, the host the connect was asked for, and the
/// HTTPS-record endpoint the address came from.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub(crate) addr: SocketAddr,
    pub(crate) host: Option<&'a str>,
    pub(crate) endpoint: Option<&'a ServiceEndpoint>,
}

impl<'a> Destination<'a> {
    /// A destination, for running a handshake by hand on a stream connected to `addr` (the
    /// race makes these itself): the host asked for, when known, and the HTTPS-record endpoint
    /// `addr` belongs to ([`crate::Connector::resolve_endpoints`] gives both).
    pub fn new(
        addr: SocketAddr,
        host: Option<&'a str>,
        endpoint: Option<&'a ServiceEndpoint>,
    ) -> Destination<'a> {
        Destination {
            addr,
            host,
            endpoint,
        }
    }

    /// The address the attempt connected to (an IPv4 destination reached through NAT64 shows
    /// as its IPv6 translation).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The host the connect was asked for, as given (a DNS name or an IP literal): what a TLS
    /// handshake sends as its server name. `None` when the connect was given addresses only.
    pub fn host(&self) -> Option<&'a str> {
        self.host
    }

    /// The HTTPS-record endpoint the address came from, when the connect used HTTPS records
    /// (HE-10.6): its ALPN set ([`crate::https_records::ServiceRecord::alpn_set`]), port and `ech`
    /// configuration. `None` for the name's own addresses and when HTTPS records are off.
    pub fn endpoint(&self) -> Option<&'a ServiceEndpoint> {
        self.endpoint
    }
}

/// No handshake: the TCP stream is the result (HE-5.4). What a connect does until it is given a
/// handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHandshake;

impl<S: Send + 'static> Handshake<S> for NoHandshake {
    type Output = S;
    type Future = Ready<io::Result<S>>;

    fn handshake(&self, stream: S, _: &Destination<'_>) -> Self::Future {
        ready(Ok(stream))
    }

    const TCP_ONLY: bool = true;
}

/// A closure of the connected stream.
impl<S, F, Fut, T> Handshake<S> for F
where
    F: Fn(S) -> Fut + Send + Sync,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    type Output = T;
    type Future = Fut;

    fn handshake(&self, stream: S, _: &Destination<'_>) -> Fut {
        self(stream)
    }
}
