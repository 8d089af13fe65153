//! `--repeat N`: what N connects with one connector showed, per family and per address; with
//! `--all`, what N runs showed per address.

use std::collections::BTreeMap;
use std::time::Duration;

use eyeballs::{Family, Report, report::AttemptOutcome};

use crate::records::{self, ms};
use crate::render::Style;

/// Handshake times of one address or family, and how often it won.
#[derive(Debug, Default, Clone)]
struct Tally {
    attempts: usize,
    won: usize,
    /// Handshake times of the attempts that connected.
    times: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, outcome: Option<&AttemptOutcome>, took: Option<Duration>) {
        self.attempts += 1;
        if outcome == Some(&AttemptOutcome::Connected) {
            self.won += 1;
            self.times.extend(took);
        }
    }

    fn record(&self, name: String) -> records::Tally {
        records::Tally {
            name,
            attempts: self.attempts,
            won: self.won,
            times: spread(&self.times),
        }
    }
}

/// Min, median, p95 and max of `times`, in ms (`None` when there are none).
fn spread(times: &[Duration]) -> records::Spread {
    let mut t = times.to_vec();
    t.sort();
    let at = |q: f64| -> Option<f64> {
        if t.is_empty() {
            return None;
        }
        let i = ((t.len() - 1) as f64 * q).round() as usize;
        Some(ms(t[i]))
    };
    records::Spread {
        min_ms: at(0.0),
        median_ms: crate::render::median(&t).map(ms),
        p95_ms: at(0.95),
        max_ms: at(1.0),
    }
}

/// The four time columns of a summary row: min, median, p95, max (`-` for none).
fn columns(t: &records::Spread) -> String {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    format!(
        "{:>8}  {:>8}  {:>8}  {:>8}",
        f(t.min_ms),
        f(t.median_ms),
        f(t.p95_ms),
        f(t.max_ms)
    )
}

/// One address's result in one `--all` run: its code and how long its connect took.
pub type Run = (std::net::SocketAddr, &'static str, Duration);

/// The summary of `runs` `--all` runs, from every address's result in each.
pub fn summarize_all(host: &str, port: u16, runs: u32, results: &[Run]) -> records::AllSummary {
    let mut by_addr: BTreeMap<
        std::net::SocketAddr,
        (BTreeMap<&'static str, usize>, Vec<Duration>),
    > = BTreeMap::new();
    for (addr, code, took) in results {
        let (codes, times) = by_addr.entry(*addr).or_default();
        *codes.entry(*code).or_default() += 1;
        if *code == "ok" {
            times.push(*took);
        }
    }
    let addresses = by_addr
        .into_iter()
        .map(|(addr, (codes, times))| records::AddressTally {
            addr: addr.to_string(),
            family: Family::of(&addr).as_str(),
            connects: codes
                .iter()
                .filter(|(c, _)| **c != "skipped")
                .map(|(_, n)| n)
                .sum(),
            ok: times.len(),
            codes,
            times: spread(&times),
        })
        .collect();
    records::AllSummary {
        host: host.to_string(),
        port,
        mode: "all_summary",
        runs,
        addresses,
    }
}

/// The `--all` summary for a person: a row per address.
pub fn render_all(s: &records::AllSummary, style: Style) -> String {
    let mut out = format!(
        "{} {} runs, each address on its own\n",
        style.bold("summary:"),
        s.runs
    );
    let w = s
        .addresses
        .iter()
        .map(|a| a.addr.len())
        .max()
        .unwrap_or(0)
        .max(7);
    out += &format!(
        "  {:<w$}  {:<6}  {:>8}  {:>4}  {:>8}  {:>8}  {:>8}  {:>8}  results\n",
        "address", "family", "connects", "ok", "min ms", "median", "p95", "max"
    );
    for a in &s.addresses {
        let results: Vec<String> = a.codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        out += &format!(
            "  {:<w$}  {:<6}  {:>8}  {:>4}  {}  {}\n",
            a.addr,
            a.family,
            a.connects,
            a.ok,
            columns(&a.times),
            results.join(", ")
        );
    }
    out
}

/// The summary of `reports`, one per connect in order.
pub fn summarize(host: &str, port: u16, reports: &[Report]) -> records::Summary {
    let mut families: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut addresses: BTreeMap<String, Tally> = BTreeMap::new();
    for report in reports {
        for a in report.attempts() {
            let took = a.ended().map(|e| e.saturating_sub(a.started()));
            families
                .entry(a.family().as_str())
                .or_default()
                .add(a.outcome(), took);
            addresses
                .entry(a.addr().to_string())
                .or_default()
                .add(a.outcome(), took);
        }
    }
    let winners: Vec<String> = reports
        .iter()
        .filter_map(|r| r.winner().map(|w| w.addr().to_string()))
        .collect();
    let won_by = |family: Family| {
        reports
            .iter()
            .filter(|r| r.winner().is_some_and(|w| w.family() == family))
            .count()
    };
    records::Summary {
        host: host.to_string(),
        port,
        mode: "summary",
        connects: reports.len(),
        connected: winners.len(),
        won: records::Won {
            ipv6: won_by(Family::V6),
            ipv4: won_by(Family::V4),
        },
        first_winner: reports
            .first()
            .and_then(|r| r.winner().map(|w| w.addr().to_string())),
        later_winners: {
            let mut later: Vec<String> = winners.iter().skip(1).cloned().collect();
            later.dedup();
            later
        },
        families: families
            .into_iter()
            .map(|(f, t)| t.record(f.to_string()))
            .collect(),
        addresses: addresses.into_iter().map(|(a, t)| t.record(a)).collect(),
    }
}

/// The summary for a person.
pub fn render(s: &records::Summary, style: Style) -> String {
    let mut out = format!(
        "{} {} connects: {} connected, {} failed; IPv6 won {}, IPv4 won {}\n",
        style.bold("summary:"),
        s.connects,
        s.connected,
        s.connects - s.connected,
        s.won.ipv6,
        s.won.ipv4
    );
    out += &format!(
        "  {:<28}  {:>8}  {:>5}  {:>8}  {:>8}  {:>8}  {:>8}\n",
        "", "attempts", "won", "min ms", "median", "p95", "max"
    );
    for t in s.families.iter().chain(&s.addresses) {
        out += &format!(
            "  {:<28}  {:>8}  {:>5}  {}\n",
            t.name,
            t.attempts,
            t.won,
            columns(&t.times)
        );
    }
    if let Some(first) = &s.first_winner
        && !s.later_winners.is_empty()
        && s.later_winners != [first.clone()]
    {
        out += &format!(
            "  the winner changed after the first connect: {first} -> {}\n",
            s.later_winners.join(", ")
        );
    }
    out
}
