//! The built-in demo: loopback listeners only, nothing leaves the machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream as StdStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// The name the demo's static resolver answers, with ::1 and 127.0.0.1.
pub const NAME: &str = "dual-stack.demo.test";

/// A listener whose accept queue is full, so new SYNs are dropped and connect() hangs: a black
/// hole, as a broken IPv6 path looks to a client. Dropping it closes everything.
pub struct BlackHole {
    _listener: Socket,
    _queued: Vec<StdStream>,
}

/// Turns a bound socket into a black hole.
pub fn black_hole(listener: Socket) -> std::io::Result<BlackHole> {
    listener.listen(0)?;
    let addr = listener
        .local_addr()?
        .as_socket()
        .ok_or_else(|| std::io::Error::other("not an IP socket"))?;
    let mut queued = Vec::new();
    // Fill the queue: stop once a connect no longer completes.
    for _ in 0..8 {
        match StdStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }
    Ok(BlackHole {
        _listener: listener,
        _queued: queued,
    })
}

/// Listens on a bound socket, accepting and closing connections in the background.
pub fn serve(socket: Socket) -> std::io::Result<()> {
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(socket.into())?;
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    Ok(())
}

/// One port, bound on both ::1 and 127.0.0.1 (IPv6 socket, IPv4 socket). The sockets stay bound
/// so that nothing else takes the port before they listen.
pub fn dual_port() -> std::io::Result<(u16, Socket, Socket)> {
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
            return Ok((port, v6, v4));
        }
    }
    Err(std::io::Error::other(
        "no port is free on both ::1 and 127.0.0.1",
    ))
}
