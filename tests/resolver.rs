//! The default resolver where real programs break it (issue 9, items 1 and 2): several tokio
//! runtimes sharing one connector (HE-8.1), and a broken system configuration that gets fixed
//! (HE-8.2). DNS comes from a server the test starts on loopback.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::dns::DnsServer;
use common::{listen, serve};
use eyeballs::{
    Connector, Error,
    resolve::{HickoryResolver, ResolveErrorKind},
};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connects to a new name each time, so every connect really asks the server (no cache can
/// answer), within a generous bound.
async fn connect_new_name(
    c: Connector,
    port: u16,
) -> Result<Result<tokio::net::TcpStream, Error>, tokio::time::error::Elapsed> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "n{}.test",
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    tokio::time::timeout(Duration::from_secs(5), c.connect((&name, port))).await
}

/// A connector whose resolver asks only `server`.
fn connector_for(server: SocketAddr) -> Connector {
    // UDP and TCP, as a resolv.conf name server is configured.
    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut ns.connections {
        connection.port = server.port();
    }
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    Connector::builder()
        .resolver(HickoryResolver::from_config(
            config,
            ResolverOpts::default(),
        ))
        .build()
        .unwrap()
}

// HE-8.1: a connector first used on a runtime that then blocks (alive, not driven) keeps working
// from other runtimes, at once; and after that runtime is dropped, from new ones. Before the fix
// the second connect hung until the first runtime moved again (here: for good, the 5 s bound).
#[test]
fn he_8_1_one_connector_many_runtimes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let dns = DnsServer::start("127.0.0.1:0".parse().unwrap(), &[("*.test", &[LOCAL])], 0).unwrap();
    let connector = connector_for(dns.addr);

    let connect = move |c: Connector| connect_new_name(c, port);

    // Runtime A: first use, then its thread blocks inside `block_on` (a test doing synchronous
    // work, a runtime per thread busy elsewhere): alive, but driving nothing.
    let (idle_tx, idle_rx) = std::sync::mpsc::channel::<()>();
    let (used_tx, used_rx) = std::sync::mpsc::channel::<()>();
    let idle = std::thread::spawn({
        let c = connector.clone();
        move || {
            let rt = current_thread();
            rt.block_on(async move {
                connect(c).await.unwrap().unwrap();
                used_tx.send(()).unwrap();
                idle_rx.recv().unwrap(); // blocks the runtime's only thread
            });
        }
    });
    used_rx.recv().unwrap();

    // Runtime B, while A is blocked: several connects, each must resolve.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..3 {
        let stream = rt.block_on(connect(connector.clone()));
        assert!(matches!(stream, Ok(Ok(_))), "{stream:?}");
    }
    drop(rt);

    // Now A ends and is dropped; a new runtime C works at once too.
    idle_tx.send(()).unwrap();
    idle.join().unwrap();
    let rt = current_thread();
    let stream = rt.block_on(connect(connector.clone()));
    assert!(matches!(stream, Ok(Ok(_))), "{stream:?}");

    // Four runtimes on four threads at once.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = connector.clone();
            std::thread::spawn(move || {
                let rt = current_thread();
                for _ in 0..10 {
                    rt.block_on(connect(c.clone())).unwrap().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        dns.queries() > 0,
        "the names came from the test's DNS server"
    );
}

/// A server bound on port 53, which needs root: these tests are `#[ignore]`d and run as root
/// (`bash .ci/test`), where a bind that fails is the test's failure, never a skip.
fn bound_as_root<T>(bound: std::io::Result<T>, at: SocketAddr) -> T {
    bound.unwrap_or_else(|e| panic!("cannot bind {at} (this test needs root): {e}"))
}

/// A fresh directory for one test's configuration files.
fn conf_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eyeballs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// HE-8.2: with resolv.conf missing or empty, names in the hosts file still resolve and others fail
// with a configuration error; once the file is fixed, the next connect uses it. Before the fix the
// first failure was cached for the connector's life, hosts names included.
#[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn he_8_2_broken_configuration_is_not_cached() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let dir = conf_dir("resolv");
    let (resolv, hosts) = (dir.join("resolv.conf"), dir.join("hosts"));
    std::fs::write(&hosts, "127.0.0.1 from-hosts.test\n").unwrap();
    let connector = Connector::builder()
        .resolver(HickoryResolver::from_files(&resolv, &hosts))
        .build()
        .unwrap();

    for broken in [None, Some(""), Some("# no name server\nsearch example\n")] {
        match broken {
            None => {
                let _ = std::fs::remove_file(&resolv);
            }
            Some(text) => std::fs::write(&resolv, text).unwrap(),
        }
        connector
            .connect(("from-hosts.test", port))
            .await
            .unwrap_or_else(|e| panic!("{broken:?}: hosts names work without name servers: {e}"));
        let err = connector.connect(("a.test", port)).await.unwrap_err();
        let Error::ResolutionFailed(failure) = &err else {
            panic!("{broken:?}: {err:?}");
        };
        let cause = failure.resolve_error(eyeballs::Family::V4).unwrap();
        assert_eq!(cause.kind(), ResolveErrorKind::Config, "{err}");
        assert!(err.to_string().contains("resolv.conf"), "{err}");
    }

    // Fixing the file needs a name server on port 53: root only (CI runs as root).
    let ns = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        53,
        1 + (std::process::id() % 250) as u8,
    ));
    let at = SocketAddr::new(ns, 53);
    let dns = bound_as_root(DnsServer::start(at, &[("a.test", &[LOCAL])], 0), at);
    std::fs::write(&resolv, format!("nameserver {ns}\n")).unwrap();
    connector
        .connect(("a.test", port))
        .await
        .expect("the fixed configuration is used at once");
    assert!(dns.queries() > 0);

    // A healthy configuration is followed too: a new hosts entry is seen within a second or so.
    std::fs::write(&hosts, "127.0.0.1 from-hosts.test added.test\n").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match connector.connect(("added.test", port)).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => panic!("never picked up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// HE-10.2: HTTPS queries for `localhost` names (RFC 6761) and for names the hosts file defines
// never reach a name server; another name's does.
#[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
#[tokio::test]
async fn https_queries_for_local_names_stay_local() {
    use eyeballs::resolve::Resolve;
    let ns = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        54,
        1 + (std::process::id() % 250) as u8,
    ));
    let at = SocketAddr::new(ns, 53);
    let dns = bound_as_root(DnsServer::start(at, &[("other.test", &[LOCAL])], 0), at);
    let dir = conf_dir("https-local");
    let (resolv, hosts) = (dir.join("resolv.conf"), dir.join("hosts"));
    std::fs::write(&resolv, format!("nameserver {ns}\n")).unwrap();
    std::fs::write(&hosts, "127.0.0.1 from-hosts.test\n").unwrap();
    let resolver = HickoryResolver::from_files(&resolv, &hosts);
    for name in [
        "localhost",
        "localhost.",
        "_8443._https.localhost",
        "api.localhost",
        "from-hosts.test",
        "_8443._https.from-hosts.test",
    ] {
        let answer = resolver.lookup_https(name).unwrap().await;
        assert_eq!(answer.unwrap(), Vec::<Vec<u8>>::new(), "{name}");
    }
    assert_eq!(dns.queries(), 0, "nothing reached the name server");
    let _ = resolver.lookup_https("other.test").unwrap().await;
    assert!(dns.queries() > 0, "other names are asked");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The direct path of the system configuration (HE-8.3): a name server on `127.0.TAG.x:53` of
