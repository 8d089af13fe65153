//! One connect as a value: [`Connect`], what [`crate::Connector::connect`] returns, configured
//! by what is called on it and run by `.await`.

use std::borrow::Cow;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::io;
use std::time::Instant;

use tokio::net::TcpStream;
use tracing::debug;

use crate::connector::Connector;
use crate::dial::TcpConnect;
use crate::driver::{self, Settings, Want};
use crate::error::Error;
use crate::handshake::{Destination, Handshake, NoHandshake};
use crate::host::InputError;
use crate::proto::Family;
use crate::report::{AttemptOutcome, Report};

/// What to connect to: a host and port, a `"host:port"` string, or addresses already resolved.
///
/// Made with `From` (so [`crate::Connector::connect`] takes any of these):
///
/// | value | meaning |
/// | --- | --- |
/// | `("example.com", 443)`, `(String, u16)` | a DNS name or IP literal, and a port |
/// | `"example.com:443"`, `"[2001:db8::1]:443"`, `String` | the same in one string (IPv6 in brackets) |
/// | `SocketAddr`, `(IpAddr, u16)` | one address (no DNS) |
/// | `Vec<SocketAddr>`, `&[SocketAddr]`, `[SocketAddr; N]` | addresses already resolved: sorted, interleaved and staggered as DNS answers are; duplicates tried once |
///
/// A host is a DNS name (any case, optional trailing dot), an IPv4 literal, or an IPv6 literal
/// with or without brackets and with an optional zone id (`fe80::1%eth0`, `[fe80::1%2]`).
/// Literals skip DNS. Malformed input fails the connect at once with [`Error::InvalidInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a>(pub(crate) Kind<'a>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// A name or literal, and a port.
    Host { host: Cow<'a, str>, port: u16 },
    /// `host:port`, split when the connect starts (its errors are the connect's).
    HostPort(Cow<'a, str>),
    /// Addresses already resolved.
    Addrs(Cow<'a, [SocketAddr]>),
}

/// Splits `host:port`: the port after the last colon; an IPv6 literal must stand in brackets.
pub(crate) fn split_host_port(s: &str) -> Result<(&str, u16), Error> {
    let invalid = |problem| Error::invalid(s, problem);
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest
                .split_once(']')
                .ok_or(invalid(InputError::UnclosedBracket))?;
            let port = after
                .strip_prefix(':')
                .ok_or(invalid(InputError::MissingPort))?;
            // The brackets stay: the host parser takes them and checks what they hold.
            (&s[..v6.len() + 2], port)
        }
        None => {
            let (host, port) = s.rsplit_once(':').ok_or(invalid(InputError::MissingPort))?;
            if host.contains(':') {
                return Err(invalid(InputError::Ipv6WithoutBrackets));
            }
            (host, port)
        }
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
        return Err(invalid(InputError::InvalidPort(port.to_string())));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(InputError::InvalidPort(port.to_string())))?;
    Ok((host, port))
}

impl<'a> From<(&'a str, u16)> for Target<'a> {
    fn from((host, port): (&'a str, u16)) -> Target<'a> {
        Target(Kind::Host {
            host: Cow::Borrowed(host),
            port,
        })
    }
}

impl<'a> From<(&'a String, u16)> for Target<'a> {
    fn from((host, port): (&'a String, u16)) -> Target<'a> {
        Target::from((host.as_str(), port))
    }
}

impl<'a> From<(String, u16)> for Target<'a> {
    fn from((host, port): (String, u16)) -> Target<'a> {
        Target(Kind::Host {
            host: Cow::Owned(host),
            port,
        })
    }
}

impl<'a> From<&'a str> for Target<'a> {
    fn from(host_port: &'a str) -> Target<'a> {
        Target(Kind::HostPort(Cow::Borrowed(host_port)))
    }
}

impl<'a> From<&'a String> for Target<'a> {
    fn from(host_port: &'a String) -> Target<'a> {
        Target::from(host_port.as_str())
    }
}

impl<'a> From<String> for Target<'a> {
    fn from(host_port: String) -> Target<'a> {
        Target(Kind::HostPort(Cow::Owned(host_port)))
    }
}

impl<'a> From<SocketAddr> for Target<'a> {
    fn from(addr: SocketAddr) -> Target<'a> {
        Target(Kind::Addrs(Cow::Owned(vec![addr])))
    }
}

impl<'a> From<SocketAddrV4> for Target<'a> {
    fn from(addr: SocketAddrV4) -> Target<'a> {
        Target::from(SocketAddr::V4(addr))
    }
}

