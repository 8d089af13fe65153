//! Real broken networks (network namespaces, root): who wins, and when, with time windows around
//! the RFC 8305 schedule that are wide enough never to flake (exact timing is the paused-clock
//! tests' job). Skipped, with a message, where namespaces cannot be made.

#[cfg(feature = "ech")]
mod ech_server;
mod netns;
#[path = "common/probe_bin.rs"]
mod probe_bin;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use eyeballs::{Connector, Error, Family, config::HistoryConfig};
use netns::{Https, Lab, NAME, PORT, Rr, TLS_PORT, TlsServe, v4, v6};

const MS: Duration = Duration::from_millis(1);

fn both() -> (Rr, Rr) {
    (Rr::now(vec![v6(0)]), Rr::now(vec![v4(0)]))
}

/// Connects to the lab's name from the client namespace; returns the result and elapsed time.
fn connect(lab: &Lab, timeout: Option<Duration>) -> (Result<IpAddr, Error>, Duration) {
    lab.in_client(move || async move {
        let mut b = Connector::builder().resolver(Lab::resolver());
        if let Some(t) = timeout {
            b = b.connect_timeout(t);
        }
        let connector = b.build().unwrap();
        let start = std::time::Instant::now();
        let result = connector
            .connect((NAME, PORT))
            .await
            .map(|s| s.peer_addr().unwrap().ip());
        (result, start.elapsed())
    })
}

fn assert_won(result: (Result<IpAddr, Error>, Duration), want: IpAddr, window: (u32, u32)) {
    let (result, took) = result;
    let got = result.unwrap_or_else(|e| panic!("expected {want} to win, got: {e}"));
    assert_eq!(got, want, "winner");
    assert!(
        took >= window.0 * MS && took <= window.1 * MS,
        "took {took:?}, expected {window:?} ms"
    );
}

macro_rules! lab {
    ($aaaa:expr, $a:expr) => {{
        netns::require();
        Lab::new($aaaa, $a)
    }};
}

#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn healthy_ipv6_wins_at_once() {
    let (aaaa, a) = both();
    let lab = lab!(aaaa, a);
    assert_won(connect(&lab, None), v6(0), (0, 200));
}

// HE-5.1: IPv6 black-holed: IPv4 starts after the 250 ms attempt delay and wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_1_ipv6_black_holed() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(0));
    assert_won(connect(&lab, None), v4(0), (240, 700));
}

// HE-5.5: IPv6 refused: IPv4 at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_5_ipv6_refused() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.refuse(v6(0));
    assert_won(connect(&lab, None), v4(0), (0, 200));
}

// HE-5.5: IPv6 unreachable by route: the attempt fails at once, IPv4 at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_5_ipv6_unreachable_route() {
    let (aaaa, a) = both();
    let lab = lab!(aaaa, a);
    lab.unreachable_route_v6();
    assert_won(connect(&lab, None), v4(0), (0, 200));
}

// IPv6 unreachable from the network (ICMP from the router): IPv4 wins by the attempt delay at the
// latest (the kernel holds the first ICMPv6 error for about a second).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn ipv6_unreachable_icmp() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.icmp_unreachable(v6(0));
    assert_won(connect(&lab, None), v4(0), (0, 700));
}

// HE-5.1: IPv6 400 ms slower (round trip): IPv4, started at 250 ms, wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_1_ipv6_slower_by_400ms() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv6(200 * MS);
    assert_won(connect(&lab, None), v4(0), (240, 390));
}

// HE-5.1: IPv6 100 ms slower: still inside the attempt delay, so IPv6 wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_1_ipv6_slower_by_100ms_still_wins() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv6(50 * MS);
    assert_won(connect(&lab, None), v6(0), (90, 245));
}

// HE-3.4: AAAA 400 ms late: IPv4 starts after the 50 ms Resolution Delay.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_3_4_aaaa_400ms_late() {
    let lab = lab!(Rr::Answer(400 * MS, vec![v6(0)]), Rr::now(vec![v4(0)]));
    assert_won(connect(&lab, None), v4(0), (45, 350));
}

// HE-3.3: A 1 s late: IPv6 at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_3_3_a_1s_late() {
    let lab = lab!(Rr::now(vec![v6(0)]), Rr::Answer(1000 * MS, vec![v4(0)]));
    assert_won(connect(&lab, None), v6(0), (0, 200));
}

// HE-3.4: only A (AAAA NODATA): IPv4 at once, no Resolution Delay wasted.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_3_4_only_a_record() {
    let lab = lab!(Rr::NoData(Duration::ZERO), Rr::now(vec![v4(0)]));
    assert_won(connect(&lab, None), v4(0), (0, 200));
}

#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn only_aaaa_record() {
    let lab = lab!(Rr::now(vec![v6(0)]), Rr::NoData(Duration::ZERO));
    assert_won(connect(&lab, None), v6(0), (0, 200));
}

// HE-3.6: AAAA SERVFAIL never stops IPv4.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_3_6_aaaa_servfail() {
    let lab = lab!(Rr::ServFail(Duration::ZERO), Rr::now(vec![v4(0)]));
    assert_won(connect(&lab, None), v4(0), (0, 400));
}

