//! The default resolver where real programs break it (issue 9, items 1 and 2): several tokio
//! runtimes sharing one connector (HE-8.1), and a broken system configuration that gets fixed
//! (HE-8.2). DNS comes from a server the test starts on loopback.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::dns::DnsServer;
use common::{listen, serve};
use eyeballs::{Connector, Error, HickoryResolver, ResolveErrorKind};
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
    tokio::time::timeout(Duration::from_secs(5), c.connect(&name, port)).await
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
            .connect("from-hosts.test", port)
            .await
            .unwrap_or_else(|e| panic!("{broken:?}: hosts names work without name servers: {e}"));
        let err = connector.connect("a.test", port).await.unwrap_err();
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
    let dns = match DnsServer::start(SocketAddr::new(ns, 53), &[("a.test", &[LOCAL])], 0) {
        Ok(dns) => dns,
        Err(e) => {
            eprintln!("skipping the fixed-configuration half: cannot bind {ns}:53 ({e})");
            return;
        }
    };
    std::fs::write(&resolv, format!("nameserver {ns}\n")).unwrap();
    connector
        .connect("a.test", port)
        .await
        .expect("the fixed configuration is used at once");
    assert!(dns.queries() > 0);

    // A healthy configuration is followed too: a new hosts entry is seen within a second or so.
    std::fs::write(&hosts, "127.0.0.1 from-hosts.test added.test\n").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match connector.connect("added.test", port).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => panic!("never picked up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// HE-10.2: HTTPS queries for `localhost` names (RFC 6761) and for names the hosts file defines
// never reach a name server; another name's does.
#[tokio::test]
async fn https_queries_for_local_names_stay_local() {
    use eyeballs::Resolve;
    let ns = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        54,
        1 + (std::process::id() % 250) as u8,
    ));
    let dns = match DnsServer::start(SocketAddr::new(ns, 53), &[("other.test", &[LOCAL])], 0) {
        Ok(dns) => dns,
        Err(e) => {
            eprintln!("skipping: cannot bind {ns}:53 ({e})");
            return;
        }
    };
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
