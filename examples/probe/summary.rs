//! `--repeat N`: what N connects with one connector showed, per family and per address.

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
        let mut t = self.times.clone();
        t.sort();
        let at = |q: f64| -> Option<f64> {
            if t.is_empty() {
                return None;
            }
            let i = ((t.len() - 1) as f64 * q).round() as usize;
            Some(ms(t[i]))
        };
        records::Tally {
            name,
            attempts: self.attempts,
            won: self.won,
            min_ms: at(0.0),
            median_ms: crate::render::median(&t).map(ms),
            p95_ms: at(0.95),
            max_ms: at(1.0),
        }
    }
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
    let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    out += &format!(
        "  {:<28}  {:>8}  {:>5}  {:>8}  {:>8}  {:>8}  {:>8}\n",
        "", "attempts", "won", "min ms", "median", "p95", "max"
    );
    for t in s.families.iter().chain(&s.addresses) {
        out += &format!(
            "  {:<28}  {:>8}  {:>5}  {:>8}  {:>8}  {:>8}  {:>8}\n",
            t.name,
            t.attempts,
            t.won,
            f(t.min_ms),
            f(t.median_ms),
            f(t.p95_ms),
            f(t.max_ms)
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
