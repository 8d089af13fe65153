//! Parsing and validating the `host` argument: a DNS name, an IPv4 literal, or an IPv6 literal with
//! or without brackets and with an optional zone id. Pure: interface names in zone ids are looked up
//! by the caller.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What is wrong with a host or port given to a connect call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The host is empty (or only a trailing dot).
    EmptyHost,
    /// The host contains white space.
    Whitespace,
    /// The host has a non-ASCII character. Internationalised names must be given in their ASCII
    /// (punycode, `xn--`) form; eyeballs does not apply IDNA mapping itself.
    NonAscii,
    /// A character that may not appear in a host name.
    InvalidCharacter(char),
    /// A `[` without its `]`, or text after the `]`.
    UnclosedBracket,
    /// Brackets around something that is not an IPv6 address.
    NotIpv6InBrackets,
    /// A zone id (`%...`) on something that is not an IPv6 address.
    ZoneWithoutIpv6,
    /// An empty or malformed zone id.
    InvalidZone(String),
    /// The zone id names no network interface on this host.
    UnknownInterface(String),
    /// An empty label (`a..b`, or a leading dot).
    EmptyLabel,
    /// A label longer than 63 octets.
    LabelTooLong(usize),
    /// A name longer than 253 octets.
    NameTooLong(usize),
    /// A label that starts or ends with a hyphen.
    HyphenAtLabelEdge,
    /// A name whose last label is numeric, which is neither a valid IPv4 address nor a DNS name
    /// (such as `1.2.3` or `256.1.1.1`).
    InvalidIpv4,
    /// Port 0 cannot be connected to.
    PortZero,
    /// A `host:port` string without a port.
    MissingPort,
    /// A `host:port` string whose port is not a number from 0 to 65535.
    InvalidPort(String),
    /// An IPv6 literal in a `host:port` string without brackets (`[2001:db8::1]:443`).
    Ipv6WithoutBrackets,
    /// A connect timeout of zero.
    ZeroTimeout,
    /// A multicast or broadcast address: TCP connects only to unicast addresses.
    NotUnicast(IpAddr),
    /// `0.0.0.0` or `::`: connecting to the unspecified address reaches the local host on Linux,
    /// which is almost never what a client meant.
    Unspecified(IpAddr),
    /// An IP literal of a family the connector's [`crate::config::FamilyPolicy`] excludes (an
    /// IPv4-mapped IPv6 literal counts as IPv4).
    FamilyNotAllowed {
        /// The literal.
        ip: IpAddr,
        /// The connector's family policy.
        policy: crate::config::FamilyPolicy,
    },
    /// A host TLS cannot name the server by (its server name must be a DNS name or an IP
    /// address); for connects that run a TLS or QUIC handshake.
    NotTlsServerName,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::EmptyHost => f.write_str("the host is empty"),
            InputError::Whitespace => f.write_str("the host contains white space"),
            InputError::NonAscii => f.write_str(
                "the host is not ASCII (give internationalised names in their xn-- form)",
            ),
            InputError::InvalidCharacter(c) => write!(f, "the host contains the character {c:?}"),
            InputError::UnclosedBracket => f.write_str("the host has an unclosed '['"),
            InputError::NotIpv6InBrackets => {
                f.write_str("only an IPv6 address may stand in brackets")
            }
            InputError::ZoneWithoutIpv6 => {
                f.write_str("a zone id (%...) is allowed only on an IPv6 address")
            }
            InputError::InvalidZone(z) => write!(f, "the zone id {z:?} is not valid"),
            InputError::UnknownInterface(z) => write!(f, "no network interface is named {z:?}"),
            InputError::EmptyLabel => f.write_str("the host has an empty label"),
            InputError::LabelTooLong(n) => write!(f, "a label is {n} octets long (at most 63)"),
            InputError::NameTooLong(n) => write!(f, "the name is {n} octets long (at most 253)"),
            InputError::HyphenAtLabelEdge => f.write_str("a label starts or ends with '-'"),
            InputError::InvalidIpv4 => {
                f.write_str("the host looks like an IPv4 address but is not one")
            }
            InputError::PortZero => f.write_str("port 0 cannot be connected to"),
            InputError::MissingPort => f.write_str("no port (expected host:port)"),
            InputError::InvalidPort(port) => {
                write!(f, "the port {port:?} is not a number from 1 to 65535")
            }
            InputError::Ipv6WithoutBrackets => {
                f.write_str("an IPv6 address with a port must stand in brackets: [addr]:port")
            }
            InputError::ZeroTimeout => f.write_str("a connect timeout must be more than zero"),
            InputError::NotUnicast(ip) => write!(
                f,
                "{ip} is a multicast or broadcast address, not a TCP destination"
            ),
            InputError::NotTlsServerName => {
                f.write_str("the host is not a name TLS can send as the server name")
            }
            InputError::FamilyNotAllowed { ip, policy } => {
                let family = match ip.to_canonical() {
                    IpAddr::V4(_) => "IPv4",
                    IpAddr::V6(_) => "IPv6",
                };
                let only = match policy {
                    crate::config::FamilyPolicy::Ipv4Only => "IPv4 only",
                    crate::config::FamilyPolicy::Ipv6Only => "IPv6 only",
                    crate::config::FamilyPolicy::Both => "both families",
                };
                write!(
                    f,
                    "{ip} is an {family} address, but the connector is configured for {only}"
                )
            }
            InputError::Unspecified(ip) => write!(
                f,
                "{ip} is the unspecified address, which reaches the local host; allow it with Builder::allow_unspecified"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// A zone id, as written after `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))] // Public for the fuzzing hooks.
pub enum Zone {
    /// A numeric interface index (`%2`).
    Index(u32),
    /// An interface name (`%eth0`).
    Interface(String),
}

/// A validated host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))] // Public for the fuzzing hooks.
pub enum Host {
    /// A DNS name, lowercased, with its trailing dot if it had one.
    Name(String),
    /// An IP literal (DNS is skipped).
    Ip(IpAddr, Option<Zone>),
}

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Parses `input` as a host. Cheap and allocation-free for IP literals.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))] // Public for the fuzzing hooks.
pub fn parse_host(input: &str) -> Result<Host, InputError> {
    Ok(match parse_host_ref(input)? {
        HostRef::Name(name) => Host::Name(name.into_owned()),
        HostRef::Ip(ip, zone) => Host::Ip(ip, zone),
    })
}

