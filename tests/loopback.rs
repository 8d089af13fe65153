//! Real sockets on loopback (::1 and 127.0.0.1): outcomes, with generous time windows.

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{BlackHole, dual_port, listen, listening, refused_addr, serve};
use eyeballs::{Connector, Error, Family, error::InputError, report::AttemptOutcome};

#[tokio::test]
async fn connects_to_ipv4_and_ipv6_literals() {
    for ip in ["127.0.0.1", "::1", "[::1]"] {
        let listener = listen(ip.trim_matches(['[', ']']), 0);
        let port = listener.local_addr().unwrap().port();
        let _server = serve(listener);
        let (stream, report) = Connector::new()
            .connect((ip, port))
            .with_report()
            .await
            .unwrap();
        assert_eq!(stream.peer_addr().unwrap().port(), port);
        assert!(report.answers().is_empty(), "a literal skips DNS");
        assert_eq!(report.attempts().len(), 1);
    }
}

// HE-5.5: a refused port fails fast, with the refusal kept.
#[tokio::test]
async fn refused_port_fails_fast() {
    let addr = refused_addr("127.0.0.1");
    // No timeout is set: the connect can end only on the refusal itself.
    let err = Connector::new()
        .connect(("127.0.0.1", addr.port()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err:?}");
    assert_eq!(err.attempts()[0].1.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(
        err.to_string(),
        format!(
            "connect to 127.0.0.1:{0} failed: 127.0.0.1:{0} connection refused",
            addr.port()
        )
    );
    assert_eq!(
        io::Error::from(err).kind(),
        io::ErrorKind::ConnectionRefused
    );
}

// HE-5.5: IPv6 refused, IPv4 up: IPv4 starts at once, long before the attempt delay.
#[tokio::test]
async fn ipv6_refused_falls_back_at_once() {
    let v6 = refused_addr("::1");
    let listener = listen("127.0.0.1", 0);
    let v4 = listener.local_addr().unwrap();
    let _server = serve(listener);
    let connector = Connector::builder()
        .attempt_delay(Duration::from_secs(2))
        .build()
        .unwrap();
    let (stream, report) = connector.connect([v6, v4]).with_report().await.unwrap();
    assert_eq!(stream.peer_addr().unwrap(), v4);
    // Before the 2 s delay could fire: started by the refusal.
    assert!(
        report.attempts()[1].started() < Duration::from_secs(2),
        "did not wait out the 2 s delay: {report}"
    );
    assert_eq!(
        report.attempts()[0].outcome().map(AttemptOutcome::label),
        Some("refused")
    );
}

// HE-5.1: IPv6 black-holed (full accept queue): IPv4 wins after the attempt delay.
#[tokio::test]
async fn ipv6_black_hole_falls_back_to_ipv4() {
    let hole = BlackHole::new("[::1]:0".parse().unwrap());
    let listener = listen("127.0.0.1", 0);
    let v4 = listener.local_addr().unwrap();
    let _server = serve(listener);
    let t = Instant::now();
    let (stream, report) = Connector::new()
        .connect([hole.addr, v4])
        .with_report()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(stream.peer_addr().unwrap(), v4);
    // IPv4 waited for the attempt delay (the exact instant is the paused-clock driver tests').
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(
        report.attempts()[1].started() >= Duration::from_millis(250),
        "{report}"
    );
    let outcomes: Vec<_> = report
        .attempts()
        .iter()
        .map(|a| (a.family(), a.outcome().unwrap().label()))
        .collect();
    assert_eq!(
        outcomes,
        [(Family::V6, "cancelled"), (Family::V4, "connected")]
    );
}

// HE-5.4 with a black hole and a connect timeout: fails cleanly, listing the attempt.
#[tokio::test]
async fn black_hole_times_out() {
    let hole = BlackHole::new("127.0.0.1:0".parse().unwrap());
    let connector = Connector::builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = connector
        .connect(("127.0.0.1", hole.addr.port()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)), "{err:?}");
    assert_eq!(err.attempts().len(), 1);
    assert_eq!(err.attempts()[0].1.kind(), io::ErrorKind::TimedOut);
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
}

// `localhost` by name, through the default (hickory) resolver: both families answer, ::1 wins.
#[cfg(feature = "hickory")]
#[tokio::test]
async fn localhost_by_name_prefers_ipv6() {
    let dual = dual_port();
    let port = dual.port;
    let _s6 = serve(listening(dual.v6));
    let _s4 = serve(listening(dual.v4));
    let (stream, report) = Connector::new()
        .connect(("localhost", port))
        .with_report()
        .await
        .unwrap();
    assert_eq!(
        stream.peer_addr().unwrap(),
        SocketAddr::new("::1".parse().unwrap(), port)
    );
    let families: Vec<Family> = report.answers().iter().map(|a| a.family()).collect();
    assert!(
        families.contains(&Family::V6) && families.contains(&Family::V4),
        "{report}"
    );
}

// `localhost` by name with IPv6 black-holed on the same port: IPv4 wins.
#[cfg(feature = "hickory")]
#[tokio::test]
async fn localhost_by_name_ipv6_black_hole() {
    let dual = dual_port();
    let port = dual.port;
    let _hole = BlackHole::from_bound(dual.v6);
    let _s4 = serve(listening(dual.v4));
    let stream = eyeballs::connect("localhost.", port).await.unwrap();
    assert_eq!(
        stream.peer_addr().unwrap(),
        SocketAddr::new("127.0.0.1".parse().unwrap(), port)
    );
}

// Every bad input is a typed error, returned at once, before any lookup.
#[tokio::test]
async fn bad_input_is_rejected_before_lookup() {
    let connector = Connector::builder()
        .resolver(PanicResolver)
        .build()
        .unwrap();
    let cases: &[(&str, u16, InputError)] = &[
        ("", 80, InputError::EmptyHost),
        ("   ", 80, InputError::Whitespace),
        ("a..b", 80, InputError::EmptyLabel),
        (&"a".repeat(64), 80, InputError::LabelTooLong(64)),
        ("bücher.example", 80, InputError::NonAscii),
        ("[::1", 80, InputError::UnclosedBracket),
        ("127.0.0.1%eth0", 80, InputError::ZoneWithoutIpv6),
        (
            "fe80::1%no-such-if0",
            80,
            InputError::UnknownInterface("no-such-if0".into()),
        ),
        ("example.com", 0, InputError::PortZero),
        (
            "0.0.0.0",
            80,
            InputError::Unspecified("0.0.0.0".parse().unwrap()),
        ),
        ("::", 80, InputError::Unspecified("::".parse().unwrap())),
        (
            "224.0.0.1",
            80,
            InputError::NotUnicast("224.0.0.1".parse().unwrap()),
        ),
        (
            "255.255.255.255",
            80,
            InputError::NotUnicast("255.255.255.255".parse().unwrap()),
        ),
        (
            "ff02::1",
            80,
            InputError::NotUnicast("ff02::1".parse().unwrap()),
        ),
        (
            "[ff02::1%1]",
            80,
            InputError::NotUnicast("ff02::1".parse().unwrap()),
        ),
    ];
    for (host, port, want) in cases {
        let err = connector.connect((*host, *port)).await.unwrap_err();
        match &err {
            Error::InvalidInput { problem, .. } => assert_eq!(problem, want, "{host:?}"),
            other => panic!("{host:?}: {other:?}"),
        }
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
    }
    let err = connector
        .connect(["127.0.0.1:0".parse().unwrap()])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput {
            problem: InputError::PortZero,
            ..
        }
    ));
    let err = connector.connect([]).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");
}

