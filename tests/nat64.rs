//! NAT64 on a real IPv6-only network (HE-7.1 to HE-7.9): tayga translates, a DNS64 server the
//! test runs answers `ipv4only.arpa` and synthesizes AAAA, the server has IPv4 only. Each test
//! runs with the network-specific prefix 2001:db8:64::/96 and with the well-known 64:ff9b::/96;
//! only RFC 7050 discovery tells the client which. Skipped without root or tayga.

mod netns;
#[path = "common/probe_bin.rs"]
mod probe_bin;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use eyeballs::{
    Connector, Report,
    nat64::{Nat64Prefix, PrefixSource, SynthesizedBy},
};
use netns::PORT;
use netns::nat64::{BLACK_HOLED, Dns64Name, Nat64Lab, SERVER, network_specific};

fn prefixes() -> [Nat64Prefix; 2] {
    [network_specific(), Nat64Prefix::WELL_KNOWN]
}

/// The names the DNS64 server answers.
fn names() -> Vec<(&'static str, Dns64Name)> {
    vec![
        // A only, and the network's DNS64 does not synthesize for it: only the client can.
        (
            "v4only.test.",
            Dns64Name {
                a: vec![SERVER],
                ..Dns64Name::default()
            },
        ),
        // A only, synthesized by DNS64.
        (
            "dns64.test.",
            Dns64Name {
                a: vec![SERVER],
                dns64: true,
                ..Dns64Name::default()
            },
        ),
        // A black-holed AAAA, and A.
        (
            "broken.test.",
            Dns64Name {
                aaaa: vec![BLACK_HOLED],
                a: vec![SERVER],
                dns64: true,
            },
        ),
    ]
}

/// Connects to each host in turn with one connector (so the second connect finds the prefix
/// already learned), inside the client namespace.
fn connect_all(lab: &Nat64Lab, hosts: &[&'static str]) -> Vec<Result<Report, String>> {
    let hosts = hosts.to_vec();
    lab.in_client(move || async move {
        let connector = Connector::builder()
            .resolver(Nat64Lab::resolver())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut out = Vec::new();
        for host in hosts {
            let r = connector.connect((host, PORT)).with_report().await;
            out.push(r.map(|(_, report)| report).map_err(|e| e.to_string()));
        }
        out
    })
}

fn synthesized(prefix: Nat64Prefix) -> SocketAddr {
    SocketAddr::new(prefix.synthesize(SERVER).into(), PORT)
}

// HE-7.1, HE-7.4, HE-7.7, HE-7.9: an IPv4 literal works at once through the discovered prefix,
// whichever prefix the network uses; the report says how.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_1_ipv4_literal_on_an_ipv6_only_network() {
    Nat64Lab::require();
    for prefix in prefixes() {
        let lab = Nat64Lab::new(prefix, names(), false);
        let reports = connect_all(&lab, &["198.51.100.10", "198.51.100.10"]);
        for (i, report) in reports.into_iter().enumerate() {
            let report = report.unwrap_or_else(|e| panic!("{prefix}, connect {i}: {e}"));
            let winner = report.winner().unwrap();
            assert_eq!(winner.addr(), synthesized(prefix), "{prefix}\n{report}");
            let t = winner.translation().unwrap();
            assert_eq!(t.ipv4, SERVER);
            assert_eq!(t.by, SynthesizedBy::Client);
            assert_eq!(t.learned, PrefixSource::Discovered);
            assert_eq!(
                report.nat64_prefix(),
                Some((prefix, PrefixSource::Discovered))
            );
            // One attempt: the literal went straight to its translation, nothing waited.
            assert_eq!(report.attempts().len(), 1, "{report}");
        }
        assert_eq!(
            lab.ipv4only_queries.load(Ordering::SeqCst),
            1,
            "{prefix}: discovered once, remembered for the second connect"
        );
    }
}

// HE-7.1, HE-7.6: a name with A records only works, synthesized here when the network's DNS64
// does not, and recognised as a translation when DNS64 did it.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_1_a_only_names() {
    Nat64Lab::require();
    for prefix in prefixes() {
        let lab = Nat64Lab::new(prefix, names(), false);
        let reports = connect_all(&lab, &["v4only.test", "dns64.test"]);
        let by: Vec<SynthesizedBy> = reports
            .into_iter()
            .map(|r| {
                let report = r.unwrap_or_else(|e| panic!("{prefix}: {e}"));
                let winner = report.winner().unwrap();
                assert_eq!(winner.addr(), synthesized(prefix), "{prefix}\n{report}");
                let t = winner.translation().unwrap();
                assert_eq!((t.ipv4, t.prefix), (SERVER, prefix), "{prefix}");
                t.by
            })
            .collect();
        assert_eq!(
            by,
            [SynthesizedBy::Client, SynthesizedBy::Dns64],
            "{prefix}"
        );
    }
}

