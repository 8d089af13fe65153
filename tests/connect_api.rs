//! The one connect entry point on loopback: every kind of target, bad `host:port` strings, and
//! the per-connect settings (`timeout`, `https_records`, `alpn`).

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{BlackHole, io_error_in_chain, listen, serve};
use eyeballs::{
    Connector, Error, Family,
    error::InputError,
    resolve::{Lookup, RecordLookup, Resolve},
};

// Every form of target reaches the same listener; addresses given skip DNS.
#[tokio::test]
async fn every_target_form_connects() {
    let listener = listen("::1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let connector = Connector::new();
    let host = String::from("::1");
    let host_port = format!("[::1]:{port}");
    let list = vec![v6];

    let mut peers = vec![
        connector.connect(("::1", port)).await.unwrap(),
        connector.connect((&host, port)).await.unwrap(),
        connector.connect((host.clone(), port)).await.unwrap(),
        connector.connect(host_port.as_str()).await.unwrap(),
        connector.connect(&host_port).await.unwrap(),
        connector.connect(host_port.clone()).await.unwrap(),
        connector.connect(v6).await.unwrap(),
        connector
            .connect((IpAddr::from(Ipv6Addr::LOCALHOST), port))
            .await
            .unwrap(),
        connector
            .connect((Ipv6Addr::LOCALHOST, port))
            .await
            .unwrap(),
        connector.connect([v6]).await.unwrap(),
        connector.connect(&list).await.unwrap(),
        connector.connect(&list[..]).await.unwrap(),
        connector.connect(list.clone()).await.unwrap(),
    ]
    .into_iter()
    .map(|s| s.peer_addr().unwrap());
    assert!(peers.all(|peer| peer == v6));

    // The report names the target as given.
    let (_, report) = connector.connect(&host_port).with_report().await.unwrap();
    assert_eq!((report.host(), report.port()), ("[::1]", port));
    let (_, report) = connector.connect(v6).with_report().await.unwrap();
    assert_eq!((report.host(), report.port()), ("::1", port));
}

// Bad input is a typed error before anything is sent, never a panic.
#[tokio::test]
async fn bad_host_port_strings_are_typed_errors() {
    let connector = Connector::new();
    for (input, expected) in [
        ("localhost", InputError::MissingPort),
        ("localhost:", InputError::InvalidPort(String::new())),
        ("localhost:http", InputError::InvalidPort("http".into())),
        ("localhost:70000", InputError::InvalidPort("70000".into())),
        ("::1:80", InputError::Ipv6WithoutBrackets),
        ("[::1:80", InputError::UnclosedBracket),
        ("[::1]80", InputError::MissingPort),
        ("localhost:0", InputError::PortZero),
        ("bad host:80", InputError::Whitespace),
        (":80", InputError::EmptyHost),
    ] {
        match connector.connect(input).await {
            Err(Error::InvalidInput { problem, .. }) => assert_eq!(problem, expected, "{input}"),
            other => panic!("{input}: {other:?}"),
        }
    }
    let empty: Vec<SocketAddr> = Vec::new();
    assert!(matches!(
        connector.connect(empty).await,
        Err(Error::NoAddresses(_))
    ));
}

// `.timeout` limits this connect only: a black-holed address times out after it, while the
// connector (no timeout of its own) is unchanged; zero is refused.
#[tokio::test]
async fn per_connect_timeout() {
    let hole = BlackHole::new("127.0.0.1:0".parse().unwrap());
    let connector = Connector::new();
    let started = Instant::now();
    let err = connector
        .connect(hole.addr)
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(err.to_string().contains("timed out after 200ms"), "{err}");
    assert_eq!(connector.config().connect_timeout, None);

    let err = connector
        .connect(hole.addr)
        .timeout(Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                problem: InputError::ZeroTimeout,
                ..
            }
        ),
        "{err}"
    );
}

/// A name with no addresses of its own and one HTTPS record: `alpn=h3`, `no-default-alpn`,
/// `port`, `ipv6hint=::1`.
#[derive(Debug, Default)]
struct H3Only {
    port: u16,
    https_queries: Arc<AtomicUsize>,
}

