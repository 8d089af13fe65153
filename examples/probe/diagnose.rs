//! `--all`'s diagnosis: a code per address and per family from what was observed, and a
//! sentence a person can act on. The codes are a stable part of the `--json` contract.

use std::time::Duration;

use eyeballs::{Error, Family, config::FamilyPolicy, report::AttemptOutcome};

/// What one address's own connect showed, and how long it took.
pub type Check = (std::net::SocketAddr, Checked, Duration);

/// One address's check.
#[derive(Debug)]
pub enum Checked {
    /// Not connected to: its family is excluded by `--family`.
    Skipped,
    /// Connected (and, with `--tls`, the TLS handshake completed).
    Ok,
    /// Failed, with every attempt's report.
    Failed(Error),
}

impl Checked {
    /// `Ok` or `Failed` from a connect's result.
    pub fn from_result<T>(result: Result<T, Error>) -> Checked {
        match result {
            Ok(_) => Checked::Ok,
            Err(e) => Checked::Failed(e),
        }
    }

    /// The error of a failed check.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Checked::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// `--all --quic`: one address's QUIC handshake on its own, its code (`ok`, `refused`,
/// `unreachable`, `blackhole`, `no_udp`, `handshake_failed`, or `not_offered` for an HTTPS
/// endpoint whose record lists no `h3`), how long it took, and its error's words.
pub type QuicCheck = (std::net::SocketAddr, &'static str, Duration, Option<String>);

/// A QUIC check's code from its outcome: `None` when the attempt timed out.
#[cfg_attr(not(feature = "quic"), allow(dead_code, reason = "used by --quic"))]
pub fn quic_code(result: &Option<Result<(), std::io::Error>>) -> &'static str {
    use std::io::ErrorKind;
    match result {
        None => "blackhole",
        Some(Ok(())) => "ok",
        Some(Err(e)) => match e.kind() {
            ErrorKind::ConnectionRefused => "refused",
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "unreachable",
            ErrorKind::TimedOut => "blackhole",
            ErrorKind::PermissionDenied | ErrorKind::AddrNotAvailable | ErrorKind::Unsupported => {
                "no_udp"
            }
            _ => "handshake_failed",
        },
    }
}

/// A family's QUIC code: `ok` if any address's QUIC worked, the shared code of all, `mixed`, or
/// `no_address`.
pub fn quic_family_code(checks: &[&QuicCheck]) -> &'static str {
    let codes: Vec<&str> = checks.iter().map(|c| c.1).collect();
    match codes.first() {
        None => "no_address",
        Some(_) if codes.contains(&"ok") => "ok",
        Some(first) if codes.iter().all(|c| c == first) => first,
        Some(_) => "mixed",
    }
}

/// What `--all --quic` adds to the sentence, from each family's TCP (+TLS) code and QUIC code.
pub fn quic_sentence(
    tcp: [&str; 2],
    quic: [&str; 2],
    port: u16,
    attempt_delay: Duration,
) -> String {
    let delay = attempt_delay.as_millis();
    let blocked = |f: usize| tcp[f] == "ok" && matches!(quic[f], "blackhole" | "unreachable");
    let refused = |f: usize| tcp[f] == "ok" && quic[f] == "refused";
    let tested: Vec<usize> = (0..2)
        .filter(|f| !matches!(quic[*f], "no_address"))
        .collect();
    if tested.is_empty() {
        return String::new();
    }
    if tested.iter().all(|f| quic[*f] == "ok") {
        return " QUIC (HTTP/3) works too.".into();
    }
    let over = |fs: &[usize]| match fs {
        [0] => " over IPv6",
        [1] => " over IPv4",
        _ => "",
    };
    let blocked: Vec<usize> = tested.iter().copied().filter(|f| blocked(*f)).collect();
    if !blocked.is_empty() {
        return format!(
            " UDP to port {port} is blocked on this path{} (QUIC unreachable, TCP fine): a client \
             racing QUIC loses {delay} ms on its first connect, then starts TCP first.",
            over(&blocked)
        );
    }
    let refused: Vec<usize> = tested.iter().copied().filter(|f| refused(*f)).collect();
    if !refused.is_empty() {
        return format!(
            " Nothing answers QUIC on UDP port {port}{} (refused, TCP fine): a client racing QUIC \
             falls back to TCP at once.",
            over(&refused)
        );
    }
    if tested.iter().any(|f| quic[*f] == "no_udp") {
        return " QUIC was not checked: no UDP socket could be made here.".into();
    }
    if tested.iter().any(|f| quic[*f] == "handshake_failed") {
        return format!(" The QUIC handshake on UDP port {port} fails (see each address's error).");
    }
    String::new()
}