/// this process's own (port 53 because `resolv.conf` has no port: root only, as in CI), with the
/// files that point at it. `None` (and a note) where port 53 cannot be bound.
mod direct {
    use super::*;
    use crate::common::dns::{address_records, response_to};
    use eyeballs::{Family, resolve::Resolve};
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::rdata::{CNAME, SOA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use std::time::Instant;

    fn name_server_ip(tag: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            tag,
            1 + (std::process::id() % 250) as u8,
        ))
    }

    fn server(tag: u8, answer: impl Fn(&Message) -> Option<Message> + Send + 'static) -> DnsServer {
        let at = SocketAddr::new(name_server_ip(tag), 53);
        bound_as_root(DnsServer::start_with(at, answer), at)
    }

    /// A resolver reading its own files: `resolv` and `hosts` as given. The files go with the
    /// returned guard, also when the test fails.
    fn resolver(tag: &str, resolv: &str, hosts: &str) -> (HickoryResolver, ConfDir) {
        let dir = conf_dir(tag);
        std::fs::write(dir.join("resolv.conf"), resolv).unwrap();
        std::fs::write(dir.join("hosts"), hosts).unwrap();
        let resolver = HickoryResolver::from_files(dir.join("resolv.conf"), dir.join("hosts"));
        (resolver, ConfDir(dir))
    }

    /// A test's configuration directory, removed when dropped.
    struct ConfDir(std::path::PathBuf);

    impl Drop for ConfDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn qname(query: &Message) -> String {
        let q = &query.queries[0];
        q.name().to_ascii().trim_end_matches('.').to_string()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// `ips` of the asked family at `ttl`, for the query's own name.
    fn addresses(query: &Message, ips: &[IpAddr], ttl: u32) -> Message {
        let mut reply = response_to(query);
        let q = query.queries[0].clone();
        for record in address_records(&q, ips, ttl) {
            reply.add_answer(record);
        }
        reply
    }

    // HE-8.3: an answer is kept for its TTL, by every runtime (hickory's own caches are one per
    // runtime: a new runtime asked again); an answer at TTL 0 is asked for every time.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_answers_kept_for_their_ttl_across_runtimes() {
        let dns = server(55, |q| {
            let ttl = if qname(q) == "keep.test" { 300 } else { 0 };
            Some(addresses(q, &[ip("192.0.2.1"), ip("2001:db8::1")], ttl))
        });
        let ns = name_server_ip(55);
        let (resolver, _dir) = resolver("direct-ttl", &format!("nameserver {ns}\n"), "");
        let lookups = |resolver: &HickoryResolver| {
            current_thread().block_on(async {
                let v6 = resolver
                    .lookup_with_ttl("keep.test", Family::V6)
                    .await
                    .unwrap();
                let v4 = resolver.lookup("keep.test", Family::V4).await.unwrap();
                (v6, v4)
            })
        };
        let ((v6, ttl), v4) = lookups(&resolver);
        assert_eq!((v6, v4), (vec![ip("2001:db8::1")], vec![ip("192.0.2.1")]));
        let ttl = ttl.expect("the TTL is reported");
        assert!(
            ttl > Duration::from_secs(290) && ttl <= Duration::from_secs(300),
            "{ttl:?}"
        );
        assert_eq!(dns.queries(), 2);
        let ((v6, _), v4) = lookups(&resolver); // another runtime
        assert_eq!((v6, v4), (vec![ip("2001:db8::1")], vec![ip("192.0.2.1")]));
        assert_eq!(dns.queries(), 2, "kept, for every runtime");

        let rt = current_thread();
        for round in 1..=3 {
            let answer = rt
                .block_on(resolver.lookup("fresh.test", Family::V4))
                .unwrap();
            assert_eq!(answer, vec![ip("192.0.2.1")]);
            assert_eq!(dns.queries(), 2 + round, "TTL 0: asked each time");
        }
    }

    // HE-8.3: NODATA is kept for the SOA's negative TTL (RFC 2308), and without an SOA not at
    // all.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_nodata_kept_for_the_soa_ttl() {
        let dns = server(56, |q| {
            let mut reply = response_to(q);
            if qname(q) == "with-soa.test" {
                let soa = SOA::new(
                    Name::from_ascii("ns.test.").unwrap(),
                    Name::from_ascii("admin.test.").unwrap(),
                    1,
                    60,
                    60,
                    60,
                    120,
                );
                reply.add_authority(Record::from_rdata(
                    Name::from_ascii("test.").unwrap(),
                    600,
                    RData::SOA(soa),
                ));
            }
            Some(reply)
        });
        let ns = name_server_ip(56);
        let (resolver, _dir) = resolver("direct-nodata", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        for _ in 0..3 {
            let answer = rt.block_on(resolver.lookup("with-soa.test", Family::V6));
            assert_eq!(answer.unwrap(), Vec::<IpAddr>::new());
        }
        assert_eq!(dns.queries(), 1, "kept for 120 s");
        for round in 1..=2 {
            let answer = rt.block_on(resolver.lookup("without-soa.test", Family::V6));
            assert_eq!(answer.unwrap(), Vec::<IpAddr>::new());
            assert_eq!(dns.queries(), 1 + round, "nothing to keep it by");
        }
    }

    // HE-8.5: the search list after NXDOMAIN and after NODATA, as glibc: the name as it is
    // first (it has ndots dots), then each search domain; a trailing dot: no search; a CNAME
    // chain the reply leaves unfinished is followed; a truncated reply is asked again over TCP
    // and never taken as it is.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_5_search_list_chains_and_tcp() {
        let answer = |q: &Message| {
            let name = qname(q);
            let ask = q.queries[0].query_type();
            let mut reply = response_to(q);
            match name.as_str() {
                "www.test.corp.test" => return Some(addresses(q, &[ip("192.0.2.10")], 60)),
                "db.test" => return Some(addresses(q, &[ip("2001:db8::11")], 60)),
                "db.test.corp.test" => return Some(addresses(q, &[ip("192.0.2.11")], 60)),
                "half.test" => {
                    reply.add_answer(Record::from_rdata(
                        q.queries[0].name().clone(),
                        60,
                        RData::CNAME(CNAME(Name::from_ascii("target.test.").unwrap())),
                    ));
                }
                "target.test" => return Some(addresses(q, &[ip("192.0.2.12")], 60)),
                "whole.test" => {
                    reply.add_answer(Record::from_rdata(
                        q.queries[0].name().clone(),
                        60,
                        RData::CNAME(CNAME(Name::from_ascii("edge.test.").unwrap())),
                    ));
                    if ask == RecordType::A {
                        reply.add_answer(Record::from_rdata(
                            Name::from_ascii("edge.test.").unwrap(),
                            60,
                            RData::A(ip_v4("192.0.2.13")),
                        ));
                    }
                }
                _ => {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                    reply.add_authority(soa_record(300, 300));
                }
            }
            Some(reply)
        };
        let dns = server(57, move |q| {
            if qname(q) == "big.test" {
                // Over UDP a truncated reply with a decoy; the whole answer over TCP.
                let mut reply = addresses(q, &[ip("192.0.2.99")], 60);
                reply.metadata.truncation = true;
                return Some(reply);
            }
            answer(q)
        });
        let ns = name_server_ip(57);
        let _tcp = TcpDns::start(SocketAddr::new(ns, 53), |q| {
            Some(addresses(q, &[ip("192.0.2.14")], 60))
        });
        let (resolver, _dir) = resolver(
            "direct-rest",
            &format!("nameserver {ns}\nsearch corp.test\n"),
            "",
        );
        let rt = current_thread();
        let v4 = |name: &str| rt.block_on(resolver.lookup(name, Family::V4));
        assert_eq!(
            v4("www.test").unwrap(),
            vec![ip("192.0.2.10")],
            "after NXDOMAIN"
        );
        assert_eq!(
            v4("db.test").unwrap(),
            vec![ip("192.0.2.11")],
            "after NODATA"
        );
        assert_eq!(
            v4("db.test.").unwrap(),
            Vec::<IpAddr>::new(),
            "a trailing dot: no search"
        );
        assert_eq!(
            v4("half.test.").unwrap(),
            vec![ip("192.0.2.12")],
            "chain followed"
        );
        assert_eq!(
            v4("whole.test.").unwrap(),
            vec![ip("192.0.2.13")],
            "chain in the reply"
        );
        let before = dns.queries();
        for _ in 0..3 {
            assert_eq!(v4("www.test").unwrap(), vec![ip("192.0.2.10")]);
            assert_eq!(v4("half.test.").unwrap(), vec![ip("192.0.2.12")]);
        }
        assert_eq!(
            dns.queries(),
            before,
            "every step of the search and the chain was kept"
        );
        assert!(
            _tcp.is_some(),
            "cannot listen on {ns}:53 (this test needs root)"
        );
        assert_eq!(v4("big.test.").unwrap(), vec![ip("192.0.2.14")], "over TCP");
    }

    /// A DNS server over TCP (RFC 7766 framing) on its own thread, until dropped.
    struct TcpDns {
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl TcpDns {
        fn start(
            at: SocketAddr,
            answer: impl Fn(&Message) -> Option<Message> + Send + 'static,
        ) -> Option<TcpDns> {
            use std::io::{Read, Write};
            let listener = std::net::TcpListener::bind(at).ok()?;
            listener.set_nonblocking(true).unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let thread = std::thread::spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::SeqCst) {
                        let Ok((mut conn, _)) = listener.accept() else {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        };
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut head = [0u8; 2];
                        if conn.read_exact(&mut head).is_err() {
                            continue;
                        }
                        let mut query = vec![0u8; usize::from(u16::from_be_bytes(head))];
                        if conn.read_exact(&mut query).is_err() {
                            continue;
                        }
                        let Ok(query) = Message::from_vec(&query) else {
                            continue;
                        };
                        if let Some(reply) = answer(&query).and_then(|m| m.to_vec().ok()) {
                            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                            framed.extend(reply);
                            let _ = conn.write_all(&framed);
                        }
                    }
                }
            });
            Some(TcpDns {
                stop,
                thread: Some(thread),
            })
        }
    }

    impl Drop for TcpDns {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn ip_v4(s: &str) -> hickory_proto::rr::rdata::A {
        hickory_proto::rr::rdata::A(s.parse().unwrap())
    }

    // HE-8.3: a name server that fails (SERVFAIL) gives an error, as hickory's resolver
    // reports it, never "no address".
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_server_failure_is_an_error() {
        let dns = server(59, |q| {
            let mut reply = response_to(q);
            reply.metadata.response_code = ResponseCode::ServFail;
            Some(reply)
        });
        let ns = name_server_ip(59);
        let (resolver, _dir) = resolver("direct-servfail", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        for name in ["a.test", "b.test"] {
            let answer = rt.block_on(resolver.lookup(name, Family::V4));
            let error = answer.expect_err("SERVFAIL is no answer");
            assert_eq!(error.kind(), ResolveErrorKind::Other, "{error}");
        }
        assert!(dns.queries() >= 2);
    }

    // HE-8.6: a silent first name server: after `timeout:` the second one is asked and
    // answers; the silent one is penalized (asked last) and the lookups after it go to the
    // second server at once: the first server heard one query only.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_6_silent_first_name_server() {
        let first = server(58, |_| None);
        let second = server(60, |q| Some(addresses(q, &[ip("192.0.2.20")], 0)));
        let (resolver, _dir) = resolver(
            "direct-silent",
            &format!(
                "nameserver {}\nnameserver {}\noptions timeout:1\n",
                name_server_ip(58),
                name_server_ip(60)
            ),
            "",
        );
        let rt = current_thread();
        let answer = rt.block_on(resolver.lookup("a.test", Family::V4)).unwrap();
        assert_eq!(answer, vec![ip("192.0.2.20")]);
        assert_eq!((first.queries(), second.queries()), (1, 1));
        for name in ["b.test", "c.test", "d.test"] {
            let answer = rt.block_on(resolver.lookup(name, Family::V4)).unwrap();
            assert_eq!(answer, vec![ip("192.0.2.20")]);
        }
        assert_eq!(
            (first.queries(), second.queries()),
            (1, 4),
            "the silent server is asked last while penalized"
        );
    }

    // HE-8.3, HE-8.1: lookups of one name that start while its query is in flight share it
    // (one query per family), but only on the same runtime: a lookup on another runtime does not
    // wait on a query whose runtime is blocked.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_queries_in_flight_shared_within_a_runtime() {
        let dns = server(61, |q| {
            std::thread::sleep(Duration::from_millis(100));
            Some(addresses(q, &[ip("192.0.2.30"), ip("2001:db8::30")], 0))
        });
        let ns = name_server_ip(61);
        let (resolver, _dir) = resolver("direct-shared", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        rt.block_on(async {
            let lookups = (0..50).map(|i| {
                let family = if i % 2 == 0 { Family::V6 } else { Family::V4 };
                resolver.lookup("shared.test", family)
            });
            for answer in futures::future::join_all(lookups).await {
                assert_eq!(answer.unwrap().len(), 1);
            }
        });
        assert_eq!(dns.queries(), 2, "one query per family");

        // Runtime A starts a query and then blocks; runtime B's lookup of the same name
        // answers on its own (sharing A's query, it would wait as long as A is blocked).
        let (blocked_tx, blocked_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let a = std::thread::spawn({
            let resolver = resolver.clone();
            move || {
                current_thread().block_on(async {
                    let mut lookup = resolver.lookup("blocked.test", Family::V4);
                    let _ = tokio::time::timeout(Duration::from_millis(20), &mut lookup).await;
                    blocked_tx.send(()).unwrap();
                    release_rx.recv().unwrap(); // blocks runtime A's only thread
                })
            }
        });
        blocked_rx.recv().unwrap();
        // Runtime A stays blocked until this lookup is done: an answer at all shows the lookup
        // did not wait on A's query (it would hang, and the timeout below is a hang guard, not a
        // speed bound).
        let answer = current_thread().block_on(async {
            tokio::time::timeout(
                Duration::from_secs(30),
                resolver.lookup("blocked.test", Family::V4),
            )
            .await
        });
        assert_eq!(
            answer
                .expect("answered while runtime A is blocked")
                .unwrap(),
            vec![ip("192.0.2.30")]
        );
        release_tx.send(()).unwrap();
        a.join().unwrap();
    }

    // HE-8.3: a lookup dropped while its query is in flight stops the query's task: nothing is
    // left running.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_cancelled_lookup_leaves_no_task() {
        let _dns = server(62, |_| None);
        let ns = name_server_ip(62);
        let (resolver, _dir) = resolver("direct-cancel", &format!("nameserver {ns}\n"), "");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let metrics = rt.metrics();
        rt.block_on(async {
            let lookups: Vec<_> = (0..10)
                .map(|i| resolver.lookup(&format!("n{i}.test"), Family::V4))
                .collect();
            let all = futures::future::join_all(lookups);
            let _ = tokio::time::timeout(Duration::from_millis(100), all).await;
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while metrics.num_alive_tasks() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(metrics.num_alive_tasks(), 0, "the query tasks were aborted");
    }

    // HE-8.3, HE-10.2: HTTPS records take the stub resolver too: the same RDATA hickory's
    // resolver reads, kept for their TTL by every runtime; "no HTTPS records" (the usual answer,
    // NODATA or, for another port's `_PORT._https` name, NXDOMAIN) kept for the SOA's negative TTL.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_3_https_records_direct() {
        use hickory_proto::rr::rdata::HTTPS;
        use hickory_proto::rr::rdata::svcb::{Alpn, SVCB, SvcParamKey, SvcParamValue};
        let dns = server(64, |q| {
            let mut reply = response_to(q);
            let question = &q.queries[0];
            if question.query_type() != RecordType::HTTPS {
                return Some(addresses(q, &[ip("192.0.2.50")], 0));
            }
            if qname(q).starts_with("_8443._https.") {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            if qname(q) == "svc.test" {
                let params = vec![
                    (
                        SvcParamKey::Alpn,
                        SvcParamValue::Alpn(Alpn(vec!["h2".into()])),
                    ),
                    (SvcParamKey::Port, SvcParamValue::Port(8443)),
                ];
                let svcb = SVCB::new(1, Name::root(), params);
                reply.add_answer(Record::from_rdata(
                    question.name().clone(),
                    300,
                    RData::HTTPS(HTTPS(svcb)),
                ));
            } else {
                let soa = SOA::new(
                    Name::from_ascii("ns.test.").unwrap(),
                    Name::from_ascii("admin.test.").unwrap(),
                    1,
                    60,
                    60,
                    60,
                    120,
                );
                let zone = Name::from_ascii("test.").unwrap();
                reply.add_authority(Record::from_rdata(zone, 600, RData::SOA(soa)));
            }
            Some(reply)
        });
        let ns = name_server_ip(64);
        let (stub, _dir) = resolver("direct-https", &format!("nameserver {ns}\n"), "");
        let reference = HickoryResolver::from_config(
            ResolverConfig::from_parts(None, vec![], vec![NameServerConfig::udp_and_tcp(ns)]),
            ResolverOpts::default(),
        );
        let https = |resolver: &HickoryResolver, name: &str| {
            current_thread()
                .block_on(resolver.lookup_https(name).unwrap())
                .unwrap()
        };
        let expected = https(&reference, "svc.test");
        assert_eq!(expected.len(), 1);
        let before = dns.queries();
        assert_eq!(https(&stub, "svc.test"), expected, "the same RDATA");
        assert_eq!(https(&stub, "svc.test"), expected, "another runtime");
        assert_eq!(dns.queries(), before + 1, "kept for 300 s");
        let before = dns.queries();
        for _ in 0..3 {
            assert_eq!(https(&stub, "plain.test"), Vec::<Vec<u8>>::new());
        }
        assert_eq!(dns.queries(), before + 1, "no records, kept for 120 s");
        // The name for another port (RFC 9460 §9.1) mostly does not exist: that too means none,
        // asked once.
        let before = dns.queries();
        for _ in 0..3 {
            let records = https(&stub, "_8443._https.plain.test");
            assert_eq!(records, Vec::<Vec<u8>>::new());
        }
        assert_eq!(dns.queries(), before + 1, "NXDOMAIN, kept for 120 s");
    }

    // HE-8.2: a name the hosts file lists is answered from it for both families, as glibc does:
    // with only an IPv4 address listed, AAAA is "no address", and the name server never hears
    // of it (before, the AAAA query went out and leaked the name). `localhost` keeps `::1`.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_2_hosts_names_never_reach_the_name_server() {
        let server = server(63, |q| Some(addresses(q, &[ip("192.0.2.40")], 0)));
        let ns = name_server_ip(63);
        let (resolver, _dir) = resolver(
            "direct-hosts",
            &format!("nameserver {ns}\n"),
            "192.0.2.41 v4-host.test\n127.0.0.1 localhost\n",
        );
        let rt = current_thread();
        let v6 = rt
            .block_on(resolver.lookup("v4-host.test", Family::V6))
            .unwrap();
        let v4 = rt
            .block_on(resolver.lookup("v4-host.test", Family::V4))
            .unwrap();
        assert_eq!((v6, v4), (vec![], vec![ip("192.0.2.41")]));
        // Except `localhost`, which has `::1` all the same (RFC 6761).
        let v6 = rt
            .block_on(resolver.lookup("localhost", Family::V6))
            .unwrap();
        assert_eq!(v6, vec![ip("::1")]);
        assert_eq!(server.queries(), 0);
        let other = rt
            .block_on(resolver.lookup("other.test", Family::V4))
            .unwrap();
        assert_eq!(other, vec![ip("192.0.2.40")]);
        assert_eq!(server.queries(), 1);
    }

    /// A name server that sends what it likes: `serve` gets each query, who sent it, the
    /// server's socket (`ip:53`) and a second socket of the same address on another port, for
    /// forgeries. It records each query's ID and source port. Stops when dropped.
    struct RawServer {
        seen: Arc<std::sync::Mutex<Vec<(u16, u16)>>>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl RawServer {
        fn start(
            tag: u8,
            serve: impl Fn(&Message, SocketAddr, &std::net::UdpSocket, &std::net::UdpSocket)
            + Send
            + 'static,
        ) -> RawServer {
            let ip = name_server_ip(tag);
            let at = SocketAddr::new(ip, 53);
            let socket = bound_as_root(std::net::UdpSocket::bind(at), at);
            let other = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let thread = std::thread::spawn({
                let (seen, stop) = (seen.clone(), stop.clone());
                move || {
                    let mut buf = [0u8; 1500];
                    while !stop.load(Ordering::SeqCst) {
                        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                            continue;
                        };
                        let Ok(query) = Message::from_vec(&buf[..n]) else {
                            continue;
                        };
                        seen.lock().unwrap().push((query.metadata.id, peer.port()));
                        serve(&query, peer, &socket, &other);
                    }
                }
            });
            RawServer {
                seen,
                stop,
                thread: Some(thread),
            }
        }

        fn seen(&self) -> Vec<(u16, u16)> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Drop for RawServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn wire(message: &Message) -> Vec<u8> {
        message.to_vec().unwrap()
    }

    // HE-8.4: forged replies are ignored and the wait goes on until the real reply: one from
    // another port of the server's address, one with another ID, one for another question, a
    // NOTIFY, a query (QR=0), and bytes that do not parse with the right ID, each carrying a
    // decoy address; then the real reply.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_4_forged_replies_are_ignored() {
        let _dns = RawServer::start(65, |q, peer, socket, other| {
            let decoy = addresses(q, &[ip("192.0.2.66"), ip("2001:db8::66")], 300);
            let _ = other.send_to(&wire(&decoy), peer);
            let mut wrong_id = decoy.clone();
            wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
            let _ = socket.send_to(&wire(&wrong_id), peer);
            let mut wrong_question = decoy.clone();
            wrong_question.queries[0] = hickory_proto::op::Query::query(
                Name::from_ascii("other.test.").unwrap(),
                q.queries[0].query_type(),
            );
            let _ = socket.send_to(&wire(&wrong_question), peer);
            let mut notify = decoy.clone();
            notify.metadata.op_code = hickory_proto::op::OpCode::Notify;
            let _ = socket.send_to(&wire(&notify), peer);
            let mut not_response = decoy.clone();
            not_response.metadata.message_type = hickory_proto::op::MessageType::Query;
            let _ = socket.send_to(&wire(&not_response), peer);
            let mut garbage = q.metadata.id.to_be_bytes().to_vec();
            garbage.extend([0xff; 40]);
            let _ = socket.send_to(&garbage, peer);
            std::thread::sleep(Duration::from_millis(30));
            let real = addresses(q, &[ip("192.0.2.1"), ip("2001:db8::1")], 0);
            let _ = socket.send_to(&wire(&real), peer);
        });
        let ns = name_server_ip(65);
        let (resolver, _dir) = resolver("forged", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        let v4 = rt
            .block_on(resolver.lookup("www.test", Family::V4))
            .unwrap();
        let v6 = rt
            .block_on(resolver.lookup("www.test", Family::V6))
            .unwrap();
        assert_eq!((v4, v6), (vec![ip("192.0.2.1")], vec![ip("2001:db8::1")]));
    }

    fn soa_record(ttl: u32, minimum: u32) -> Record {
        let soa = SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("admin.test.").unwrap(),
            1,
            60,
            60,
            60,
            minimum,
        );
        Record::from_rdata(Name::from_ascii("test.").unwrap(), ttl, RData::SOA(soa))
    }

    // HE-8.4: a name that does not exist is asked once while its negative TTL lasts (RFC
    // 2308), for every kind, and once more after it runs out.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_4_nonexistent_names_are_kept() {
        let dns = server(66, |q| {
            let mut reply = response_to(q);
            reply.metadata.response_code = ResponseCode::NXDomain;
            // The SOA's own TTL 300 s, its MINIMUM 1 s: kept for 1 s.
            let minimum = if qname(q) == "gone.test" { 300 } else { 1 };
            reply.add_authority(soa_record(300, minimum));
            Some(reply)
        });
        let ns = name_server_ip(66);
        let (resolver, _dir) = resolver("nxdomain", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        for _ in 0..5 {
            let error = rt
                .block_on(resolver.lookup("gone.test", Family::V4))
                .unwrap_err();
            assert_eq!(error.kind(), ResolveErrorKind::NotFound, "{error}");
        }
        assert_eq!(dns.queries(), 1, "five lookups, one query");
        let error = rt
            .block_on(resolver.lookup("gone.test", Family::V6))
            .unwrap_err();
        assert_eq!(error.kind(), ResolveErrorKind::NotFound);
        assert_eq!(
            rt.block_on(resolver.lookup_https("gone.test").unwrap())
                .unwrap(),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(dns.queries(), 1, "NXDOMAIN holds for every kind");

        for _ in 0..3 {
            let _ = rt.block_on(resolver.lookup("brief.test", Family::V4));
        }
        assert_eq!(dns.queries(), 2);
        std::thread::sleep(Duration::from_millis(1_100));
        let _ = rt.block_on(resolver.lookup("brief.test", Family::V4));
        assert_eq!(
            dns.queries(),
            3,
            "asked again once the negative TTL ran out"
        );
    }

    // HE-8.4: a lame name (SERVFAIL, REFUSED) is that name's error only: a name that was kept
    // stays kept, and other names are asked and answered as before.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_4_a_lame_name_changes_nothing_else() {
        let dns = server(67, |q| {
            let mut reply = response_to(q);
            match qname(q).as_str() {
                "lame.test" => reply.metadata.response_code = ResponseCode::ServFail,
                "refused.test" => reply.metadata.response_code = ResponseCode::Refused,
                "kept.test" => return Some(addresses(q, &[ip("192.0.2.1")], 300)),
                _ => return Some(addresses(q, &[ip("192.0.2.2")], 0)),
            }
            Some(reply)
        });
        let ns = name_server_ip(67);
        let (resolver, _dir) = resolver("lame", &format!("nameserver {ns}\n"), "");
        let rt = current_thread();
        let v4 = |name: &str| rt.block_on(resolver.lookup(name, Family::V4));
        assert_eq!(v4("kept.test").unwrap(), vec![ip("192.0.2.1")]);
        assert_eq!(dns.queries(), 1);
        for lame in ["lame.test", "refused.test"] {
            let error = v4(lame).unwrap_err();
            assert_eq!(error.kind(), ResolveErrorKind::Other, "{error}");
        }
        assert_eq!(dns.queries(), 3);
        assert_eq!(v4("kept.test").unwrap(), vec![ip("192.0.2.1")]);
        assert_eq!(dns.queries(), 3, "still kept");
        assert_eq!(v4("other.test").unwrap(), vec![ip("192.0.2.2")]);
        assert_eq!(dns.queries(), 4, "asked directly, once");
    }

    // HE-8.4: records of other owners never become destinations, on the stub resolver and on
    // hickory's resolver alike (a server that adds a stray A record for another name).
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_4_records_of_other_owners_are_not_destinations() {
        let _dns = server(68, |q| {
            let mut reply = addresses(q, &[], 0);
            let stray = Name::from_ascii("evil.test.").unwrap();
            reply.add_answer(Record::from_rdata(
                stray.clone(),
                300,
                RData::A(ip_v4("192.0.2.66")),
            ));
            if qname(q) == "mixed.test" && q.queries[0].query_type() == RecordType::A {
                reply.add_answer(Record::from_rdata(
                    q.queries[0].name().clone(),
                    300,
                    RData::A(ip_v4("192.0.2.1")),
                ));
            }
            Some(reply)
        });
        let ns = name_server_ip(68);
        let (stub, _dir) = resolver("owners", &format!("nameserver {ns}\n"), "");
        let hickory = HickoryResolver::from_config(
            ResolverConfig::from_parts(None, vec![], vec![NameServerConfig::udp_and_tcp(ns)]),
            ResolverOpts::default(),
        );
        let rt = current_thread();
        for (path, which) in [("stub", &stub), ("hickory", &hickory)] {
            let mixed = rt.block_on(which.lookup("mixed.test", Family::V4));
            assert_eq!(mixed.unwrap(), vec![ip("192.0.2.1")], "{path}");
            let stray_only = rt.block_on(which.lookup("stray.test", Family::V4));
            match stray_only {
                Ok(ips) => assert_eq!(ips, Vec::<IpAddr>::new(), "{path}"),
                Err(e) => assert_ne!(e.kind(), ResolveErrorKind::Config, "{path}: {e}"),
            }
        }
    }

    // HE-8.6: against a silent server, one query ID and one source port for the whole lookup,
    // `attempts:` datagrams in all, `timeout:` apart; then a timeout error.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_6_one_query_id_against_a_silent_server() {
        let dns = RawServer::start(69, |_, _, _, _| {});
        let ns = name_server_ip(69);
        let (resolver, _dir) = resolver(
            "silent",
            &format!("nameserver {ns}\noptions timeout:1 attempts:3\n"),
            "",
        );
        let error = current_thread()
            .block_on(resolver.lookup("quiet.test", Family::V4))
            .unwrap_err();
        assert_eq!(error.kind(), ResolveErrorKind::TimedOut, "{error}");
        let seen = dns.seen();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(
            seen.iter().all(|s| *s == seen[0]),
            "one ID, one port: {seen:?}"
        );
    }

    // HE-8.6: IPv6 name servers are asked first where both families are configured, whatever
    // the file's order; with `rotate`, each query starts one server further along.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_6_ipv6_servers_first_and_rotate() {
        let v4 = server(70, |q| Some(addresses(q, &[ip("192.0.2.70")], 0)));
        let at: SocketAddr = "[::1]:53".parse().unwrap();
        let v6 = bound_as_root(
            DnsServer::start_with(at, |q| Some(addresses(q, &[ip("192.0.2.71")], 0))),
            at,
        );
        let (first, _dir) = resolver(
            "v6-first",
            &format!("nameserver {}\nnameserver ::1\n", name_server_ip(70)),
            "",
        );
        let rt = current_thread();
        let answer = rt.block_on(first.lookup("first.test", Family::V4)).unwrap();
        assert_eq!(answer, vec![ip("192.0.2.71")]);
        assert_eq!((v6.queries(), v4.queries()), (1, 0), "the IPv6 server");

        let a = server(71, |q| Some(addresses(q, &[ip("192.0.2.72")], 0)));
        let b = server(72, |q| Some(addresses(q, &[ip("192.0.2.73")], 0)));
        let (rotating, _dir2) = resolver(
            "rotate",
            &format!(
                "nameserver {}\nnameserver {}\noptions rotate\n",
                name_server_ip(71),
                name_server_ip(72)
            ),
            "",
        );
        for i in 0..4 {
            rt.block_on(rotating.lookup(&format!("r{i}.test"), Family::V4))
                .unwrap();
        }
        assert_eq!((a.queries(), b.queries()), (2, 2), "one each in turn");
    }

    // HE-8.7: an answer that expired is served stale when the name server goes silent (after
    // 1.8 s without a fresh answer), followed by the refresh's outcome: the timeout while the
    // server stays silent (a plain lookup then gives the stale answer), the fresh answer once
    // it answers again.
    #[test]
    #[ignore = "needs root (port 53 on loopback): bash .ci/test runs it as root"]
    fn he_8_7_stale_answers_while_the_server_is_silent() {
        use futures::StreamExt;
        use std::sync::atomic::AtomicU8;
        let mode = Arc::new(AtomicU8::new(0));
        let _dns = server(73, {
            let mode = mode.clone();
            move |q| match mode.load(Ordering::SeqCst) {
                0 => Some(addresses(q, &[ip("192.0.2.1")], 1)),
                1 => None,
                _ => {
                    std::thread::sleep(Duration::from_millis(2_300));
                    Some(addresses(q, &[ip("192.0.2.2")], 60))
                }
            }
        });
        let ns = name_server_ip(73);
        let (resolver, _dir) = resolver(
            "stale",
            &format!("nameserver {ns}\noptions timeout:3 attempts:1\n"),
            "",
        );
        let rt = current_thread();
        let answers = |resolver: &HickoryResolver| {
            rt.block_on(
                resolver
                    .lookup_answers("stale.test", Family::V4)
                    .collect::<Vec<_>>(),
            )
        };
        let fresh = answers(&resolver);
        assert_eq!(fresh.len(), 1);
        let first = fresh[0].as_ref().unwrap();
        assert_eq!(
            (first.ips(), first.is_stale()),
            (&[ip("192.0.2.1")][..], false)
        );

        std::thread::sleep(Duration::from_millis(1_100));
        mode.store(1, Ordering::SeqCst);
        let silent = answers(&resolver);
        assert_eq!(silent.len(), 2, "{silent:?}");
        let stale = silent[0].as_ref().unwrap();
        assert_eq!(stale.ips(), [ip("192.0.2.1")]);
        let expired = stale.expired().expect("served stale");
        assert!(
            expired > Duration::ZERO && expired < Duration::from_secs(60),
            "{expired:?}"
        );
        let error = silent[1].as_ref().unwrap_err();
        assert_eq!(error.kind(), ResolveErrorKind::TimedOut, "{error}");
        let plain = rt.block_on(resolver.lookup("stale.test", Family::V4));
        assert_eq!(
            plain.unwrap(),
            [ip("192.0.2.1")],
            "RFC 8767: stale over an error"
        );

        mode.store(2, Ordering::SeqCst);
        let back = answers(&resolver);
        assert_eq!(back.len(), 2, "{back:?}");
        assert!(back[0].as_ref().unwrap().is_stale());
        let refreshed = back[1].as_ref().unwrap();
        assert_eq!(
            (refreshed.ips(), refreshed.is_stale()),
            (&[ip("192.0.2.2")][..], false)
        );
    }
}