impl Resolve for H3Only {
    fn lookup(&self, _name: &str, _family: Family) -> Lookup {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn lookup_https(&self, _name: &str) -> Option<RecordLookup> {
        self.https_queries.fetch_add(1, Ordering::SeqCst);
        let mut rdata = vec![0, 1, 0]; // priority 1, target "."
        rdata.extend([0, 1, 0, 3, 2, b'h', b'3']); // alpn=h3
        rdata.extend([0, 2, 0, 0]); // no-default-alpn
        rdata.extend([0, 3, 0, 2]); // port
        rdata.extend(self.port.to_be_bytes());
        rdata.extend([0, 6, 0, 16]); // ipv6hint=::1
        rdata.extend(Ipv6Addr::LOCALHOST.octets());
        Some(Box::pin(async move { Ok(vec![rdata]) }))
    }
}

// HE-10.1 / HE-10.4: `.https_records(true)` asks for the record on this connect only, and
// `.alpn(...)` decides which endpoints it may use: the h3-only record is skipped with the
// connector's ALPN (h2, http/1.1) and taken with `.alpn(["h3"])`.
#[tokio::test]
async fn he_10_4_per_connect_https_records_and_alpn() {
    let listener = listen("::1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let resolver = H3Only {
        port,
        ..H3Only::default()
    };
    let queries = resolver.https_queries.clone();
    let connector = Connector::builder().resolver(resolver).build().unwrap();

    // Off by default: nothing asked, no address.
    let err = connector.connect(("h3.test", 443)).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err}");
    assert_eq!(queries.load(Ordering::SeqCst), 0);

    // On, with the connector's ALPN: the record is read and skipped.
    let err = connector
        .connect(("h3.test", 443))
        .https_records(true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err}");
    assert_eq!(queries.load(Ordering::SeqCst), 1);

    // On, speaking h3: the record's endpoint (its port and hint) wins.
    let (stream, report) = connector
        .connect(("h3.test", 443))
        .https_records(true)
        .alpn(["h3"])
        .with_report()
        .await
        .unwrap();
    assert_eq!(
        stream.peer_addr().unwrap(),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port))
    );
    let endpoint = report
        .winner()
        .unwrap()
        .endpoint()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(endpoint.port, port);
    assert_eq!(endpoint.record.alpn_set(), [b"h3".to_vec()]);
    assert_eq!(queries.load(Ordering::SeqCst), 2);
}

// Errors the ecosystem can read: code that walks `source()` for an `io::Error` (as it does with
// hyper-util's connector) finds the attempt's OS error, refused or timed out, also once the
// error is turned into an `io::Error`.
#[tokio::test]
async fn the_source_chain_reaches_the_attempts_io_error() {
    let refused = common::refused_addr("127.0.0.1");
    let err = Connector::new().connect(refused).await.unwrap_err();
    let io = io_error_in_chain(&err).expect("an io::Error in the chain");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(io.raw_os_error().is_some(), "the OS error itself: {io:?}");
    let as_io = std::io::Error::from(err);
    assert_eq!(as_io.kind(), std::io::ErrorKind::ConnectionRefused);
    let inner = std::error::Error::source(&as_io).expect("the io::Error keeps the cause");
    assert_eq!(
        io_error_in_chain(inner).map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );

    // Mixed kinds: the chain leads to an attempt of the kind the error reports where there is
    // one; a timeout leads to the attempt that timed out.
    let hole = BlackHole::new("127.0.0.1:0".parse().unwrap());
    let err = Connector::new()
        .connect([refused, hole.addr])
        .timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)), "{err}");
    let io = io_error_in_chain(&err).unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(err.attempts().len(), 2, "{err}");

    // Nothing was tried: no cause to point at.
    let empty: Vec<SocketAddr> = Vec::new();
    let err = Connector::new().connect(empty).await.unwrap_err();
    assert!(std::error::Error::source(&err).is_none());
}