/// A validated host, a name borrowed from the input when it is already lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostRef<'a> {
    /// A DNS name, lowercased, with its trailing dot if it had one.
    Name(Cow<'a, str>),
    /// An IP literal (DNS is skipped).
    Ip(IpAddr, Option<Zone>),
}

/// [`parse_host`], allocation-free for a name already in lowercase (the common case).
pub(crate) fn parse_host_ref(input: &str) -> Result<HostRef<'_>, InputError> {
    // The common literal case first: a plain IPv4 or IPv6 address needs no other check.
    if let Ok(ip) = input.parse::<IpAddr>() {
        return Ok(HostRef::Ip(ip, None));
    }
    if input.is_empty() {
        return Err(InputError::EmptyHost);
    }
    if input.chars().any(char::is_whitespace) {
        return Err(InputError::Whitespace);
    }
    if !input.is_ascii() {
        return Err(InputError::NonAscii);
    }
    if let Some(rest) = input.strip_prefix('[') {
        let inner = rest.strip_suffix(']').ok_or(InputError::UnclosedBracket)?;
        if inner.contains(['[', ']']) {
            return Err(InputError::UnclosedBracket);
        }
        return parse_ipv6(inner, true);
    }
    if input.contains(['[', ']']) {
        return Err(InputError::UnclosedBracket);
    }
    if input.contains(':') {
        return parse_ipv6(input, false);
    }
    if input.contains('%') {
        return match input.split_once('%') {
            Some((ip, _)) if ip.parse::<Ipv4Addr>().is_ok() => Err(InputError::ZoneWithoutIpv6),
            _ => Err(InputError::InvalidCharacter('%')),
        };
    }
    if let Ok(v4) = input.parse::<Ipv4Addr>() {
        return Ok(HostRef::Ip(IpAddr::V4(v4), None));
    }
    parse_name(input).map(HostRef::Name)
}

