//! The `--json` contract: one typed record per line. These structs are the schema; a field added,
//! renamed or retyped here changes what scripts read, so the tests below pin every name.

use std::net::SocketAddr;
use std::time::Duration;

use eyeballs::{Error, Family, Report, report::AttemptOutcome};
use serde::Serialize;

/// Milliseconds with microsecond precision.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One connect (the default mode, and each of `--repeat`).
#[derive(Debug, Serialize)]
pub struct Connect {
    pub host: String,
    pub port: u16,
    pub ok: bool,
    /// `null` when nothing was attempted (bad input is a usage error instead).
    pub elapsed_ms: Option<f64>,
    pub winner: Option<Endpoint>,
    pub resolution: Vec<Answer>,
    /// With `--https-records`: the HTTPS answer; absent otherwise (or when it had not come).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<HttpsAnswer>,
    pub attempts: Vec<Attempt>,
    /// On a network without an IPv4 route: the NAT64 prefix IPv4 was reached through; absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat64: Option<Nat64>,
    /// With `--tls`, once the handshake completed: what happened to Encrypted Client Hello,
    /// `accepted`, `retried`, `grease` or `not_offered`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ech: Option<&'static str>,
    pub error: Option<String>,
}

/// The NAT64 prefix in use.
#[derive(Debug, Serialize)]
pub struct Nat64 {
    /// `2001:db8:64::/96`.
    pub prefix: String,
    /// `discovered`, `configured` or `well_known`.
    pub learned: &'static str,
}

/// A NAT64 translation: the IPv4 address an IPv6 destination reaches.
#[derive(Debug, Serialize)]
pub struct Translation {
    pub ipv4: String,
    pub prefix: String,
    /// `client` (synthesized here) or `dns64`.
    pub by: &'static str,
    /// `discovered`, `configured` or `well_known`.
    pub learned: &'static str,
}

pub fn learned_code(learned: eyeballs::nat64::PrefixSource) -> &'static str {
    match learned {
        eyeballs::nat64::PrefixSource::Discovered => "discovered",
        eyeballs::nat64::PrefixSource::Configured => "configured",
        eyeballs::nat64::PrefixSource::WellKnown => "well_known",
        _ => "other",
    }
}

impl Translation {
    fn of(t: &eyeballs::nat64::Translation) -> Translation {
        Translation {
            ipv4: t.ipv4.to_string(),
            prefix: t.prefix.to_string(),
            by: match t.by {
                eyeballs::nat64::SynthesizedBy::Client => "client",
                eyeballs::nat64::SynthesizedBy::Dns64 => "dns64",
                _ => "other",
            },
            learned: learned_code(t.learned),
        }
    }
}

/// The HTTPS-record answer.
#[derive(Debug, Serialize)]
pub struct HttpsAnswer {
    pub ms: f64,
    /// Each record, presentation-like (`1 . alpn=h2 port=8443 ipv6hint=...`).
    pub records: Vec<String>,
    /// How many malformed records were ignored.
    pub malformed: usize,
    /// How many records and hints past the limits were ignored (32 records, 16 hints a family).
    pub over_limit: usize,
    pub error: Option<String>,
}

/// An address and its family.
#[derive(Debug, Serialize)]
pub struct Endpoint {
    pub addr: String,
    pub family: &'static str,
    /// For a connect's winner: `tcp`, or `quic` when QUIC won (`--quic`); absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
}

/// One DNS answer.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub family: &'static str,
    pub ms: f64,
    pub addrs: Vec<String>,
    pub error: Option<String>,
    /// For an expired answer served while the name server was silent or failing (RFC 8767):
    /// how many seconds ago it expired. Its refresh, if it came, is the next answer of the
    /// family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_s: Option<f64>,
    /// How many addresses past the limit (64 usable ones a family) were ignored; absent when
    /// none were.
    #[serde(skip_serializing_if = "is_zero")]
    pub over_limit: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One connection attempt.