// A literal connect that needs no report takes a path without the race (the system calls of
// `TcpStream::connect` alone); when it fails, its error is the race path's: the same kind, the
// same one attempt, a report naming the target.
#[tokio::test]
async fn a_direct_literal_connect_fails_like_the_race() {
    let refused = common::refused_addr("127.0.0.1");
    let host = refused.ip().to_string();
    let connector = Connector::new();
    let direct = connector
        .connect((&host, refused.port()))
        .await
        .unwrap_err();
    // `.with_report()` takes the race path.
    let raced = connector
        .connect((&host, refused.port()))
        .with_report()
        .await
        .unwrap_err();
    for err in [&direct, &raced] {
        assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err}");
        assert_eq!(err.attempts().len(), 1, "{err}");
        assert_eq!(err.attempts()[0].0, refused);
        assert_eq!(
            err.attempts()[0].1.kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        let report = err.report().expect("a report");
        assert_eq!(report.host(), host);
        assert_eq!(report.attempts().len(), 1);
        assert!(report.winner().is_none());
        assert!(
            matches!(
                report.attempts()[0].outcome(),
                Some(eyeballs::report::AttemptOutcome::Failed { kind, .. })
                    if *kind == std::io::ErrorKind::ConnectionRefused
            ),
            "{report}"
        );
    }
    // The same for an address given, and for a "host:port" string (IPv6 in brackets).
    let err = connector.connect(refused).await.unwrap_err();
    assert_eq!(err.report().unwrap().host(), host);
    let refused6 = common::refused_addr("::1");
    let target = format!("[::1]:{}", refused6.port());
    let direct = connector.connect(&target).await.unwrap_err();
    let raced = connector.connect(&target).with_report().await.unwrap_err();
    assert_eq!(direct.attempts()[0].0, refused6);
    assert_eq!(
        direct.report().unwrap().host(),
        raced.report().unwrap().host()
    );
    assert_eq!(direct.to_string(), raced.to_string());
}

/// `svc.test`: 192.0.2.1, and one HTTPS record (priority 1, port 8443, ipv4hint 192.0.2.9).
#[derive(Debug)]
struct WithRecord;

impl Resolve for WithRecord {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        let ips = match family {
            Family::V4 => vec![std::net::IpAddr::from([192, 0, 2, 1])],
            Family::V6 => vec![],
        };
        Box::pin(async move { Ok(ips) })
    }

    fn lookup_https(&self, _name: &str) -> Option<RecordLookup> {
        let mut rdata = vec![0, 1, 0]; // priority 1, target "."
        rdata.extend([0, 3, 0, 2]); // port
        rdata.extend(8443u16.to_be_bytes());
        rdata.extend([0, 4, 0, 4, 192, 0, 2, 9]); // ipv4hint
        Some(Box::pin(async move { Ok(vec![rdata]) }))
    }
}

// HE-10.6 / HE-5.9: resolve_endpoints gives the order a connect with HTTPS records would try:
// the record's endpoint (the A answer on its port; the hint gave way to it, HE-10.5), then the
// name's own address on the connect's port, each with the endpoint it came from; resolve keeps
// to the addresses alone.
#[tokio::test]
async fn he_10_6_resolve_endpoints_follows_the_records() {
    let connector = Connector::builder().resolver(WithRecord).build().unwrap();
    let planned = connector.resolve_endpoints("svc.test", 443).await.unwrap();
    let got: Vec<(String, Option<u16>)> = planned
        .iter()
        .map(|(addr, e)| (addr.to_string(), e.as_ref().map(|e| e.priority)))
        .collect();
    assert_eq!(
        got,
        [
            ("192.0.2.1:8443".to_string(), Some(1)),
            ("192.0.2.1:443".to_string(), None)
        ]
    );
    let plain = connector.resolve("svc.test", 443).await.unwrap();
    assert_eq!(
        plain,
        ["192.0.2.1:443".parse::<std::net::SocketAddr>().unwrap()]
    );
}