// HE-4.3 / HE-5.1: 3 AAAA + 2 A, the first two of each black-holed: attempts alternate families
// every 250 ms and the fifth (the third IPv6 address) wins at about 1 s.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_4_3_three_aaaa_two_a_first_two_of_each_dead() {
    let lab_v6 = vec![v6(0), v6(1), v6(2)];
    let mut lab = lab!(Rr::now(lab_v6), Rr::now(vec![v4(0), v4(1)]));
    for ip in [v6(0), v6(1), v4(0), v4(1)] {
        lab.black_hole(ip);
    }
    assert_won(connect(&lab, None), v6(2), (990, 1600));
}

// Everything black-holed: fails cleanly at the connect timeout, listing every attempt.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn everything_black_holed_fails_at_timeout() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(0));
    lab.black_hole(v4(0));
    let (result, took) = connect(&lab, Some(1500 * MS));
    let err = result.unwrap_err();
    assert!(matches!(err, Error::TimedOut(_)), "{err}");
    let tried: Vec<IpAddr> = err.attempts().iter().map(|(a, _)| a.ip()).collect();
    assert_eq!(tried, [v6(0), v4(0)]);
    assert!(took >= 1490 * MS && took < 2500 * MS, "{took:?}");
}

// Everything refused: fails fast, listing every attempt.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn everything_refused_fails_fast() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.refuse(v6(0));
    lab.refuse(v4(0));
    let (result, took) = connect(&lab, None);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err}");
    assert_eq!(err.attempts().len(), 2);
    assert!(
        err.attempts()
            .iter()
            .all(|(_, e)| e.kind() == std::io::ErrorKind::ConnectionRefused)
    );
    assert!(took < 300 * MS, "{took:?}");
    let families: Vec<Family> = err.attempts().iter().map(|(a, _)| Family::of(a)).collect();
    assert_eq!(families, [Family::V6, Family::V4]);
}

// Latency on IPv4 instead: IPv6 wins at once, whatever IPv4 does.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn ipv4_slower_ipv6_wins() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv4(200 * MS);
    assert_won(connect(&lab, None), v6(0), (0, 200));
    // And the knob really holds IPv4: with IPv6 refused, IPv4 connects only after ~400 ms.
    lab.refuse(v6(0));
    assert_won(connect(&lab, None), v4(0), (390, 900));
}

type Outcome = (Result<IpAddr, Error>, usize, Duration);

/// Two connects with one connector (so the second has the first's history); each result with
/// its attempt count and elapsed time.
fn connect_twice(lab: &Lab) -> [Outcome; 2] {
    let connector = lab.in_client(|| async { history_connector(HistoryConfig::default()) });
    let (_, [first, second]) = connects(lab, connector);
    [first, second]
}

fn history_connector(history: HistoryConfig) -> Connector {
    Connector::builder()
        .resolver(Lab::resolver())
        .connect_timeout(Duration::from_secs(5))
        .history(history)
        .build()
        .unwrap()
}

/// `N` connects in a row with `connector`, in the client namespace; the connector comes back
/// for more.
fn connects<const N: usize>(lab: &Lab, connector: Connector) -> (Connector, [Outcome; N]) {
    lab.in_client(move || async move {
        let mut out = Vec::new();
        for _ in 0..N {
            let start = std::time::Instant::now();
            let result = connector.connect((NAME, PORT)).with_report().await;
            let took = start.elapsed();
            out.push(match result {
                Ok((s, report)) => (
                    Ok(s.peer_addr().unwrap().ip()),
                    report.attempts().len(),
                    took,
                ),
                Err(e) => {
                    let n = e.report().map_or(0, |r| r.attempts().len());
                    (Err(e), n, took)
                }
            });
        }
        let out: [Outcome; N] = out.try_into().unwrap_or_else(|_| unreachable!());
        (connector, out)
    })
}

// HE-4.2: several dead addresses (3 AAAA + 2 A, the first two of each black-holed): the first
// connect walks four attempt delays; the second goes to the live address at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_4_2_second_connect_skips_several_dead_addresses() {
    let lab_v6 = vec![v6(0), v6(1), v6(2)];
    let mut lab = lab!(Rr::now(lab_v6), Rr::now(vec![v4(0), v4(1)]));
    for ip in [v6(0), v6(1), v4(0), v4(1)] {
        lab.black_hole(ip);
    }
    let [first, second] = connect_twice(&lab);
    assert_won((first.0, first.2), v6(2), (990, 1600));
    assert_eq!(first.1, 5);
    assert_won((second.0, second.2), v6(2), (0, 200));
    assert_eq!(second.1, 1, "one attempt, the live address first");
}

