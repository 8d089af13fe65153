//! [`HttpsConnector`] (feature `rustls`): races through the TLS handshake (HE-9.1).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::http::Uri;
use ::hyper::rt::{Read, ReadBufCursor, Write};
use ::hyper_util::client::legacy::connect::{Connected, Connection};
use ::hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{ConnectError, ConnectionInfo, EchStatus, HttpConnecting, TcpConnection, host_port};
use crate::Connector;
use crate::handshake::{Destination, Handshake};
use crate::https_records::ServiceEndpoint;

/// A hyper connector that races connections through the TLS handshake (Happy Eyeballs v3): an
/// attempt wins only when its rustls handshake completes, so an address whose TCP connects but
/// whose TLS fails (a middlebox, a path that resets after the SYN-ACK, a path-MTU black hole
/// that drops the server's certificate flight) loses to one that works.
///
/// `https` URIs get TLS, with SNI from the URI's host (IP literals are supported: no SNI, the
/// certificate must name the address). `http` URIs get plain TCP unless
/// [`HttpsConnector::https_only`] is set, as hyper-rustls's `https_or_http`. The ALPN protocols
/// offered are the `ClientConfig`'s; when the server picks `h2`, the connection says so to
/// hyper-util (`Connected::negotiated_h2`).
///
/// ```no_run
/// # fn run() -> std::io::Result<()> {
/// use http_body_util::Empty;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
///
/// # #[cfg(feature = "native-roots")] {
/// let https = eyeballs::hyper::HttpsConnector::with_native_roots(eyeballs::Connector::new())?;
/// let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
/// # }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpsConnector {
    connector: Connector,
    tls: Arc<rustls::ClientConfig>,
    https_only: bool,
    /// Whether `https` connects use HTTPS records (HE-10.1).
    https_records: bool,
    /// The ALPN protocols endpoints are chosen for (HE-10.4): the TLS config's, else
    /// `http/1.1` (what a connection without ALPN speaks).
    alpn: Arc<[Vec<u8>]>,
    /// Encrypted Client Hello (HE-11.x): `None` until the connector knows the verifier to
    /// build its configurations with.
    #[cfg(feature = "ech")]
    ech: Option<Arc<super::ech::Ech>>,
    /// Never a TLS handshake without ECH (HE-11.5).
    #[cfg(feature = "ech")]
    ech_required: bool,
}

impl fmt::Debug for HttpsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HttpsConnector");
        d.field("connector", &self.connector)
            .field("https_only", &self.https_only);
        #[cfg(feature = "ech")]
        d.field("ech", &self.ech);
        d.finish_non_exhaustive()
    }
}

impl HttpsConnector {
    /// A connector that makes TLS connections with `tls` over `connector`'s races.
    pub fn new(connector: Connector, tls: impl Into<Arc<rustls::ClientConfig>>) -> HttpsConnector {
        let tls = tls.into();
        let alpn = if tls.alpn_protocols.is_empty() {
            vec![b"http/1.1".to_vec()].into()
        } else {
            tls.alpn_protocols.clone().into()
        };
        HttpsConnector {
            connector,
            tls,
            https_only: false,
            https_records: true,
            alpn,
            #[cfg(feature = "ech")]
            ech: None,
            #[cfg(feature = "ech")]
            ech_required: false,
        }
    }

