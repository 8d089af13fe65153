//! The single-attempt connect seam: one socket, one `connect`, options applied. The driver only
//! sees the [`Dial`] trait, so its tests run with a fake under paused time.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};
use tokio::net::TcpStream;

use crate::config::SocketOptions;

/// Opens one connection attempt, and tells which source address a destination would use.
pub(crate) trait Dial: Send + Sync {
    /// The connected stream.
    type Stream: Send + 'static;

    /// One attempt in progress: held inline by the driver (no allocation per attempt for the
    /// real dialer). Dropping it closes its socket.
    type Attempt: Future<Output = io::Result<Self::Stream>> + Send + Unpin + 'static;

    /// Starts one attempt.
    fn dial(&self, addr: SocketAddr) -> Self::Attempt;

    /// The source address the kernel would pick for `dst`, or `None` if it has no route (RFC 6724
    /// rule 1). Must not send anything.
    fn source(&self, dst: SocketAddr) -> Option<IpAddr>;

    /// Whether the network has a route to `probe`, an IPv4 address (HE-7.1: without one, IPv4
    /// goes through NAT64). Asked on every connect to an IPv4 address.
    fn routes_v4(&self, probe: SocketAddr) -> bool {
        self.source(probe).is_some()
    }
}

/// The real dialer: tokio sockets, with options applied through socket2.
#[derive(Debug)]
pub(crate) struct TcpDial {
    options: SocketOptions,
    sources: SourceCache,
    /// Until when (nanoseconds after `epoch`) the network is known to have an IPv4 route: the
    /// check every IPv4 connect makes (HE-7.1) then costs one clock read, no lock, no hash.
    v4_route_until: AtomicU64,
    epoch: Instant,
}