#[derive(Debug)]
struct PanicResolver;

impl eyeballs::resolve::Resolve for PanicResolver {
    fn lookup(&self, name: &str, _family: Family) -> eyeballs::resolve::Lookup {
        panic!("bad input reached the resolver: {name}")
    }
}

// A static table resolves names without DNS; NXDOMAIN for unknown names is a resolution error.
#[tokio::test]
async fn static_resolver_and_unknown_name() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let resolver =
        eyeballs::resolve::StaticResolver::new().with("svc.test", ["127.0.0.1".parse().unwrap()]);
    let connector = Connector::builder().resolver(resolver).build().unwrap();
    let stream = connector.connect(("SVC.test.", port)).await.unwrap();
    assert_eq!(stream.peer_addr().unwrap().port(), port);
    let err = connector.connect(("missing.test", port)).await.unwrap_err();
    assert!(matches!(err, Error::ResolutionFailed(_)), "{err:?}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
}

// The system resolver's getaddrinfo plumbing, on a numeric host (no DNS query is made).
#[tokio::test]
async fn system_resolver_numeric() {
    use eyeballs::resolve::Resolve;
    let r = eyeballs::resolve::SystemResolver::new();
    assert_eq!(
        r.lookup("127.0.0.1", Family::V4).await.unwrap(),
        ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(
        r.lookup("::1", Family::V6).await.unwrap(),
        ["::1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(
        r.lookup("127.0.0.1", Family::V6)
            .await
            .map(|v| v.is_empty())
            .unwrap_or(true)
    );
}

// Socket options and the hook are applied to every attempt.
#[tokio::test]
async fn socket_options_and_hook_apply() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let options = eyeballs::config::SocketOptions::default()
        .nodelay(true)
        .keepalive(
            eyeballs::config::Keepalive::new(Duration::from_secs(30))
                .interval(Duration::from_secs(5))
                .retries(3),
        )
        .local_v4("127.0.0.1".parse().unwrap())
        .send_buffer_size(64 * 1024)
        .recv_buffer_size(64 * 1024)
        .user_timeout(Duration::from_secs(10))
        .reuse_address(true)
        .hook(move |socket, addr| {
            assert_eq!(addr.port(), port);
            assert!(socket.tcp_nodelay()?, "hook runs after the options");
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    let connector = Connector::builder()
        .socket_options(options)
        .build()
        .unwrap();
    let stream = connector.connect(("127.0.0.1", port)).await.unwrap();
    assert!(stream.nodelay().unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let sock = socket2::SockRef::from(&stream);
    assert!(sock.keepalive().unwrap());

    // A hook error fails the attempt with that error.
    let failing = Connector::builder()
        .socket_options(eyeballs::config::SocketOptions::default().hook(|_, _| {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "policy says no",
            ))
        }))
        .build()
        .unwrap();
    let err = failing.connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(err.attempts()[0].1.kind(), io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("policy says no"), "{err}");
}

// The builder rejects delays outside the RFC's bounds (HE-5.2) with a clear error.
#[test]
fn he_5_2_builder_rejects_out_of_range_delay() {
    let err = Connector::builder()
        .attempt_delay(Duration::from_millis(5))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "connection attempt delay 5ms is outside 10ms..=2s (RFC 8305 section 5)"
    );
    assert!(
        Connector::builder()
            .attempt_delay(Duration::from_secs(3))
            .build()
            .is_err()
    );
    assert!(
        Connector::builder()
            .attempt_delay(Duration::from_millis(10))
            .build()
            .is_ok()
    );
}

// Connector::resolve: `localhost` in connect order (::1 first), literals as they are, bad input typed.
#[cfg(feature = "hickory")]
#[tokio::test]
async fn resolve_localhost_in_connect_order() {
    let c = Connector::new();
    let addrs = c.resolve("localhost", 80).await.unwrap();
    let want: Vec<SocketAddr> = ["[::1]:80", "127.0.0.1:80"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(addrs, want);
    assert_eq!(
        c.resolve("[::1]", 8).await.unwrap(),
        [SocketAddr::new("::1".parse().unwrap(), 8)]
    );
    assert!(matches!(
        c.resolve("a..b", 80).await,
        Err(Error::InvalidInput { .. })
    ));
    let v4 = Connector::builder()
        .family(eyeballs::config::FamilyPolicy::Ipv4Only)
        .build()
        .unwrap();
    assert_eq!(
        v4.resolve("localhost", 80).await.unwrap(),
        [SocketAddr::new("127.0.0.1".parse().unwrap(), 80)]
    );
}

// Connector is cheap to clone, Send + Sync, and its connect futures are Send (hyper needs that).
#[test]
fn connector_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Connector>();
    let c = Connector::new();
    send(&c.connect(("localhost", 1)));
    send(&c.connect(("localhost", 1)).with_report());
    send(&c.connect([]));
    send(&c.resolve("localhost", 1));
    send(&eyeballs::connect("localhost", 1));
}

// SSRF guard on real sockets: literals and names resolving to loopback are denied, typed.
#[tokio::test]
async fn public_only_policy_denies_loopback() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let guarded = Connector::builder()
        .address_policy(eyeballs::AddressPolicy::public_only())
        .build()
        .unwrap();
    let err = guarded.connect(("127.0.0.1", port)).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::PermissionDenied);
    #[cfg(feature = "hickory")]
    {
        let err = guarded.connect(("localhost", port)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "connect to localhost:{port} failed: all 2 addresses were denied by the address policy: ::1, 127.0.0.1"
            )
        );
        assert!(matches!(
            guarded.resolve("localhost", port).await,
            Err(Error::Denied(_))
        ));
    }
    // The same connector without the guard connects.
    assert!(Connector::new().connect(("127.0.0.1", port)).await.is_ok());
}

