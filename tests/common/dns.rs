//! A small authoritative DNS server for tests and benches: answers A and AAAA from a table, on a
//! thread of its own (so it serves whichever runtime asks, and none of them drives it).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType, rdata};

/// A running server; stops (and joins its thread) when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Serves `names` (lowercase, without the trailing dot; `*.SUFFIX` matches every name under
    /// SUFFIX) on `bind` (port 0 for any) with this TTL. A known name without an address of the
    /// asked family gets NODATA; an unknown name NXDOMAIN.
    pub fn start(
        bind: SocketAddr,
        names: &[(&str, &[IpAddr])],
        ttl: u32,
    ) -> std::io::Result<DnsServer> {
        let table: HashMap<String, Vec<IpAddr>> = names
            .iter()
            .map(|(n, ips)| (n.to_string(), ips.to_vec()))
            .collect();
        DnsServer::start_with(bind, move |query| Some(reply(query, &table, ttl)))
    }

    /// Serves whatever `answer` makes of each query (`None`: stays silent).
    pub fn start_with(
        bind: SocketAddr,
        answer: impl Fn(&Message) -> Option<Message> + Send + 'static,
    ) -> std::io::Result<DnsServer> {
        let socket = UdpSocket::bind(bind)?;
        socket.set_read_timeout(Some(Duration::from_millis(20)))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::spawn({
            let (stop, queries) = (stop.clone(), queries.clone());
            move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::SeqCst) {
                    let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    queries.fetch_add(1, Ordering::SeqCst);
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    if let Some(reply) = answer(&query).and_then(|m| m.to_vec().ok()) {
                        let _ = socket.send_to(&reply, peer);
                    }
                }
            }
        });
        Ok(DnsServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        })
    }

    /// How many queries arrived so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to `query` from a table of names: the addresses of the asked family, NODATA for a
/// known name without any, NXDOMAIN for an unknown name.
fn reply(query: &Message, table: &HashMap<String, Vec<IpAddr>>, ttl: u32) -> Message {
    let mut reply = response_to(query);
    let Some(q) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let wildcard = name
        .split_once('.')
        .and_then(|(_, suffix)| table.get(&format!("*.{suffix}")));
    match table.get(&name).or(wildcard) {
        None => reply.metadata.response_code = ResponseCode::NXDomain,
        Some(ips) => {
            for record in address_records(q, ips, ttl) {
                reply.add_answer(record);
            }
        }
    }
    reply
}

/// An empty NOERROR response to `query` (same ID, question and RD flag; RA and AA set).
pub fn response_to(query: &Message) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    if let Some(q) = query.queries.first() {
        reply.add_query(q.clone());
    }
    reply
}

/// The records answering `q` (AAAA or A) from `ips`: those of the asked type, with this TTL.
pub fn address_records<'a>(
    q: &'a Query,
    ips: &'a [IpAddr],
    ttl: u32,
) -> impl Iterator<Item = Record> + 'a {
    ips.iter().filter_map(move |ip| {
        let data = match ip {
            IpAddr::V6(v) if q.query_type() == RecordType::AAAA => RData::AAAA(rdata::AAAA(*v)),
            IpAddr::V4(v) if q.query_type() == RecordType::A => RData::A(rdata::A(*v)),
            _ => return None,
        };
        Some(Record::from_rdata(q.name().clone(), ttl, data))
    })
}
