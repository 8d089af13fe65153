//! `eyeballs::quic::QuicConnector` (feature `quic`) on loopback: a quinn HTTP/3 server and an
//! HTTPS server on the same port number, UDP and TCP (HE-12.x).

mod common;
mod h3_server;
mod http_server;

use std::time::Duration;

use bytes::Buf;
use eyeballs::quic::{Connected, QuicConnector};
use eyeballs::report::{AttemptOutcome, Report};
use eyeballs::{Connector, Protocol};
use h3_server::{Udp, certs, start};

/// The tests of this file run one at a time: the leak test counts this process's sockets.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's UDP sockets: its descriptors' socket inodes found in the kernel's UDP tables.
fn udp_sockets() -> std::collections::HashSet<String> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    ["/proc/self/net/udp", "/proc/self/net/udp6"]
        .iter()
        .flat_map(|table| {
            let table = std::fs::read_to_string(table).unwrap_or_default();
            let lines: Vec<String> = table.lines().skip(1).map(str::to_string).collect();
            lines
        })
        .filter_map(|line| line.split_whitespace().nth(9).map(str::to_string))
        .filter(|inode| inodes.contains(inode))
        .collect()
}

/// A QUIC connector trusting the test certificate; the TCP side offers h2 and http/1.1.
fn connector(certs: &h3_server::Certs) -> QuicConnector {
    let https = eyeballs::hyper::HttpsConnector::new(Connector::new(), certs.client.clone());
    QuicConnector::new(https).unwrap()
}

/// One connect to an origin marked as speaking HTTP/3, on a server whose UDP side is `udp`: the
/// server (kept for what it counted), and what the connect returned.
async fn race_marked(udp: Udp) -> (h3_server::Server, Connected, Report) {
    let certs = certs();
    let server = start("127.0.0.1", udp, &certs).await;
    let quic = connector(&certs);
    let port = server.addr.port();
    quic.mark_h3("127.0.0.1", port, port);
    let (connected, report) = quic.connect_with_report("127.0.0.1", port).await.unwrap();
    (server, connected, report)
}

/// Each attempt's protocol and outcome's label.
fn attempts(report: &Report) -> Vec<(Protocol, &'static str)> {
    let a = report.attempts().iter();
    a.map(|a| {
        (
            a.protocol(),
            a.outcome().map_or("running", AttemptOutcome::label),
        )
    })
    .collect()
}

// HE-12.2, HE-12.3: both work: QUIC wins with h3, no TCP attempt is made, and an HTTP/3 GET
// works on the connection.
#[tokio::test]
async fn he_12_3_quic_wins_where_udp_works() {
    let _serial = SERIAL.lock().await;
    let (server, connected, report) = race_marked(Udp::H3).await;
    assert_eq!(connected.protocol(), Protocol::Quic, "{report}");
    assert_eq!(connected.alpn().as_deref(), Some(&b"h3"[..]));
    assert_eq!(connected.remote_addr().unwrap(), server.addr);
    assert_eq!(attempts(&report), [(Protocol::Quic, "connected")]);
    assert_eq!(
        report.winner().unwrap().handshake_note(),
        Some("QUIC, ALPN h3")
    );
    let Connected::Quic(connection) = connected else {
        unreachable!()
    };
    let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(connection))
        .await
        .unwrap();
    let drive = tokio::spawn(async move { driver.wait_idle().await });
    let request = http::Request::get(format!("https://127.0.0.1:{}/", server.addr.port()))
        .body(())
        .unwrap();
    let mut stream = send.send_request(request).await.unwrap();
    stream.finish().await.unwrap();
    let response = stream.recv_response().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    assert_eq!(body, b"hello HTTP/3");
    assert_eq!(
        server.h3_requests.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    drop((send, stream));
    drive.abort();
}

// HE-12.2, HE-12.3: UDP refused (nothing bound: ICMP port unreachable): the QUIC attempt fails
// as refused, and the TCP attempt starts at that same instant, not at the attempt delay.
#[tokio::test]
async fn he_12_2_udp_refused_starts_tcp_when_quic_fails() {
    let _serial = SERIAL.lock().await;
    let (_server, connected, report) = race_marked(Udp::Closed).await;
    assert_eq!(connected.protocol(), Protocol::Tcp, "{report}");
    assert_eq!(
        attempts(&report),
        [(Protocol::Quic, "refused"), (Protocol::Tcp, "connected"),],
        "{report}"
    );
    let (first, second) = (&report.attempts()[0], &report.attempts()[1]);
    assert_eq!(first.ended(), Some(second.started()), "{report}");
    assert!(second.started() < Duration::from_millis(250), "{report}");
    assert_eq!(connected.alpn().as_deref(), Some(&b"h2"[..]));
}

// HE-12.2: UDP silently dropped (a socket that answers nothing): TCP starts one attempt delay
// after QUIC and wins; the QUIC attempt is cancelled.
#[tokio::test]
async fn he_12_2_udp_silent_tcp_after_the_attempt_delay() {
    let _serial = SERIAL.lock().await;
    let (_server, connected, report) = race_marked(Udp::Silent).await;
    assert_eq!(connected.protocol(), Protocol::Tcp, "{report}");
    assert_eq!(
        attempts(&report),
        [(Protocol::Quic, "cancelled"), (Protocol::Tcp, "connected"),],
        "{report}"
    );
    let delay = report.attempts()[0].attempt_delay().map(|d| d.0);
    assert_eq!(delay, Some(Duration::from_millis(250)), "{report}");
    assert!(report.attempts()[1].started() >= Duration::from_millis(250));
}