// HE-4.2: recovery. IPv6 black-holed, then healed: while the verdict lasts IPv4 stays first; once
// it expires (1 s here), IPv6 wins again.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_4_2_ipv6_recovers_after_the_verdict_expires() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(0));
    let ttl = Duration::from_secs(1);
    let mut history = HistoryConfig::default();
    history.failure_ttl = ttl;
    let connector = lab.in_client(move || async move { history_connector(history) });
    let (connector, [first, second]) = connects(&lab, connector);
    assert_won((first.0, first.2), v4(0), (240, 700));
    assert_won((second.0, second.2), v4(0), (0, 200));
    lab.heal();
    let (connector, [healed]) = connects(&lab, connector);
    assert_won((healed.0, healed.2), v4(0), (0, 200));
    std::thread::sleep(ttl + 100 * MS);
    let (_, [recovered]) = connects(&lab, connector);
    assert_won((recovered.0, recovered.2), v6(0), (0, 200));
    assert_eq!(recovered.1, 1, "IPv6 first, and it connects");
}

// HE-4.2: IPv6 black-holed: the first connect falls back after 250 ms; the second, with the
// first's history, goes over IPv4 at once (the lab's round trip is about 1.5 ms).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_4_2_second_connect_skips_black_holed_ipv6() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(0));
    let [first, second] = connect_twice(&lab);
    assert_won((first.0, first.2), v4(0), (240, 700));
    assert_won((second.0, second.2), v4(0), (0, 200));
    assert_eq!(second.1, 1, "one attempt, IPv4 first");
}

// HE-4.2: IPv6 slower by 400 ms: the first connect lets IPv4 win after 250 ms; the second goes
// over IPv4 at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_4_2_second_connect_skips_slow_ipv6() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv6(200 * MS);
    let [first, second] = connect_twice(&lab);
    assert_won((first.0, first.2), v4(0), (240, 700));
    assert_won((second.0, second.2), v4(0), (0, 200));
}

// HE-5.3: a far server (both families 350 ms away): the first connect starts IPv4 at 250 ms, a
// wasted handshake; the second waits for IPv6's retransmission estimate and makes one attempt.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_5_3_far_server_second_connect_one_attempt() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv6(175 * MS);
    lab.delay_ipv4(175 * MS);
    let [first, second] = connect_twice(&lab);
    assert_eq!(
        first.1, 2,
        "IPv4 started at 250 ms, before IPv6's SYN-ACK came back"
    );
    assert_won((second.0, second.2), v6(0), (340, 1000));
    assert_eq!(second.1, 1, "one attempt only");
}

/// Connects to the lab's name on the TLS port, racing through the TLS handshake (or, with
/// `tcp_only`, through TCP and then TLS on the winner, as a TCP-only connector does); returns
/// the winner's address and the elapsed time.
fn connect_tls(
    lab: &Lab,
    client: rustls::ClientConfig,
    tcp_only: bool,
) -> (Result<IpAddr, String>, Duration) {
    lab.in_client(move || async move {
        let connector = Connector::builder()
            .resolver(Lab::resolver())
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
        let name = rustls::pki_types::ServerName::try_from(NAME.trim_end_matches('.'))
            .unwrap()
            .to_owned();
        let start = std::time::Instant::now();
        let result = if tcp_only {
            match connector.connect((NAME, TLS_PORT)).await {
                Ok(tcp) => {
                    let peer = tcp.peer_addr().unwrap().ip();
                    match tokio::time::timeout(Duration::from_secs(2), tls.connect(name, tcp)).await
                    {
                        Ok(Ok(_)) => Ok(peer),
                        Ok(Err(e)) => Err(format!("{peer}: TLS failed: {e}")),
                        Err(_) => Err(format!("{peer}: TLS timed out")),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        } else {
            connector
                .connect((NAME, TLS_PORT))
                .handshake(move |tcp| tls.connect(name.clone(), tcp))
                .await
                .map(|s| s.get_ref().0.peer_addr().unwrap().ip())
                .map_err(|e| e.to_string())
        };
        (result, start.elapsed())
    })
}

fn assert_tls_won(result: (Result<IpAddr, String>, Duration), want: IpAddr, window: (u32, u32)) {
    let (result, took) = result;
    let got = result.unwrap_or_else(|e| panic!("expected {want} to win, got: {e}"));
    assert_eq!(got, want, "winner");
    assert!(
        took >= window.0 * MS && took <= window.1 * MS,
        "took {took:?}, expected {window:?} ms"
    );
}

// HE-9.1: healthy: IPv6 wins through TLS at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_9_1_tls_healthy_ipv6_wins() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let client = lab.serve_tls(&[(v6(0), TlsServe::Tls), (v4(0), TlsServe::Tls)]);
    assert_tls_won(connect_tls(&lab, client, false), v6(0), (0, 200));
}

// HE-9.2: IPv6 accepts, then resets (10 ms each way, so the reset comes a round trip after the
// SYN-ACK, as on a real path): a TCP-only race hands over the broken connection; racing through
// TLS, IPv4 starts as soon as the reset arrives and wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_9_2_tls_ipv6_resets_after_accept() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.delay_ipv6(10 * MS);
    let client = lab.serve_tls(&[(v6(0), TlsServe::Reset), (v4(0), TlsServe::Tls)]);
    let (tcp_only, _) = connect_tls(&lab, client.clone(), true);
    assert!(
        tcp_only.is_err(),
        "TCP-only racing picked IPv6: {tcp_only:?}"
    );
    assert_tls_won(connect_tls(&lab, client, false), v4(0), (0, 200));
}

// HE-9.3: IPv6 accepts and stays silent: IPv4 starts within twice the attempt delay and wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_9_3_tls_ipv6_silent_after_accept() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let client = lab.serve_tls(&[(v6(0), TlsServe::Silent), (v4(0), TlsServe::Tls)]);
    assert_tls_won(connect_tls(&lab, client, false), v4(0), (240, 1000));
}

