//! The probe example, run as a person would: its real binary, real loopback listeners.

mod common;
#[cfg(feature = "quic")]
mod h3_server;
mod http_server;

use std::net::SocketAddr;
use std::process::{Command, Output};

use common::{dual_port, listen, listening, probe_bin, refused_addr, serve};

/// Runs the probe in a blocking thread (the test's runtime keeps serving the listeners).
async fn probe(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let bin = probe_bin().clone();
    tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn demo_shows_the_ipv4_fallback_then_the_healthy_case() {
    let out = probe(&[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let before_healthy = stdout.split("2. Both families healthy").next().unwrap();
    let (first, again) = before_healthy
        .split_once("1b. The same again")
        .expect("the second connect is shown");
    assert!(first.contains("IPv6 black-holed"), "{stdout}");
    assert!(
        first.contains("cancelled") && first.contains("(ipv4)"),
        "{stdout}"
    );
    // HE-4.2: the second connect goes to IPv4 at once, and says history moved it.
    assert!(
        !again.contains("cancelled")
            && again.contains("(ipv4)")
            && again.contains("moved from #1 to #0"),
        "{stdout}"
    );
    let second = stdout
        .split("2. Both families healthy")
        .nth(1)
        .expect("healthy case shown");
    assert!(
        second.contains("(ipv6)") && second.contains(" won"),
        "{stdout}"
    );
    assert!(!stdout.contains("\x1b["), "NO_COLOR is honoured");
    // Each case says why it matters: what a client without Happy Eyeballs would have done.
    assert_eq!(stdout.matches("why it matters:").count(), 3, "{stdout}");
    assert!(first.contains("until its connect timeout"), "{stdout}");
}

#[tokio::test]
async fn json_has_the_documented_fields() {
    let dual = dual_port();
    let port = dual.port;
    let _s6 = serve(listening(dual.v6));
    let _s4 = serve(listening(dual.v4));
    let out = probe(&["--json", "--repeat", "2", "localhost", &port.to_string()]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "one object per connect, then the summary: {stdout}"
    );
    let summary: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(summary["mode"], "summary");
    assert_eq!(
        (&summary["connects"], &summary["connected"]),
        (&2.into(), &2.into())
    );
    assert_eq!(summary["won"]["ipv6"], 2);
    assert_eq!(summary["families"][0]["name"], "ipv6");
    assert_eq!(summary["families"][0]["won"], 2);
    assert!(
        summary["families"][0]["median_ms"].as_f64().is_some(),
        "{summary}"
    );
    for line in &lines[..2] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["host"], "localhost");
        assert_eq!(v["port"], port);
        assert_eq!(v["ok"], true);
        assert!(v["elapsed_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(v["winner"]["addr"], format!("[::1]:{port}"));
        assert_eq!(v["winner"]["family"], "ipv6");
        assert!(v["error"].is_null());
        let res = v["resolution"].as_array().unwrap();
        assert_eq!(res.len(), 2);
        for r in res {
            assert!(r["family"] == "ipv6" || r["family"] == "ipv4");
            assert!(r["ms"].as_f64().is_some() && r["addrs"].is_array() && r["error"].is_null());
        }
        let attempts = v["attempts"].as_array().unwrap();
        assert_eq!(attempts[0]["addr"], format!("[::1]:{port}"));
        assert_eq!(attempts[0]["family"], "ipv6");
        assert_eq!(attempts[0]["outcome"], "connected");
        assert!(
            attempts[0]["start_ms"].as_f64().is_some() && attempts[0]["end_ms"].as_f64().is_some()
        );
    }
}

#[tokio::test]
async fn json_failure_has_error_and_no_winner() {
    let addr = refused_addr("127.0.0.1");
    let out = probe(&["--json", &addr.to_string()]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["winner"].is_null());
    assert!(
        v["error"].as_str().unwrap().contains("connection refused"),
        "{v}"
    );
    assert_eq!(v["attempts"][0]["outcome"], "refused");
}

#[tokio::test]
async fn bad_input_exits_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["a..b", "80"],
        &["example.com"],
        &["[::1", "80"],
        &["x:0"],
        &["ftp://example.com/"],
        &["--family", "ipv5", "localhost", "80"],
        &["--repeat", "0", "localhost", "80"],
        &["--attempt-delay", "5", "localhost", "80"],
        &["--bogus"],
        &["127.0.0.1%eth0", "80"],
        &["a", "b", "c"],
    ];
    for args in cases {
        let out = probe(args).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("probe: "), "{args:?}: {stderr}");
        // With --json, stdout has exactly one parseable line saying so.
        let json_args: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        let out = probe(&json_args).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{json_args:?}: {stdout}{stderr}"
        );
        assert_eq!(stdout.lines().count(), 1, "{json_args:?}: {stdout}");
        let v: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{json_args:?}: {e}: {stdout}"));
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["mode"], "error", "{v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(
            !error.is_empty() && stderr.contains(error.lines().next().unwrap()),
            "{v} / {stderr}"
        );
    }
}