/// How a TLS handshake failed after TCP connected, as the probe's handshake words it
/// (`tls::explain`): each message starts with its prefix, and the code is `--json`'s.
pub const TLS_FAILURES: [(&str, &str); 6] = [
    ("not_tls", "not TLS: "),
    ("tls_alert", "TLS alert: "),
    ("certificate", "certificate rejected: "),
    ("tls_reset", "reset during TLS: "),
    // eyeballs' own words (feature `ech`): the server refused ECH, or ECH was required.
    ("ech_rejected", "ECH rejected"),
    ("ech_required", "ECH required"),
];

/// How a family's lookup went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Not looked up: excluded by `--family`.
    Skipped,
    /// Answered with addresses.
    Addresses,
    /// Answered without any (NODATA).
    NoAddress,
    /// Failed (SERVFAIL, timeout, refused), with the resolver's words.
    Failed(String),
}

/// One address's code: `ok`, `skipped`, `refused`, `unreachable`, `blackhole`, or, when TCP
/// connected and the TLS handshake then failed, `not_tls`, `tls_alert`, `certificate`,
/// `tls_reset`, `ech_rejected`, `ech_required`, `tls_stalled` or `handshake_failed`; else
/// `failed`.
pub fn address_code(checked: &Checked) -> &'static str {
    let e = match checked {
        Checked::Ok => return "ok",
        Checked::Skipped => return "skipped",
        Checked::Failed(e) => e,
    };
    let attempt = e.report().and_then(|r| r.attempts().first());
    let outcome = attempt.and_then(|a| a.outcome());
    // TCP connected, then the handshake failed: how tells the server's problem (no TLS here, an
    // alert, a certificate) from the path's (a stall: small packets passed, big ones did not).
    if attempt.is_some_and(|a| a.tcp_connected().is_some()) {
        return match handshake_failure(e) {
            Some(words) => TLS_FAILURES
                .iter()
                .find(|(_, prefix)| words.contains(prefix))
                .map_or("handshake_failed", |(code, _)| code),
            // Still in the handshake when its time ran out.
            None => "tls_stalled",
        };
    }
    if matches!(e, Error::TimedOut(_)) {
        return "blackhole";
    }
    match outcome {
        Some(AttemptOutcome::HandshakeFailed { .. }) => "handshake_failed",
        Some(AttemptOutcome::TimedOut) => "blackhole",
        Some(o) => match o.label() {
            "refused" => "refused",
            "unreachable" => "unreachable",
            "timed out" => "blackhole",
            _ => "failed",
        },
        None => "failed",
    }
}

/// The handshake's own words in a `handshake failed` outcome's message, without the report's
/// `connected, then the handshake failed: ` prefix.
pub fn handshake_words(message: &str) -> &str {
    message
        .strip_prefix("connected, then the handshake failed: ")
        .unwrap_or(message)
}

/// The words of a failed check's TLS handshake (its address's attempt connected, then the
/// handshake failed), if that is how it failed.
pub fn handshake_failure(e: &Error) -> Option<&str> {
    match e.report()?.attempts().first()?.outcome()? {
        AttemptOutcome::HandshakeFailed { message, .. } => Some(handshake_words(message)),
        _ => None,
    }
}