    /// Turns on Encrypted Client Hello (RFC 9849, HE-11.x) for a connector made with
    /// [`HttpsConnector::new`]; [`HttpsConnector::with_native_roots`] has it on already.
    ///
    /// An endpoint whose HTTPS record carries an `ech` configuration is connected with ECH: the
    /// name asked for crosses the network only encrypted ([`EchStatus::Accepted`]). Elsewhere a
    /// GREASE ECH extension is sent ([`HttpsConnector::ech_grease`]). Each configuration list's
    /// client configuration is made once and cached, from this connector's: its settings, its
    /// crypto provider and `verifier`, which must be the certificate verifier the configuration
    /// was built with (rustls keeps a configuration's verifier private, and ECH needs a
    /// configuration of its own). HPKE comes from aws-lc-rs. Fails when the crypto provider
    /// cannot make a GREASE key.
    ///
    /// [`EchStatus::Accepted`]: super::EchStatus::Accepted
    #[cfg(feature = "ech")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn enable_ech(
        &mut self,
        verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    ) -> Result<(), rustls::Error> {
        let ech = super::ech::Ech::new(self.tls.clone(), verifier, true)?;
        self.ech = Some(Arc::new(ech));
        Ok(())
    }

    /// Never send the name in clear text (HE-11.5). The connect becomes SVCB-reliant: it waits
    /// for the HTTPS answer, connects only to endpoints whose record carries an ECH
    /// configuration (never to the name's addresses without a record), and fails with
    /// [`ConnectError::EchUnavailable`], having connected to nothing, when there is none. A TLS
    /// handshake starts only with ECH: an IP literal, a configuration rustls cannot use, or a
    /// connector without [`HttpsConnector::enable_ech`] fails the attempt before any TLS byte is
    /// sent. For callers that must not leak the name. Default: `false`.
    ///
    /// [`ConnectError::EchUnavailable`]: super::ConnectError::EchUnavailable
    #[cfg(feature = "ech")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn ech_required(&mut self, on: bool) {
        self.ech_required = on;
    }

    /// Whether to send a GREASE ECH extension (RFC 9849 section 6.2) to endpoints that offer no
    /// ECH configuration, once ECH is on. Default: `true`, as browsers do: a client that sent ECH
    /// only to servers that publish it would stand out, and middleboxes would learn to block the
    /// extension (RFC 8701's reason for GREASE). GREASE costs about 200 bytes in the ClientHello.
    #[cfg(feature = "ech")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn ech_grease(&mut self, on: bool) -> Result<(), rustls::Error> {
        if let Some(ech) = &self.ech
            && ech.greases() != on
        {
            self.ech = Some(Arc::new(ech.with_grease(on)?));
        }
        Ok(())
    }

    /// Whether `https` connects also look up the host's HTTPS records (RFC 9460) and use them
    /// ([`crate::Builder::https_records`]), offering in each TLS handshake exactly the ALPN
    /// protocols of the client configuration that the winning endpoint's record allows. Default:
    /// `true`.
    pub fn https_records(&mut self, on: bool) {
        self.https_records = on;
    }

    /// With the platform's root certificates (rustls-native-certs; certificates it cannot parse
    /// are skipped), the process's default rustls crypto provider (ring if none is installed),
    /// and ALPN `http/1.1`. Fails when no root certificate could be loaded.
    #[cfg(feature = "native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "native-roots")))]
    pub fn with_native_roots(connector: Connector) -> io::Result<HttpsConnector> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map_or_else(|| "none found".to_string(), ToString::to_string);
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no usable platform root certificate: {why}"),
            ));
        }
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(io::Error::other)?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_webpki_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        #[cfg_attr(not(feature = "ech"), allow(unused_mut))]
        let mut https = HttpsConnector::new(connector, config);
        #[cfg(feature = "ech")]
        https.enable_ech(verifier).map_err(io::Error::other)?;
        #[cfg(not(feature = "ech"))]
        drop(verifier);
        Ok(https)
    }

    /// Refuse `http` URIs instead of connecting them over plain TCP. Default: `false`.
    pub fn https_only(&mut self, only: bool) {
        self.https_only = only;
    }

    /// The [`Connector`] in use.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The TLS client configuration its handshakes start from.
    #[cfg(feature = "quic")]
    pub(crate) fn tls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.tls
    }

    /// Whether its connects use HTTPS records, and the ALPN protocols they choose endpoints
    /// for (HE-10.4).
    #[cfg(feature = "quic")]
    pub(crate) fn records(&self) -> (bool, &[Vec<u8>]) {
        (self.https_records, &self.alpn)
    }

    /// The TLS handshake this connector races through, for `host` (a DNS name or an IP literal,
    /// brackets allowed), to use with [`crate::Connect::handshake`] on a connect of your own
    /// (with its [`crate::Report`], say). Fails when `host` is not a valid TLS server name.
    pub fn tls_handshake(&self, host: &str) -> io::Result<TlsHandshake> {
        let name = server_name(host).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} is not a valid TLS server name"),
            )
        })?;
        Ok(TlsHandshake {
            base: self.tls.clone(),
            name,
            #[cfg(feature = "ech")]
            ech: self.ech.clone(),
            #[cfg(feature = "ech")]
            connector: self.connector.clone(),
            #[cfg(feature = "ech")]
            ech_required: self.ech_required,
        })
    }
}

/// The stream [`HttpsConnector`] returns: TLS over TCP for `https`, plain TCP for `http`.
#[derive(Debug)]
pub struct HttpsConnection {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Plain(TcpConnection),
    /// Boxed: a TLS session is large, a plain connection small.
    Tls {
        io: Box<TokioIo<TlsStream<TcpStream>>>,
        info: ConnectionInfo,
    },
}

