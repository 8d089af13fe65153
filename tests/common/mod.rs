//! Loopback helpers shared by the real-socket tests.
#![allow(dead_code, unreachable_pub)]

pub mod counting;
pub mod dns;
mod loopback;
mod probe_bin;

pub use loopback::{BlackHole, DualPort, try_dual_port, try_listening};
#[allow(unused_imports)]
pub use probe_bin::probe_bin;

use std::net::{SocketAddr, TcpListener as StdListener};

use socket2::{Domain, Socket, Type};

/// A port on which nothing listens: connecting is refused (RST) at once.
pub fn refused_addr(ip: &str) -> SocketAddr {
    let l = StdListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

impl BlackHole {
    /// A black hole on `addr` (port 0: any).
    pub fn new(addr: SocketAddr) -> BlackHole {
        BlackHole::from_bound(bound(addr))
    }

    /// Makes a black hole of a socket that is already bound.
    pub fn from_bound(listener: Socket) -> BlackHole {
        BlackHole::try_from_bound(listener).unwrap()
    }
}

/// A TCP socket bound to `addr` (IPv6 only for IPv6), not yet listening: connecting to it is
/// refused until it listens.
pub fn bound(addr: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    if addr.is_ipv6() {
        socket.set_only_v6(true).unwrap();
    }
    socket.bind(&addr.into()).unwrap();
    socket
}

/// Starts listening on a bound socket.
pub fn listening(socket: Socket) -> tokio::net::TcpListener {
    try_listening(socket).unwrap()
}

/// Binds `ip:port` (port 0: any) and returns the std listener, non-blocking, for tokio.
pub fn listen(ip: &str, port: u16) -> tokio::net::TcpListener {
    let addr: SocketAddr = SocketAddr::new(ip.parse().unwrap(), port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    if addr.is_ipv6() {
        socket.set_only_v6(true).unwrap();
    }
    socket.set_reuse_address(true).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(128).unwrap();
    socket.set_nonblocking(true).unwrap();
    tokio::net::TcpListener::from_std(socket.into()).unwrap()
}

/// One port, bound (not listening) on both ::1 and 127.0.0.1.
pub fn dual_port() -> DualPort {
    try_dual_port().unwrap()
}

/// Accepts connections forever in the background.
pub fn serve(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    })
}

/// Open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// How a loopback test server treats each connection it accepts.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Sends `220 ready\r\n` and holds the connection until the client closes it.
    Greet,
    /// Accepts, then resets the connection (RST: linger 0) 50 ms later, so the client has seen
    /// its TCP connect complete: on loopback an immediate RST can beat that, and the connect
    /// itself fails.
    Reset,
    /// Accepts and holds the connection without sending anything.
    Silent,
}

/// Accepts connections forever in the background, treating each as `behaviour` says.
pub fn serve_as(
    listener: tokio::net::TcpListener,
    behaviour: Behaviour,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        let mut held = tokio::task::JoinSet::new();
        while let Ok((mut s, _)) = listener.accept().await {
            match behaviour {
                Behaviour::Reset => {
                    held.spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        let _ =
                            socket2::SockRef::from(&s).set_linger(Some(std::time::Duration::ZERO));
                        drop(s);
                    });
                }
                Behaviour::Greet | Behaviour::Silent => {
                    held.spawn(async move {
                        if matches!(behaviour, Behaviour::Greet) {
                            let _ = s.write_all(b"220 ready\r\n").await;
                        }
                        // Until the client closes.
                        let mut buf = [0u8; 64];
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    });
                }
            }
        }
    })
}

/// The handshake the loopback tests race through: the server's greeting must arrive.
pub async fn expect_greeting(
    mut stream: tokio::net::TcpStream,
) -> std::io::Result<tokio::net::TcpStream> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 11];
    stream.read_exact(&mut buf).await?;
    if &buf != b"220 ready\r\n" {
        return Err(std::io::Error::other("unexpected greeting"));
    }
    Ok(stream)
}

/// The first [`std::io::Error`] in `e`'s `source()` chain (`e` itself included).
pub fn io_error_in_chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a std::io::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        next = e.source();
    }
    None
}