fn parse_ipv6(s: &str, bracketed: bool) -> Result<HostRef<'_>, InputError> {
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let ip: Ipv6Addr = match addr.parse() {
        Ok(ip) => ip,
        Err(_) if bracketed && addr.parse::<Ipv4Addr>().is_ok() => {
            return Err(InputError::NotIpv6InBrackets);
        }
        Err(_) if bracketed => return Err(InputError::NotIpv6InBrackets),
        // A ':' outside brackets that is not IPv6: most likely "host:port" passed as the host.
        Err(_) => return Err(InputError::InvalidCharacter(':')),
    };
    let zone = match zone {
        None => None,
        Some(z) => Some(parse_zone(z, bracketed)?),
    };
    Ok(HostRef::Ip(IpAddr::V6(ip), zone))
}

/// The zone after the `%`. In brackets the host is in URI form (RFC 6874), where the `%` itself
/// is written `%25`: `[fe80::1%25eth0]` is zone `eth0`, `[fe80::1%252]` zone 2, and
/// `[fe80::1%25]` has an empty zone (a bare `%`, `[fe80::1%eth0]`, is accepted too). Without
/// brackets it is the RFC 4007 text form, where the zone follows the `%` as it is:
/// `fe80::1%25` is zone 25; an interface name written `%25eth0` is still read as `eth0`, since
/// no number can be meant there.
fn parse_zone(z: &str, bracketed: bool) -> Result<Zone, InputError> {
    let z = match z.strip_prefix("25") {
        Some(rest) if bracketed => rest,
        Some(rest) if !rest.is_empty() && !rest.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => z,
    };
    if z.is_empty() || z.len() > 15 || z.contains(['%', '/']) {
        return Err(InputError::InvalidZone(z.to_string()));
    }
    if z.bytes().all(|b| b.is_ascii_digit()) {
        return z
            .parse::<u32>()
            .map(Zone::Index)
            .map_err(|_| InputError::InvalidZone(z.to_string()));
    }
    if !z
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return Err(InputError::InvalidZone(z.to_string()));
    }
    Ok(Zone::Interface(z.to_string()))
}

fn parse_name(input: &str) -> Result<Cow<'_, str>, InputError> {
    let name = input.strip_suffix('.').unwrap_or(input);
    if name.is_empty() {
        return Err(InputError::EmptyHost);
    }
    if name.len() > MAX_NAME {
        return Err(InputError::NameTooLong(name.len()));
    }
    let mut last = "";
    for label in name.split('.') {
        if label.is_empty() {
            return Err(InputError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(InputError::LabelTooLong(label.len()));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(InputError::InvalidCharacter(c));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(InputError::HyphenAtLabelEdge);
        }
        last = label;
    }
    // WHATWG URL and getaddrinfo treat an all-numeric last label as IPv4; it is never a valid TLD.
    if last.bytes().all(|b| b.is_ascii_digit()) || is_hex_number(last) {
        return Err(InputError::InvalidIpv4);
    }
    // The trailing dot is kept: it tells the resolver the name is fully qualified.
    Ok(match input.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(input.to_ascii_lowercase()),
        false => Cow::Borrowed(input),
    })
}