impl HttpsConnection {
    /// How the connection was made (with the TLS timing and ALPN for `https`).
    pub fn info(&self) -> &ConnectionInfo {
        match &self.inner {
            Inner::Plain(tcp) => tcp.info(),
            Inner::Tls { info, .. } => info,
        }
    }

    /// Whether it is a TLS connection.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls { .. })
    }

    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(tcp) => tcp.get_ref(),
            Inner::Tls { io, .. } => io.inner().get_ref().0,
        }
    }
}

impl Connection for HttpsConnection {
    /// hyper-util's `HttpInfo`, then [`ConnectionInfo`]; `negotiated_h2` when ALPN chose `h2`.
    fn connected(&self) -> Connected {
        match &self.inner {
            Inner::Plain(tcp) => tcp.connected(),
            Inner::Tls { io, info } => {
                let connected = io.inner().get_ref().0.connected().extra(info.clone());
                if info.alpn() == Some(b"h2") {
                    connected.negotiated_h2()
                } else {
                    connected
                }
            }
        }
    }
}

impl Read for HttpsConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Inner::Tls { io, .. } => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for HttpsConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Inner::Tls { io, .. } => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Inner::Tls { io, .. } => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Inner::Tls { io, .. } => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Plain(tcp) => tcp.is_write_vectored(),
            Inner::Tls { io, .. } => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Inner::Tls { io, .. } => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}

/// The future [`HttpsConnector`] returns. `Send` and `Unpin`.
pub struct HttpsConnecting {
    inner: Pin<Box<dyn Future<Output = Result<HttpsConnection, ConnectError>> + Send>>,
}

impl fmt::Debug for HttpsConnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpsConnecting")
    }
}

impl Future for HttpsConnecting {
    type Output = Result<HttpsConnection, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// The rustls handshake [`HttpsConnector`] races through, for a connect of your own
/// ([`crate::Connect::handshake`]): made by [`HttpsConnector::tls_handshake`], with that
/// connector's configuration.
///
/// Each attempt offers the ALPN protocols of the configuration that its HTTPS-record endpoint
/// allows (HE-10.4), with ECH (feature `ech`) when the endpoint offers it (HE-11.1, HE-11.2), its
/// one retry after a rejection (HE-11.3), and the wait for a pending HTTPS answer (HE-11.5). Turn
/// HTTPS records on for the connect ([`crate::Connect::https_records`]) to use them. Yields a
/// [`TlsConnected`].
///
/// ```no_run
/// # async fn run(https: eyeballs::hyper::HttpsConnector) -> Result<(), Box<dyn std::error::Error>> {
/// let tls = https.tls_handshake("example.com")?;
/// let (connected, report) = https
///     .connector()
///     .connect(("example.com", 443))
///     .https_records(true)
///     .handshake(tls)
///     .with_report()
///     .await?;
/// println!("{} via {:?}, ECH {}", report.winner().unwrap().addr(), connected.get_ref().get_ref().1.alpn_protocol(), connected.ech());
/// # Ok(()) }
/// ```
pub struct TlsHandshake {
    base: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    #[cfg(feature = "ech")]
    ech: Option<Arc<super::ech::Ech>>,
    /// Opens the retry's connection, with the connector's socket settings (HE-11.3).
    #[cfg(feature = "ech")]
    connector: Connector,
    #[cfg(feature = "ech")]
    ech_required: bool,
}

impl fmt::Debug for TlsHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsHandshake")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A completed TLS handshake ([`TlsHandshake`]'s output): the stream, and what happened to ECH.
#[derive(Debug)]
pub struct TlsConnected {
    stream: TlsStream<TcpStream>,
    ech: EchStatus,
}

impl TlsConnected {
    /// What happened to Encrypted Client Hello (HE-11.6).
    pub fn ech(&self) -> EchStatus {
        self.ech
    }

    /// The TLS stream.
    pub fn get_ref(&self) -> &TlsStream<TcpStream> {
        &self.stream
    }

    /// Unwraps the TLS stream.
    pub fn into_inner(self) -> TlsStream<TcpStream> {
        self.stream
    }

