//! `probe`: the program to run when "the site is slow only from some networks".
//!
//! It shows what DNS answered and when, which addresses were tried in what order, which failed
//! how, and who won; `--all` tests each address on its own. With no host it runs a demo on
//! loopback. Run `cargo run --example probe -- --help`.

mod args;
mod demo;
mod diagnose;
#[cfg(feature = "hyper")]
mod http;
#[path = "../../tests/common/loopback.rs"]
mod loopback;
mod records;
mod render;
mod summary;
#[cfg(feature = "rustls")]
mod tls;

use eyeballs::{Connector, Error, Family, resolve::StaticResolver};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use args::{Options, Parsed, ResolverChoice};
use render::{Style, ms};

fn main() -> ExitCode {
    let opts = match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => *o,
        Ok(Parsed::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Scripts asking for JSON get a JSON line even when the arguments are wrong.
            let json = std::env::args().skip(1).any(|a| a == "--json");
            usage_error(&e, json);
            return ExitCode::from(2);
        }
    };
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

/// A usage error (exit status 2): one line on stderr and, with `--json`, one JSON object on stdout
/// (`"ok": false` and the error), so a script always has a line to parse.
fn usage_error(e: &dyn std::fmt::Display, json: bool) {
    eprintln!("probe: {e}");
    if json {
        let line = serde_json::json!({ "mode": "error", "ok": false, "error": e.to_string() });
        println!("{line}");
    }
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
        .connect_timeout(opts.timeout)
        .https_records(opts.https_records);
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

async fn run(mut opts: Options) -> u8 {
    let style = style();
    if opts.tls && !cfg!(feature = "rustls") {
        let e = "--tls needs the rustls feature: cargo run --example probe --features rustls -- --tls ...";
        usage_error(&e, opts.json);
        return 2;
    }
    if opts.quic && !cfg!(feature = "quic") {
        let e = "--quic needs the quic feature: cargo run --example probe --features quic -- --quic ...";
        usage_error(&e, opts.json);
        return 2;
    }
    if opts.http && !cfg!(feature = "hyper") {
        let e = "--http needs the hyper feature: cargo run --example probe --features hyper -- --http ...";
        usage_error(&e, opts.json);
        return 2;
    }
    // An https URL asks for TLS to be checked: it is, when this build can; else the output says
    // that it was not, and how to make it so.
    if opts.url.as_deref().is_some_and(args::is_https) && !opts.tls {
        if cfg!(feature = "rustls") {
            opts.tls = true;
        } else {
            let note = "note: an https URL, but TLS is not checked (only TCP): this probe was \
                        built without the rustls feature; cargo run --example probe --features \
                        rustls -- URL checks TLS too";
            // On stderr with --json, so stdout stays one JSON object per line.
            match opts.json {
                true => eprintln!("probe: {note}"),
                false => println!("{note}"),
            }
        }
    }
    let Some((host, port)) = opts.target.clone() else {
        return run_demo(&opts, style).await;
    };
    let connector = match connector(&opts, None) {
        Ok(c) => c,
        Err(e) => {
            usage_error(&e, opts.json);
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
    let tls = (opts.insecure, opts.ca.as_deref());
    if http::request(connector, url, tls, opts.json, style).await {
        0
    } else {
        1
    }
}

#[cfg(not(feature = "hyper"))]
async fn http_request(_: &Connector, _: &str, _: &Options, _: Style) -> u8 {
    unreachable!("--http is refused before any connect without the hyper feature")
}

/// One connect: prints it and returns its report, or `Err` for bad input.
async fn connect_once(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
    style: Style,
) -> Result<eyeballs::Report, String> {
    let mut ech = None;
    let connected = if opts.quic {
        connect_quic(connector, host, port, opts)
            .await?
            .map(|(report, status)| {
                ech = Some(status);
                report
            })
    } else if opts.tls {
        connect_tls(connector, host, port, opts)
            .await?
            .map(|(report, status)| {
                ech = Some(status);
                report
            })
    } else {
        connector
            .connect((host, port))
            .with_report()
            .await
            .map(|(_stream, report)| report)
    };
    let (report, result) = match connected {
        Ok(report) => {
            let winner = report
                .winner()
                .map(|w| w.addr())
                .expect("a connected report has a winner");
            (report, Ok(winner))
        }
        Err(e @ Error::InvalidInput { .. }) => return Err(e.to_string()),
        Err(e) => (
            e.report()
                .cloned()
                .expect("every failure but bad input has a report"),
            Err(e),
        ),
    };
    let shown = result.as_ref().map(|a| *a);
    if opts.json {
        let record = records::Connect::new(host, port, Some(&report), shown).with_ech(ech);
        println!("{}", records::line(&record));
    } else {
        print!("{}", render::timeline(&report, shown, style));
        if let Some(status) = ech {
            println!("{}", render::ech_line(status, style));
        }
    }
    Ok(report)
}

/// What `--all --tls` needs for every address's handshake: the `HttpsConnector`'s (ALPN per
/// endpoint, ECH with the `ech` feature).
#[cfg(feature = "rustls")]
type CheckTls = eyeballs::hyper::TlsHandshake;
#[cfg(not(feature = "rustls"))]
type CheckTls = ();

#[cfg(feature = "rustls")]
fn check_tls(connector: &Connector, host: &str, opts: &Options) -> Result<CheckTls, String> {
    let tls = tls::client_config(opts.insecure, opts.ca.as_deref())?;
    let https = tls::https_connector(connector, &tls)?;
    let name = tls::server_name(host)?;
    https.tls_handshake(&name).map_err(|e| e.to_string())
}

#[cfg(not(feature = "rustls"))]
fn check_tls(_: &Connector, _: &str, _: &Options) -> Result<CheckTls, String> {
    unreachable!("--tls is refused before any connect without the rustls feature")
}

/// An address of `host` to check on its own, with the HTTPS-record endpoint it came from
/// (`--https-records`).
type Destination = (
    std::net::SocketAddr,
    Option<eyeballs::https_records::ServiceEndpoint>,
);

/// `--all`: one address on its own, through TLS with `tls` (with the address's HTTPS-record
/// endpoint, so its ECH configuration is used).
async fn check_one(
    connector: &Connector,
    (addr, endpoint): &Destination,
    host: &str,
    tls: Option<&CheckTls>,
) -> Result<eyeballs::Report, Error> {
    let addr = *addr;
    #[cfg(feature = "rustls")]
    if let Some(tls) = tls {
        use eyeballs::Handshake;
        use futures::TryFutureExt;
        let handshake = move |tcp: tokio::net::TcpStream| {
            let to = eyeballs::Destination::new(addr, Some(host), endpoint.as_ref());
            tls.handshake(tcp, &to).map_err(tls::explain)
        };
        return connector
            .connect([addr])
            .handshake(handshake)
            .with_report()
            .await
            .map(|(_, report)| report);
    }
    let _ = (tls, endpoint, host);
    connector
        .connect([addr])
        .with_report()
        .await
        .map(|(_, report)| report)
}

/// `--tls`: a connect that races through the TLS handshake (eyeballs' `HttpsConnector`'s: ALPN
/// per endpoint, ECH with the `ech` feature); the outer error is for what is wrong before any
/// connect (a bad server name, no root certificates). With the report, what happened to ECH.
#[cfg(feature = "rustls")]
async fn connect_tls(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
) -> Result<Result<(eyeballs::Report, &'static str), Error>, String> {
    let handshake = tls::Explained(check_tls(connector, host, opts)?);
    Ok(connector
        .connect((host, port))
        .handshake(handshake)
        .with_report()
        .await
        .map(|(connected, report)| (report, connected.ech().as_str())))
}

/// `--quic`: a connect that races QUIC against TCP+TLS (eyeballs' `QuicConnector`'s handshake),
/// the host taken to speak HTTP/3 on its port; HTTPS records (`--https-records`) and what
/// `Alt-Svc` would say find the same. The outer error is for what is wrong before any connect.
#[cfg(feature = "quic")]
async fn connect_quic(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
) -> Result<Result<(eyeballs::Report, &'static str), Error>, String> {
    let handshake = quic_handshake(connector, host, port, opts)?;
    Ok(connector
        .connect((host, port))
        .handshake(handshake)
        .with_report()
        .await
        .map(|(connected, report)| {
            let ech = match &connected {
                eyeballs::quic::Connected::Tcp(tls) => tls.ech().as_str(),
                _ => "not_offered",
            };
            (report, ech)
        }))
}

/// `--quic`'s handshake: the `QuicConnector`'s over `connector` (the probe's TLS settings), the
/// host taken to speak HTTP/3 on `port`, its failures explained.
#[cfg(feature = "quic")]
fn quic_handshake(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
) -> Result<tls::Explained<eyeballs::quic::QuicHandshake>, String> {
    let tls = tls::client_config(opts.insecure, opts.ca.as_deref())?;
    let https = tls::https_connector(connector, &tls)?;
    let quic = eyeballs::quic::QuicConnector::new(https).map_err(|e| e.to_string())?;
    let name = tls::server_name(host)?;
    quic.mark_h3(&name, port, port);
    let handshake = quic.handshake(&name, port).map_err(|e| e.to_string())?;
    Ok(tls::Explained(handshake))
}

#[cfg(not(feature = "quic"))]
async fn connect_quic(
    _: &Connector,
    _: &str,
    _: u16,
    _: &Options,
) -> Result<Result<(eyeballs::Report, &'static str), Error>, String> {
    unreachable!("--quic is refused before any connect without the quic feature")
}

#[cfg(not(feature = "rustls"))]
async fn connect_tls(
    _: &Connector,
    _: &str,
    _: u16,
    _: &Options,
) -> Result<Result<(eyeballs::Report, &'static str), Error>, String> {
    unreachable!("--tls is refused before any connect without the rustls feature")
}

/// Before the `i`th of `--repeat N` runs: waits `--interval` (not before the first) and, in text
/// mode with N > 1, prints `-- WHAT i of N`.
async fn pace(i: u32, what: &str, opts: &Options, style: Style) {
    if i > 0 && !opts.interval.is_zero() {
        tokio::time::sleep(opts.interval).await;
    }
    if opts.repeat > 1 && !opts.json {
        let line = format!("-- {what} {} of {}", i + 1, opts.repeat);
        println!("{}", style.dim(&line));
    }
}

async fn connect_repeatedly(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
    style: Style,
) -> u8 {
    let mut reports = Vec::new();
    for i in 0..opts.repeat {
        pace(i, "connect", opts, style).await;
        match connect_once(connector, host, port, opts, style).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                usage_error(&e, opts.json);
                return 2;
            }
        }
    }
    let ok = reports.iter().filter(|r| r.winner().is_some()).count();
    if opts.repeat > 1 {
        let summary = summary::summarize(host, port, &reports);
        if opts.json {
            println!("{}", records::line(&summary));
        } else {
            // The first connect starts without history; the later ones use what it learned.
            let times: Vec<Duration> = reports
                .iter()
                .filter(|r| r.winner().is_some())
                .map(|r| r.elapsed())
                .collect();
            let first = times
                .first()
                .map_or("-".to_string(), |d| format!("{:.1} ms", ms(*d)));
            let median =
                render::median(&times).map_or("-".to_string(), |d| format!("{:.1} ms", ms(d)));
            print!("{}", summary::render(&summary, style));
            println!("time to connect: first {first} (before any history), median {median}");
        }
    }
    if ok == reports.len() { 0 } else { 1 }
}

/// `--all`: every address on its own, at once, each bounded by the timeout; with `--repeat N`,
/// N times with one connector, then the summary of every address's connects.
async fn run_all(connector: &Connector, host: &str, port: u16, opts: &Options, style: Style) -> u8 {
    let mut runs = Vec::new();
    let mut code = 0;
    for i in 0..opts.repeat {
        pace(i, "run", opts, style).await;
        match all_once(connector, host, port, opts, style).await {
            Ok((status, mut more)) => {
                code = code.max(status);
                runs.append(&mut more);
            }
            Err(status) => return status,
        }
    }
    if opts.repeat > 1 {
        let summary = summary::summarize_all(host, port, opts.repeat, &runs);
        if opts.json {
            println!("{}", records::line(&summary));
        } else {
            print!("{}", summary::render_all(&summary, style));
        }
    }
    code
}

/// One `--all` run: its exit status and every address's result, or `Err` with the status of a
/// usage error.
async fn all_once(
    connector: &Connector,
    host: &str,
    port: u16,
    opts: &Options,
    style: Style,
) -> Result<(u8, Vec<summary::Run>), u8> {
    // Each family looked up on its own, so a failed lookup (dns_error) and a missing record
    // (no_address) are told apart.
    let mut lookups = Vec::new();
    let mut addrs = Vec::new();
    let mut skipped = Vec::new();
    let literal: Option<IpAddr> = host.split('%').next().and_then(|h| h.parse().ok());
    for (family, only) in [
        (Family::V6, eyeballs::config::FamilyPolicy::Ipv6Only),
        (Family::V4, eyeballs::config::FamilyPolicy::Ipv4Only),
    ] {
        // A family `--family` excludes is still looked up, so the table shows its addresses,
        // but none of them is connected to.
        let excluded = diagnose::excluded(opts.family, family);
        let result = match literal {
            Some(ip) if Family::of_ip(&ip) != family => Ok(Vec::new()),
            Some(ip) if excluded => Ok(vec![(std::net::SocketAddr::new(ip, port), None)]),
            // An IPv4 literal is checked as itself, even where `resolve` returns its NAT64
            // translation: its connect says how it went through.
            Some(ip) => connector.resolve(host, port).await.map(|addrs| match ip {
                IpAddr::V4(_) => vec![(std::net::SocketAddr::new(ip, port), None)],
                IpAddr::V6(_) => addrs.into_iter().map(|a| (a, None)).collect(),
            }),
            None => {
                let mut one = opts.clone();
                one.family = only;
                match crate::connector(&one, None) {
                    // With --https-records, the record endpoints too, each with its port.
                    Ok(c) if opts.https_records => c.resolve_endpoints(host, port).await,
                    Ok(c) => c
                        .resolve(host, port)
                        .await
                        .map(|addrs| addrs.into_iter().map(|a| (a, None)).collect()),
                    Err(e) => {
                        usage_error(&e, opts.json);
                        return Err(2);
                    }
                }
            }
        };
        if let Err(e @ Error::InvalidInput { .. }) = &result {
            usage_error(&e, opts.json);
            return Err(2);
        }
        lookups.push(diagnose::lookup_of(opts.family, family, &result));
        match excluded {
            true => skipped.extend(result.unwrap_or_default()),
            false => addrs.extend(result.unwrap_or_default()),
        }
    }
    let lookups: [diagnose::Lookup; 2] = [lookups.remove(0), lookups.remove(0)];
    // With --tls, each address's TLS handshake too (handshake_failed, HE-9.1).
    let tls = match opts.tls {
        true => match check_tls(connector, host, opts) {
            Ok(tls) => Some(tls),
            Err(e) => {
                usage_error(&e, opts.json);
                return Err(2);
            }
        },
        false => None,
    };
    let tls = tls.as_ref();
    let checks = addrs.iter().map(|destination| async move {
        let t = std::time::Instant::now();
        let addr = &destination.0;
        let result = check_one(connector, destination, host, tls).await;
        // On an IPv6-only network the IPv4 addresses go through NAT64 (HE-7.1): say so.
        let nat64 = match &result {
            Ok(report) => report.nat64_prefix(),
            Err(e) => e.report().and_then(|r| r.nat64_prefix()),
        };
        let took = t.elapsed();
        ((*addr, diagnose::Checked::from_result(result), took), nat64)
    });
    let (mut results, extra): (Vec<diagnose::Check>, Vec<_>) =
        futures::future::join_all(checks).await.into_iter().unzip();
    results.extend(
        skipped
            .into_iter()
            .map(|(addr, _)| (addr, diagnose::Checked::Skipped, Duration::ZERO)),
    );
    let nat64 = extra.into_iter().flatten().next();
    let delay = connector.config().attempt_delay;
    let mut diagnosis = render::Diagnosis::new(lookups, &results, port, delay, nat64);
    // With --quic, each address's QUIC handshake on its own too (HE-12.6).
    if opts.quic {
        match quic_checks(connector, host, port, &addrs, opts).await {
            Ok(checks) => diagnosis = diagnosis.with_quic(checks, port, delay),
            Err(e) => {
                usage_error(&e, opts.json);
                return Err(2);
            }
        }
    }
    if opts.json {
        let record = render::all_record(host, port, &results, &diagnosis);
        println!("{}", records::line(&record));
    } else {
        print!(
            "{}",
            render::reachability(host, port, &results, &diagnosis, style)
        );
    }
    let runs = results
        .iter()
        .map(|(addr, checked, took)| (*addr, diagnose::address_code(checked), *took))
        .collect();
    Ok((if diagnosis.ok() { 0 } else { 1 }, runs))
}

/// `--all --quic`: every address's QUIC handshake on its own (the QUIC connector's, the host
/// taken to speak HTTP/3 on its port), each bounded by the timeout; an HTTPS endpoint whose
/// record lists no `h3` is `not_offered`.
#[cfg(feature = "quic")]
async fn quic_checks(
    connector: &Connector,
    host: &str,
    port: u16,
    addrs: &[Destination],
    opts: &Options,
) -> Result<Vec<diagnose::QuicCheck>, String> {
    use eyeballs::Handshake;
    let handshake = &quic_handshake(connector, host, port, opts)?;
    let checks = addrs.iter().map(|(addr, endpoint)| async move {
        let addr = *addr;
        let h3 = |e: &eyeballs::https_records::ServiceEndpoint| {
            e.record.alpn_set().iter().any(|p| p == b"h3")
        };
        if endpoint.as_ref().is_some_and(|e| !h3(e)) {
            return (addr, "not_offered", Duration::ZERO, None);
        }
        let to = eyeballs::Destination::new(addr, Some(host), endpoint.as_ref());
        let t = std::time::Instant::now();
        let result = match handshake.quic(&to) {
            Ok(attempt) => tokio::time::timeout(opts.timeout, attempt)
                .await
                .ok()
                .map(|r| r.map(drop)),
            Err(e) => Some(Err(e)),
        };
        let code = diagnose::quic_code(&result);
        let error = match result {
            Some(Err(e)) => Some(e.to_string()),
            None => Some(format!(
                "no QUIC answer within {} ms",
                opts.timeout.as_millis()
            )),
            Some(Ok(())) => None,
        };
        (addr, code, t.elapsed(), error)
    });
    Ok(futures::future::join_all(checks).await)
}

#[cfg(not(feature = "quic"))]
async fn quic_checks(
    _: &Connector,
    _: &str,
    _: u16,
    _: &[Destination],
    _: &Options,
) -> Result<Vec<diagnose::QuicCheck>, String> {
    unreachable!("--quic is refused before any connect without the quic feature")
}

/// The demo's sentence after a case: why it matters (text mode only).
fn why(opts: &Options, style: Style, text: &str) {
    if !opts.json {
        println!("  {} {text}", style.bold("why it matters:"));
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
            usage_error(&e, opts.json);
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
    let scenario = demo::dual_port().and_then(|dual| {
        let hole = demo::BlackHole::try_from_bound(dual.v6)?;
        demo::serve(dual.v4)?;
        Ok((dual.port, hole))
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
                Ok(r) if r.winner().is_some()
            ) {
                code = 1;
            }
            why(
                opts,
                style,
                &format!(
                    "a client without Happy Eyeballs would have waited on [::1] until its connect \
                     timeout (on Linux about 2 minutes of SYN retries); eyeballs started IPv4 after \
                     the {} ms attempt delay. \"cancelled\": the IPv6 attempt was still waiting when \
                     IPv4 won, so its socket was closed.",
                    delay.as_millis()
                ),
            );
            // The same connector remembers (HE-4.2): IPv6 lost without completing, so the next
            // connect goes to IPv4 at once instead of waiting 250 ms.
            if !opts.json {
                println!(
                    "\n{}",
                    style.bold("1b. The same again, with the connector's history")
                );
            }
            if !matches!(
                connect_once(&connector, demo::NAME, port, opts, style).await,
                Ok(r) if r.winner().is_some()
            ) {
                code = 1;
            }
            why(
                opts,
                style,
                "the connector remembers that IPv6 did not answer here, so this connect tried \
                 IPv4 first and waited for nothing; IPv6 gets its turn again once that memory \
                 ages (HE-4.2).",
            );
        }
        Err(e) => {
            eprintln!("probe: cannot set up the demo on loopback (::1 and 127.0.0.1): {e}");
            return 1;
        }
    }
    // 2. Both healthy: IPv6 wins at once.
    let healthy = demo::dual_port().and_then(|dual: demo::DualPort| {
        demo::serve(dual.v6)?;
        demo::serve(dual.v4)?;
        Ok(dual.port)
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
        Ok(r) if r.winner().is_some()
    ) {
        code = 1;
    }
    why(
        opts,
        style,
        "on a healthy network IPv6 is preferred (RFC 6724) and the race costs nothing: one \
         attempt, as fast as a plain connect.",
    );
    if !opts.json {
        println!(
            "\nTry it on a real host: cargo run --example probe -- example.com 443  (or --all, --json, --help)"
        );
    }
    code
}
