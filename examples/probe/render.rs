//! Human output: the timeline a person reads in two seconds, and `--all`'s reachability table and
//! verdict (the `--json` records are in `records.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use eyeballs::{
    Error, Family, Report,
    report::{AttemptOutcome, DelayBasis},
};

use crate::diagnose::{self, Check, Lookup};
use crate::records;
pub use crate::records::ms;

/// ANSI colours, or nothing (not a terminal, or NO_COLOR set).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

fn record(family: Family) -> &'static str {
    if family == Family::V6 { "AAAA" } else { "A" }
}

const BAR: usize = 40;

/// The human timeline of one connect.
pub fn timeline(report: &Report, result: Result<SocketAddr, &Error>, style: Style) -> String {
    let mut out = String::new();
    let total = report.elapsed().max(Duration::from_micros(1));
    out += &format!(
        "{} {} port {}\n",
        style.bold("connect to"),
        report.host(),
        report.port()
    );
    if report.answers().is_empty() {
        out += &style.dim("  DNS      skipped (address given)\n");
    }
    for a in report.answers() {
        let what = match a.result() {
            Ok([]) => style.yellow("no records"),
            Ok(ips) => ips
                .iter()
                .map(|ip| ip.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => style.red(&format!("failed: {e}")),
        };
        let what = match a.stale() {
            Some(ago) => format!(
                "{what} {}",
                style.yellow(&format!(
                    "(stale: expired {}s ago, the name server did not answer in time)",
                    ago.as_secs()
                ))
            ),
            None => what,
        };
        out += &format!(
            "  DNS  {:>9.1} ms  {:<4}  {what}\n",
            ms(a.at()),
            record(a.family())
        );
        if a.over_limit() > 0 {
            out += &style.yellow(&format!(
                "  DNS               {:<4}  {} more address(es) past the limit ignored (64 a family)\n",
                record(a.family()),
                a.over_limit()
            ));
        }
    }
    // Past the limit elsewhere: a TargetName's answer, or given addresses.
    let other_over = report
        .over_limit()
        .saturating_sub(report.answers().iter().map(|a| a.over_limit()).sum());
    if other_over > 0 {
        out += &style.yellow(&format!(
            "  {other_over} more address(es) past the limit ignored (64 a family)\n"
        ));
    }
    if let Some(service) = report.service_answer() {
        let at = ms(service.at());
        match service.result() {
            Ok([]) => {
                out += &format!(
                    "  DNS  {at:>9.1} ms  HTTPS {}\n",
                    style.yellow("no records")
                )
            }
            Ok(records) => {
                for r in records {
                    out += &format!("  DNS  {at:>9.1} ms  HTTPS {}\n", describe_record(r));
                }
            }
            Err(e) => {
                out += &format!(
                    "  DNS  {at:>9.1} ms  HTTPS {}\n",
                    style.red(&format!("failed: {e}"))
                )
            }
        }
        if service.over_limit() > 0 {
            out += &style.yellow(&format!(
                "  DNS               HTTPS {} record(s) and hint(s) past the limits ignored (32 records, 16 hints a family)\n",
                service.over_limit()
            ));
        }
        if service.malformed() > 0 {
            out += &style.yellow(&format!(
                "  DNS               HTTPS {} malformed record(s) ignored\n",
                service.malformed()
            ));
        }
    }
    if let Some((prefix, learned)) = report.nat64_prefix() {
        out += &format!(
            "  NAT64             no IPv4 route; IPv4 reached through {prefix} ({})\n",
            learned_text(learned)
        );
    }
    if !report.attempts().is_empty() {
        let width = report
            .attempts()
            .iter()
            .map(|a| a.addr().to_string().len())
            .max()
            .unwrap_or(0);
        out += &format!(
            "  {:<w$}  {:<4}  {:>9}  {:>9}  {}\n",
            "attempt",
            "",
            "start",
            "end",
            style.dim(&format!(
                "0 ms{:>w2$}",
                format!("{:.1} ms", ms(total)),
                w2 = BAR - 2
            )),
            w = width + 4
        );
    }
    let mixed = (report.attempts().iter()).any(|a| a.protocol() == eyeballs::Protocol::Quic);
    for (i, a) in report.attempts().iter().enumerate() {
        let start = a.started();
        let end = a.ended().unwrap_or(report.elapsed());
        let col =
            |d: Duration| ((d.as_secs_f64() / total.as_secs_f64()) * BAR as f64).round() as usize;
        let (c0, c1) = (
            col(start).min(BAR - 1),
            col(end).clamp(col(start).min(BAR - 1) + 1, BAR),
        );
        let bar: String = (0..BAR)
            .map(|c| if c >= c0 && c < c1 { '█' } else { '·' })
            .collect();
        let outcome = a.outcome().map_or("running", AttemptOutcome::label);
        let (label, bar) = match a.outcome() {
            Some(AttemptOutcome::Connected) => (style.green("won"), style.green(&bar)),
            Some(AttemptOutcome::Cancelled) => (style.dim(outcome), style.dim(&bar)),
            _ => (style.red(outcome), style.red(&bar)),
        };
        // The error's own words only where the label does not already say it.
        let mut detail = match a.outcome() {
            Some(o @ AttemptOutcome::Failed { message, .. }) if o.label() == "failed" => {
                format!(" ({message})")
            }
            Some(AttemptOutcome::HandshakeFailed { message, .. }) => {
                format!(" ({})", diagnose::handshake_words(message))
            }
            _ => String::new(),
        };
        // The winning handshake's own words (what happened to ECH).
        if let Some(note) = a.handshake_note() {
            detail += &format!(" ({note})");
        }
        // HE-9.1: with a handshake, when TCP connected and how long the handshake then took.
        if let Some(tcp) = a.tcp_connected() {
            let tcp_ms = ms(tcp.saturating_sub(start));
            match a.ended() {
                Some(end) if a.outcome() != Some(&AttemptOutcome::Cancelled) => {
                    detail += &format!(
                        "  [tcp {tcp_ms:.1} ms, tls {:.1} ms]",
                        ms(end.saturating_sub(tcp))
                    );
                }
                _ => detail += &format!("  [tcp {tcp_ms:.1} ms, tls unfinished]"),
            }
        }
        // What earlier connects taught (HE-4.2): why this address came where it did.
        let mut taught: Vec<String> = a.history().and_then(|h| h.describe()).into_iter().collect();
        if let Some(moved) = a.moved_by_history() {
            taught.push(format!("moved from #{} to #{}", moved.from, moved.to));
        }
        if let Some(endpoint) = a.endpoint() {
            taught.push(format!(
                "HTTPS endpoint priority {}, port {}",
                endpoint.priority, endpoint.port
            ));
        }
        let followed = i + 1 < report.attempts().len();
        if let Some((delay, basis)) = a.attempt_delay()
            && basis != DelayBasis::Configured
            && followed
        {
            taught.push(format!(
                "next attempt after {} ms, {basis}",
                delay.as_millis()
            ));
        }
        let mut remembered = if taught.is_empty() {
            String::new()
        } else {
            style.dim(&format!("  [history: {}]", taught.join("; ")))
        };
        if let Some(t) = a.translation() {
            remembered += &style.dim(&format!("  [{}]", translation_text(t)));
        }
        // With QUIC in the race (--quic), each attempt says over what it went.
        let protocol = match (mixed, a.protocol()) {
            (false, _) => String::new(),
            (true, eyeballs::Protocol::Quic) => format!("{} ", style.bold("quic")),
            (true, eyeballs::Protocol::Tcp) => "tcp  ".to_string(),
        };
        out += &format!(
            "  #{i:<2} {protocol}{:<w$}  {}  {:>6.1} ms  {:>6.1} ms  {bar} {label}{detail}{remembered}\n",
            a.addr().to_string(),
            a.family(),
            ms(start),
            ms(end),
            w = report
                .attempts()
                .iter()
                .map(|a| a.addr().to_string().len())
                .max()
                .unwrap_or(0)
        );
    }
    match result {
        Ok(addr) => {
            let over = match report.winner().map(|w| w.protocol()) {
                Some(eyeballs::Protocol::Quic) => ", over QUIC",
                Some(eyeballs::Protocol::Tcp) if mixed => ", over TCP",
                _ => "",
            };
            out += &format!(
                "  {} {addr} ({}{over}) in {:.1} ms\n",
                style.green("connected to"),
                eyeballs::Family::of(&addr),
                ms(report.elapsed())
            );
        }
        // The error says it: "connect to HOST:PORT failed: ...".
        Err(e) => out += &format!("  {}\n", style.red(&e.to_string())),
    }
    out
}

/// `--all`: each family's lookup and code, and the sentence.
pub struct Diagnosis {
    pub lookups: [Lookup; 2],
    pub codes: [&'static str; 2],
    pub sentence: String,
    /// The NAT64 prefix IPv4 addresses were reached through (no IPv4 route), if any.
    pub nat64: Option<(eyeballs::nat64::Nat64Prefix, eyeballs::nat64::PrefixSource)>,
    /// With `--quic`: each address's QUIC check, and each family's QUIC code.
    pub quic: Option<(Vec<diagnose::QuicCheck>, [&'static str; 2])>,
}

impl Diagnosis {
    /// From the lookups (IPv6, IPv4) and every address's own connect.
    pub fn new(
        lookups: [Lookup; 2],
        results: &[Check],
        port: u16,
        delay: Duration,
        nat64: Option<(eyeballs::nat64::Nat64Prefix, eyeballs::nat64::PrefixSource)>,
    ) -> Diagnosis {
        let codes = [Family::V6, Family::V4].map(|family| {
            let checks: Vec<&Check> = results
                .iter()
                .filter(|(a, _, _)| Family::of(a) == family)
                .collect();
            diagnose::family_code(&lookups[family.index_of()], &checks)
        });
        let mut sentence = diagnose::sentence(codes, port, delay);
        if let Some((prefix, learned)) = nat64 {
            sentence += &format!(
                " This network has no IPv4 route: IPv4 is reached through NAT64 prefix {prefix} ({}).",
                learned_text(learned)
            );
        }
        Diagnosis {
            lookups,
            codes,
            sentence,
            nat64,
            quic: None,
        }
    }

    /// `--all --quic`: each address's QUIC check, its family codes, and the sentence's words on
    /// them (HE-12.6). The verdict (and the exit status) stays TCP's.
    pub fn with_quic(
        mut self,
        checks: Vec<diagnose::QuicCheck>,
        port: u16,
        delay: Duration,
    ) -> Diagnosis {
        let codes = [Family::V6, Family::V4].map(|family| {
            let of: Vec<&diagnose::QuicCheck> = checks
                .iter()
                .filter(|c| Family::of(&c.0) == family)
                .collect();
            diagnose::quic_family_code(&of)
        });
        self.sentence += &diagnose::quic_sentence(self.codes, codes, port, delay);
        self.quic = Some((checks, codes));
        self
    }

    /// The QUIC check of `addr`, with `--quic`.
    pub fn quic_of(&self, addr: &std::net::SocketAddr) -> Option<&diagnose::QuicCheck> {
        self.quic.as_ref()?.0.iter().find(|c| c.0 == *addr)
    }

    /// Whether the exit status is 0.
    pub fn ok(&self) -> bool {
        diagnose::all_ok(self.codes)
    }
}

/// The index of a family in `[IPv6, IPv4]`.
trait FamilyIndex {
    fn index_of(self) -> usize;
}

impl FamilyIndex for Family {
    fn index_of(self) -> usize {
        if self == Family::V6 { 0 } else { 1 }
    }
}

/// `--all` as its `--json` record.
pub fn all_record(host: &str, port: u16, results: &[Check], d: &Diagnosis) -> records::All {
    records::All {
        host: host.to_string(),
        port,
        mode: "all",
        ok: d.ok(),
        results: results
            .iter()
            .map(|(a, c, t)| records::AddressCheck {
                addr: a.to_string(),
                family: Family::of(a).as_str(),
                ok: match c {
                    diagnose::Checked::Skipped => None,
                    c => Some(matches!(c, diagnose::Checked::Ok)),
                },
                code: diagnose::address_code(c),
                ms: match c {
                    diagnose::Checked::Skipped => None,
                    _ => Some(ms(*t)),
                },
                error: c.error().map(ToString::to_string),
                quic: d.quic_of(a).map(|q| q.1),
                quic_ms: d.quic_of(a).map(|q| ms(q.2)),
                quic_error: d.quic_of(a).and_then(|q| q.3.clone()),
            })
            .collect(),
        quic_verdict: d.quic.as_ref().map(|(_, codes)| records::Verdicts {
            ipv6: codes[0],
            ipv4: codes[1],
        }),
        verdict: Some(records::Verdicts {
            ipv6: d.codes[0],
            ipv4: d.codes[1],
        }),
        dns: records::DnsErrors {
            ipv6: dns_error(&d.lookups[0]),
            ipv4: dns_error(&d.lookups[1]),
        },
        diagnosis: Some(d.sentence.clone()),
        nat64: d.nat64.map(|(prefix, learned)| records::Nat64 {
            prefix: prefix.to_string(),
            learned: records::learned_code(learned),
        }),
        error: None,
    }
}

fn dns_error(lookup: &Lookup) -> Option<String> {
    match lookup {
        Lookup::Failed(e) => Some(e.clone()),
        _ => None,
    }
}

/// `--all` for a person: the reachability table, the verdict and the diagnosis.
pub fn reachability(
    host: &str,
    port: u16,
    results: &[Check],
    d: &Diagnosis,
    style: Style,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let skipped = results
        .iter()
        .filter(|(_, c, _)| matches!(c, diagnose::Checked::Skipped))
        .count();
    let tested = match skipped {
        0 => format!("{} address(es), each on its own", results.len()),
        n => format!(
            "{} address(es), each on its own ({n} skipped: --family)",
            results.len() - n
        ),
    };
    let _ = writeln!(
        out,
        "{} {host} port {port}: {tested}",
        style.bold("reachability of")
    );
    for (lookup, name) in d.lookups.iter().zip(["AAAA", "A"]) {
        if let Lookup::Failed(e) = lookup {
            let _ = writeln!(out, "  DNS {name}: {}", style.red(&format!("failed: {e}")));
        }
    }
    let w = results
        .iter()
        .map(|(a, _, _)| a.to_string().len())
        .max()
        .unwrap_or(0);
    let quic_column = match d.quic {
        Some(_) => format!("  {:<16}  {:>10}", "quic", "quic time"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "  {:<w$}  {:<6}  {:<16}  {:>10}{quic_column}",
        "address", "family", "result", "handshake"
    );
    let mut why = Vec::new();
    for (a, c, t) in results {
        let code = diagnose::address_code(c);
        let (res, time) = match c {
            diagnose::Checked::Ok => (
                style.green(&format!("{code:<16}")),
                format!("{:.1} ms", ms(*t)),
            ),
            diagnose::Checked::Skipped => (style.dim(&format!("{code:<16}")), "-".to_string()),
            diagnose::Checked::Failed(e) => {
                // What the code alone does not say: the TLS failure's own words.
                if let Some(message) = diagnose::handshake_failure(e) {
                    why.push(format!("  {a}: {message}"));
                }
                (style.red(&format!("{code:<16}")), "-".to_string())
            }
        };
        let quic = match d.quic_of(a) {
            Some((_, code, t, error)) => {
                if let Some(error) = error {
                    why.push(format!("  {a} (QUIC): {error}"));
                }
                let (code, time) = match *code {
                    "ok" => (
                        style.green(&format!("{code:<16}")),
                        format!("{:.1} ms", ms(*t)),
                    ),
                    "not_offered" => (style.dim(&format!("{code:<16}")), "-".to_string()),
                    _ => (style.red(&format!("{code:<16}")), "-".to_string()),
                };
                format!("  {code}  {time:>10}")
            }
            None if d.quic.is_some() => format!("  {:<16}  {:>10}", style.dim("skipped"), "-"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<w$}  {:<6}  {res}  {time:>10}{quic}",
            a.to_string(),
            Family::of(a).as_str()
        );
    }
    for line in why {
        let _ = writeln!(out, "{}", style.dim(&line));
    }
    let verdict = format!("IPv6 {}, IPv4 {}", d.codes[0], d.codes[1]);
    let verdict = if d.ok() {
        style.green(&verdict)
    } else {
        style.red(&verdict)
    };
    let _ = writeln!(out, "{} {verdict}", style.bold("verdict:"));
    if let Some((_, codes)) = &d.quic {
        let _ = writeln!(
            out,
            "{} IPv6 {}, IPv4 {}",
            style.bold("QUIC:"),
            codes[0],
            codes[1]
        );
    }
    let _ = writeln!(out, "{} {}", style.bold("diagnosis:"), d.sentence);
    out
}

/// How a NAT64 prefix was learned, in words.
pub fn learned_text(learned: eyeballs::nat64::PrefixSource) -> &'static str {
    match learned {
        eyeballs::nat64::PrefixSource::Discovered => "discovered from ipv4only.arpa, RFC 7050",
        eyeballs::nat64::PrefixSource::Configured => "configured",
        eyeballs::nat64::PrefixSource::WellKnown => "the well-known prefix",
        _ => "learned",
    }
}

/// A NAT64 translation, in words: `NAT64 to 198.51.100.10, synthesized here`.
pub fn translation_text(t: &eyeballs::nat64::Translation) -> String {
    let by = match t.by {
        eyeballs::nat64::SynthesizedBy::Client => "synthesized here",
        eyeballs::nat64::SynthesizedBy::Dns64 => "synthesized by DNS64",
        _ => "synthesized",
    };
    format!("NAT64 to {}, {by}", t.ipv4)
}

/// One HTTPS record in a presentation-like form: `1 . alpn=h2,http/1.1 port=8443 ipv6hint=...`.
pub fn describe_record(r: &eyeballs::https_records::ServiceRecord) -> String {
    let target = if r.target.is_empty() {
        "."
    } else {
        r.target.as_str()
    };
    if r.is_alias() {
        return format!("0 {target} (alias)");
    }
    let mut out = format!("{} {target}", r.priority);
    if !r.alpn.is_empty() {
        let alpn: Vec<String> = r
            .alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        out += &format!(" alpn={}", alpn.join(","));
    }
    if r.no_default_alpn {
        out += " no-default-alpn";
    }
    if let Some(port) = r.port {
        out += &format!(" port={port}");
    }
    if !r.ipv4_hints.is_empty() {
        let v: Vec<String> = r.ipv4_hints.iter().map(ToString::to_string).collect();
        out += &format!(" ipv4hint={}", v.join(","));
    }
    if !r.ipv6_hints.is_empty() {
        let v: Vec<String> = r.ipv6_hints.iter().map(ToString::to_string).collect();
        out += &format!(" ipv6hint={}", v.join(","));
    }
    if let Some(ech) = &r.ech {
        out += &format!(" ech ({} bytes)", ech.len());
    }
    out
}

/// The median of `times` (the mean of the middle two for an even count); `None` when empty.
pub fn median(times: &[Duration]) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// The line after a `--tls` timeline: what happened to Encrypted Client Hello.
pub fn ech_line(status: &str, style: Style) -> String {
    let words = match status {
        "accepted" => "accepted: the name crossed the network only encrypted",
        "retried" => {
            "accepted on the one retry, with the server's own configuration (its HTTPS record is out of date)"
        }
        "grease" => {
            "not offered by the HTTPS record (or none looked up: --https-records); GREASE sent"
        }
        _ => {
            "not offered (build with --features ech, and look the HTTPS record up: --https-records)"
        }
    };
    let line = format!("  TLS               ECH {words}");
    match status {
        "accepted" | "retried" => style.green(&line),
        _ => style.dim(&line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), Some(ms(2)));
        assert_eq!(median(&[ms(11), ms(3)]), Some(ms(7)));
    }
}