impl<'a> From<SocketAddrV6> for Target<'a> {
    fn from(addr: SocketAddrV6) -> Target<'a> {
        Target::from(SocketAddr::V6(addr))
    }
}

impl<'a> From<(IpAddr, u16)> for Target<'a> {
    fn from((ip, port): (IpAddr, u16)) -> Target<'a> {
        Target::from(SocketAddr::new(ip, port))
    }
}

impl<'a> From<(Ipv4Addr, u16)> for Target<'a> {
    fn from((ip, port): (Ipv4Addr, u16)) -> Target<'a> {
        Target::from(SocketAddr::new(ip.into(), port))
    }
}

impl<'a> From<(Ipv6Addr, u16)> for Target<'a> {
    fn from((ip, port): (Ipv6Addr, u16)) -> Target<'a> {
        Target::from(SocketAddr::new(ip.into(), port))
    }
}

impl<'a> From<Vec<SocketAddr>> for Target<'a> {
    fn from(addrs: Vec<SocketAddr>) -> Target<'a> {
        Target(Kind::Addrs(Cow::Owned(addrs)))
    }
}

impl<'a> From<&'a [SocketAddr]> for Target<'a> {
    fn from(addrs: &'a [SocketAddr]) -> Target<'a> {
        Target(Kind::Addrs(Cow::Borrowed(addrs)))
    }
}

impl<'a> From<&'a Vec<SocketAddr>> for Target<'a> {
    fn from(addrs: &'a Vec<SocketAddr>) -> Target<'a> {
        Target::from(addrs.as_slice())
    }
}

impl<'a, const N: usize> From<[SocketAddr; N]> for Target<'a> {
    fn from(addrs: [SocketAddr; N]) -> Target<'a> {
        Target(Kind::Addrs(Cow::Owned(addrs.to_vec())))
    }
}

/// What a connect yields: chosen by [`Connect::with_report`]. Sealed.
pub trait Yield: sealed::Sealed {
    /// The connect's output for a handshake output `T`.
    type Output<T>;

    #[doc(hidden)]
    const REPORT: bool;

    #[doc(hidden)]
    fn make<T>(out: T, report: impl FnOnce() -> Report) -> Self::Output<T>;
}

/// The connect yields the stream (or the handshake's output) alone.
#[derive(Debug, Clone, Copy)]
pub struct WithoutReport;

/// The connect yields the stream (or the handshake's output) and its [`Report`].
#[derive(Debug, Clone, Copy)]
pub struct WithReport;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::WithoutReport {}
    impl Sealed for super::WithReport {}
}

impl Yield for WithoutReport {
    type Output<T> = T;
    const REPORT: bool = false;

    fn make<T>(out: T, _: impl FnOnce() -> Report) -> T {
        out
    }
}

impl Yield for WithReport {
    type Output<T> = (T, Report);
    const REPORT: bool = true;

    fn make<T>(out: T, report: impl FnOnce() -> Report) -> (T, Report) {
        (out, report())
    }
}

/// One connect, made by [`crate::Connector::connect`]: configure it with its methods, then
/// `.await` it (it is [`IntoFuture`]).
///
/// - [`Connect::handshake`] races through a handshake of yours (TLS, a protocol greeting): the
///   first attempt whose handshake completes wins, and the connect yields the handshake's
///   output.
/// - [`Connect::with_report`] yields the [`Report`] too: each DNS answer and attempt, the
///   winner, the times.
/// - [`Connect::https_records`], [`Connect::alpn`] and [`Connect::timeout`] set for this connect
///   what the [`crate::Builder`] set for all.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), eyeballs::Error> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let port = listener.local_addr().unwrap().port();
/// use std::time::Duration;
///
/// let connector = eyeballs::Connector::new();
/// let (stream, report) = connector
///     .connect(("localhost", port))
///     .timeout(Duration::from_secs(5))
///     .with_report()
///     .await?;
/// assert_eq!(report.winner().unwrap().addr(), stream.peer_addr().unwrap());
/// # Ok(())
/// # }
/// ```
#[must_use = "a connect does nothing until it is awaited"]
pub struct Connect<'a, H = NoHandshake, Y = WithoutReport> {
    connector: &'a Connector,
    target: Target<'a>,
    handshake: H,
    https_records: Option<bool>,
    alpn: Option<Vec<Vec<u8>>>,
    timeout: Option<Duration>,
    yields: PhantomData<fn() -> Y>,
}