/// A family's code: `ok`, `no_address`, `dns_error`, `skipped`, the shared code of all its
/// addresses (see [`address_code`]), or `mixed`.
pub fn family_code(lookup: &Lookup, checks: &[&Check]) -> &'static str {
    match lookup {
        Lookup::Skipped => return "skipped",
        Lookup::NoAddress => return "no_address",
        Lookup::Failed(_) => return "dns_error",
        Lookup::Addresses => {}
    }
    if checks.is_empty() {
        return "no_address";
    }
    let codes: Vec<&str> = checks.iter().map(|(_, c, _)| address_code(c)).collect();
    if codes.contains(&"ok") {
        return "ok";
    }
    if codes.iter().all(|c| *c == codes[0]) {
        codes[0]
    } else {
        "mixed"
    }
}

/// Whether `--family` excludes `family` (its addresses are listed as skipped, never connected
/// to).
pub fn excluded(policy: FamilyPolicy, family: Family) -> bool {
    matches!(
        (policy, family),
        (FamilyPolicy::Ipv4Only, Family::V6) | (FamilyPolicy::Ipv6Only, Family::V4)
    )
}

/// The family's lookup from `--family` and what its own lookup returned.
pub fn lookup_of<T>(
    policy: FamilyPolicy,
    family: Family,
    result: &Result<Vec<T>, Error>,
) -> Lookup {
    if excluded(policy, family) {
        return Lookup::Skipped;
    }
    match result {
        Ok(addrs) if addrs.is_empty() => Lookup::NoAddress,
        Ok(_) => Lookup::Addresses,
        Err(Error::NoAddresses(_)) => Lookup::NoAddress,
        Err(e) => Lookup::Failed(e.to_string()),
    }
}

/// Whether the run is a success: every family that has addresses works, and one does.
pub fn all_ok(codes: [&str; 2]) -> bool {
    let counted: Vec<&str> = codes
        .into_iter()
        .filter(|c| !matches!(*c, "no_address" | "skipped" | "dns_error"))
        .collect();
    !counted.is_empty() && counted.iter().all(|c| *c == "ok") && !codes.contains(&"dns_error")
}