// HE-9.1: an IPv6 path-MTU black hole (the server's big packets dropped, no ICMP): TCP and the
// ClientHello pass, the certificate flight never arrives. A TCP-only race picks IPv6 and the TLS
// handshake hangs; racing through TLS, IPv4 wins.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_9_1_tls_ipv6_path_mtu_black_hole() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let client = lab.serve_tls(&[(v6(0), TlsServe::Tls), (v4(0), TlsServe::Tls)]);
    lab.pmtu_black_hole_v6();
    let (tcp_only, _) = connect_tls(&lab, client.clone(), true);
    assert!(
        tcp_only
            .as_ref()
            .is_err_and(|e| e.contains(&v6(0).to_string())),
        "TCP-only racing picked IPv6 and its TLS stalled: {tcp_only:?}"
    );
    assert_tls_won(connect_tls(&lab, client, false), v4(0), (240, 1000));
}

/// Connects to the lab's name on PORT with HTTPS records on; the winner's address and the time.
fn connect_https_records(lab: &Lab) -> (Result<SocketAddr, Error>, Duration) {
    lab.in_client(move || async move {
        let connector = Connector::builder()
            .resolver(Lab::resolver())
            .https_records(true)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let start = std::time::Instant::now();
        let result = connector
            .connect((NAME, PORT))
            .await
            .map(|s| s.peer_addr().unwrap());
        (result, start.elapsed())
    })
}

fn record(priority: u16, port: Option<u16>, hints: &[IpAddr]) -> Https {
    Https {
        priority,
        target: ".".into(),
        port,
        hints: hints.to_vec(),
        ..Https::default()
    }
}

const HTTPS_NAME: &str = "_8080._https.svc.test.";

// HE-10.5: AAAA and A answered 400 ms late, the HTTPS record's hint at once: the connect goes
// through the hint without waiting for the address answers.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_5_hint_connects_before_late_answers() {
    let late = Duration::from_millis(400);
    let mut lab = lab!(Rr::Answer(late, vec![v6(0)]), Rr::Answer(late, vec![v4(0)]));
    lab.https(HTTPS_NAME, Duration::ZERO, vec![record(1, None, &[v6(0)])]);
    let (result, took) = connect_https_records(&lab);
    assert_eq!(result.unwrap().ip(), v6(0));
    assert!(took < 200 * MS, "{took:?}: did not wait for AAAA");
}

// HE-10.4: an h3-only record whose hint is black-holed is ignored: the connect goes through
// AAAA at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_4_h3_only_record_is_ignored() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(1));
    let mut h3 = record(1, None, &[v6(1)]);
    h3.alpn = vec!["h3".into()];
    h3.no_default_alpn = true;
    lab.https(HTTPS_NAME, Duration::ZERO, vec![h3]);
    let (result, took) = connect_https_records(&lab);
    assert_eq!(result.unwrap().ip(), v6(0));
    assert!(took < 200 * MS, "{took:?}");
}

// HE-10.2 / HE-10.6: the record for `_8080._https.svc.test` is used for port 8080; of two
// endpoints the better priority wins, on its own port (8443, where the lab serves TLS; a TCP
// connect is enough here).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_6_priority_and_port_parameter() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.serve_tls(&[(v6(0), TlsServe::Tls), (v4(0), TlsServe::Tls)]);
    lab.https(
        HTTPS_NAME,
        Duration::ZERO,
        vec![record(2, None, &[]), record(1, Some(TLS_PORT), &[])],
    );
    let (result, _) = connect_https_records(&lab);
    let winner = result.unwrap();
    assert_eq!((winner.ip(), winner.port()), (v6(0), TLS_PORT));
}

// HE-10.6: when every record endpoint fails (nothing listens on the record's port), the name's
// own addresses on the connect's port are the fallback. (Port 9999: the record's port must not be
// a bad port, which HE-10.9 leaves out before any attempt.)
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_6_falls_back_to_the_connect_port() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.https(HTTPS_NAME, Duration::ZERO, vec![record(1, Some(9999), &[])]);
    let (result, took) = connect_https_records(&lab);
    let winner = result.unwrap();
    assert_eq!(winner.port(), PORT);
    assert!(took < 500 * MS, "refusals start the next at once: {took:?}");
}

