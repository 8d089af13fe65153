//! `probe`: the program to run when "the site is slow only from some networks".
//!
//! It shows what DNS answered and when, which addresses were tried in what order, which failed
//! how, and who won; `--all` tests each address on its own. With no host it runs a demo on
//! loopback. Run `cargo run --example probe -- --help`.

mod args;
mod demo;
#[cfg(feature = "hyper")]
mod http;
mod render;

use eyeballs::{Connector, Error, Family, FamilyPolicy, StaticResolver};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;

use args::{HELP, Options, ResolverChoice};
use render::{Style, ms};

fn main() -> ExitCode {
    let opts = match args::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("probe: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("probe: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    ExitCode::from(runtime.block_on(run(opts)))
}

fn style() -> Style {
    Style {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The connector the options describe; a bad value is a usage error.
fn connector(opts: &Options, resolver: Option<StaticResolver>) -> Result<Connector, String> {
    let mut b = Connector::builder()
        .family(opts.family)
        .connect_timeout(opts.timeout);
    if let Some(d) = opts.attempt_delay {
        b = b.attempt_delay(d);
    }
    if let Some(d) = opts.resolution_delay {
        b = b.resolution_delay(d);
    }
    b = match (resolver, opts.resolver) {
        (Some(r), _) => b.resolver(r),
        (None, ResolverChoice::System) => b.system_resolver(),
        (None, ResolverChoice::Hickory) => b,
    };
    b.build().map_err(|e| e.to_string())
}

async fn run(opts: Options) -> u8 {
    let style = style();
    if opts.http && !cfg!(feature = "hyper") {
        eprintln!(
            "probe: --http needs the hyper feature: cargo run --example probe --features hyper -- --http ..."
        );
        return 2;
    }
    let Some((host, port)) = opts.target.clone() else {
        return run_demo(&opts, style).await;
    };
    let connector = match connector(&opts, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("probe: {e}");
            return 2;
        }
    };
    if opts.all {
        return run_all(&connector, &host, port, &opts, style).await;
    }
    let code = connect_repeatedly(&connector, &host, port, &opts, style).await;
    if code != 0 || !opts.http {
        return code;
    }
    let url = opts.url.clone().unwrap_or_else(|| {
        let scheme = if port == 443 { "https" } else { "http" };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        format!("{scheme}://{host}:{port}/")
    });
    http_request(&connector, &url, &opts, style).await
}

#[cfg(feature = "hyper")]
async fn http_request(connector: &Connector, url: &str, opts: &Options, style: Style) -> u8 {
    if http::request(connector, url, opts.json, style).await {
        0
    } else {
        1
    }
}

#[cfg(not(feature = "hyper"))]
async fn http_request(_: &Connector, _: &str, _: &Options, _: Style) -> u8 {
    unreachable!("--http is refused before any connect without the hyper feature")
}

/// One connect: prints it, returns whether it connected, or `Err` for bad input.
async fn connect_once(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
    style: Style,
) -> Result<bool, Error> {
    let (report, result) = match connector.connect_with_report(host, port).await {
        Ok((_stream, report)) => {
            let winner = report
                .winner()
                .map(|w| w.addr())
                .expect("a connected report has a winner");
            (report, Ok(winner))
        }
        Err(e @ Error::InvalidInput { .. }) => return Err(e),
        Err(e) => (
            e.report()
                .cloned()
                .expect("every failure but bad input has a report"),
            Err(e),
        ),
    };
    let shown = result.as_ref().map(|a| *a);
    if opts.json {
        println!("{}", render::json(host, port, Some(&report), shown));
    } else {
        print!("{}", render::timeline(&report, shown, style));
    }
    Ok(result.is_ok())
}

async fn connect_repeatedly(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
    style: Style,
) -> u8 {
    let mut ok = 0u32;
    let mut times = Vec::new();
    for i in 0..opts.repeat {
        if opts.repeat > 1 && !opts.json {
            println!(
                "{}",
                style.dim(&format!("-- connect {} of {}", i + 1, opts.repeat))
            );
        }
        let t = std::time::Instant::now();
        match connect_once(connector, host, port, opts, style).await {
            Ok(true) => {
                ok += 1;
                times.push(t.elapsed());
            }
            Ok(false) => {}
            Err(e) => {
                eprintln!("probe: {e}");
                return 2;
            }
        }
    }
    if opts.repeat > 1 && !opts.json {
        times.sort();
        let median = times
            .get(times.len() / 2)
            .map_or("-".to_string(), |d| format!("{:.1} ms", ms(*d)));
        println!(
            "{} connects: {ok} connected, {} failed; median time to connect {median}",
            opts.repeat,
            opts.repeat - ok
        );
    }
    if ok == opts.repeat { 0 } else { 1 }
}

/// `--all`: every address on its own, at once, each bounded by the timeout.
async fn run_all(connector: &Connector, host: &str, port: u16, opts: &Options, style: Style) -> u8 {
    let addrs = match connector.resolve(host, port).await {
        Ok(a) => a,
        Err(e @ Error::InvalidInput { .. }) => {
            eprintln!("probe: {e}");
            return 2;
        }
        Err(e) => {
            if opts.json {
                println!(
                    "{}",
                    serde_json::json!({"host": host, "port": port, "mode": "all", "ok": false, "results": [], "error": e.to_string()})
                );
            } else {
                println!("{} {e}", style.red("failed:"));
            }
            return 1;
        }
    };
    let checks = addrs.iter().map(|addr| async move {
        let t = std::time::Instant::now();
        let result = connector.connect_addrs([*addr]).await;
        (*addr, result.map(|_| ()), t.elapsed())
    });
    let results = futures::future::join_all(checks).await;
    let mut verdicts = Vec::new();
    for family in [Family::V6, Family::V4] {
        let of: Vec<_> = results
            .iter()
            .filter(|(a, _, _)| Family::of(a) == family)
            .collect();
        let excluded = !matches!(
            (opts.family, family),
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
        verdicts.push((family, verdict));
    }
    let all_ok = verdicts
        .iter()
        .all(|(_, v)| !matches!(v, Verdict::Broken(..)))
        && verdicts.iter().any(|(_, v)| matches!(v, Verdict::Ok(..)));
    if opts.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(a, r, t)| {
                serde_json::json!({
                    "addr": a.to_string(),
                    "family": Family::of(a).as_str(),
                    "ok": r.is_ok(),
                    "ms": ms(*t),
                    "error": r.as_ref().err().map(short_reason),
                })
            })
            .collect();
        let verdict: serde_json::Map<String, serde_json::Value> = verdicts
            .iter()
            .map(|(f, v)| (f.as_str().to_string(), v.key().into()))
            .collect();
        println!(
            "{}",
            serde_json::json!({"host": host, "port": port, "mode": "all", "ok": all_ok, "results": rows, "verdict": verdict, "error": null})
        );
    } else {
        println!(
            "{} {host} port {port}: {} address(es), each on its own",
            style.bold("reachability of"),
            addrs.len()
        );
        let w = addrs.iter().map(|a| a.to_string().len()).max().unwrap_or(0);
        println!(
            "  {:<w$}  {:<6}  {:<12}  {:>10}",
            "address", "family", "result", "handshake"
        );
        for (a, r, t) in &results {
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
            println!(
                "  {:<w$}  {:<6}  {res}  {time:>10}",
                a.to_string(),
                Family::of(a).as_str()
            );
        }
        let line: Vec<String> = verdicts
            .iter()
            .map(|(f, v)| v.describe(*f, style))
            .collect();
        println!("{} {}", style.bold("verdict:"), line.join(", "));
    }
    if all_ok { 0 } else { 1 }
}

enum Verdict {
    Ok(usize, usize),
    Broken(usize, String),
    NoAddresses,
    Skipped,
}

impl Verdict {
    fn key(&self) -> &'static str {
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

fn short_reason(e: &Error) -> String {
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

const LOOPBACK_V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
const LOOPBACK_V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The demo: a name with ::1 and 127.0.0.1; first with IPv6 black-holed, then healthy.
async fn run_demo(opts: &Options, style: Style) -> u8 {
    let resolver = StaticResolver::new().with(demo::NAME, [LOOPBACK_V6, LOOPBACK_V4]);
    let connector = match connector(opts, Some(resolver)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("probe: {e}");
            return 2;
        }
    };
    let delay = connector.config().attempt_delay;
    if !opts.json {
        println!(
            "{}",
            style.bold("eyeballs probe demo: loopback only, nothing leaves this machine")
        );
        println!(
            "{} resolves to ::1 and 127.0.0.1 (a static resolver); the Connection Attempt Delay is {} ms.\n",
            demo::NAME,
            delay.as_millis()
        );
    }
    let mut code = 0;
    // 1. IPv6 black-holed: the race falls back to IPv4 after the attempt delay.
    let scenario = demo::dual_port().and_then(|(port, v6, v4)| {
        let hole = demo::black_hole(v6)?;
        demo::serve(v4)?;
        Ok((port, hole))
    });
    match scenario {
        Ok((port, _hole)) => {
            if !opts.json {
                println!(
                    "{}",
                    style.bold("1. IPv6 black-holed (full accept queue on [::1]), IPv4 healthy")
                );
            }
            if !matches!(
                connect_once(&connector, demo::NAME, port, opts, style).await,
                Ok(true)
            ) {
                code = 1;
            }
        }
        Err(e) => {
            eprintln!("probe: cannot set up the demo on loopback (::1 and 127.0.0.1): {e}");
            return 1;
        }
    }
    // 2. Both healthy: IPv6 wins at once.
    let healthy = demo::dual_port().and_then(|(port, v6, v4)| {
        demo::serve(v6)?;
        demo::serve(v4)?;
        Ok(port)
    });
    let port = match healthy {
        Ok(port) => port,
        Err(e) => {
            eprintln!("probe: cannot start the demo listeners: {e}");
            return 1;
        }
    };
    if !opts.json {
        println!("\n{}", style.bold("2. Both families healthy"));
    }
    if !matches!(
        connect_once(&connector, demo::NAME, port, opts, style).await,
        Ok(true)
    ) {
        code = 1;
    }
    if !opts.json {
        println!(
            "\nTry it on a real host: cargo run --example probe -- example.com 443  (or --all, --json, --help)"
        );
    }
    code
}