/// The sentence that sums it up: what is broken, where, and what it costs clients.
pub fn sentence(codes: [&str; 2], port: u16, attempt_delay: Duration) -> String {
    let delay = attempt_delay.as_millis();
    let [v6, v4] = codes;
    let what = |code: &str, name: &str| -> String {
        match code {
            "ok" => format!("{name} works"),
            "no_address" => format!("the name has no {name} address"),
            "dns_error" => format!("the {name} lookup fails"),
            "skipped" => format!("{name} was not tested"),
            "refused" => {
                format!("{name} is refused (the path works, nothing listens on port {port})")
            }
            "unreachable" => {
                format!("{name} is unreachable from here (no route, or an ICMP unreachable)")
            }
            "blackhole" => format!("{name} is black-holed on this path (connects get no answer)"),
            "not_tls" => format!(
                "{name} connects but the server does not speak TLS on port {port} (it answered with bytes that are not TLS)"
            ),
            "tls_alert" => {
                format!("{name} connects but the server refuses the TLS handshake with an alert")
            }
            "certificate" => format!(
                "{name} connects but the server's certificate is not accepted (--insecure checks the path without it)"
            ),
            "tls_reset" => {
                format!("{name} connects but the server resets the connection during TLS")
            }
            "tls_stalled" => format!(
                "{name} connects but its TLS handshake stalls: small packets pass and big ones do not, the signature of a path-MTU black hole"
            ),
            "handshake_failed" => format!("{name} connects but its TLS handshake fails"),
            "ech_rejected" => format!(
                "{name} connects but the server rejects Encrypted Client Hello (its HTTPS record's ECH configuration is not one it accepts)"
            ),
            "ech_required" => {
                format!("{name} connects but offers no ECH configuration, and ECH is required")
            }
            "mixed" => format!("{name} addresses fail in different ways"),
            _ => format!("{name} fails"),
        }
    };
    let mut out = format!("{}; {}.", capitalise(&what(v6, "IPv6")), what(v4, "IPv4"));
    let cost = match (v6, v4) {
        ("blackhole", "ok") => Some(format!(
            " Clients without Happy Eyeballs hang until their connect timeout; with it they lose {delay} ms per new connection."
        )),
        ("tls_stalled" | "handshake_failed" | "tls_reset", "ok") => Some(
            " Clients that race TCP only get a connection that fails after connecting; racing through TLS avoids it.".to_string(),
        ),
        ("unreachable", "ok") | ("refused", "ok") => {
            Some(" Clients fall back to IPv4 at once; the cost is small.".to_string())
        }
        ("refused", "refused") => Some(format!(
            " The network is fine: nothing listens on port {port}."
        )),
        _ => None,
    };
    out.push_str(&cost.unwrap_or_default());
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_codes_and_exit() {
        assert!(all_ok(["ok", "ok"]));
        assert!(all_ok(["no_address", "ok"]));
        assert!(!all_ok(["blackhole", "ok"]));
        assert!(!all_ok(["dns_error", "ok"]));
        assert!(!all_ok(["no_address", "no_address"]));
        assert!(!all_ok(["refused", "refused"]));
        assert_eq!(family_code(&Lookup::Skipped, &[]), "skipped");
        assert_eq!(family_code(&Lookup::Failed("x".into()), &[]), "dns_error");
        assert_eq!(family_code(&Lookup::NoAddress, &[]), "no_address");
    }

    // HE-12.6: the QUIC part of the diagnosis names a UDP block where TCP works.
    #[test]
    fn quic_sentences() {
        let d = Duration::from_millis(250);
        let s = quic_sentence(["ok", "ok"], ["blackhole", "blackhole"], 443, d);
        assert!(
            s.contains("UDP to port 443 is blocked on this path (QUIC unreachable, TCP fine)"),
            "{s}"
        );
        let s = quic_sentence(["ok", "ok"], ["blackhole", "ok"], 443, d);
        assert!(s.contains("blocked on this path over IPv6"), "{s}");
        let s = quic_sentence(["ok", "ok"], ["refused", "refused"], 443, d);
        assert!(s.contains("Nothing answers QUIC on UDP port 443"), "{s}");
        assert_eq!(
            quic_sentence(["ok", "ok"], ["ok", "ok"], 443, d),
            " QUIC (HTTP/3) works too."
        );
        assert_eq!(
            quic_sentence(["ok", "no_address"], ["ok", "no_address"], 443, d),
            " QUIC (HTTP/3) works too."
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(quic_code(&Some(Err(refused))), "refused");
        assert_eq!(quic_code(&None), "blackhole");
        assert_eq!(quic_code(&Some(Ok(()))), "ok");
    }

    #[test]
    fn sentences() {
        let s = sentence(["blackhole", "ok"], 443, Duration::from_millis(250));
        assert!(s.starts_with("IPv6 is black-holed on this path"), "{s}");
        assert!(s.contains("lose 250 ms per new connection"), "{s}");
        let s = sentence(["refused", "refused"], 8080, Duration::from_millis(250));
        assert!(s.contains("nothing listens on port 8080"), "{s}");
        let s = sentence(["not_tls", "not_tls"], 8080, Duration::from_millis(250));
        assert!(s.contains("does not speak TLS on port 8080"), "{s}");
        assert!(
            !s.contains("path-MTU"),
            "only a stall suggests the path: {s}"
        );
        let s = sentence(["tls_stalled", "ok"], 443, Duration::from_millis(250));
        assert!(s.contains("path-MTU black hole"), "{s}");
    }
}