// HE-12.3: a server that answers the QUIC Initials with garbage: quinn drops what does not parse,
// nothing panics, and TCP wins one attempt delay later.
#[tokio::test]
async fn he_12_3_garbage_on_udp_is_ignored() {
    let _serial = SERIAL.lock().await;
    let (_server, connected, report) = race_marked(Udp::Garbage).await;
    assert_eq!(connected.protocol(), Protocol::Tcp, "{report}");
    assert_eq!(
        attempts(&report),
        [(Protocol::Quic, "cancelled"), (Protocol::Tcp, "connected")],
        "{report}"
    );
    assert!(report.attempts()[1].started() >= Duration::from_millis(250));
}

// HE-12.1: an origin nobody marked and no record lists: TCP only, no UDP sent.
#[tokio::test]
async fn he_12_1_unmarked_origins_get_no_quic_attempt() {
    let _serial = SERIAL.lock().await;
    let certs = certs();
    let server = start("127.0.0.1", Udp::H3, &certs).await;
    let quic = connector(&certs);
    let (connected, report) = quic
        .connect_with_report("127.0.0.1", server.addr.port())
        .await
        .unwrap();
    assert_eq!(connected.protocol(), Protocol::Tcp);
    assert_eq!(attempts(&report), [(Protocol::Tcp, "connected")]);
    assert_eq!(server.quic_accepted(), 0);
}

// HE-12.5: an Alt-Svc header makes the origin's next connect race QUIC; `clear` undoes it; a
// malformed value is a typed error and changes nothing.
#[tokio::test]
async fn he_12_5_alt_svc_turns_quic_on_and_clear_off() {
    let _serial = SERIAL.lock().await;
    let certs = certs();
    let server = start("127.0.0.1", Udp::H3, &certs).await;
    let port = server.addr.port();
    let quic = connector(&certs);
    let value = format!(r#"h2=":{port}", h3=":{port}"; ma=60"#);
    quic.alt_svc("127.0.0.1", port, value.as_bytes()).unwrap();
    let won = quic.connect("127.0.0.1", port).await.unwrap();
    assert_eq!(won.protocol(), Protocol::Quic);
    assert!(quic.alt_svc("127.0.0.1", port, b"h3=\":0\"").is_err());
    assert_eq!(
        quic.connect("127.0.0.1", port).await.unwrap().protocol(),
        Protocol::Quic
    );
    quic.alt_svc("127.0.0.1", port, b"clear").unwrap();
    assert_eq!(
        quic.connect("127.0.0.1", port).await.unwrap().protocol(),
        Protocol::Tcp
    );
}

// HE-12.6: nothing leaks: after connects where QUIC lost (silent UDP), where it won, and one
// cancelled while its QUIC attempt ran, every connect shares the connector's one socket; once
// the connector and the connections are dropped and the closing periods over, it is closed.
#[tokio::test(flavor = "current_thread")]
async fn he_12_6_losing_and_dropped_quic_attempts_close_their_sockets() {
    let _serial = SERIAL.lock().await;
    let certs = certs();
    let silent = start("127.0.0.1", Udp::Silent, &certs).await;
    let h3 = start("127.0.0.1", Udp::H3, &certs).await;
    let quic = connector(&certs);
    for server in [&silent, &h3] {
        quic.mark_h3("127.0.0.1", server.addr.port(), server.addr.port());
    }
    // Sockets of earlier tests may still close meanwhile: what counts is the ones made here.
    let before = udp_sockets();
    let new = || udp_sockets().difference(&before).count();
    // A connect cancelled at 100 ms, while its QUIC attempt alone runs (the TCP attempt's turn
    // is at 250 ms): first, before the history learns that QUIC fails there.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        quic.connect("127.0.0.1", silent.addr.port()),
    )
    .await;
    assert!(cancelled.is_err(), "cut off while QUIC alone was running");
    for _ in 0..3 {
        for server in [&silent, &h3] {
            let won = quic.connect("127.0.0.1", server.addr.port()).await.unwrap();
            drop(won);
        }
    }
    // The connector's endpoint (one UDP socket for IPv4, shared by every connect) stays while
    // the connector does.
    assert_eq!(new(), 1, "one shared socket");
    drop(quic);
    // Its driver sends CONNECTION_CLOSE for each connection and keeps the socket through the
    // closing periods (three probe timeouts, RFC 9000 section 10.2: about 3 s for an attempt
    // the server never answered), then lets it go.
    let t0 = std::time::Instant::now();
    while new() > 0 && t0.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("UDP sockets closed after {:?}", t0.elapsed());
    assert_eq!(new(), 0, "UDP sockets left open");
}

// Bad input: a malformed host is the host parser's typed error; nothing is sent.
#[tokio::test]
async fn a_bad_host_is_a_typed_error() {
    let certs = certs();
    let quic = connector(&certs);
    for (host, want) in [
        ("bad host", eyeballs::error::InputError::Whitespace),
        ("", eyeballs::error::InputError::EmptyHost),
    ] {
        match quic.connect(host, 443).await {
            Err(eyeballs::Error::InvalidInput { problem, .. }) => {
                assert_eq!(problem, want, "{host:?}")
            }
            other => panic!("{host:?}: {other:?}"),
        }
    }
}