#[derive(Debug, Serialize)]
pub struct Attempt {
    /// Where it connected; a UDP address for QUIC.
    pub addr: String,
    pub family: &'static str,
    /// `tcp`, or `quic` (`--quic`).
    pub protocol: &'static str,
    pub start_ms: f64,
    pub end_ms: Option<f64>,
    /// [`AttemptOutcome::label`], or `running`.
    pub outcome: &'static str,
    /// What the connector's history knew of the address, as a sentence; `null` when nothing.
    pub history: Option<String>,
    /// Where the attempt would have come without history (0 for first), when history moved
    /// it; `null` otherwise.
    pub moved_from: Option<usize>,
    /// The Connection Attempt Delay it set before the next attempt, in ms, and where that came
    /// from (`configured`, `from its RTT`, ...); `null` when not worked out.
    pub next_delay_ms: Option<f64>,
    pub next_delay_basis: Option<String>,
    /// With `--https-records`: the priority of the HTTPS endpoint the address came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_priority: Option<u16>,
    /// With `--tls`: when TCP connected, in ms from the start (the TLS handshake ran from there
    /// to `end_ms`); `null` without a handshake or when TCP never connected.
    pub tcp_ms: Option<f64>,
    /// When the address is a NAT64 translation: what it reaches and how; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat64: Option<Translation>,
    /// With `--tls`, what happened to Encrypted Client Hello on this attempt, where it is known:
    /// `accepted`, `retried` or `grease` for the winner, `rejected` for an attempt the server's
    /// ECH rejection failed; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ech: Option<&'static str>,
}

/// `rejected` for an attempt the server's ECH rejection failed (its error's words); the winner's
/// status comes from its handshake ([`Connect::with_ech`]).
fn attempt_ech(a: &eyeballs::report::Attempt) -> Option<&'static str> {
    match a.outcome() {
        Some(AttemptOutcome::HandshakeFailed { message, .. })
            if message.contains("ECH rejected") =>
        {
            Some("rejected")
        }
        _ => None,
    }
}

impl Connect {
    /// With `--tls`: what the winning handshake said of ECH, for the connect and its attempt
    /// (`not_offered` is said for the connect only).
    pub fn with_ech(mut self, ech: Option<&'static str>) -> Connect {
        self.ech = ech;
        let winner = self.winner.as_ref().map(|w| w.addr.clone());
        let shown = ech.filter(|e| *e != "not_offered");
        if let (Some(winner), Some(shown)) = (winner, shown)
            && let Some(attempt) = self
                .attempts
                .iter_mut()
                .rev()
                .find(|a| a.addr == winner && a.outcome == "connected")
        {
            attempt.ech = Some(shown);
        }
        self
    }
}

/// `--all`: every address on its own, and a verdict per family.
#[derive(Debug, Serialize)]
pub struct All {
    pub host: String,
    pub port: u16,
    /// Always `"all"`.
    pub mode: &'static str,
    pub ok: bool,
    pub results: Vec<AddressCheck>,
    /// Per family (`ipv6`, `ipv4`): `ok`, `no_address`, `dns_error`, `refused`, `unreachable`,
    /// `blackhole`, `handshake_failed`, `failed`, `mixed` or `skipped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdicts>,
    /// With `--quic`, per family: `ok`, `refused`, `unreachable`, `blackhole`, `no_udp`,
    /// `handshake_failed`, `not_offered`, `mixed` or `no_address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_verdict: Option<Verdicts>,
    /// Per family, the lookup's error when it failed (`dns_error`).
    pub dns: DnsErrors,
    /// The sentence that sums it up.
    pub diagnosis: Option<String>,
    /// On a network without an IPv4 route: the NAT64 prefix IPv4 was reached through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat64: Option<Nat64>,
    pub error: Option<String>,
}

/// Each family's lookup error, if it failed.
#[derive(Debug, Serialize)]
pub struct DnsErrors {
    pub ipv6: Option<String>,
    pub ipv4: Option<String>,
}

/// The per-family verdicts of `--all`.
#[derive(Debug, Serialize)]
pub struct Verdicts {
    pub ipv6: &'static str,
    pub ipv4: &'static str,
}

/// One address's own connect in `--all`.
#[derive(Debug, Serialize)]
pub struct AddressCheck {
    pub addr: String,
    pub family: &'static str,
    /// `null` when skipped (excluded by `--family`, not connected to).
    pub ok: Option<bool>,
    /// `ok`, `skipped`, `refused`, `unreachable`, `blackhole`, `failed`, or after TCP connected
    /// `not_tls`, `tls_alert`, `certificate`, `tls_reset`, `ech_rejected`, `ech_required`,
    /// `tls_stalled`, `handshake_failed`.
    pub code: &'static str,
    /// `null` when skipped.
    pub ms: Option<f64>,
    pub error: Option<String>,
    /// With `--quic`: the address's QUIC check, `ok`, `refused`, `unreachable`, `blackhole`,
    /// `no_udp`, `handshake_failed` or `not_offered`; its time when `ok`, and its error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_error: Option<String>,
}