impl<H, Y> fmt::Debug for Connect<'_, H, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("target", &self.target)
            .field("handshake", &std::any::type_name::<H>())
            .field("https_records", &self.https_records)
            .field("alpn", &self.alpn)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Target<'_> {
    /// The host asked for (a name or IP literal, handed to the handshake); `None` for addresses.
    fn host(&self) -> Option<&str> {
        match &self.0 {
            Kind::Host { host, .. } => Some(host),
            Kind::HostPort(host_port) => split_host_port(host_port).ok().map(|(host, _)| host),
            Kind::Addrs(_) => None,
        }
    }
}

impl<'a> Connect<'a> {
    pub(crate) fn new(connector: &'a Connector, target: Target<'a>) -> Connect<'a> {
        Connect {
            connector,
            target,
            handshake: NoHandshake,
            https_records: None,
            alpn: None,
            timeout: None,
            yields: PhantomData,
        }
    }
}

impl<'a, H, Y> Connect<'a, H, Y> {
    /// Races through `handshake` (HEv3, HE-9.1): it runs on every attempt whose TCP handshake
    /// completes, the first attempt whose handshake completes wins, and the connect yields its
    /// output. A closure `Fn(TcpStream) -> Future<Output = io::Result<T>>` is a handshake; so is
    /// any [`Handshake`].
    ///
    /// A connection that completes TCP proves little: a TCP-terminating middlebox, a path that
    /// resets after the SYN-ACK or a path-MTU black hole hands over a connection that fails a
    /// moment later while the other family would have worked. Here an attempt whose handshake
    /// fails counts as failed, and the next address starts at once (HE-9.2). Every other
    /// attempt, in TCP or in its handshake, is dropped (its socket closed) when one wins, and
    /// all are when the connect is cancelled or times out (HE-9.4).
    ///
    /// When an attempt's TCP handshake completes before the next attempt is due, the next
    /// attempt waits until the handshake should be done, the TCP connect time plus two round
    /// trips (the measured TCP RTT) plus 10 ms, but never more than one extra Connection
    /// Attempt Delay: a stalled handshake lets the next address start after at most twice the
    /// delay (HE-9.3). The per-attempt timeout covers TCP and handshake together.
    ///
    /// Without a timeout ([`Connect::timeout`], [`crate::Builder::connect_timeout`] or
    /// [`crate::Builder::attempt_timeout`]) nothing bounds a handshake: a server that accepts and
    /// never answers keeps a lone attempt (or the last one left) pending for as long as the
    /// socket lives. Set a timeout whenever the handshake talks to servers you do not control.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), eyeballs::Error> {
    /// use tokio::io::AsyncReadExt;
    ///
    /// let connector = eyeballs::Connector::new();
    /// // An SMTP-style greeting: the connection counts only once the server has spoken.
    /// let (stream, banner) = connector
    ///     .connect(("mail.example.net", 25))
    ///     .handshake(|mut stream: tokio::net::TcpStream| async move {
    ///         let mut buf = [0u8; 512];
    ///         let n = stream.read(&mut buf).await?;
    ///         if !buf[..n].starts_with(b"220") {
    ///             return Err(std::io::Error::other("no greeting"));
    ///         }
    ///         Ok((stream, String::from_utf8_lossy(&buf[..n]).into_owned()))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn handshake<H2: Handshake>(self, handshake: H2) -> Connect<'a, H2, Y> {
        self.reshape(|_| handshake)
    }

    /// Yields the [`Report`] with the output: what happened, step by step. A failed connect's
    /// [`Error`] carries its report either way ([`Error::report`]).
    pub fn with_report(self) -> Connect<'a, H, WithReport> {
        self.reshape(|handshake| handshake)
    }

    /// This connect with its handshake mapped by `f` and what it yields chosen anew, every
    /// other setting kept.
    fn reshape<H2, Y2>(self, f: impl FnOnce(H) -> H2) -> Connect<'a, H2, Y2> {
        Connect {
            connector: self.connector,
            target: self.target,
            handshake: f(self.handshake),
            https_records: self.https_records,
            alpn: self.alpn,
            timeout: self.timeout,
            yields: PhantomData,
        }
    }

    /// Whether this connect looks up and uses the name's HTTPS records (RFC 9460). Default: the
    /// connector's ([`crate::Builder::https_records`]).
    pub fn https_records(mut self, on: bool) -> Self {
        self.https_records = Some(on);
        self
    }

    /// The ALPN protocols this connection can use, for choosing HTTPS-record endpoints.
    /// Default: the connector's ([`crate::Builder::alpn`]).
    pub fn alpn<P: AsRef<[u8]>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        self.alpn = Some(protocols.into_iter().map(|p| p.as_ref().to_vec()).collect());
        self
    }

    /// A limit on this whole connect, resolution included; it must not be zero, and
    /// `Duration::MAX` is no limit. Default: the connector's ([`crate::Builder::connect_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The target, as given.
    pub fn target(&self) -> &Target<'a> {
        &self.target
    }
}