// HE-7.2, HE-7.8: a name whose AAAA is black-holed falls back through the translation of its
// A record one Connection Attempt Delay later (not RFC 8305's 2 s last-resort delay).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_2_broken_aaaa_falls_back_through_nat64() {
    Nat64Lab::require();
    for prefix in prefixes() {
        let lab = Nat64Lab::new(prefix, names(), false);
        let report = connect_all(&lab, &["broken.test"]).remove(0);
        let report = report.unwrap_or_else(|e| panic!("{prefix}: {e}"));
        let tried: Vec<SocketAddr> = report.attempts().iter().map(|a| a.addr()).collect();
        assert_eq!(
            tried,
            [
                SocketAddr::new(IpAddr::V6(BLACK_HOLED), PORT),
                synthesized(prefix)
            ],
            "{prefix}\n{report}"
        );
        assert_eq!(report.winner().unwrap().addr(), synthesized(prefix));
        // The translation started after the attempt delay, not at the connect timeout; the
        // black-holed attempt was cancelled when it won.
        let synth = &report.attempts()[1];
        assert!(synth.started() >= Duration::from_millis(250), "{report}");
        assert_eq!(
            report.attempts()[0].outcome(),
            Some(&eyeballs::report::AttemptOutcome::Cancelled),
            "{report}"
        );
    }
}

// HE-7.7: on a dual-stack network nothing changes: the literal goes over IPv4 and
// `ipv4only.arpa` is never asked.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_7_dual_stack_network_asks_nothing() {
    Nat64Lab::require();
    let lab = Nat64Lab::new(network_specific(), names(), true);
    let reports = connect_all(&lab, &["198.51.100.10", "v4only.test"]);
    for report in reports {
        let report = report.unwrap();
        let winner = report.winner().unwrap();
        assert_eq!(
            winner.addr(),
            SocketAddr::new(IpAddr::V4(SERVER), PORT),
            "{report}"
        );
        assert!(winner.translation().is_none());
        assert_eq!(report.nat64_prefix(), None);
    }
    assert_eq!(lab.ipv4only_queries.load(Ordering::SeqCst), 0);
}

// HE-7.1: with NAT64 off, an IPv4 literal fails at once as unreachable (what every connector
// without NAT64 support does on such a network).
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_1_off_fails_as_unreachable() {
    Nat64Lab::require();
    let lab = Nat64Lab::new(network_specific(), names(), false);
    let err = lab.in_client(|| async {
        let connector = Connector::builder()
            .resolver(Nat64Lab::resolver())
            .nat64(false)
            .build()
            .unwrap();
        connector
            .connect(("198.51.100.10", PORT))
            .await
            .unwrap_err()
    });
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_eq!(lab.ipv4only_queries.load(Ordering::SeqCst), 0);
}

// HE-7.9: the probe says it: its timeline marks the translation, `--json` carries the prefix,
// and `--all` names the prefix in its diagnosis.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_9_probe_shows_nat64() {
    Nat64Lab::require();
    let bin = probe_bin::probe_bin().clone();
    let lab = Nat64Lab::new(network_specific(), names(), false);
    let out = lab.run_in_client(&bin, &["198.51.100.10", "8080"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        text.contains("NAT64 to 198.51.100.10, synthesized here"),
        "{text}"
    );
    assert!(
        text.contains("through 2001:db8:64::/96 (discovered"),
        "{text}"
    );

    let out = lab.run_in_client(&bin, &["v4only.test", "8080", "--json"]);
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["nat64"]["prefix"], "2001:db8:64::/96", "{v}");
    assert_eq!(v["nat64"]["learned"], "discovered", "{v}");
    assert_eq!(v["attempts"][0]["nat64"]["ipv4"], "198.51.100.10", "{v}");
    assert_eq!(v["attempts"][0]["nat64"]["by"], "client", "{v}");

    let out = lab.run_in_client(&bin, &["v4only.test", "8080", "--all", "--json"]);
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert!(out.status.success(), "{v}");
    assert_eq!(v["verdict"]["ipv4"], "ok", "{v}");
    assert_eq!(v["verdict"]["ipv6"], "no_address", "{v}");
    assert_eq!(v["nat64"]["prefix"], "2001:db8:64::/96", "{v}");
    let diagnosis = v["diagnosis"].as_str().unwrap();
    let out = lab.run_in_client(&bin, &["198.51.100.10", "8080", "--all", "--json"]);
    let literal: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(literal["verdict"]["ipv4"], "ok", "{literal}");
    assert_eq!(
        literal["results"][0]["addr"], "198.51.100.10:8080",
        "{literal}"
    );
    assert_eq!(literal["nat64"]["prefix"], "2001:db8:64::/96", "{literal}");
    eprintln!("{diagnosis}");
    assert!(
        diagnosis.contains("NAT64 prefix 2001:db8:64::/96"),
        "{diagnosis}"
    );
}

// HE-7.1: `Connector::resolve` returns what a connect would use: the translations, for an IPv4
// literal and for a name with A records only.
#[test]
#[ignore = "needs root (network namespaces): bash .ci/test runs it as root"]
fn he_7_1_resolve_returns_translations() {
    Nat64Lab::require();
    let lab = Nat64Lab::new(network_specific(), names(), false);
    let got = lab.in_client(|| async {
        let connector = Connector::builder()
            .resolver(Nat64Lab::resolver())
            .build()
            .unwrap();
        let literal = connector.resolve("198.51.100.10", PORT).await.unwrap();
        let name = connector.resolve("v4only.test", PORT).await.unwrap();
        (literal, name)
    });
    let want = vec![synthesized(network_specific())];
    assert_eq!(got, (want.clone(), want));
}