// A failed connect says "failed" once ("connect to HOST:PORT failed: ..."), not twice.
#[tokio::test]
async fn a_failure_says_failed_once() {
    let addr = refused_addr("127.0.0.1");
    let out = probe(&[&addr.to_string()]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("connect to") && l.contains("refused"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(line.matches("failed").count(), 1, "{line}");
}

#[tokio::test]
async fn all_reports_a_refused_family() {
    let dual = dual_port();
    let port = dual.port;
    let _s4 = serve(listening(dual.v4));
    // [::1]:port is bound (so no other test takes it) but not listening: IPv6 is refused.
    let out = probe(&["--all", "localhost", &port.to_string()]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("verdict: IPv6 refused, IPv4 ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("diagnosis: IPv6 is refused (the path works, nothing listens on port"),
        "{stdout}"
    );

    let out = probe(&["--all", "--json", "localhost", &port.to_string()]).await;
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(v["verdict"]["ipv6"], "refused");
    assert_eq!(v["verdict"]["ipv4"], "ok");
    assert_eq!(v["ok"], false);
    assert_eq!(v["results"][0]["code"], "refused");

    let _s6 = serve(listening(dual.v6));
    let out = probe(&["--all", "localhost", &port.to_string()]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("verdict: IPv6 ok, IPv4 ok"), "{stdout}");
}

// Issue 15: `--all --repeat N` runs the check N times, then summarises every address's
// connects (one JSON object per run, then the summary).
#[tokio::test]
async fn all_with_repeat_summarises() {
    let dual = dual_port();
    let port = dual.port;
    let _s4 = serve(listening(dual.v4));
    let out = probe(&[
        "--all",
        "--json",
        "--repeat",
        "3",
        "localhost",
        &port.to_string(),
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "IPv6 is refused: {stdout}{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "three runs, then the summary: {stdout}");
    for run in &lines[..3] {
        assert_eq!(run["mode"], "all");
        assert_eq!(run["verdict"]["ipv4"], "ok");
    }
    // Nothing races in --all: the summary counts per address, not wins per family.
    let summary = &lines[3];
    assert_eq!(summary["mode"], "all_summary");
    assert_eq!(summary["runs"], 3);
    assert!(summary.get("won").is_none(), "{summary}");
    let addresses = summary["addresses"].as_array().unwrap();
    let row = |family: &str| {
        addresses
            .iter()
            .find(|a| a["family"] == family)
            .unwrap_or_else(|| panic!("{summary}"))
    };
    let (v6, v4) = (row("ipv6"), row("ipv4"));
    assert_eq!((&v6["connects"], &v6["ok"]), (&3.into(), &0.into()));
    assert_eq!(v6["codes"]["refused"], 3);
    assert!(v6["median_ms"].is_null(), "no success to time: {v6}");
    assert_eq!((&v4["connects"], &v4["ok"]), (&3.into(), &3.into()));
    assert_eq!(v4["codes"]["ok"], 3);
    let (min, median, max) = (
        v4["min_ms"].as_f64().unwrap(),
        v4["median_ms"].as_f64().unwrap(),
        v4["max_ms"].as_f64().unwrap(),
    );
    assert!(min <= median && median <= max, "{v4}");

    let out = probe(&["--all", "--repeat", "2", "localhost", &port.to_string()]).await;
    let (stdout, _) = text(&out);
    assert!(stdout.contains("-- run 2 of 2"), "{stdout}");
    assert!(
        stdout.contains("summary: 2 runs, each address on its own"),
        "{stdout}"
    );
    assert!(!stdout.contains("won"), "{stdout}");
    let v6 = stdout
        .lines()
        .rev()
        .find(|l| l.contains("[::1]:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(v6.contains("refused 2"), "{stdout}");
}

// An address --family excludes is skipped in the table, the JSON and the verdict: never failed.
#[tokio::test]
async fn all_shows_excluded_family_as_skipped() {
    let dual = dual_port();
    let port = dual.port.to_string();
    let _s4 = serve(listening(dual.v4));
    let out = probe(&["--all", "--family", "ipv4", "localhost", &port]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let v6 = stdout
        .lines()
        .find(|l| l.contains("[::1]:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(v6.contains("skipped") && !v6.contains("failed"), "{stdout}");
    assert!(stdout.contains("(1 skipped: --family)"), "{stdout}");
    assert!(
        stdout.contains("verdict: IPv6 skipped, IPv4 ok"),
        "{stdout}"
    );

    let out = probe(&["--all", "--json", "--family", "ipv4", "localhost", &port]).await;
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    let v6 = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["family"] == "ipv6")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(v6["code"], "skipped", "{v}");
    assert!(v6["ok"].is_null() && v6["error"].is_null(), "{v}");
    assert_eq!(v["verdict"]["ipv6"], "skipped");
    assert_eq!(v["ok"], true);
}

#[tokio::test]
async fn url_and_bracketed_targets() {
    let listener = listen("::1", 0);
    let addr: SocketAddr = listener.local_addr().unwrap();
    let _s = serve(listener);
    for target in [
        format!("[::1]:{}", addr.port()),
        format!("http://[::1]:{}/path", addr.port()),
    ] {
        let out = probe(&[&target]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{target}: {stdout}{stderr}");
        assert!(
            stdout.contains(&format!("connected to [::1]:{}", addr.port())),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn http_request_through_the_hyper_connector() {
    let dual = dual_port();
    let port = dual.port;
    let _s6 = http_server::serve_http(listening(dual.v6), None);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let url = format!("http://localhost:{port}/");
    let out = probe(&["--http", "--json", &url]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["ok"], true);
    let http = &lines[1]["http"];
    assert_eq!(http["status"], 200);
    assert_eq!(http["version"], "HTTP/1.1");
    assert_eq!(http["winner"]["family"], "ipv6");

    let out = probe(&["--http", &url]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("http: GET") && stdout.contains("200 HTTP/1.1 via [::1]"),
        "{stdout}"
    );
}

// HE-9.1 / HE-9.2: `--tls` races through the TLS handshake: IPv6 accepts then resets, IPv4
// completes TLS (self-signed, hence --insecure) and wins; the timeline shows TCP and TLS.
#[tokio::test]
async fn tls_race_shows_tcp_and_tls_per_attempt() {
    let dual = dual_port();
    let port = dual.port;
    let tls = http_server::tls();
    let _s6 = common::serve_as(listening(dual.v6), common::Behaviour::Reset);
    let _s4 = http_server::serve_http(listening(dual.v4), Some(tls.acceptor.clone()));
    let port_arg = port.to_string();
    let out = probe(&["--tls", "--insecure", "localhost", &port_arg]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let ipv6 = stdout.lines().find(|l| l.contains("[::1]:")).unwrap();
    assert!(ipv6.contains("handshake failed"), "{stdout}");
    let ipv4 = stdout
        .lines()
        .find(|l| l.contains("127.0.0.1:") && l.contains(" won"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(ipv4.contains("[tcp ") && ipv4.contains("tls "), "{stdout}");

    let out = probe(&["--tls", "--insecure", "--json", "localhost", &port_arg]).await;
    let (stdout, _) = text(&out);
    let record: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(record["winner"]["family"], "ipv4");
    assert_eq!(record["attempts"][0]["outcome"], "handshake failed");
    assert!(
        record["attempts"][1]["tcp_ms"].as_f64().is_some(),
        "{record}"
    );

    // Without --insecure the self-signed certificate fails every handshake: exit 1, and the
    // failure says which phase.
    let out = probe(&["--tls", "--family", "4", "localhost", &port_arg]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("handshake failed"), "{stdout}");
}

// A plain-HTTP server under --tls: the diagnosis says the port speaks no TLS (not a path-MTU black
// hole), and without --all the failure says what rustls's words mean.
#[cfg(feature = "rustls")]
#[tokio::test]
async fn tls_against_a_plain_server_says_not_tls() {
    let dual = dual_port();
    let port = dual.port.to_string();
    let _s6 = http_server::serve_http(listening(dual.v6), None);
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let out = probe(&["--tls", "--all", "localhost", &port]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("verdict: IPv6 not_tls, IPv4 not_tls"),
        "{stdout}"
    );
    assert!(stdout.contains("does not speak TLS on port"), "{stdout}");
    assert!(!stdout.contains("path-MTU"), "{stdout}");

    let out = probe(&["--tls", "--all", "--json", "localhost", &port]).await;
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(v["results"][0]["code"], "not_tls", "{v}");

    let out = probe(&["--tls", "localhost", &port]).await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("not TLS: the server answered with bytes that are not TLS"),
        "{stdout}"
    );
}

// `--repeat` summary: IPv6 refused, IPv4 up: IPv4 wins every connect; the summary counts the
// refused IPv6 attempt and times the IPv4 handshakes; `--interval` spaces the connects.
#[tokio::test]
async fn repeat_summary_counts_wins_and_times() {
    let dual = dual_port();
    let port = dual.port;
    let _s4 = serve(listening(dual.v4));
    let start = std::time::Instant::now();
    let out = probe(&[
        "--repeat",
        "3",
        "--interval",
        "100",
        "localhost",
        &port.to_string(),
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(200),
        "two intervals"
    );
    assert!(
        stdout.contains("summary: 3 connects: 3 connected, 0 failed; IPv6 won 0, IPv4 won 3"),
        "{stdout}"
    );
    // The counts are said once; the time to connect follows them.
    assert_eq!(stdout.matches("3 connects").count(), 1, "{stdout}");
    assert!(stdout.contains("time to connect: first "), "{stdout}");
    let ipv4 = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ipv4 "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        ipv4.split_whitespace().nth(2) == Some("3"),
        "3 wins: {ipv4}"
    );
}

// An https URL asks for TLS to be checked: with the rustls feature (the tests build the probe
// with every feature) it is, without --tls. A listener that accepts and never speaks TLS lets
// TCP connect (`tcp_ms` is set) and the connect fail at its timeout, in the handshake.
#[tokio::test]
async fn an_https_url_checks_tls() {
    let listener = listen("127.0.0.1", 0);
    let addr = listener.local_addr().unwrap();
    let _server = serve(listener);
    let url = format!("https://{addr}/");
    let out = probe(&["--json", "--timeout", "500", &url]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    let attempt = &v["attempts"][0];
    assert!(
        attempt["tcp_ms"].as_f64().is_some(),
        "TCP connected, then TLS ran: {v}"
    );
    // The same with http://: TCP alone, which connects.
    let out = probe(&["--json", &format!("http://{addr}/")]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
}

// HE-12.6: `--quic` races QUIC against TCP+TLS: against an HTTP/3 server QUIC wins, and the
// timeline and the JSON say so; with nothing on the UDP port, QUIC is refused and TCP wins.
#[cfg(feature = "quic")]
#[tokio::test]
async fn quic_race_marks_each_attempt_protocol() {
    let certs = h3_server::certs();
    let h3 = h3_server::start("127.0.0.1", h3_server::Udp::H3, &certs).await;
    let port = h3.addr.port().to_string();
    let out = probe(&["--quic", "--insecure", "127.0.0.1", &port]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let won = stdout
        .lines()
        .find(|l| l.contains(" won"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(won.contains("quic 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("over QUIC"), "{stdout}");
    let out = probe(&["--quic", "--insecure", "--json", "127.0.0.1", &port]).await;
    let record: serde_json::Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(record["winner"]["protocol"], "quic", "{record}");
    assert_eq!(record["attempts"][0]["protocol"], "quic", "{record}");

    let closed = h3_server::start("127.0.0.1", h3_server::Udp::Closed, &certs).await;
    let port = closed.addr.port().to_string();
    let out = probe(&["--quic", "--insecure", "--json", "127.0.0.1", &port]).await;
    let record: serde_json::Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(record["winner"]["protocol"], "tcp", "{record}");
    let attempts: Vec<_> = record["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["protocol"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [("quic", "refused"), ("tcp", "connected")],
        "{record}"
    );
}