/// The future of a [`Connect`]: `Send`; dropping it cancels the connect and closes every socket.
#[must_use = "futures do nothing unless polled"]
pub struct ConnectFuture<'a, T> {
    inner: Inner<'a, T>,
}

enum Inner<'a, T> {
    /// The race: lookups, attempts, the handshake, the report.
    Race(Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>),
    /// One address and one possible course: a plain TCP connect, with nothing to allocate.
    Direct(Direct<'a, T>),
}

impl<T> fmt::Debug for ConnectFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectFuture")
    }
}

impl<T> Future for ConnectFuture<'_, T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Inner::Race(race) => race.as_mut().poll(cx),
            Inner::Direct(direct) => direct.poll(cx),
        }
    }
}

/// Makes a connect's output from its stream: runs a TCP-only handshake (which completes at once).
type Finish<'a, T> =
    Box<dyn FnOnce(TcpStream, &Destination<'_>, &mut Context<'_>) -> io::Result<T> + Send + 'a>;

/// A connect with exactly one possible course (start one attempt now; its outcome is the
/// result) and no report to keep: the system calls of `TcpStream::connect` and nothing more.
/// A failure still gets the full error, with its report.
struct Direct<'a, T> {
    addr: SocketAddr,
    target: Target<'a>,
    state: DirectState,
    /// `Some` until the output is made; a zero-sized closure for `NoHandshake` (no allocation).
    finish: Option<Finish<'a, T>>,
}

enum DirectState {
    Start,
    Connecting(TcpConnect, Instant),
    Done,
}

impl<T> Direct<'_, T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let addr = self.addr;
        if let DirectState::Start = self.state {
            debug!(%addr, attempt = 0, family = %Family::of(&addr), "attempt started");
            let connect = crate::dial::connect_default(addr);
            self.state = DirectState::Connecting(connect, Instant::now());
        }
        let DirectState::Connecting(connect, started) = &mut self.state else {
            panic!("ConnectFuture polled after it completed");
        };
        let started = *started;
        let stream = match Pin::new(connect).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => {
                self.state = DirectState::Done;
                match result {
                    Ok(stream) => stream,
                    Err(e) => return Poll::Ready(Err(self.failed(e, started))),
                }
            }
        };
        let host = self.target.host();
        let to = Destination {
            addr,
            host,
            endpoint: None,
        };
        let finish = self.finish.take().expect("the output is made once");
        let result = finish(stream, &to, cx).map_err(|e| self.failed(e, started));
        if result.is_ok() {
            debug!(%addr, attempt = 0, "connected");
        }
        Poll::Ready(result)
    }

    /// The error of the failed attempt, with its report.
    fn failed(&self, e: io::Error, started: Instant) -> Error {
        let outcome = AttemptOutcome::Failed {
            kind: e.kind(),
            message: e.to_string(),
        };
        let label = match self.target.host() {
            Some(host) => Cow::Borrowed(host),
            None => Cow::Owned(self.addr.ip().to_string()),
        };
        let ended = started.elapsed();
        let report = driver::lone_report(&label, self.addr.port(), self.addr, None, ended, outcome);
        driver::lone_failure(report, self.addr, e)
    }
}

impl<'a, H, Y> IntoFuture for Connect<'a, H, Y>
where
    H: Handshake + Send + 'a,
    Y: Yield + 'a,
    Y::Output<H::Output>: Send + 'a,
{
    type Output = Result<Y::Output<H::Output>, Error>;
    type IntoFuture = ConnectFuture<'a, Y::Output<H::Output>>;

    fn into_future(self) -> Self::IntoFuture {
        if H::TCP_ONLY
            && !Y::REPORT
            && let Some(addr) = self.connector.direct_addr(&self.target, self.timeout)
        {
            let handshake = self.handshake;
            // Zero-sized with `NoHandshake`: boxing it allocates nothing.
            let finish: Finish<'a, _> = Box::new(move |stream, to, cx| {
                let mut ready = std::pin::pin!(handshake.handshake(stream, to));
                match ready.as_mut().poll(cx) {
                    // Nobody reads a report (`Y::REPORT` is false): none is made.
                    Poll::Ready(out) => out.map(|out| Y::make(out, || Report::new("", 0))),
                    Poll::Pending => Err(io::Error::other(
                        "a TCP-only handshake did not complete at once",
                    )),
                }
            });
            let direct = Direct {
                addr,
                target: self.target,
                state: DirectState::Start,
                finish: Some(finish),
            };
            return ConnectFuture {
                inner: Inner::Direct(direct),
            };
        }
        ConnectFuture {
            inner: Inner::Race(Box::pin(self.race())),
        }
    }
}

