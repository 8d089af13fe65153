//! Command-line parsing for the probe, with clap's derive. Every usage error is one line on
//! stderr (`probe: ...`) and exit status 2.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use eyeballs::config::FamilyPolicy;

const AFTER_HELP: &str = "\
TARGET:
    (none)                      run a built-in demo on loopback (no network needed)
    HOST PORT                   connect to HOST on PORT
    HOST:PORT | [V6]:PORT
    http://HOST[:PORT]/         take host and port from an http or https URL

HOST is a DNS name, an IPv4 address or an IPv6 address (brackets and %zone allowed).

EXIT STATUS:
    0  connected (with --all: every family that has addresses is reachable)
    1  could not connect (with --all: a family is broken)
    2  bad usage or bad input";

/// probe: test dual-stack (IPv6 and IPv4) reachability of a host with Happy Eyeballs (RFC 8305)
#[derive(Debug, Parser)]
#[command(name = "probe", after_help = AFTER_HELP)]
struct Cli {
    /// HOST PORT, HOST:PORT, [V6]:PORT or an http(s) URL; none for the demo
    #[arg(num_args = 0..=2, value_name = "TARGET")]
    target: Vec<String>,
    /// One JSON object per connect, one line each, on stdout
    #[arg(long)]
    json: bool,
    /// N connects with the same connector (N at least 1), then a summary (per family and address:
    /// attempts, wins, handshake min/median/p95/max)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// With --repeat: wait this long between connects, in ms (0 or more)
    #[arg(long, value_name = "MS", default_value_t = 0)]
    interval: u64,
    /// Connection Attempt Delay in ms, 10..=2000 [default: 250]
    #[arg(long, value_name = "MS")]
    attempt_delay: Option<u64>,
    /// Resolution Delay in ms, 0..=2000 [default: 50]
    #[arg(long, value_name = "MS")]
    resolution_delay: Option<u64>,
    /// Limit on each connect in ms, at least 1 (with --all, per address)
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Address families to use
    #[arg(long, value_enum, default_value_t = FamilyArg::Any)]
    family: FamilyArg,
    /// hickory-resolver from /etc/resolv.conf, or the system's getaddrinfo
    #[arg(long, value_enum, default_value_t = ResolverChoice::Hickory)]
    resolver: ResolverChoice,
    /// Connect to every resolved address on its own, without racing, and print a reachability
    /// table with a dual-stack verdict
    #[arg(long)]
    all: bool,
    /// After the connect, make one HTTP(S) GET through eyeballs' hyper connector and print
    /// status, protocol and the connection's winner (needs --features hyper; https races
    /// through TLS with --features rustls)
    #[arg(long)]
    http: bool,
    /// Race through a TLS handshake (SNI: HOST; the platform's roots): an address whose TCP
    /// connects but whose TLS fails loses; the timeline shows TCP and TLS per attempt; with
    /// --all every address's TLS handshake is checked too (needs --features rustls)
    #[arg(long)]
    tls: bool,
    /// Race QUIC (HTTP/3) against TCP+TLS, as if HOST spoke h3 on PORT (HTTPS records and
    /// Alt-Svc find it too): the timeline marks each attempt quic or tcp; implies --tls
    /// (needs --features quic)
    #[arg(long)]
    quic: bool,
    /// With --tls or --http: accept any certificate (to diagnose the path, not to trust it)
    #[arg(long)]
    insecure: bool,
    /// With --tls or --http: also trust the PEM certificates in FILE (a private or test
    /// server's CA), besides the platform's roots
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Also look up the host's HTTPS record (RFC 9460) and use it: hints, priorities, port,
    /// ALPN; the timeline shows the answer
    #[arg(long)]
    https_records: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FamilyArg {
    #[value(alias = "both")]
    Any,
    #[value(alias = "4")]
    Ipv4,
    #[value(alias = "6")]
    Ipv6,
}

/// Which resolver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolverChoice {
    Hickory,
    System,
}

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Option<(String, u16)>,
    pub json: bool,
    pub repeat: u32,
    pub interval: Duration,
    pub attempt_delay: Option<Duration>,
    pub resolution_delay: Option<Duration>,
    pub timeout: Duration,
    pub family: FamilyPolicy,
    pub resolver: ResolverChoice,
    pub all: bool,
    pub http: bool,
    pub tls: bool,
    /// `--quic`: QUIC raced against TCP+TLS (implies `tls`).
    pub quic: bool,
    #[cfg_attr(
        not(feature = "hyper"),
        allow(dead_code, reason = "used by --tls and --http")
    )]
    pub insecure: bool,
    /// `--ca FILE`: PEM certificates trusted besides the platform's.
    #[cfg_attr(
        not(feature = "hyper"),
        allow(dead_code, reason = "used by --tls and --http")
    )]
    pub ca: Option<std::path::PathBuf>,
    pub https_records: bool,
    /// The URL, when the target was given as one.
    pub url: Option<String>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Options>),
    /// `--help`: print this and exit 0.
    Help(String),
}

