//! The stub resolver's one piece of I/O: one question asked of the name servers, over UDP and,
//! when the reply does not fit, over TCP. One message ID and one socket per family for the whole
//! exchange (so a spoofer has one ID and one port to guess, however many datagrams go out), each
//! datagram waiting `timeout` for its reply, `attempts` rounds over the servers in the order
//! [`super::rules::server_order`] gives. Every datagram is screened
//! ([`super::rules::screen`]); what is not the reply is ignored and the wait goes on.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::Name;
use tokio::io::ReadBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::rules::{self, Kind, Verdict};

/// The EDNS payload size advertised with `options edns0` (the DNS flag day 2020 value, which
/// avoids IP fragmentation).
const EDNS_PAYLOAD: u16 = 1_232;

/// The receive buffer: larger than any reply a server should send us.
const BUFFER: usize = 4_096;

/// How many random ports are tried before the system picks one.
const PORT_TRIES: usize = 10;

/// How one question's exchange ended.
#[derive(Debug)]
pub(super) struct Exchanged {
    /// The reply's verdict ([`Verdict::ServerFailure`] when every server that answered failed;
    /// `None` when no server answered).
    pub(super) verdict: Option<Verdict>,
    /// The servers (indexes) that were asked and stayed silent.
    pub(super) silent: Vec<usize>,
    /// The server that answered with the verdict.
    pub(super) answered: Option<usize>,
}

/// The settings of one exchange.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) timeout: Duration,
    pub(super) attempts: usize,
    pub(super) edns: bool,
}

/// Asks `servers` (in `order`) about `qname`'s records of `kind`.
pub(super) async fn exchange(
    servers: &[SocketAddr],
    order: &[usize],
    qname: &Name,
    kind: Kind,
    settings: Settings,
) -> io::Result<Exchanged> {
    let question = Query::query(qname.clone(), kind.record_type());
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(question.clone());
    if settings.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        query.set_edns(edns);
    }
    let id = query.metadata.id;
    let bytes = query
        .to_vec()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut sockets: [Option<UdpSocket>; 2] = [None, None];
    let mut asked: Vec<SocketAddr> = Vec::with_capacity(order.len());
    let mut failed: Vec<usize> = Vec::new();
    let mut failure: Option<ResponseCode> = None;
    let mut buffer = vec![0u8; BUFFER];
    let mut last_error = None;
    for _round in 0..settings.attempts.max(1) {
        for &i in order {
            if failed.contains(&i) {
                continue;
            }
            let server = servers[i];
            let slot = usize::from(server.is_ipv4());
            if sockets[slot].is_none() {
                match bind(server).await {
                    Ok(socket) => sockets[slot] = Some(socket),
                    Err(e) => {
                        last_error = Some(e);
                        failed.push(i);
                        continue;
                    }
                }
            }
            let socket = sockets[slot].as_ref().expect("bound above");
            if let Err(e) = socket.send_to(&bytes, server).await {
                // No route to this server (its family has no network): the next one.
                last_error = Some(e);
                failed.push(i);
                continue;
            }
            if !asked.contains(&server) {
                asked.push(server);
            }
            let wait = tokio::time::sleep(settings.timeout);
            let mut wait = std::pin::pin!(wait);
            loop {
                let received = poll_fn(|cx| {
                    for socket in sockets.iter().flatten() {
                        let mut buf = ReadBuf::new(&mut buffer);
                        if let Poll::Ready(result) = socket.poll_recv_from(cx, &mut buf) {
                            return Poll::Ready(Some(
                                result.map(|from| (buf.filled().len(), from)),
                            ));
                        }
                    }
                    wait.as_mut().poll(cx).map(|()| None)
                })
                .await;
                let (len, from) = match received {
                    None => break,
                    Some(Ok(got)) => got,
                    // An ICMP error for an earlier datagram (port unreachable): that server
                    // will not answer; the wait for this one goes on.
                    Some(Err(_)) => continue,
                };
                let reply = match rules::screen(&buffer[..len], from, id, &question, &asked) {
                    Ok(reply) => reply,
                    Err(why) => {
                        tracing::debug!(%from, ?why, "ignoring a datagram that is not the reply");
                        continue;
                    }
                };
                let Some(who) = index_of(servers, from) else {
                    continue;
                };
                let verdict = match rules::judge(&reply, qname, kind) {
                    Verdict::Truncated => {
                        over_tcp(
                            servers[who],
                            &bytes,
                            &question,
                            qname,
                            kind,
                            settings.timeout,
                        )
                        .await
                    }
                    verdict => verdict,
                };
                if let Verdict::ServerFailure(code) = verdict {
                    failure = Some(code);
                    failed.push(who);
                    if who == i {
                        break;
                    }
                    continue;
                }
                let silent = asked_silent(servers, &asked, who, &failed);
                return Ok(Exchanged {
                    verdict: Some(verdict),
                    silent,
                    answered: Some(who),
                });
            }
        }
    }
    if asked.is_empty()
        && let Some(e) = last_error
    {
        return Err(e);
    }
    let silent = asked
        .iter()
        .filter_map(|a| index_of(servers, *a))
        .filter(|i| !failed.contains(i))
        .collect();
    Ok(Exchanged {
        verdict: failure.map(Verdict::ServerFailure),
        silent,
        answered: None,
    })
}