// 0.0.0.0 is refused by default and reaches the local host when allowed (Linux).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn unspecified_destination_is_opt_in() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    assert!(matches!(
        Connector::new().connect(("0.0.0.0", port)).await,
        Err(Error::InvalidInput {
            problem: InputError::Unspecified(_),
            ..
        })
    ));
    let allowing = Connector::builder()
        .allow_unspecified(true)
        .build()
        .unwrap();
    let stream = allowing.connect(("0.0.0.0", port)).await.unwrap();
    assert_eq!(stream.peer_addr().unwrap().port(), port);
}

// Issue 24: a timeout too long to be an instant (`Duration::MAX`) is no limit: the connector
// builds, and connects by name, by address and with a per-connect timeout neither panic nor
// time out.
#[tokio::test]
async fn huge_timeouts_are_no_limit() {
    let listener = listen("127.0.0.1", 0);
    let addr = listener.local_addr().unwrap();
    let _server = serve(listener);
    let connector = Connector::builder()
        .connect_timeout(Duration::MAX)
        .attempt_timeout(Duration::MAX)
        .build()
        .unwrap();
    let (stream, report) = connector
        .connect(("localhost", addr.port()))
        .with_report()
        .await
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap().port(), addr.port(), "{report}");
    connector.connect(addr).await.unwrap();
    Connector::new()
        .connect([addr, SocketAddr::from(([127, 0, 0, 2], addr.port()))])
        .timeout(Duration::MAX)
        .await
        .unwrap();
}
