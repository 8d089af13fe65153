//! Human output: the timeline a person reads in two seconds, and `--all`'s reachability table and
//! verdict (the `--json` records are in `records.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use eyeballs::{AttemptOutcome, DelayBasis, Error, Family, FamilyPolicy, Report};

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
        out += &format!(
            "  DNS  {:>9.1} ms  {:<4}  {what}\n",
            ms(a.at()),
            record(a.family())
        );
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
        if service.malformed() > 0 {
            out += &style.yellow(&format!(
                "  DNS               HTTPS {} malformed record(s) ignored\n",
                service.malformed()
            ));
        }
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
                let why = message
                    .strip_prefix("connected, then the handshake failed: ")
                    .unwrap_or(message);
                format!(" ({why})")
            }
            _ => String::new(),
        };
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
        let remembered = if taught.is_empty() {
            String::new()
        } else {
            style.dim(&format!("  [history: {}]", taught.join("; ")))
        };
        out += &format!(
            "  #{i:<2} {:<w$}  {}  {:>6.1} ms  {:>6.1} ms  {bar} {label}{detail}{remembered}\n",
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
            out += &format!(
                "  {} {addr} ({}) in {:.1} ms\n",
                style.green("connected to"),
                eyeballs::Family::of(&addr),
                ms(report.elapsed())
            );
        }
        Err(e) => out += &format!("  {} {e}\n", style.red("failed:")),
    }
    out
}

/// One address's own connect in `--all`: the address, its result, how long it took.
pub type Check = (SocketAddr, Result<(), Error>, Duration);

/// What `--all` concludes about one family.
pub enum Verdict {
    /// This many of that many addresses connected.
    Ok(usize, usize),
    /// All of this many failed, for these reasons.
    Broken(usize, String),
    NoAddresses,
    Skipped,
}

impl Verdict {
    /// The `--json` code.
    pub fn key(&self) -> &'static str {
        match self {
            Verdict::Ok(..) => "ok",
            Verdict::Broken(..) => "broken",
            Verdict::NoAddresses => "no addresses",
            Verdict::Skipped => "not tested",
        }
    }

    fn describe(&self, family: Family, style: Style) -> String {
        let name = if family == Family::V6 { "IPv6" } else { "IPv4" };
        match self {
            Verdict::Ok(n, of) if n == of => style.green(&format!("{name} OK")),
            Verdict::Ok(n, of) => {
                style.yellow(&format!("{name} OK ({n} of {of} addresses reachable)"))
            }
            Verdict::Broken(of, why) => style.red(&format!(
                "{name} broken: all {of} address(es) failed ({why})"
            )),
            Verdict::NoAddresses => style.dim(&format!("{name}: no addresses")),
            Verdict::Skipped => style.dim(&format!("{name}: not tested")),
        }
    }
}

/// One word for why a connect failed: the first attempt's outcome, or `timed out`.
pub fn short_reason(e: &Error) -> String {
    match e {
        Error::TimedOut(_) => "timed out".into(),
        _ => match e
            .report()
            .and_then(|r| r.attempts().first())
            .and_then(|a| a.outcome())
        {
            Some(o) => o.label().to_string(),
            None => "failed".into(),
        },
    }
}

/// The verdict per family, IPv6 first, from every address's own result.
pub fn verdicts(results: &[Check], policy: FamilyPolicy) -> [(Family, Verdict); 2] {
    [Family::V6, Family::V4].map(|family| {
        let of: Vec<&Check> = results
            .iter()
            .filter(|(a, _, _)| Family::of(a) == family)
            .collect();
        let excluded = !matches!(
            (policy, family),
            (FamilyPolicy::Both, _)
                | (FamilyPolicy::Ipv4Only, Family::V4)
                | (FamilyPolicy::Ipv6Only, Family::V6)
        );
        let verdict = if excluded {
            Verdict::Skipped
        } else if of.is_empty() {
            Verdict::NoAddresses
        } else if of.iter().any(|(_, r, _)| r.is_ok()) {
            Verdict::Ok(of.iter().filter(|(_, r, _)| r.is_ok()).count(), of.len())
        } else {
            let mut reason: Vec<String> = of
                .iter()
                .filter_map(|(_, r, _)| r.as_ref().err())
                .map(short_reason)
                .collect();
            reason.sort();
            reason.dedup();
            Verdict::Broken(of.len(), reason.join(", "))
        };
        (family, verdict)
    })
}

/// Whether `--all` succeeded: no family broken, and at least one reachable.
pub fn all_ok(verdicts: &[(Family, Verdict)]) -> bool {
    verdicts
        .iter()
        .all(|(_, v)| !matches!(v, Verdict::Broken(..)))
        && verdicts.iter().any(|(_, v)| matches!(v, Verdict::Ok(..)))
}

/// `--all` as its `--json` record.
pub fn all_record(
    host: &str,
    port: u16,
    results: &[Check],
    verdicts: &[(Family, Verdict); 2],
) -> records::All {
    records::All {
        host: host.to_string(),
        port,
        mode: "all",
        ok: all_ok(verdicts),
        results: results
            .iter()
            .map(|(a, r, t)| records::AddressCheck {
                addr: a.to_string(),
                family: Family::of(a).as_str(),
                ok: r.is_ok(),
                ms: ms(*t),
                error: r.as_ref().err().map(short_reason),
            })
            .collect(),
        verdict: Some(records::Verdicts {
            ipv6: verdicts[0].1.key(),
            ipv4: verdicts[1].1.key(),
        }),
        error: None,
    }
}

/// `--all` for a person: the reachability table and the verdict line.
pub fn reachability(
    host: &str,
    port: u16,
    results: &[Check],
    verdicts: &[(Family, Verdict)],
    style: Style,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {host} port {port}: {} address(es), each on its own",
        style.bold("reachability of"),
        results.len()
    );
    let w = results
        .iter()
        .map(|(a, _, _)| a.to_string().len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "  {:<w$}  {:<6}  {:<12}  {:>10}",
        "address", "family", "result", "handshake"
    );
    for (a, r, t) in results {
        let (res, time) = match r {
            Ok(()) => (
                style.green(&format!("{:<12}", "ok")),
                format!("{:.1} ms", ms(*t)),
            ),
            Err(e) => (
                style.red(&format!("{:<12}", short_reason(e))),
                "-".to_string(),
            ),
        };
        let _ = writeln!(
            out,
            "  {:<w$}  {:<6}  {res}  {time:>10}",
            a.to_string(),
            Family::of(a).as_str()
        );
    }
    let line: Vec<String> = verdicts
        .iter()
        .map(|(f, v)| v.describe(*f, style))
        .collect();
    let _ = writeln!(out, "{} {}", style.bold("verdict:"), line.join(", "));
    out
}

/// One HTTPS record in a presentation-like form: `1 . alpn=h2,http/1.1 port=8443 ipv6hint=...`.
pub fn describe_record(r: &eyeballs::ServiceRecord) -> String {
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