impl TcpDial {
    pub(crate) fn new(options: SocketOptions) -> TcpDial {
        TcpDial {
            options,
            sources: SourceCache::default(),
            v4_route_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

/// How long the kernel's source-address choice for a destination is reused. Short, so a changed
/// network (a new route, an address gone) shows in sorting within a second; long enough that a
/// client connecting to the same host many times a second asks the kernel once.
const SOURCE_TTL: Duration = Duration::from_secs(1);

/// At most this many destinations are remembered; beyond it, expired entries are dropped, and if
/// none has expired, all are.
const SOURCE_CACHE_MAX: usize = 1024;

/// The kernel's recent source-address choices, per destination (RFC 6724 sorting needs them; each
/// lookup costs a UDP socket and three system calls).
#[derive(Debug, Default)]
struct SourceCache {
    entries: Mutex<HashMap<SocketAddr, (Option<IpAddr>, Instant)>>,
}

impl SourceCache {
    /// `dst`'s source, looked up with `lookup` unless a fresh one is known. The port does not
    /// matter; an IPv6 scope id does.
    fn get_or_insert_with(
        &self,
        dst: SocketAddr,
        now: Instant,
        lookup: impl FnOnce() -> Option<IpAddr>,
    ) -> Option<IpAddr> {
        let dst = match dst {
            SocketAddr::V4(v4) => SocketAddr::new((*v4.ip()).into(), 0),
            SocketAddr::V6(v6) => SocketAddrV6::new(*v6.ip(), 0, 0, v6.scope_id()).into(),
        };
        let fresh = |at: Instant| now.saturating_duration_since(at) < SOURCE_TTL;
        if let Some((src, at)) = self.lock().get(&dst)
            && fresh(*at)
        {
            return *src;
        }
        // Looked up without the lock held: a system call is not worth serialising connects on.
        let src = lookup();
        let mut entries = self.lock();
        if entries.len() >= SOURCE_CACHE_MAX {
            entries.retain(|_, (_, at)| fresh(*at));
            if entries.len() >= SOURCE_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(dst, (src, now));
        src
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, (Option<IpAddr>, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Dial for TcpDial {
    type Stream = TcpStream;
    type Attempt = TcpConnect;

    fn dial(&self, addr: SocketAddr) -> TcpConnect {
        if self.options.is_default() {
            // The fast path: exactly the system calls `TcpStream::connect` makes.
            return connect_default(addr);
        }
        TcpConnect::start(configured_socket(&self.options, addr), addr)
    }

    fn routes_v4(&self, probe: SocketAddr) -> bool {
        let now = self.epoch.elapsed().as_nanos() as u64;
        if now < self.v4_route_until.load(Ordering::Relaxed) {
            return true;
        }
        let routed = self.source(probe).is_some();
        if routed {
            let until = now.saturating_add(SOURCE_TTL.as_nanos() as u64);
            self.v4_route_until.store(until, Ordering::Relaxed);
        }
        routed
    }

    fn source(&self, dst: SocketAddr) -> Option<IpAddr> {
        match dst.ip() {
            IpAddr::V4(_) if self.options.local_v4.is_some() => {
                self.options.local_v4.map(IpAddr::V4)
            }
            IpAddr::V6(_) if self.options.local_v6.is_some() => {
                self.options.local_v6.map(IpAddr::V6)
            }
            _ => self
                .sources
                .get_or_insert_with(dst, Instant::now(), || udp_source(&self.options, dst).ok()),
        }
    }
}

/// Asks the kernel which source it would use for `dst`: a connected UDP socket sends nothing.
fn udp_source(options: &SocketOptions, dst: SocketAddr) -> io::Result<IpAddr> {
    let socket = Socket::new(Domain::for_address(dst), Type::DGRAM, Some(Protocol::UDP))?;
    bind_device(&socket, options)?;
    socket.connect(&SockAddr::from(dst))?;
    socket
        .local_addr()?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| io::Error::other("local address is not an IP address"))
}

fn bind_device(socket: &Socket, options: &SocketOptions) -> io::Result<()> {
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    if let Some(name) = &options.interface {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    #[cfg(not(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))]
    if options.interface.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "binding to an interface needs Linux",
        ));
    }
    let _ = (socket, options);
    Ok(())
}

/// A TCP connect in progress: the socket, registered with the reactor, whose handshake is done
/// once it is writable, and succeeded if `SO_ERROR` is then clear (as tokio's own connect does).
/// No allocation of its own; dropping it closes the socket.
#[derive(Debug)]
pub(crate) struct TcpConnect {
    /// `None` once the outcome is returned.
    stream: Option<io::Result<TcpStream>>,
}

impl TcpConnect {
    /// Starts `socket`'s connect to `addr`; a failure to make the socket or to start is the
    /// attempt's outcome when polled.
    fn start(socket: io::Result<Socket>, addr: SocketAddr) -> TcpConnect {
        TcpConnect {
            stream: Some(socket.and_then(|socket| start_connect(socket, addr))),
        }
    }
}

impl Future for TcpConnect {
    type Output = io::Result<TcpStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let stream = match self.stream.take() {
            Some(Ok(stream)) => stream,
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => panic!("TcpConnect polled after it completed"),
        };
        match stream.poll_write_ready(cx) {
            Poll::Pending => {
                self.stream = Some(Ok(stream));
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => match stream.take_error() {
                Ok(None) => Poll::Ready(Ok(stream)),
                Ok(Some(e)) | Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

/// Starts a TCP connect to `addr` with no socket options: the system calls of
/// `TcpStream::connect` (a non-blocking socket, `connect`, registration with the reactor). The
/// stream is connected once the returned [`TcpConnect`] is ready with it.
pub(crate) fn connect_default(addr: SocketAddr) -> TcpConnect {
    TcpConnect::start(tcp_socket(addr), addr)
}

/// A non-blocking TCP socket for `addr`'s family.
fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
    Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
}

/// Starts `socket`'s non-blocking connect to `addr` and registers it with the reactor.
fn start_connect(socket: Socket, addr: SocketAddr) -> io::Result<TcpStream> {
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    TcpStream::from_std(socket.into())
}

fn configured_socket(o: &SocketOptions, addr: SocketAddr) -> io::Result<Socket> {
    let socket = tcp_socket(addr)?;
    if o.nodelay {
        socket.set_tcp_nodelay(true)?;
    }
    if let Some(k) = o.keepalive {
        let mut ka = TcpKeepalive::new();
        if let Some(t) = k.time {
            ka = ka.with_time(t);
        }
        #[cfg(not(any(target_os = "openbsd", target_os = "redox", target_os = "solaris")))]
        if let Some(i) = k.interval {
            ka = ka.with_interval(i);
        }
        #[cfg(not(any(
            target_os = "openbsd",
            target_os = "redox",
            target_os = "solaris",
            target_os = "windows"
        )))]
        if let Some(r) = k.retries {
            ka = ka.with_retries(r);
        }
        socket.set_tcp_keepalive(&ka)?;
    }
    if o.reuse_address {
        socket.set_reuse_address(true)?;
    }
    if let Some(size) = o.send_buffer_size {
        socket.set_send_buffer_size(size)?;
    }
    if let Some(size) = o.recv_buffer_size {
        socket.set_recv_buffer_size(size)?;
    }
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    {
        if let Some(mark) = o.mark {
            socket.set_mark(mark)?;
        }
        if let Some(t) = o.user_timeout {
            socket.set_tcp_user_timeout(Some(t))?;
        }
    }
    #[cfg(not(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))]
    if o.mark.is_some() || o.user_timeout.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_MARK and TCP_USER_TIMEOUT need Linux",
        ));
    }
    bind_device(&socket, o)?;
    let local = match addr {
        SocketAddr::V4(_) => o.local_v4.map(|ip| SocketAddr::new(IpAddr::V4(ip), 0)),
        SocketAddr::V6(_) => o.local_v6.map(|ip| SocketAddr::new(IpAddr::V6(ip), 0)),
    };
    if let Some(local) = local {
        socket.bind(&SockAddr::from(local))?;
    }
    if let Some(hook) = &o.hook {
        hook(&socket, addr)?;
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_cache_reuses_within_its_ttl_and_stays_bounded() {
        let cache = SourceCache::default();
        let t0 = Instant::now();
        let dst: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let src: IpAddr = "2001:db8::100".parse().unwrap();
        let calls = std::cell::Cell::new(0);
        let lookup = || {
            calls.set(calls.get() + 1);
            Some(src)
        };
        assert_eq!(cache.get_or_insert_with(dst, t0, lookup), Some(src));
        // Another port, within the TTL: no new lookup.
        let other_port: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let ms = Duration::from_millis;
        assert_eq!(
            cache.get_or_insert_with(other_port, t0 + ms(999), lookup),
            Some(src)
        );
        assert_eq!(calls.get(), 1);
        // Expired: asked again.
        cache.get_or_insert_with(dst, t0 + SOURCE_TTL, lookup);
        assert_eq!(calls.get(), 2);
        // Another scope id is another destination.
        let scoped: SocketAddr = "[fe80::1%2]:443".parse().unwrap();
        let scoped3: SocketAddr = "[fe80::1%3]:443".parse().unwrap();
        cache.get_or_insert_with(scoped, t0, lookup);
        cache.get_or_insert_with(scoped3, t0, lookup);
        assert_eq!(calls.get(), 4);
        // Bounded: a million destinations never hold more than the maximum.
        for i in 0..100_000u32 {
            let dst = SocketAddr::new(IpAddr::from(i.to_be_bytes()), 1);
            cache.get_or_insert_with(dst, t0, || None);
        }
        assert!(cache.lock().len() <= SOURCE_CACHE_MAX);
    }
}