    fn new(stream: TlsStream<TcpStream>, retried: bool) -> TlsConnected {
        let ech = ech_status(stream.get_ref().1, retried);
        TlsConnected { stream, ech }
    }
}

impl TlsHandshake {
    /// The configuration for an attempt to `endpoint`: ECH with its record's configuration, or
    /// GREASE, when ECH is on and the name is a DNS name (HE-11.1, HE-11.2); else the base one.
    /// The second value says whether it offers real ECH.
    fn config_for(&self, endpoint: Option<&ServiceEndpoint>) -> (Arc<rustls::ClientConfig>, bool) {
        #[cfg(feature = "ech")]
        if let Some(ech) = &self.ech
            && matches!(self.name, ServerName::DnsName(_))
        {
            return ech.choose(endpoint.and_then(|e| e.record.ech.as_deref()));
        }
        let _ = endpoint;
        (self.base.clone(), false)
    }
}

/// `base` offering only the ALPN protocols `endpoint`'s record allows (HE-10.4).
fn narrowed(
    base: Arc<rustls::ClientConfig>,
    endpoint: Option<&ServiceEndpoint>,
) -> Arc<rustls::ClientConfig> {
    let Some(endpoint) = endpoint.filter(|_| !base.alpn_protocols.is_empty()) else {
        return base;
    };
    let allowed = endpoint.record.alpn_set();
    let offer: Vec<Vec<u8>> = base
        .alpn_protocols
        .iter()
        .filter(|p| allowed.contains(p))
        .cloned()
        .collect();
    if offer.len() == base.alpn_protocols.len() {
        return base;
    }
    let mut narrowed = (*base).clone();
    narrowed.alpn_protocols = offer;
    Arc::new(narrowed)
}

impl Handshake for TlsHandshake {
    type Output = TlsConnected;
    type Future = TlsHandshaking;

    /// With ECH on, the handshake waits for the HTTPS answer (HE-11.5): the record's ECH
    /// configuration decides how the name is sent.
    fn waits_for_service(&self) -> bool {
        #[cfg(feature = "ech")]
        if self.ech.is_some() || self.ech_required {
            return matches!(self.name, ServerName::DnsName(_));
        }
        false
    }

    fn handshake(&self, stream: TcpStream, to: &Destination<'_>) -> TlsHandshaking {
        TlsHandshaking(self.attempt(stream, to))
    }

    /// With `ech_required`, only endpoints whose record carries an ECH configuration (HE-11.5):
    /// the connect waits for the HTTPS answer and never opens a connection to another.
    fn required_record(&self) -> Option<fn(&crate::https_records::ServiceRecord) -> bool> {
        #[cfg(feature = "ech")]
        if self.ech_required && matches!(self.name, ServerName::DnsName(_)) {
            return Some(|record| record.ech.is_some());
        }
        None
    }

    /// What happened to ECH, for the winner's [`crate::report::Attempt::handshake_note`]
    /// (HE-11.6); nothing when ECH was not offered.
    fn note(&self, output: &TlsConnected) -> Option<std::borrow::Cow<'static, str>> {
        let words = match output.ech {
            EchStatus::Accepted => "ECH accepted",
            EchStatus::Retried => "ECH accepted on the retry",
            EchStatus::Grease => "ECH GREASE",
            EchStatus::NotOffered => return None,
        };
        Some(words.into())
    }
}

impl TlsHandshake {
    fn attempt(&self, stream: TcpStream, to: &Destination<'_>) -> TlsAttempt {
        let (base, offers_ech) = self.config_for(to.endpoint());
        let config = narrowed(base, to.endpoint());
        #[cfg(feature = "ech")]
        if self.ech_required && !offers_ech {
            // HE-11.5: not a byte of TLS without ECH; the stream closes here.
            drop(stream);
            let e = io::Error::new(
                io::ErrorKind::PermissionDenied,
                "ECH required, and this endpoint offers no usable ECH configuration",
            );
            return TlsAttempt::Ech(Box::pin(std::future::ready(Err(e))));
        }
        #[cfg(feature = "ech")]
        if offers_ech && let Some(ech) = &self.ech {
            let retry = super::ech::Retry {
                ech: ech.clone(),
                connector: self.connector.clone(),
                addr: to.addr(),
                name: self.name.clone(),
                alpn: config.alpn_protocols.clone(),
            };
            let first = TlsConnector::from(config).connect(self.name.clone(), stream);
            return TlsAttempt::Ech(Box::pin(async move {
                let (stream, retried) = retry.run(first).await?;
                Ok(TlsConnected::new(stream, retried))
            }));
        }
        let _ = offers_ech;
        TlsAttempt::Plain(TlsConnector::from(config).connect(self.name.clone(), stream))
    }
}

