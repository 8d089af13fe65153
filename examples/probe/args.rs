//! Command-line parsing for the probe. Hand-rolled: the grammar is small and the errors should
//! name the exact argument that is wrong.

use std::time::Duration;

use eyeballs::FamilyPolicy;

pub const HELP: &str = "\
probe: test dual-stack (IPv6 and IPv4) reachability of a host with Happy Eyeballs (RFC 8305)

USAGE:
    probe                       run a built-in demo on loopback (no network needed)
    probe HOST PORT             connect to HOST on PORT
    probe HOST:PORT | [V6]:PORT
    probe http://HOST[:PORT]/   take host and port from an http or https URL

HOST is a DNS name, an IPv4 address or an IPv6 address (brackets and %zone allowed).

OPTIONS:
    --json                  one JSON object per connect, one line each, on stdout
    --repeat N              N connects with the same connector (default 1)
    --attempt-delay MS      Connection Attempt Delay, 10..=2000 (default 250)
    --resolution-delay MS   Resolution Delay (default 50)
    --timeout MS            limit on each connect (default 10000; with --all, per address)
    --family any|ipv4|ipv6  address families to use (default any)
    --resolver hickory|system
                            hickory-resolver from /etc/resolv.conf (default), or getaddrinfo
    --all                   connect to every resolved address on its own, without racing,
                            and print a reachability table with a dual-stack verdict
    --http                  after the connect, make one HTTP(S) GET through eyeballs' hyper
                            connector and print status, protocol and the connection's winner
                            (needs the example built with --features hyper)
    -h, --help              this text

EXIT STATUS:
    0  connected (with --all: every family that has addresses is reachable)
    1  could not connect (with --all: a family is broken)
    2  bad usage or bad input
";

/// Which resolver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub attempt_delay: Option<Duration>,
    pub resolution_delay: Option<Duration>,
    pub timeout: Duration,
    pub family: FamilyPolicy,
    pub resolver: ResolverChoice,
    pub all: bool,
    pub http: bool,
    /// The URL, when the target was given as one.
    pub url: Option<String>,
    pub help: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: None,
            json: false,
            repeat: 1,
            attempt_delay: None,
            resolution_delay: None,
            timeout: Duration::from_secs(10),
            family: FamilyPolicy::Both,
            resolver: ResolverChoice::Hickory,
            all: false,
            http: false,
            url: None,
            help: false,
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut positional = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => o.help = true,
            "--json" => o.json = true,
            "--all" => o.all = true,
            "--http" => o.http = true,
            "--repeat" => {
                let v = value("--repeat")?;
                o.repeat = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(format!("--repeat {v:?}: expected a whole number >= 1"))?;
            }
            "--attempt-delay" => {
                o.attempt_delay = Some(millis("--attempt-delay", &value("--attempt-delay")?)?)
            }
            "--resolution-delay" => {
                o.resolution_delay =
                    Some(millis("--resolution-delay", &value("--resolution-delay")?)?)
            }
            "--timeout" => {
                o.timeout = millis("--timeout", &value("--timeout")?)?;
                if o.timeout.is_zero() {
                    return Err("--timeout must be greater than 0".into());
                }
            }
            "--family" => {
                o.family = match value("--family")?.as_str() {
                    "any" | "both" => FamilyPolicy::Both,
                    "ipv4" | "4" => FamilyPolicy::Ipv4Only,
                    "ipv6" | "6" => FamilyPolicy::Ipv6Only,
                    other => return Err(format!("--family {other:?}: expected any, ipv4 or ipv6")),
                }
            }
            "--resolver" => {
                o.resolver = match value("--resolver")?.as_str() {
                    "hickory" => ResolverChoice::Hickory,
                    "system" => ResolverChoice::System,
                    other => {
                        return Err(format!("--resolver {other:?}: expected hickory or system"));
                    }
                }
            }
            s if s.starts_with('-') && s.len() > 1 && !s.starts_with("-[") => {
                return Err(format!("unknown option {s:?} (see --help)"));
            }
            _ => positional.push(arg),
        }
    }
    o.target = match positional.as_slice() {
        [] => None,
        [one] => {
            if one.contains("://") {
                o.url = Some(one.clone());
            }
            Some(parse_target(one)?)
        }
        [host, port] => Some((host.clone(), parse_port(port)?)),
        _ => return Err(format!("too many arguments: {}", positional.join(" "))),
    };
    Ok(o)
}

fn millis(name: &str, v: &str) -> Result<Duration, String> {
    v.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{name} {v:?}: expected milliseconds"))
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
