//! Output: a human timeline a person reads in two seconds, and the `--json` contract.

use std::net::SocketAddr;
use std::time::Duration;

use eyeballs::{AttemptOutcome, Error, Family, Report};
use serde_json::{Value, json};

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

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
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
        let detail = match a.outcome() {
            Some(o @ AttemptOutcome::Failed { message, .. }) if o.label() == "failed" => {
                format!(" ({message})")
            }
            _ => String::new(),
        };
        out += &format!(
            "  #{i:<2} {:<w$}  {}  {:>6.1} ms  {:>6.1} ms  {bar} {label}{detail}\n",
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

/// One connect as the stable `--json` object.
pub fn json(
    host: &str,
    port: u16,
    report: Option<&Report>,
    result: Result<SocketAddr, &Error>,
) -> Value {
    let resolution: Vec<Value> = report
        .map(|r| {
            r.answers()
                .iter()
                .map(|a| {
                    let (addrs, error) = match a.result() {
                        Ok(ips) => (ips.iter().map(|ip| SocketAddr::new(*ip, port).to_string()).collect(), Value::Null),
                        Err(e) => (Vec::new(), Value::String(e.to_string())),
                    };
                    json!({"family": a.family().as_str(), "ms": ms(a.at()), "addrs": addrs, "error": error})
                })
                .collect()
        })
        .unwrap_or_default();
    let attempts: Vec<Value> = report
        .map(|r| {
            r.attempts()
                .iter()
                .map(|a| {
                    json!({
                        "addr": a.addr().to_string(),
                        "family": a.family().as_str(),
                        "start_ms": ms(a.started()),
                        "end_ms": a.ended().map(ms),
                        "outcome": a.outcome().map_or("running", AttemptOutcome::label),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let winner = match result {
        Ok(addr) => json!({"addr": addr.to_string(), "family": Family::of(&addr).as_str()}),
        Err(_) => Value::Null,
    };
    json!({
        "host": host,
        "port": port,
        "ok": result.is_ok(),
        "elapsed_ms": report.map(|r| ms(r.elapsed())),
        "winner": winner,
        "resolution": resolution,
        "attempts": attempts,
        "error": result.err().map(|e| e.to_string()),
    })
}