// HE-10.4 / HE-10.6 through the hyper HttpsConnector: it looks the HTTPS record up for an https
// URI, connects to the record's endpoint, and offers only the ALPN protocols the record allows
// (the server would pick h2; the record says http/1.1 only). The connection says which
// endpoint it went to.
#[cfg(feature = "rustls")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_4_https_connector_offers_the_records_alpn() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let mut client = lab.serve_tls(&[(v6(0), TlsServe::Tls), (v4(0), TlsServe::Tls)]);
    client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut http11 = record(1, None, &[]);
    http11.alpn = vec!["http/1.1".into()];
    http11.no_default_alpn = true;
    lab.https("_8443._https.svc.test.", Duration::ZERO, vec![http11]);
    let (alpn, endpoint) = lab.in_client(move || async move {
        use tower_service::Service;
        let connector = Connector::builder()
            .resolver(Lab::resolver())
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut https = eyeballs::hyper::HttpsConnector::new(connector, client);
        let uri = format!("https://svc.test:{TLS_PORT}/").parse().unwrap();
        let conn = https.call(uri).await.unwrap();
        let info = conn.info();
        (
            info.alpn().map(<[u8]>::to_vec),
            info.service_endpoint().map(|e| e.priority),
        )
    });
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(endpoint, Some(1));
}

// HE-11.1 / HE-11.5 on a real network: the lab's DNS server serves the HTTPS record with `ech`
// (the Go ECH server's configuration, tests/ech_server, run in the server namespace), IPv6 is
// black-holed: IPv4 wins one attempt delay later, with ECH accepted.
#[cfg(feature = "ech")]
#[test]
#[ignore = "needs root (network namespaces) and Go: bash .ci/test runs it as root"]
fn he_11_1_ech_through_the_lab_with_ipv6_black_holed() {
    const ECH_PORT: u16 = 9443;
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.black_hole(v6(0));
    // The ECH server in the server namespace on `port`, the lab serving its record.
    let serve = |lab: &mut Lab, mode: &str, port: u16| {
        let mut command = lab.in_server_command();
        command.arg(ech_server::server_binary());
        let listen = SocketAddr::new(v4(0), port).to_string();
        let server = ech_server::spawn(command, mode, "svc.test", &listen);
        let mut r = record(1, None, &[]);
        r.ech = Some(server.ech_config_list.clone());
        lab.https(
            &format!("_{port}._https.svc.test."),
            Duration::ZERO,
            vec![r],
        );
        server
    };
    let server = serve(&mut lab, "ech", ECH_PORT);
    let ca = server.ca.clone();
    let (body, ech, winner, attempts) = lab.in_client(move || async move {
        use http_body_util::BodyExt;
        let https = ech_server::trusting(ca, Lab::resolver(), true);
        let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        let uri = format!("https://svc.test:{ECH_PORT}/").parse().unwrap();
        let res = client.get(uri).await.unwrap();
        let info = res
            .extensions()
            .get::<eyeballs::hyper::ConnectionInfo>()
            .unwrap()
            .clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (
            String::from_utf8(body.to_vec()).unwrap(),
            info.ech(),
            info.remote_addr(),
            info.attempts(),
        )
    });
    assert_eq!(body, "sni=svc.test ech=true");
    assert_eq!(ech, eyeballs::hyper::EchStatus::Accepted);
    assert_eq!(winner, SocketAddr::new(v4(0), ECH_PORT));
    assert_eq!(attempts, 2, "IPv6 first, black-holed; then IPv4");

    // The probe in the client namespace, trusting `server`'s CA: its one line of JSON.
    let probe = |lab: &Lab, server: &ech_server::EchServer, port: u16, all: bool| {
        let ca = std::env::temp_dir().join(format!("eyeballs-ech-ca-{}.pem", std::process::id()));
        std::fs::write(&ca, &server.ca_pem).unwrap();
        let port = port.to_string();
        let mut args = vec![
            "--json",
            "--tls",
            "--https-records",
            "--ca",
            ca.to_str().unwrap(),
        ];
        if all {
            args.push("--all");
        }
        args.extend(["svc.test", &port]);
        let out = lab.run_in_client(probe_bin::probe_bin(), &args);
        let _ = std::fs::remove_file(&ca);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<serde_json::Value>(stdout.trim()).expect(&stdout)
    };

    // HE-11.6: the probe says so per attempt and for the connect.
    let connect = probe(&lab, &server, ECH_PORT, false);
    assert_eq!(connect["ech"], "accepted", "{connect}");
    assert_eq!(connect["attempts"][1]["ech"], "accepted", "{connect}");
    assert!(connect["attempts"][0].get("ech").is_none(), "{connect}");

    // HE-11.6: a server that rejects ECH (no keys, no retry configurations), checked address by
    // address with `--all`: the record's endpoints are tested with its ECH configuration, and
    // the diagnosis names the rejection.
    const REJECTING_PORT: u16 = 9444;
    let rejecting = serve(&mut lab, "none", REJECTING_PORT);
    let all = probe(&lab, &rejecting, REJECTING_PORT, true);
    assert_eq!(all["verdict"]["ipv4"], "ech_rejected", "{all}");
    let diagnosis = all["diagnosis"].as_str().unwrap_or_default();
    assert!(
        diagnosis.contains("rejects Encrypted Client Hello"),
        "{all}"
    );
}