/// `--repeat N`: one summary object after the connects.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub host: String,
    pub port: u16,
    /// Always `"summary"`.
    pub mode: &'static str,
    pub connects: usize,
    pub connected: usize,
    /// How many connects each family won.
    pub won: Won,
    /// The first connect's winner (it had no history), and the distinct later ones in order.
    pub first_winner: Option<String>,
    pub later_winners: Vec<String>,
    /// Per family (`ipv6`, `ipv4`) and per address: attempts, wins, handshake times.
    pub families: Vec<Tally>,
    pub addresses: Vec<Tally>,
}

/// `--all --repeat N`: one summary object after the runs. Nothing races in `--all`, so it counts
/// per address: connects, successes, each result code, and the times of the successes.
#[derive(Debug, Serialize)]
pub struct AllSummary {
    pub host: String,
    pub port: u16,
    /// Always `"all_summary"`.
    pub mode: &'static str,
    pub runs: u32,
    pub addresses: Vec<AddressTally>,
}

/// One address over every `--all` run.
#[derive(Debug, Serialize)]
pub struct AddressTally {
    pub addr: String,
    pub family: &'static str,
    /// Runs that connected to it (skipped ones not counted).
    pub connects: usize,
    /// Of those, the ones that succeeded.
    pub ok: usize,
    /// How many runs gave each result code (`ok`, `refused`, `skipped`, ...).
    pub codes: std::collections::BTreeMap<&'static str, usize>,
    /// The times of the successes.
    #[serde(flatten)]
    pub times: Spread,
}

/// Wins per family.
#[derive(Debug, Serialize)]
pub struct Won {
    pub ipv6: usize,
    pub ipv4: usize,
}

/// Attempts, wins and the handshake times of the attempts that connected, in ms.
#[derive(Debug, Serialize)]
pub struct Tally {
    pub name: String,
    pub attempts: usize,
    pub won: usize,
    #[serde(flatten)]
    pub times: Spread,
}

/// Min, median, p95 and max of some times, in ms (`null` when there are none); flattened into
/// the objects that carry them.
#[derive(Debug, Serialize)]
pub struct Spread {
    pub min_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// `--http`: the request made after the connect (with the `hyper` feature).
#[derive(Debug, Serialize)]
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
pub struct Http {
    pub http: HttpResult,
}

/// What the request returned.
#[derive(Debug, Serialize)]
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
pub struct HttpResult {
    pub url: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub version: Option<String>,
    pub winner: Option<Endpoint>,
    pub error: Option<String>,
}

impl Endpoint {
    pub fn of(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr: addr.to_string(),
            family: Family::of(&addr).as_str(),
            protocol: None,
        }
    }
}

impl Connect {
    /// The record of one connect: its report (if it got that far) and its result.
    pub fn new(
        host: &str,
        port: u16,
        report: Option<&Report>,
        result: Result<SocketAddr, &Error>,
    ) -> Connect {
        let resolution = report.map_or_else(Vec::new, |r| {
            r.answers()
                .iter()
                .map(|a| {
                    let (addrs, error) = match a.result() {
                        Ok(ips) => (
                            ips.iter()
                                .map(|ip| SocketAddr::new(*ip, port).to_string())
                                .collect(),
                            None,
                        ),
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    };
                    Answer {
                        family: a.family().as_str(),
                        ms: ms(a.at()),
                        addrs,
                        error,
                        stale_s: a.stale().map(|d| d.as_secs_f64()),
                        over_limit: a.over_limit(),
                    }
                })
                .collect()
        });
        let attempts = report.map_or_else(Vec::new, |r| {
            r.attempts()
                .iter()
                .map(|a| Attempt {
                    addr: a.addr().to_string(),
                    family: a.family().as_str(),
                    protocol: a.protocol().as_str(),
                    start_ms: ms(a.started()),
                    end_ms: a.ended().map(ms),
                    outcome: a.outcome().map_or("running", AttemptOutcome::label),
                    history: a.history().and_then(|h| h.describe()),
                    moved_from: a.moved_by_history().map(|m| m.from),
                    next_delay_ms: a.attempt_delay().map(|(d, _)| ms(d)),
                    next_delay_basis: a.attempt_delay().map(|(_, basis)| basis.to_string()),
                    endpoint_priority: a.endpoint().map(|e| e.priority),
                    tcp_ms: a.tcp_connected().map(ms),
                    nat64: a.translation().map(Translation::of),
                    ech: attempt_ech(a),
                })
                .collect()
        });
        Connect {
            host: host.to_string(),
            port,
            ok: result.is_ok(),
            elapsed_ms: report.map(|r| ms(r.elapsed())),
            winner: result.ok().map(|addr| Endpoint {
                protocol: report
                    .and_then(|r| r.winner())
                    .map(|w| w.protocol().as_str()),
                ..Endpoint::of(addr)
            }),
            resolution,
            https: report
                .and_then(|r| r.service_answer())
                .map(|a| HttpsAnswer {
                    ms: ms(a.at()),
                    records: a
                        .result()
                        .map(|records| records.iter().map(crate::render::describe_record).collect())
                        .unwrap_or_default(),
                    malformed: a.malformed(),
                    over_limit: a.over_limit(),
                    error: a.result().err().map(ToString::to_string),
                }),
            attempts,
            nat64: report
                .and_then(|r| r.nat64_prefix())
                .map(|(prefix, learned)| Nat64 {
                    prefix: prefix.to_string(),
                    learned: learned_code(learned),
                }),
            ech: None,
            error: result.err().map(|e| e.to_string()),
        }
    }
}