impl<'a, H, Y> Connect<'a, H, Y>
where
    H: Handshake + 'a,
    Y: Yield,
{
    /// The whole connect: the settings, then the race. An async block, not an `async fn`: an
    /// `async fn` would keep its argument twice in its future (as the argument and as the local
    /// it moves into).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn's future holds its argument twice"
    )]
    fn race(self) -> impl Future<Output = Result<Y::Output<H::Output>, Error>> + Send + 'a {
        async move {
            let config = self.connector.config();
            if self.timeout == Some(Duration::ZERO) {
                let input = "timeout 0s";
                return Err(Error::invalid(input, InputError::ZeroTimeout));
            }
            let own = Settings::of(config);
            let settings = Settings {
                https_records: self.https_records.unwrap_or(own.https_records),
                alpn: self.alpn.as_deref().unwrap_or(own.alpn),
                connect_timeout: self.timeout.or(own.connect_timeout),
            };
            let want = if Y::REPORT {
                Want::Report
            } else {
                Want::StreamOnly
            };
            let (out, report) = self
                .connector
                .run(&self.target, settings, want, &self.handshake)
                .await?;
            Ok(Y::make(out, || report))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bad input is a typed error, never a panic: `host:port` strings.
    #[test]
    fn host_port_strings() {
        assert_eq!(
            split_host_port("example.com:443").unwrap(),
            ("example.com", 443)
        );
        assert_eq!(split_host_port("192.0.2.1:80").unwrap(), ("192.0.2.1", 80));
        assert_eq!(
            split_host_port("[2001:db8::1]:8443").unwrap(),
            ("[2001:db8::1]", 8443)
        );
        assert_eq!(
            split_host_port("[fe80::1%eth0]:22").unwrap(),
            ("[fe80::1%eth0]", 22)
        );
        let problem = |s: &str| match split_host_port(s) {
            Err(Error::InvalidInput { problem, .. }) => problem,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(problem("example.com"), InputError::MissingPort);
        assert_eq!(problem("[2001:db8::1]"), InputError::MissingPort);
        assert_eq!(problem("[2001:db8::1"), InputError::UnclosedBracket);
        assert_eq!(problem("2001:db8::1:443"), InputError::Ipv6WithoutBrackets);
        assert_eq!(
            problem("example.com:"),
            InputError::InvalidPort(String::new())
        );
        assert_eq!(
            problem("example.com:65536"),
            InputError::InvalidPort("65536".into())
        );
        assert_eq!(
            problem("example.com:+80"),
            InputError::InvalidPort("+80".into())
        );
        assert_eq!(
            problem("example.com:1234567"),
            InputError::InvalidPort("1234567".into())
        );
        // What follows the port split is the host parser's and the port-zero rule's to judge.
        assert_eq!(
            split_host_port("example.com:0").unwrap(),
            ("example.com", 0)
        );
        assert_eq!(split_host_port(":80").unwrap(), ("", 80));
    }

    #[test]
    fn targets_from_values() {
        let addr: SocketAddr = "192.0.2.1:443".parse().unwrap();
        assert_eq!(
            Target::from(addr),
            Target(Kind::Addrs(Cow::Owned(vec![addr])))
        );
        assert_eq!(Target::from((addr.ip(), 443)), Target::from(addr));
        assert_eq!(Target::from([addr, addr]), Target::from(vec![addr, addr]));
        assert_eq!(
            Target::from(("h.example", 80)),
            Target(Kind::Host {
                host: "h.example".into(),
                port: 80
            })
        );
        assert_eq!(
            Target::from(String::from("h.example:80")),
            Target(Kind::HostPort("h.example:80".into()))
        );
    }

    // Issue 23: the future a caller holds is small (the race is boxed), and the boxed race is
    // about the driver's size (1,048 bytes, the race's first two actions inline): what wraps it (the connect itself, its span) adds
    // 144 (it added 488 when each layer was an `async fn`).
    #[test]
    fn connect_futures_stay_small() {
        let c = crate::Connector::new();
        let held = size_of_val(&c.connect(("h.example", 80)).into_future());
        assert!(held <= 136, "ConnectFuture is {held} bytes");
        let race = size_of_val(&c.connect(("h.example", 80)).race());
        assert!(race <= 1_192, "the boxed race future is {race} bytes");
    }
}