/// Parses the arguments after the program name; `Err` is the one-line usage error.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let argv = std::iter::once("probe".to_string()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            return Ok(Parsed::Help(e.render().to_string()));
        }
        Err(e) => return Err(one_line(&e)),
    };
    // --quic races through TLS too.
    let tls = cli.tls || cli.quic;
    if cli.insecure && !(tls || cli.http) {
        return Err("--insecure needs --tls or --http (see --help)".into());
    }
    if cli.ca.is_some() && !(tls || cli.http) {
        return Err("--ca needs --tls or --http (see --help)".into());
    }
    if cli.ca.is_some() && cli.insecure {
        return Err(
            "--ca and --insecure do not go together: --insecure checks no certificate".into(),
        );
    }
    let mut url = None;
    let target = match cli.target.as_slice() {
        [] => None,
        [one] => {
            if one.contains("://") {
                url = Some(one.clone());
            }
            Some(parse_target(one)?)
        }
        [host, port] => Some((host.clone(), parse_port(port)?)),
        _ => unreachable!("clap takes at most two"),
    };
    Ok(Parsed::Run(Box::new(Options {
        target,
        json: cli.json,
        repeat: cli.repeat,
        interval: Duration::from_millis(cli.interval),
        attempt_delay: cli.attempt_delay.map(Duration::from_millis),
        resolution_delay: cli.resolution_delay.map(Duration::from_millis),
        timeout: Duration::from_millis(cli.timeout),
        family: match cli.family {
            FamilyArg::Any => FamilyPolicy::Both,
            FamilyArg::Ipv4 => FamilyPolicy::Ipv4Only,
            FamilyArg::Ipv6 => FamilyPolicy::Ipv6Only,
        },
        resolver: cli.resolver,
        all: cli.all,
        http: cli.http,
        tls,
        quic: cli.quic,
        insecure: cli.insecure,
        ca: cli.ca,
        https_records: cli.https_records,
        url,
    })))
}

/// Whether `url` is an https URL (the scheme in any case).
pub fn is_https(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"))
}

/// clap's message without its usage block: the first line, without the `error: ` prefix.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("bad usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (see --help)")
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(0) => Err("port 0 cannot be connected to".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("{v:?} is not a port (1-65535)")),
    }
}

/// `HOST:PORT`, `[V6]:PORT`, or an http/https URL.
pub fn parse_target(s: &str) -> Result<(String, u16), String> {
    if let Some((scheme, rest)) = s.split_once("://") {
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            other => {
                return Err(format!(
                    "unsupported URL scheme {other:?}: use http or https"
                ));
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        if authority.is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        return split_host_port(authority, Some(default_port));
    }
    split_host_port(s, None)
}

fn split_host_port(s: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} has an unclosed '['"))?;
        return match (after.strip_prefix(':'), default_port) {
            (Some(port), _) => Ok((host.to_string(), parse_port(port)?)),
            (None, Some(p)) if after.is_empty() => Ok((host.to_string(), p)),
            _ => Err(format!("{s:?}: expected [IPv6]:PORT")),
        };
    }
    match s.rsplit_once(':') {
        // More than one ':' without brackets is a bare IPv6 address: the port must come apart.
        Some((host, _)) if host.contains(':') => Err(format!(
            "{s:?}: write an IPv6 address with a port as [ADDRESS]:PORT, or give the port separately"
        )),
        Some((host, port)) => Ok((host.to_string(), parse_port(port)?)),
        None => match default_port {
            Some(p) => Ok((s.to_string(), p)),
            None => Err(format!("{s:?}: no port given (use HOST PORT or HOST:PORT)")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(o) => Ok(*o),
            Parsed::Help(_) => Err("help".into()),
        }
    }

    #[test]
    fn options() {
        let o = run(&[
            "--json",
            "--repeat",
            "3",
            "--family",
            "6",
            "--timeout",
            "500",
            "h",
            "80",
        ])
        .unwrap();
        assert!(o.json);
        assert_eq!(o.repeat, 3);
        assert_eq!(o.family, FamilyPolicy::Ipv6Only);
        assert_eq!(o.timeout, Duration::from_millis(500));
        assert_eq!(o.target, Some(("h".into(), 80)));
        let o = run(&[
            "--family",
            "both",
            "--resolver",
            "system",
            "https://x.test/",
        ])
        .unwrap();
        assert_eq!(o.family, FamilyPolicy::Both);
        assert_eq!(o.resolver, ResolverChoice::System);
        assert_eq!(o.url.as_deref(), Some("https://x.test/"));
        assert_eq!(run(&[]).unwrap().target, None, "the demo");
        let o = run(&["--tls", "--insecure", "--https-records", "h", "443"]).unwrap();
        assert!(o.tls && o.insecure && o.https_records);
        let o = run(&["--tls", "--all", "h", "443"]).unwrap();
        assert!(o.tls && o.all);
        let o = run(&["--quic", "--insecure", "h", "443"]).unwrap();
        assert!(o.quic && o.tls && o.insecure, "--quic implies --tls");
        for bad in [
            &["--repeat", "0"][..],
            &["--timeout", "0"],
            &["--family", "ipv5"],
            &["--bogus"],
            &["a", "b", "c"],
            &["--attempt-delay", "x"],
            &["--insecure", "h", "443"],
            &["--ca", "x.pem", "h", "443"],
            &["--tls", "--ca", "x.pem", "--insecure", "h", "443"],
        ] {
            let e = run(bad).unwrap_err();
            assert_eq!(e.lines().count(), 1, "{bad:?}: {e}");
        }
        assert!(matches!(
            parse(["--help".to_string()]),
            Ok(Parsed::Help(text)) if text.contains("EXIT STATUS")
        ));
    }

    #[test]
    fn targets() {
        let ok =
            |s: &str, h: &str, p: u16| assert_eq!(parse_target(s), Ok((h.to_string(), p)), "{s}");
        ok("example.com:443", "example.com", 443);
        ok("[::1]:8080", "::1", 8080);
        ok("192.0.2.1:80", "192.0.2.1", 80);
        ok("http://example.com/", "example.com", 80);
        ok("https://example.com", "example.com", 443);
        ok("https://user@[2001:db8::1]:8443/x?y", "2001:db8::1", 8443);
        ok("HTTP://example.com:81#f", "example.com", 81);
        for bad in [
            "example.com",
            "::1",
            "[::1",
            "ftp://x",
            "http://",
            "x:0",
            "x:99999",
            "[::1]x",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