/// One line of JSON.
pub fn line(record: &impl Serialize) -> String {
    serde_json::to_string(record).expect("the records serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The schema, pinned: every field name and its JSON type.
    #[test]
    fn connect_schema() {
        let record = Connect {
            host: "example.test".into(),
            port: 443,
            ok: true,
            elapsed_ms: Some(1.5),
            winner: Some(Endpoint {
                protocol: Some("quic"),
                ..Endpoint::of("[2001:db8::1]:443".parse().unwrap())
            }),
            resolution: vec![Answer {
                family: "ipv6",
                ms: 0.5,
                addrs: vec!["[2001:db8::1]:443".into()],
                error: None,
                stale_s: None,
                over_limit: 0,
            }],
            https: None,
            attempts: vec![Attempt {
                addr: "[2001:db8::1]:443".into(),
                family: "ipv6",
                protocol: "quic",
                start_ms: 0.5,
                end_ms: Some(1.5),
                outcome: "connected",
                history: Some("worked before, 1.0 ms RTT".into()),
                moved_from: Some(1),
                next_delay_ms: Some(100.0),
                next_delay_basis: Some("from its RTT".into()),
                endpoint_priority: None,
                tcp_ms: Some(1.0),
                nat64: Some(Translation {
                    ipv4: "198.51.100.10".into(),
                    prefix: "2001:db8:64::/96".into(),
                    by: "client",
                    learned: "discovered",
                }),
                ech: Some("accepted"),
            }],
            nat64: Some(Nat64 {
                prefix: "2001:db8:64::/96".into(),
                learned: "discovered",
            }),
            ech: Some("accepted"),
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({
                "host": "example.test", "port": 443, "ok": true, "elapsed_ms": 1.5,
                "winner": {"addr": "[2001:db8::1]:443", "family": "ipv6", "protocol": "quic"},
                "resolution": [{"family": "ipv6", "ms": 0.5, "addrs": ["[2001:db8::1]:443"], "error": null}],
                "attempts": [{"addr": "[2001:db8::1]:443", "family": "ipv6", "protocol": "quic", "start_ms": 0.5, "end_ms": 1.5, "outcome": "connected",
                               "history": "worked before, 1.0 ms RTT", "moved_from": 1,
                               "next_delay_ms": 100.0, "next_delay_basis": "from its RTT", "tcp_ms": 1.0,
                               "nat64": {"ipv4": "198.51.100.10", "prefix": "2001:db8:64::/96", "by": "client", "learned": "discovered"},
                               "ech": "accepted"}],
                "nat64": {"prefix": "2001:db8:64::/96", "learned": "discovered"},
                "ech": "accepted",
                "error": null,
            })
        );
    }

    // HE-11.6: the winning handshake's ECH status goes on the connect and on the winning
    // attempt; `not_offered` on the connect only.
    #[test]
    fn with_ech_marks_the_winner() {
        let attempt = |addr: &str, outcome| Attempt {
            addr: addr.into(),
            family: "ipv4",
            protocol: "tcp",
            start_ms: 0.0,
            end_ms: Some(1.0),
            outcome,
            history: None,
            moved_from: None,
            next_delay_ms: None,
            next_delay_basis: None,
            endpoint_priority: None,
            tcp_ms: None,
            nat64: None,
            ech: None,
        };
        let connect = || Connect {
            host: "example.test".into(),
            port: 443,
            ok: true,
            elapsed_ms: Some(2.0),
            winner: Some(Endpoint::of("192.0.2.2:443".parse().unwrap())),
            resolution: vec![],
            https: None,
            attempts: vec![
                attempt("192.0.2.1:443", "handshake failed"),
                attempt("192.0.2.2:443", "connected"),
            ],
            nat64: None,
            ech: None,
            error: None,
        };
        let accepted = connect().with_ech(Some("accepted"));
        assert_eq!(accepted.ech, Some("accepted"));
        let per_attempt: Vec<_> = accepted.attempts.iter().map(|a| a.ech).collect();
        assert_eq!(per_attempt, [None, Some("accepted")]);
        let plain = connect().with_ech(Some("not_offered"));
        assert_eq!(plain.ech, Some("not_offered"));
        assert!(plain.attempts.iter().all(|a| a.ech.is_none()));
    }

    // An answer past the limit (HE-5.12) says how many addresses were ignored; others do not.
    #[test]
    fn answer_over_limit_schema() {
        let answer = |over_limit| Answer {
            family: "ipv4",
            ms: 1.0,
            addrs: vec!["192.0.2.1:443".into()],
            error: None,
            stale_s: None,
            over_limit,
        };
        let value = serde_json::to_value(answer(9_936)).unwrap();
        assert_eq!(value["over_limit"], json!(9_936));
        let value = serde_json::to_value(answer(0)).unwrap();
        assert!(value.get("over_limit").is_none(), "{value}");
    }

    #[test]
    fn all_and_http_schema() {
        let all = All {
            host: "example.test".into(),
            port: 80,
            mode: "all",
            ok: false,
            results: vec![AddressCheck {
                addr: "192.0.2.1:80".into(),
                family: "ipv4",
                ok: Some(false),
                code: "refused",
                ms: Some(2.0),
                error: Some("connection refused".into()),
                quic: Some("refused"),
                quic_ms: None,
                quic_error: Some("connection refused".into()),
            }],
            verdict: Some(Verdicts {
                ipv6: "dns_error",
                ipv4: "refused",
            }),
            quic_verdict: Some(Verdicts {
                ipv6: "no_address",
                ipv4: "refused",
            }),
            dns: DnsErrors {
                ipv6: Some("SERVFAIL".into()),
                ipv4: None,
            },
            diagnosis: Some("The IPv6 lookup fails; IPv4 is refused.".into()),
            nat64: None,
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            json!({
                "host": "example.test", "port": 80, "mode": "all", "ok": false,
                "results": [{"addr": "192.0.2.1:80", "family": "ipv4", "ok": false, "code": "refused",
                             "ms": 2.0, "error": "connection refused",
                             "quic": "refused", "quic_error": "connection refused"}],
                "verdict": {"ipv6": "dns_error", "ipv4": "refused"},
                "quic_verdict": {"ipv6": "no_address", "ipv4": "refused"},
                "dns": {"ipv6": "SERVFAIL", "ipv4": null},
                "diagnosis": "The IPv6 lookup fails; IPv4 is refused.",
                "error": null,
            })
        );
        let unresolved = All {
            verdict: None,
            results: Vec::new(),
            error: Some("no such name".into()),
            ..all
        };
        let v = serde_json::to_value(&unresolved).unwrap();
        assert!(v.get("verdict").is_none() && v["results"] == json!([]));
        let summary = Summary {
            host: "example.test".into(),
            port: 80,
            mode: "summary",
            connects: 2,
            connected: 1,
            won: Won { ipv6: 0, ipv4: 1 },
            first_winner: Some("192.0.2.1:80".into()),
            later_winners: vec![],
            families: vec![Tally {
                name: "ipv4".into(),
                attempts: 2,
                won: 1,
                times: Spread {
                    min_ms: Some(1.0),
                    median_ms: Some(1.0),
                    p95_ms: Some(1.0),
                    max_ms: Some(1.0),
                },
            }],
            addresses: vec![],
        };
        assert_eq!(
            serde_json::to_value(&summary).unwrap(),
            json!({
                "host": "example.test", "port": 80, "mode": "summary", "connects": 2, "connected": 1,
                "won": {"ipv6": 0, "ipv4": 1}, "first_winner": "192.0.2.1:80", "later_winners": [],
                "families": [{"name": "ipv4", "attempts": 2, "won": 1, "min_ms": 1.0, "median_ms": 1.0,
                              "p95_ms": 1.0, "max_ms": 1.0}],
                "addresses": [],
            })
        );
        let http = Http {
            http: HttpResult {
                url: "http://example.test/".into(),
                ok: true,
                status: Some(200),
                version: Some("HTTP/1.1".into()),
                winner: Some(Endpoint::of("192.0.2.1:80".parse().unwrap())),
                error: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&http).unwrap(),
            json!({"http": {"url": "http://example.test/", "ok": true, "status": 200, "version": "HTTP/1.1",
                            "winner": {"addr": "192.0.2.1:80", "family": "ipv4"}, "error": null}})
        );
    }
}