/// The servers asked before `who` answered that have not answered (nor failed).
fn asked_silent(
    servers: &[SocketAddr],
    asked: &[SocketAddr],
    who: usize,
    failed: &[usize],
) -> Vec<usize> {
    asked
        .iter()
        .filter_map(|a| index_of(servers, *a))
        .filter(|i| *i != who && !failed.contains(i))
        .collect()
}

fn index_of(servers: &[SocketAddr], from: SocketAddr) -> Option<usize> {
    servers
        .iter()
        .position(|s| s.ip().to_canonical() == from.ip().to_canonical() && s.port() == from.port())
}

/// A UDP socket of `server`'s family on a random port (hickory's way: the system's choice of
/// port is not random everywhere), the system's choice after [`PORT_TRIES`] ports in use.
async fn bind(server: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    for _ in 0..PORT_TRIES {
        // Two random message IDs make a random port; hickory-proto's generator is seeded by
        // the system.
        let random = Message::query().metadata.id;
        let port = 1_024 + random % (u16::MAX - 1_024);
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(any, port)).await {
            return Ok(socket);
        }
    }
    UdpSocket::bind(SocketAddr::new(any, 0)).await
}

/// The same question over TCP (RFC 7766), after a truncated reply: the verdict of the TCP
/// reply, a failure of the server when it cannot be had.
async fn over_tcp(
    server: SocketAddr,
    bytes: &[u8],
    question: &Query,
    qname: &Name,
    kind: Kind,
    timeout: Duration,
) -> Verdict {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let len = u16::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(bytes);
        stream.write_all(&framed).await?;
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(head))];
        stream.read_exact(&mut reply).await?;
        Ok::<_, io::Error>(reply)
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            tracing::debug!(%server, error = %e, "DNS over TCP failed");
            return Verdict::ServerFailure(ResponseCode::ServFail);
        }
        Err(_) => {
            tracing::debug!(%server, "DNS over TCP timed out");
            return Verdict::ServerFailure(ResponseCode::ServFail);
        }
    };
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    let message = match rules::screen(&reply, server, id, question, &[server]) {
        Ok(message) => message,
        Err(why) => {
            tracing::debug!(%server, ?why, "a TCP reply that is not the reply");
            return Verdict::ServerFailure(ResponseCode::FormErr);
        }
    };
    match rules::judge(&message, qname, kind) {
        // Truncated even over TCP: nothing more can be had from this server.
        Verdict::Truncated => Verdict::ServerFailure(ResponseCode::FormErr),
        verdict => verdict,
    }
}