/// The future of one attempt's TLS handshake ([`TlsHandshake`]).
pub struct TlsHandshaking(TlsAttempt);

impl fmt::Debug for TlsHandshaking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsHandshaking")
    }
}

impl Future for TlsHandshaking {
    type Output = io::Result<TlsConnected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<TlsConnected>> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

/// A TLS attempt's handshake: rustls's, polled in place; with ECH offered, boxed with its
/// possible retry (HE-11.3).
#[allow(
    clippy::large_enum_variant,
    reason = "the common case polls rustls's handshake in place, as before ECH; the rare ECH one is boxed"
)]
enum TlsAttempt {
    Plain(tokio_rustls::Connect<TcpStream>),
    #[cfg(feature = "ech")]
    Ech(Pin<Box<dyn Future<Output = io::Result<TlsConnected>> + Send>>),
}

impl Future for TlsAttempt {
    type Output = io::Result<TlsConnected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<TlsConnected>> {
        match self.get_mut() {
            TlsAttempt::Plain(connect) => Pin::new(connect)
                .poll(cx)
                .map_ok(|stream| TlsConnected::new(stream, false)),
            #[cfg(feature = "ech")]
            TlsAttempt::Ech(attempt) => attempt.as_mut().poll(cx),
        }
    }
}

/// What the winning session says of ECH (HE-11.6).
fn ech_status(session: &rustls::ClientConnection, retried: bool) -> EchStatus {
    match session.ech_status() {
        rustls::client::EchStatus::Accepted if retried => EchStatus::Retried,
        rustls::client::EchStatus::Accepted => EchStatus::Accepted,
        rustls::client::EchStatus::Grease => EchStatus::Grease,
        // Offered and not yet decided cannot outlive a completed handshake; rejected fails it.
        _ => EchStatus::NotOffered,
    }
}

/// The TLS server name for a URI host: a DNS name, or an IP literal (brackets removed).
fn server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_string()).ok()
}

impl tower_service::Service<Uri> for HttpsConnector {
    type Response = HttpsConnection;
    type Error = ConnectError;
    type Future = HttpsConnecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> HttpsConnecting {
        let is_https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        if !is_https {
            if self.https_only {
                let err = ConnectError::InvalidUri {
                    uri: uri.to_string(),
                    reason: "not https, and this connector is https_only",
                };
                return HttpsConnecting {
                    inner: Box::pin(async move { Err(err) }),
                };
            }
            let tcp: HttpConnecting =
                super::HttpConnector::connect_tcp(self.connector.clone(), uri, false);
            return HttpsConnecting {
                inner: Box::pin(async move {
                    let tcp = tcp.await?;
                    Ok(HttpsConnection {
                        inner: Inner::Plain(tcp),
                    })
                }),
            };
        }
        let this = self.clone();
        HttpsConnecting {
            inner: Box::pin(async move {
                let (host, port) = host_port(&uri, false)?;
                let handshake = this
                    .tls_handshake(host)
                    .map_err(|_| ConnectError::InvalidUri {
                        uri: uri.to_string(),
                        reason: "the host is not a valid TLS server name",
                    })?;
                // HE-9.1: every attempt whose TCP connects runs the TLS handshake; the first
                // to finish it wins, and every other is dropped.
                let mut connect = this.connector.connect((host, port)).handshake(handshake);
                if this.https_records {
                    connect = connect.https_records(true).alpn(this.alpn.iter());
                }
                let (won, report) = match connect.with_report().await {
                    Ok(won) => won,
                    // HE-11.5: the reliant race found no endpoint with ECH.
                    #[cfg(feature = "ech")]
                    Err(e @ crate::Error::NoAddresses(_)) if this.ech_required => {
                        return Err(ConnectError::EchUnavailable(e));
                    }
                    Err(e) => return Err(e.into()),
                };
                let ech = won.ech();
                let stream = won.into_inner();
                let (tcp, session) = stream.get_ref();
                let local = tcp.local_addr().map_err(ConnectError::LocalAddr)?;
                let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
                let mut info = ConnectionInfo::from_report(&report, local, alpn);
                info.ech = ech;
                Ok(HttpsConnection {
                    inner: Inner::Tls {
                        io: Box::new(TokioIo::new(stream)),
                        info,
                    },
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_uri_hosts() {
        assert!(matches!(
            server_name("example.com"),
            Some(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("[2001:db8::1]"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("192.0.2.1"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(server_name("bad host").is_none());
        assert!(server_name("").is_none());
    }
}