// The probe with --https-records, run in the client namespace against the lab's DNS server: the
// timeline shows the HTTPS answer and which endpoint each attempt belonged to; --json has it.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn probe_shows_the_https_answer() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let mut r = record(1, None, &[v6(0)]);
    r.alpn = vec!["h2".into()];
    lab.https(HTTPS_NAME, Duration::ZERO, vec![r]);
    let bin = probe_bin::probe_bin();
    let port = PORT.to_string();
    let out = lab.run_in_client(bin, &["--https-records", "svc.test", &port]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("HTTPS 1 . alpn=h2 ipv6hint=2001:db8:2::10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HTTPS endpoint priority 1, port 8080"),
        "{stdout}"
    );
    let out = lab.run_in_client(bin, &["--https-records", "--json", "svc.test", &port]);
    let record: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(
        record["https"]["records"][0],
        "1 . alpn=h2 ipv6hint=2001:db8:2::10"
    );
    assert_eq!(record["attempts"][0]["endpoint_priority"], 1);
}

// HE-10.7: a ServiceMode record whose TargetName is another name: that name's addresses serve
// the endpoint (here an IPv6 address the name itself does not have).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_7_target_name_is_resolved() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.name("cdn.svc.test.", vec![v6(1)]);
    let mut r = record(1, None, &[]);
    r.target = "cdn.svc.test.".into();
    lab.https(HTTPS_NAME, Duration::ZERO, vec![r]);
    let (result, took) = connect_https_records(&lab);
    assert_eq!(result.unwrap().ip(), v6(1));
    assert!(took < 200 * MS, "{took:?}");
}

// HE-10.7: an AliasMode record is followed to the alias target's HTTPS records, whose "."
// means the alias target, and its addresses serve.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_10_7_alias_is_followed() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.name("edge.svc.test.", vec![v6(2)]);
    let mut alias = record(0, None, &[]);
    alias.target = "edge.svc.test.".into();
    lab.https(HTTPS_NAME, Duration::ZERO, vec![alias]);
    lab.https("edge.svc.test.", Duration::ZERO, vec![record(1, None, &[])]);
    let (result, took) = connect_https_records(&lab);
    assert_eq!(result.unwrap().ip(), v6(2));
    assert!(took < 200 * MS, "{took:?}");
}

// HE-3.7: AAAA answered 400 ms late: the first connect goes over IPv4 after the 50 ms
// Resolution Delay, and the late AAAA answer is still taken in (in the background), so hickory
// has it cached: a second connect a moment later goes over IPv6 at once.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_3_7_late_aaaa_is_cached_for_the_next_connect() {
    let lab = lab!(
        Rr::Answer(Duration::from_millis(400), vec![v6(0)]),
        Rr::now(vec![v4(0)])
    );
    // One runtime for both connects: hickory's cache (and the background lookup) live in it.
    let [first, second] = lab.in_client(|| async {
        let connector = history_connector(HistoryConfig::default());
        let mut out = Vec::new();
        for pause in [Duration::ZERO, Duration::from_millis(600)] {
            tokio::time::sleep(pause).await;
            let start = std::time::Instant::now();
            let result = connector
                .connect((NAME, PORT))
                .await
                .map(|s| s.peer_addr().unwrap().ip());
            out.push((result, start.elapsed()));
        }
        [out.remove(0), out.remove(0)]
    });
    assert_won(first, v4(0), (45, 350));
    assert_won(second, v6(0), (0, 40));
}

