//! Loopback helpers shared by the real-socket tests.
#![allow(dead_code, unreachable_pub)]

pub mod dns;

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};

use socket2::{Domain, Socket, Type};

/// A port on which nothing listens: connecting is refused (RST) at once.
pub fn refused_addr(ip: &str) -> SocketAddr {
    let l = StdListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// A listener whose accept queue is full: further SYNs are dropped and connect() hangs.
/// Keep the value alive for as long as the black hole is needed.
pub struct BlackHole {
    pub addr: SocketAddr,
    _listener: Socket,
    _filler: Vec<StdStream>,
}

impl BlackHole {
    pub fn new(addr: SocketAddr) -> BlackHole {
        BlackHole::from_bound(bound(addr))
    }

    /// Makes a black hole of a socket that is already bound.
    pub fn from_bound(listener: Socket) -> BlackHole {
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // Fill the queue. How many fit depends on the stack; stop once a connect would block.
        let mut filler = Vec::new();
        for _ in 0..8 {
            match StdStream::connect_timeout(&addr, std::time::Duration::from_millis(200)) {
                Ok(s) => filler.push(s),
                Err(_) => break,
            }
        }
        BlackHole {
            addr,
            _listener: listener,
            _filler: filler,
        }
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
    socket.listen(128).unwrap();
    socket.set_nonblocking(true).unwrap();
    tokio::net::TcpListener::from_std(socket.into()).unwrap()
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

/// One port, bound (not listening) on both ::1 and 127.0.0.1. Keeping the sockets bound, rather
/// than probing and releasing the port, means no other test can take it in between.
pub struct DualPort {
    pub port: u16,
    pub v6: Socket,
    pub v4: Socket,
}

pub fn dual_port() -> DualPort {
    for _ in 0..50 {
        let v4 = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        v4.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let port = v4.local_addr().unwrap().as_socket().unwrap().port();
        let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
        v6.set_only_v6(true).unwrap();
        if v6
            .bind(&SocketAddr::new("::1".parse().unwrap(), port).into())
            .is_ok()
        {
            return DualPort { port, v6, v4 };
        }
    }
    panic!("no port free on both loopbacks");
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