fn is_hex_number(label: &str) -> bool {
    let l = label.as_bytes();
    l.len() > 2 && l[0] == b'0' && (l[1] | 0x20) == b'x' && l[2..].iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Host parsing never panics, and what it accepts is stable under a second parse.
        #[test]
        fn host_parsing_is_total(s in "\\PC{0,80}") {
            if let Ok(host) = parse_host(&s) {
                let again = match &host {
                    Host::Name(n) => parse_host(n),
                    Host::Ip(ip, None) => parse_host(&ip.to_string()),
                    Host::Ip(..) => Ok(host.clone()),
                };
                prop_assert_eq!(again, Ok(host));
            }
        }
    }

    #[test]
    fn valid_hosts() {
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        let table: &[(&str, Host)] = &[
            ("example.com", Host::Name("example.com".into())),
            ("Example.COM.", Host::Name("example.com.".into())),
            ("localhost", Host::Name("localhost".into())),
            ("_srv.x-y.example", Host::Name("_srv.x-y.example".into())),
            (
                "xn--bcher-kva.example",
                Host::Name("xn--bcher-kva.example".into()),
            ),
            ("1a.example", Host::Name("1a.example".into())),
            ("192.0.2.1", Host::Ip("192.0.2.1".parse().unwrap(), None)),
            ("2001:db8::1", Host::Ip(v6("2001:db8::1"), None)),
            ("[2001:db8::1]", Host::Ip(v6("2001:db8::1"), None)),
            ("[::ffff:192.0.2.1]", Host::Ip(v6("::ffff:192.0.2.1"), None)),
            (
                "fe80::1%eth0",
                Host::Ip(v6("fe80::1"), Some(Zone::Interface("eth0".into()))),
            ),
            ("[fe80::1%2]", Host::Ip(v6("fe80::1"), Some(Zone::Index(2)))),
            (
                "[fe80::1%25eth0]",
                Host::Ip(v6("fe80::1"), Some(Zone::Interface("eth0".into()))),
            ),
            // RFC 6874 in brackets: "%25" is the escaped '%'.
            (
                "[fe80::1%252]",
                Host::Ip(v6("fe80::1"), Some(Zone::Index(2))),
            ),
            (
                "[fe80::1%2525]",
                Host::Ip(v6("fe80::1"), Some(Zone::Index(25))),
            ),
            // RFC 4007 text form without brackets: the zone as written.
            ("fe80::1%25", Host::Ip(v6("fe80::1"), Some(Zone::Index(25)))),
            (
                "fe80::1%252",
                Host::Ip(v6("fe80::1"), Some(Zone::Index(252))),
            ),
            (
                "fe80::1%25eth0",
                Host::Ip(v6("fe80::1"), Some(Zone::Interface("eth0".into()))),
            ),
        ];
        for (input, want) in table {
            assert_eq!(parse_host(input).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn invalid_hosts() {
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = format!("{}.example", vec!["a".repeat(60); 5].join("."));
        let table: &[(&str, InputError)] = &[
            ("", InputError::EmptyHost),
            (".", InputError::EmptyHost),
            (" example.com", InputError::Whitespace),
            ("exa mple.com", InputError::Whitespace),
            ("bücher.example", InputError::NonAscii),
            ("a..b", InputError::EmptyLabel),
            (".a", InputError::EmptyLabel),
            (&long_label, InputError::LabelTooLong(64)),
            (&long_name, InputError::NameTooLong(long_name.len())),
            ("-a.example", InputError::HyphenAtLabelEdge),
            ("a-.example", InputError::HyphenAtLabelEdge),
            ("a/b", InputError::InvalidCharacter('/')),
            ("a*b.example", InputError::InvalidCharacter('*')),
            ("example.com:443", InputError::InvalidCharacter(':')),
            ("[::1", InputError::UnclosedBracket),
            ("::1]", InputError::UnclosedBracket),
            ("[::1]:80", InputError::UnclosedBracket),
            ("[192.0.2.1]", InputError::NotIpv6InBrackets),
            ("[example.com]", InputError::NotIpv6InBrackets),
            ("192.0.2.1%eth0", InputError::ZoneWithoutIpv6),
            ("fe80::1%", InputError::InvalidZone(String::new())),
            ("[fe80::1%25]", InputError::InvalidZone(String::new())),
            ("fe80::1%a/b", InputError::InvalidZone("a/b".into())),
            (
                "fe80::1%99999999999",
                InputError::InvalidZone("99999999999".into()),
            ),
            ("1.2.3", InputError::InvalidIpv4),
            ("256.1.1.1", InputError::InvalidIpv4),
            ("example.0x10", InputError::InvalidIpv4),
            ("a%b", InputError::InvalidCharacter('%')),
        ];
        for (input, want) in table {
            assert_eq!(parse_host(input).as_ref(), Err(want), "{input:?}");
            assert!(!want.to_string().is_empty());
        }
    }
}
