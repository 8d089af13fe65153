//! Racing through a handshake (HE-9.x) on real loopback sockets: the API contract of
//! `Connect::handshake`, with generous time windows (exact instants are the paused-clock tests' job).

mod common;

use std::io;
use std::time::Duration;

use common::{Behaviour, dual_port, expect_greeting, listening, serve_as};
use eyeballs::{Connector, Error, Family, report::AttemptOutcome};

fn connector() -> Connector {
    Connector::builder()
        .attempt_delay(Duration::from_millis(100))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `::1` and `127.0.0.1` on one port, served as `v6` and `v4` say.
fn servers(v6: Behaviour, v4: Behaviour) -> (u16, [tokio::task::JoinHandle<()>; 2]) {
    let dual = dual_port();
    let port = dual.port;
    let s6 = serve_as(listening(dual.v6), v6);
    let s4 = serve_as(listening(dual.v4), v4);
    (port, [s6, s4])
}

// HE-9.2: IPv6 accepts, then resets: TCP "works" on IPv6, but the connection is useless. The
// handshake sees it, IPv4 starts at once and wins; the report tells the phases apart.
#[tokio::test]
async fn he_9_2_ipv6_resets_after_accept_ipv4_wins() {
    let (port, _servers) = servers(Behaviour::Reset, Behaviour::Greet);
    // An attempt delay far beyond the reset (50 ms after accept): an IPv4 start before it can
    // only come from the failure, whatever the machine's speed.
    let delay = Duration::from_secs(2);
    let connector = Connector::builder()
        .attempt_delay(delay)
        .connect_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (stream, report) = connector
        .connect(("localhost", port))
        .handshake(expect_greeting)
        .with_report()
        .await
        .unwrap();
    assert!(stream.peer_addr().unwrap().is_ipv4());
    let attempts = report.attempts();
    assert_eq!(attempts.len(), 2, "{report}");
    assert_eq!(attempts[0].family(), Family::V6);
    assert!(
        matches!(
            attempts[0].outcome(),
            Some(AttemptOutcome::HandshakeFailed { .. })
        ),
        "{report}"
    );
    assert!(attempts[0].tcp_connected().is_some(), "TCP did connect");
    // Started on the failure, not by the attempt delay's timer.
    assert!(attempts[1].started() < delay, "{report}");
    assert!(
        attempts[1].started() >= attempts[0].ended().unwrap(),
        "{report}"
    );
    let tcp = attempts[1].tcp_connected().unwrap();
    assert!(tcp <= attempts[1].ended().unwrap());
    assert_eq!(report.winner().unwrap().family(), Family::V4);
}

// HE-9.3: IPv6 accepts and stays silent: IPv4 starts only after the attempt delay (the exact
// instant, at most twice the delay, is asserted under the paused clock in src/driver tests) and
// wins; the silent connection is cancelled.
#[tokio::test]
async fn he_9_3_ipv6_silent_after_accept_ipv4_wins() {
    let (port, _servers) = servers(Behaviour::Silent, Behaviour::Greet);
    let (stream, report) = connector()
        .connect(("localhost", port))
        .handshake(expect_greeting)
        .with_report()
        .await
        .unwrap();
    assert!(stream.peer_addr().unwrap().is_ipv4(), "{report}");
    let ipv4 = &report.attempts()[1];
    assert!(ipv4.started() >= Duration::from_millis(100), "{report}");
    assert_eq!(
        report.attempts()[0].outcome(),
        Some(&AttemptOutcome::Cancelled)
    );
}

// HE-9.1: healthy on both: IPv6 wins through its handshake, and the caller gets its output.
#[tokio::test]
async fn he_9_1_healthy_ipv6_wins_with_the_handshake_output() {
    let (port, _servers) = servers(Behaviour::Greet, Behaviour::Greet);
    let stream = connector()
        .connect(("localhost", port))
        .handshake(expect_greeting)
        .await
        .unwrap();
    assert!(stream.peer_addr().unwrap().is_ipv6());
}

// HE-9.2: every handshake fails: a typed error that names each address and the phase.
#[tokio::test]
async fn he_9_2_every_handshake_fails() {
    let (port, _servers) = servers(Behaviour::Reset, Behaviour::Reset);
    let addrs = [
        format!("[::1]:{port}").parse().unwrap(),
        format!("127.0.0.1:{port}").parse().unwrap(),
    ];
    let err = connector()
        .connect(addrs)
        .handshake(expect_greeting)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AllAttemptsFailed(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "[::1]:{port} connected, then the handshake failed"
        )),
        "{text}"
    );
    assert_eq!(err.attempts().len(), 2);
}

// HE-9.1: one address (an IP literal) runs the handshake too, and its failure is reported as a
// handshake failure.
#[tokio::test]
async fn he_9_1_single_literal_runs_the_handshake() {
    let (port, _servers) = servers(Behaviour::Greet, Behaviour::Reset);
    let ok = connector()
        .connect(("::1", port))
        .handshake(expect_greeting)
        .await;
    assert!(ok.is_ok());
    let err = connector()
        .connect(("127.0.0.1", port))
        .handshake(expect_greeting)
        .await
        .unwrap_err();
    let report = err.report().unwrap();
    assert_eq!(
        report.attempts()[0].outcome().map(AttemptOutcome::label),
        Some("handshake failed"),
        "{err}"
    );
    assert!(report.attempts()[0].tcp_connected().is_some());
    let io: io::Error = err.into();
    assert_ne!(io.kind(), io::ErrorKind::TimedOut);
}