/// `probe --all --json` for the lab's name, run in the client namespace: the record and the exit
/// status.
fn probe_all(lab: &Lab) -> (serde_json::Value, Option<i32>) {
    let port = PORT.to_string();
    let out = lab.run_in_client(
        probe_bin::probe_bin(),
        &["--all", "--json", "--timeout", "1000", "svc.test", &port],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let record = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    (record, out.status.code())
}

// The probe's diagnosis codes (issue 15), each from a real broken network: the verdict per
// family, the address codes and the exit status.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn probe_all_diagnosis_codes() {
    type Case = (
        &'static str,
        Box<dyn Fn(&mut Lab)>,
        (Rr, Rr),
        [&'static str; 2],
        i32,
    );
    let cases: Vec<Case> = vec![
        ("healthy", Box::new(|_| {}), both(), ["ok", "ok"], 0),
        (
            "IPv6 black-holed",
            Box::new(|lab| lab.black_hole(v6(0))),
            both(),
            ["blackhole", "ok"],
            1,
        ),
        (
            "IPv6 refused",
            Box::new(|lab| lab.refuse(v6(0))),
            both(),
            ["refused", "ok"],
            1,
        ),
        (
            "IPv6 unreachable by route",
            Box::new(|lab| lab.unreachable_route_v6()),
            both(),
            ["unreachable", "ok"],
            1,
        ),
        (
            "all refused",
            Box::new(|lab| {
                lab.refuse(v6(0));
                lab.refuse(v4(0));
            }),
            both(),
            ["refused", "refused"],
            1,
        ),
        (
            "AAAA SERVFAIL",
            Box::new(|_| {}),
            (Rr::ServFail(Duration::ZERO), Rr::now(vec![v4(0)])),
            ["dns_error", "ok"],
            1,
        ),
        (
            "no AAAA record",
            Box::new(|_| {}),
            (Rr::NoData(Duration::ZERO), Rr::now(vec![v4(0)])),
            ["no_address", "ok"],
            0,
        ),
    ];
    netns::require();
    for (name, setup, (aaaa, a), want, status) in cases {
        let mut lab = Lab::new(aaaa, a);
        setup(&mut lab);
        let (record, code) = probe_all(&lab);
        assert_eq!(
            [&record["verdict"]["ipv6"], &record["verdict"]["ipv4"]],
            want,
            "{name}: {record}"
        );
        assert_eq!(code, Some(status), "{name}: {record}");
        assert!(
            record["diagnosis"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
}

// Issue 15 / HE-9.1: `--all --tls` checks every address's TLS handshake too: with a path-MTU
// black hole on IPv6 (TCP and small packets pass, the server's certificate flight does not),
// IPv6 is `tls_stalled` (TCP connected, the handshake got no answer) and only that diagnosis names
// a path-MTU black hole; IPv4 is `ok`.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn probe_all_tls_path_mtu_black_hole() {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    lab.serve_tls(&[(v6(0), TlsServe::Tls), (v4(0), TlsServe::Tls)]);
    lab.pmtu_black_hole_v6();
    let port = netns::TLS_PORT.to_string();
    let out = lab.run_in_client(
        probe_bin::probe_bin(),
        &[
            "--all",
            "--tls",
            "--insecure",
            "--json",
            "--timeout",
            "1500",
            "svc.test",
            &port,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let record: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        [&record["verdict"]["ipv6"], &record["verdict"]["ipv4"]],
        ["tls_stalled", "ok"],
        "{record}"
    );
    assert_eq!(out.status.code(), Some(1), "{record}");
    let diagnosis = record["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("path-MTU black hole"), "{diagnosis}");
    assert_eq!(record["results"][0]["code"], "tls_stalled", "{record}");
}

// §12: QUIC raced against TCP+TLS in the lab: QUIC (h3) on UDP 8443 of the server's first IPv6
// and IPv4 addresses, TLS on TCP 8443 of the same. The origin is marked as speaking HTTP/3,
// except where an HTTPS record says so.

/// The winner's protocol and address, every attempt's protocol, address and outcome, and how
/// long the connect took.
#[cfg(feature = "quic")]
type QuicRun = (
    Result<(eyeballs::Protocol, SocketAddr), String>,
    Vec<(eyeballs::Protocol, IpAddr, String)>,
    Duration,
);

/// `n` connects with one `QuicConnector` (one history) from the client namespace.
#[cfg(feature = "quic")]
fn quic_connects(lab: &Lab, tls: rustls::ClientConfig, mark: bool, n: usize) -> Vec<QuicRun> {
    lab.in_client(move || async move {
        let connector = Connector::builder()
            .resolver(Lab::resolver())
            .build()
            .unwrap();
        let https = eyeballs::hyper::HttpsConnector::new(connector, tls);
        let quic = eyeballs::quic::QuicConnector::new(https).unwrap();
        let name = NAME.trim_end_matches('.');
        if mark {
            quic.mark_h3(name, TLS_PORT, TLS_PORT);
        }
        let mut runs = Vec::new();
        for _ in 0..n {
            let start = std::time::Instant::now();
            let result = quic.connect_with_report(name, TLS_PORT).await;
            let took = start.elapsed();
            let report = match &result {
                Ok((_, report)) => report.clone(),
                Err(e) => e.report().cloned().unwrap(),
            };
            let attempts = report.attempts().iter().map(|a| {
                let outcome = a.outcome().map_or("running", |o| o.label()).to_string();
                (a.protocol(), a.addr().ip(), outcome)
            });
            let won = result
                .map(|(c, _)| (c.protocol(), c.remote_addr().unwrap()))
                .map_err(|e| e.to_string());
            runs.push((won, attempts.collect(), took));
        }
        runs
    })
}

#[cfg(feature = "quic")]
fn assert_quic_won(run: &QuicRun, protocol: eyeballs::Protocol, ip: IpAddr, window: (u32, u32)) {
    let (won, attempts, took) = run;
    let (got, addr) = won
        .as_ref()
        .unwrap_or_else(|e| panic!("expected a winner: {e}"));
    assert_eq!((*got, addr.ip()), (protocol, ip), "{attempts:?}");
    assert!(
        *took >= window.0 * MS && *took <= window.1 * MS,
        "took {took:?}, expected {window:?} ms: {attempts:?}"
    );
}

#[cfg(feature = "quic")]
fn quic_lab(serve: netns::QuicServe) -> (Lab, rustls::ClientConfig) {
    let (aaaa, a) = both();
    let mut lab = lab!(aaaa, a);
    let tls = lab.serve_quic(&[(v6(0), serve), (v4(0), serve)]);
    (lab, tls)
}

// HE-12.3: a healthy network: QUIC to IPv6 at once wins; no TCP attempt.
#[cfg(feature = "quic")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_12_3_lab_healthy_quic_wins_at_once() {
    use eyeballs::Protocol::Quic;
    let (lab, tls) = quic_lab(netns::QuicServe::H3);
    let runs = quic_connects(&lab, tls, true, 1);
    assert_quic_won(&runs[0], Quic, v6(0), (0, 200));
    assert_eq!(runs[0].1, [(Quic, v6(0), "connected".to_string())]);
}

// HE-12.2, HE-12.4: the router drops UDP for both families: QUIC to IPv6 at 0, TCP+TLS to IPv6
// at 250 ms wins; the second connect (same connector, so same history) starts TCP at once.
#[cfg(feature = "quic")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_12_2_lab_udp_dropped_for_both_families() {
    use eyeballs::Protocol::{Quic, Tcp};
    let (mut lab, tls) = quic_lab(netns::QuicServe::H3);
    lab.drop_udp(false);
    let runs = quic_connects(&lab, tls, true, 2);
    assert_quic_won(&runs[0], Tcp, v6(0), (250, 600));
    assert_eq!(
        runs[0].1,
        [
            (Quic, v6(0), "cancelled".to_string()),
            (Tcp, v6(0), "connected".to_string())
        ]
    );
    assert_quic_won(&runs[1], Tcp, v6(0), (0, 200));
    assert_eq!(runs[1].1[0].0, Tcp, "TCP first after QUIC failed here");

    // HE-12.6: the probe's --all --quic names the block (a short timeout: each QUIC check waits
    // that long for an answer that never comes).
    let port = TLS_PORT.to_string();
    let args = [
        "--all",
        "--quic",
        "--insecure",
        "--json",
        "--timeout",
        "1000",
        "svc.test",
        &port,
    ];
    let out = lab.run_in_client(probe_bin::probe_bin(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let record: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(record["verdict"]["ipv6"], "ok", "{record}");
    assert_eq!(record["quic_verdict"]["ipv6"], "blackhole", "{record}");
    assert_eq!(record["quic_verdict"]["ipv4"], "blackhole", "{record}");
    let diagnosis = record["diagnosis"].as_str().unwrap();
    assert!(
        diagnosis.contains("UDP to port 8443 is blocked on this path (QUIC unreachable, TCP fine)"),
        "{diagnosis}"
    );
}

// HE-12.2: UDP dropped for IPv6 only: QUIC to IPv6 at 0 gets nothing, TCP to IPv6 at 250 ms
// wins before IPv4's QUIC turn (500 ms).
#[cfg(feature = "quic")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_12_2_lab_udp_dropped_for_ipv6_only() {
    use eyeballs::Protocol::Tcp;
    let (mut lab, tls) = quic_lab(netns::QuicServe::H3);
    lab.drop_udp(true);
    let runs = quic_connects(&lab, tls, true, 1);
    assert_quic_won(&runs[0], Tcp, v6(0), (250, 600));
}

// HE-12.3: a server that receives the QUIC Initials and never completes the handshake: the same
// as dropped UDP, TCP at 250 ms wins.
#[cfg(feature = "quic")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_12_3_lab_quic_handshake_never_completes() {
    use eyeballs::Protocol::{Quic, Tcp};
    let (lab, tls) = quic_lab(netns::QuicServe::Stall);
    let runs = quic_connects(&lab, tls, true, 1);
    assert_quic_won(&runs[0], Tcp, v6(0), (250, 600));
    assert_eq!(runs[0].1[0], (Quic, v6(0), "cancelled".to_string()));
}

// HE-12.1: an h3-only HTTPS record (`alpn="h3" no-default-alpn`, port 8443) and nothing marked:
// the record alone makes the endpoint a QUIC-only one; QUIC to IPv6 wins at once. With UDP
// dropped there is nothing to fall back to: the connect fails (QUIC attempts only), where a
// client that ignored the record's ALPN would have connected over TCP to a server that does not
// serve HTTP/1.1 or HTTP/2 there.
#[cfg(feature = "quic")]
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_12_1_lab_h3_only_record() {
    use eyeballs::Protocol::Quic;
    let (mut lab, tls) = quic_lab(netns::QuicServe::H3);
    let h3_only = Https {
        alpn: vec!["h3".into()],
        no_default_alpn: true,
        ..record(1, Some(TLS_PORT), &[])
    };
    lab.https("_8443._https.svc.test.", Duration::ZERO, vec![h3_only]);
    let runs = quic_connects(&lab, tls.clone(), false, 1);
    assert_quic_won(&runs[0], Quic, v6(0), (0, 200));
    lab.drop_udp(false);
    let runs = lab.in_client(move || async move {
        let connector = Connector::builder()
            .resolver(Lab::resolver())
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let https = eyeballs::hyper::HttpsConnector::new(connector, tls);
        let quic = eyeballs::quic::QuicConnector::new(https).unwrap();
        let e = quic
            .connect_with_report(NAME.trim_end_matches('.'), TLS_PORT)
            .await
            .unwrap_err();
        let report = e.report().cloned().unwrap();
        report
            .attempts()
            .iter()
            .map(|a| a.protocol())
            .collect::<Vec<_>>()
    });
    assert!(
        !runs.is_empty() && runs.iter().all(|p| *p == Quic),
        "{runs:?}"
    );
}
