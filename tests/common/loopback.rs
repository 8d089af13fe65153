//! Loopback listeners shared by the real-socket tests and the probe's demo (which includes this
//! file): black holes, refused ports, one port on both families. Nothing leaves the machine.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream as StdStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// A listener whose accept queue is full: further SYNs are dropped and connect() hangs, as a
/// black-holed path looks to a client. Keep the value alive for as long as the black hole is
/// needed; dropping it closes everything.
pub struct BlackHole {
    pub addr: SocketAddr,
    _listener: Socket,
    _filler: Vec<StdStream>,
}

impl BlackHole {
    /// Makes a black hole of a socket that is already bound.
    pub fn try_from_bound(listener: Socket) -> io::Result<BlackHole> {
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket"))?;
        // Fill the queue. How many fit depends on the stack; stop once a connect would block.
        let mut filler = Vec::new();
        for _ in 0..8 {
            match StdStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => filler.push(s),
                Err(_) => break,
            }
        }
        Ok(BlackHole {
            addr,
            _listener: listener,
            _filler: filler,
        })
    }
}

/// One port, bound (not listening) on both ::1 and 127.0.0.1. Keeping the sockets bound, rather
/// than probing and releasing the port, means nothing else can take it in between.
pub struct DualPort {
    pub port: u16,
    pub v6: Socket,
    pub v4: Socket,
}

pub fn try_dual_port() -> io::Result<DualPort> {
    for _ in 0..50 {
        let v4 = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        v4.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).into())?;
        let port = v4.local_addr()?.as_socket().map_or(0, |a| a.port());
        let v6 = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        v6.set_only_v6(true)?;
        if v6
            .bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port).into())
            .is_ok()
        {
            return Ok(DualPort { port, v6, v4 });
        }
    }
    Err(io::Error::other(
        "no port is free on both ::1 and 127.0.0.1",
    ))
}

/// Starts listening on a bound socket, for tokio.
pub fn try_listening(socket: Socket) -> io::Result<tokio::net::TcpListener> {
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}
