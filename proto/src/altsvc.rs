//! `Alt-Svc` header values (RFC 7838 §3) and what a client remembers of them (HE-12.5): which
//! origins speak HTTP/3, on which UDP port, until when. Pure: every call that needs the time
//! takes `now`.
//!
//! ```text
//! Alt-Svc       = clear / 1#alt-value
//! clear         = %s"clear"
//! alt-value     = alternative *( OWS ";" OWS parameter )
//! alternative   = protocol-id "=" alt-authority
//! protocol-id   = token                 ; percent-encoded ALPN protocol name
//! alt-authority = quoted-string         ; containing [ uri-host ] ":" port
//! parameter     = token "=" ( token / quoted-string )
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::fasthash::FastMap;

/// How long an alternative is fresh without an `ma` parameter (RFC 7838 §3.1: 24 hours).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(86_400);

/// The longest an alternative is kept, whatever its `ma` says (30 days): a bound of ours.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// At most this many alternatives of one header value are kept; the rest are counted as
/// skipped.
pub const MAX_ALTERNATIVES: usize = 16;

/// One alternative service (RFC 7838 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alternative {
    /// The ALPN protocol id, percent-decoded (`h3`).
    pub protocol: Vec<u8>,
    /// The alternative's host; `None` when it is the origin's own (`":443"`).
    pub host: Option<String>,
    /// The alternative's port (never 0).
    pub port: u16,
    /// How long it stays fresh (`ma`, default 24 hours, at most [`MAX_MAX_AGE`]).
    pub max_age: Duration,
    /// `persist=1`: keep it across network changes.
    pub persist: bool,
}

/// A parsed `Alt-Svc` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AltSvc {
    /// `clear`: forget every alternative of the origin.
    Clear,
    /// The alternatives that parsed, in order (at most [`MAX_ALTERNATIVES`]), and how many
    /// did not (malformed, or past the limit): those are ignored.
    Alternatives {
        /// The alternatives.
        alternatives: Vec<Alternative>,
        /// How many alt-values were ignored.
        skipped: usize,
    },
}

/// Why an `Alt-Svc` value was not used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AltSvcError {
    /// Empty, or only separators.
    Empty,
    /// Not one alt-value parsed; the first one's problem.
    Malformed(&'static str),
}

impl fmt::Display for AltSvcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AltSvcError::Empty => f.write_str("empty Alt-Svc value"),
            AltSvcError::Malformed(why) => write!(f, "malformed Alt-Svc value: {why}"),
        }
    }
}

impl std::error::Error for AltSvcError {}

/// Parses an `Alt-Svc` header value (RFC 7838 §3). Alt-values that do not parse are skipped
/// (counted in [`AltSvc::Alternatives::skipped`]); a value of which none parses is an error.
/// Linear in the value's length; never panics.
pub fn parse(value: &[u8]) -> Result<AltSvc, AltSvcError> {
    let trimmed = trim(value);
    if trimmed == b"clear" {
        return Ok(AltSvc::Clear);
    }
    let mut alternatives = Vec::new();
    let mut skipped = 0;
    let mut first_error = None;
    let mut cursor = Cursor { s: value, i: 0 };
    loop {
        cursor.skip_ows();
        while cursor.eat(b',') {
            cursor.skip_ows();
        }
        if cursor.done() {
            break;
        }
        // An element with anything after its alt-value is malformed as a whole.
        let parsed = cursor.alt_value().and_then(|alternative| {
            cursor.skip_ows();
            match cursor.done() || cursor.peek() == Some(b',') {
                true => Ok(alternative),
                false => Err("expected ',' between alternatives"),
            }
        });
        match parsed {
            Ok(alternative) if alternatives.len() < MAX_ALTERNATIVES => {
                alternatives.push(alternative)
            }
            Ok(_) => skipped += 1,
            Err(why) => {
                skipped += 1;
                first_error.get_or_insert(why);
                cursor.skip_to_comma();
            }
        }
    }
    match (alternatives.is_empty(), first_error) {
        (true, Some(why)) => Err(AltSvcError::Malformed(why)),
        (true, None) => Err(AltSvcError::Empty),
        (false, _) => Ok(AltSvc::Alternatives {
            alternatives,
            skipped,
        }),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ows(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Skips to the next top-level comma (outside quoted strings), not past it.
    fn skip_to_comma(&mut self) {
        let mut quoted = false;
        while let Some(b) = self.peek() {
            match (quoted, b) {
                (false, b',') => return,
                (_, b'"') => quoted = !quoted,
                (true, b'\\') => self.i += 1,
                _ => {}
            }
            self.i += 1;
        }
    }

    fn token(&mut self) -> Result<&[u8], &'static str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        match self.i > start {
            true => Ok(&self.s[start..self.i]),
            false => Err("expected a token"),
        }
    }

    /// A quoted-string's content, unescaped.
    fn quoted(&mut self) -> Result<Vec<u8>, &'static str> {
        if !self.eat(b'"') {
            return Err("expected a quoted string");
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(b) = self.peek() else {
                        return Err("unterminated quoted string");
                    };
                    out.push(b);
                    self.i += 1;
                }
                Some(b) if b == b'\t' || (b' '..=0x7e).contains(&b) || b >= 0x80 => {
                    out.push(b);
                    self.i += 1;
                }
                Some(_) => return Err("control character in a quoted string"),
            }
        }
    }

    fn alt_value(&mut self) -> Result<Alternative, &'static str> {
        let protocol = percent_decode(self.token()?)?;
        if !self.eat(b'=') {
            return Err("expected '=' after the protocol id");
        }
        let (host, port) = authority(&self.quoted()?)?;
        let mut alternative = Alternative {
            protocol,
            host,
            port,
            max_age: DEFAULT_MAX_AGE,
            persist: false,
        };
        loop {
            let before = self.i;
            self.skip_ows();
            if !self.eat(b';') {
                self.i = before;
                return Ok(alternative);
            }
            self.skip_ows();
            let name = self.token()?.to_ascii_lowercase();
            if !self.eat(b'=') {
                return Err("expected '=' after a parameter name");
            }
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                _ => self.token()?.to_vec(),
            };
            match &name[..] {
                b"ma" => alternative.max_age = delta_seconds(&value)?,
                b"persist" => alternative.persist = value == b"1",
                _ => {} // RFC 7838 §3: unknown parameters are ignored.
            }
        }
    }
}

/// `%XX` sequences decoded (RFC 7838 §3: the protocol id is percent-encoded).
fn percent_decode(token: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(token.len());
    let mut i = 0;
    while i < token.len() {
        if token[i] == b'%' {
            let hex = token
                .get(i + 1..i + 3)
                .ok_or("truncated percent-encoding")?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err("bad percent-encoding");
            }
            let hex = std::str::from_utf8(hex).map_err(|_| "bad percent-encoding")?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(token[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// `[ uri-host ] ":" port`, the host lowercased; an empty host is the origin's.
fn authority(s: &[u8]) -> Result<(Option<String>, u16), &'static str> {
    let colon = s
        .iter()
        .rposition(|b| *b == b':')
        .ok_or("no port in the authority")?;
    let (host, port) = (&s[..colon], &s[colon + 1..]);
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err("bad port in the authority");
    }
    let port: u32 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or("bad port in the authority")?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or("port out of range (1 to 65535)")?;
    if host.is_empty() {
        return Ok((None, port));
    }
    let host = std::str::from_utf8(host).map_err(|_| "host is not text")?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    let valid = match bracketed {
        true => host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok(),
        false => {
            host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        }
    };
    if !valid {
        return Err("bad host in the authority");
    }
    Ok((Some(host.to_ascii_lowercase()), port))
}

/// `ma`'s delta-seconds (RFC 9111 §1.2.2), held to [`MAX_MAX_AGE`].
fn delta_seconds(value: &[u8]) -> Result<Duration, &'static str> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err("ma is not a number of seconds");
    }
    // A number too large for u64 is "infinity", kept to the bound like any long age.
    let secs = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    Ok(Duration::from_secs(secs).min(MAX_MAX_AGE))
}

/// What a client remembers of the `Alt-Svc` headers it was handed (HE-12.5): per origin (host
/// and port), the `h3` alternative on the origin's own host, until its `ma` runs out. Bounded:
/// past [`AltSvcCache::capacity`] origins the oldest entry goes (O(1) per insertion).
#[derive(Debug)]
pub struct AltSvcCache {
    entries: FastMap<(String, u16), Entry>,
    /// Insertion order, for eviction; an origin stored again gets a new generation, and a
    /// stale slot is skipped when it comes up.
    order: VecDeque<((String, u16), u64)>,
    generation: u64,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    port: u16,
    expires: Instant,
    generation: u64,
}

/// What [`AltSvcCache::update`] did with a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// An alternative over one of the given QUIC protocols on the origin's own host: kept.
    Kept {
        /// Its UDP port.
        port: u16,
        /// For how long.
        max_age: Duration,
    },
    /// `clear`, or a value without such an alternative (it replaces what was kept, RFC 7838
    /// §3): the origin's entry is gone.
    Cleared,
}

impl AltSvcCache {
    /// A cache of at most `capacity` origins (at least 1).
    pub fn new(capacity: usize) -> AltSvcCache {
        AltSvcCache {
            entries: FastMap::default(),
            order: VecDeque::new(),
            generation: 0,
            capacity: capacity.max(1),
        }
    }

    /// How many origins it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many origins it holds (some may have expired).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no origin.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes an origin's `Alt-Svc` value, parsed: the first alternative whose protocol is one
    /// of `quic` on the origin's own host is kept for its `ma`; any value replaces what the
    /// origin had (RFC 7838 §3). Alternatives on another host are not used (a connect to them
    /// would need their own name resolved and the origin's certificate there).
    pub fn update(
        &mut self,
        host: &str,
        port: u16,
        value: &AltSvc,
        quic: &[Vec<u8>],
        now: Instant,
    ) -> Update {
        let key = (host.to_ascii_lowercase(), port);
        let found = match value {
            AltSvc::Clear => None,
            AltSvc::Alternatives { alternatives, .. } => alternatives.iter().find(|a| {
                quic.contains(&a.protocol)
                    && a.host.as_deref().is_none_or(|h| h == key.0)
                    && !a.max_age.is_zero()
            }),
        };
        let Some(found) = found else {
            self.entries.remove(&key);
            return Update::Cleared;
        };
        let expires = now.checked_add(found.max_age).unwrap_or(now);
        self.generation += 1;
        let entry = Entry {
            port: found.port,
            expires,
            generation: self.generation,
        };
        self.order.push_back((key.clone(), self.generation));
        self.entries.insert(key, entry);
        self.evict();
        Update::Kept {
            port: found.port,
            max_age: found.max_age,
        }
    }

    /// Forgets the origin's alternatives.
    pub fn clear(&mut self, host: &str, port: u16) {
        self.entries.remove(&(host.to_ascii_lowercase(), port));
    }

    /// Forgets every origin's (the network changed, for alternatives without `persist`: this
    /// cache keeps none across a change).
    pub fn clear_all(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    /// The UDP port of the origin's fresh HTTP/3 alternative, if it has one.
    pub fn quic_port(&self, host: &str, port: u16, now: Instant) -> Option<u16> {
        let key = (host.to_ascii_lowercase(), port);
        let entry = self.entries.get(&key)?;
        (entry.expires > now).then_some(entry.port)
    }

    /// Keeps the cache within its capacity: the oldest insertions go first. Each slot of
    /// `order` is popped at most once, and `order` is compacted (slots of origins stored again
    /// or removed dropped) when it reaches twice the capacity: O(1) per insertion on average.
    fn evict(&mut self) {
        while self.entries.len() > self.capacity {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.generation == generation)
            {
                self.entries.remove(&key);
            }
        }
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order
                .retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alternatives(value: &str) -> (Vec<Alternative>, usize) {
        match parse(value.as_bytes()) {
            Ok(AltSvc::Alternatives {
                alternatives,
                skipped,
            }) => (alternatives, skipped),
            other => panic!("{value}: {other:?}"),
        }
    }

    fn h3(host: Option<&str>, port: u16, max_age: u64) -> Alternative {
        Alternative {
            protocol: b"h3".to_vec(),
            host: host.map(str::to_string),
            port,
            max_age: Duration::from_secs(max_age),
            persist: false,
        }
    }

    // HE-12.5: the forms servers send, and RFC 7838's own examples.
    #[test]
    fn he_12_5_alt_svc_values_parse() {
        let table: &[(&str, Vec<Alternative>, usize)] = &[
            (r#"h3=":443"; ma=86400"#, vec![h3(None, 443, 86_400)], 0),
            (r#"h3=":443""#, vec![h3(None, 443, 86_400)], 0),
            (
                r#"h3=":443"; ma=2592000,h3-29=":443"; ma=2592000"#,
                vec![
                    h3(None, 443, 2_592_000),
                    Alternative {
                        protocol: b"h3-29".to_vec(),
                        ..h3(None, 443, 2_592_000)
                    },
                ],
                0,
            ),
            (
                r#"h2="new.example.org:80""#,
                vec![Alternative {
                    protocol: b"h2".to_vec(),
                    ..h3(Some("new.example.org"), 80, 86_400)
                }],
                0,
            ),
            (
                r#"h2=":443"; ma=2592000; persist=1"#,
                vec![Alternative {
                    protocol: b"h2".to_vec(),
                    persist: true,
                    ..h3(None, 443, 2_592_000)
                }],
                0,
            ),
            (
                r#"w%3D%3D=":8443""#,
                vec![Alternative {
                    protocol: b"w==".to_vec(),
                    ..h3(None, 8443, 86_400)
                }],
                0,
            ),
            (
                r#"  h3 = ":443" , , h3=":8443";MA=60;unknown="x,y""#,
                vec![h3(None, 8443, 60)],
                1,
            ),
            (
                r#"h3="[2001:db8::1]:443""#,
                vec![h3(Some("[2001:db8::1]"), 443, 86_400)],
                0,
            ),
            (
                r#"h3="EXAMPLE.com:443""#,
                vec![h3(Some("example.com"), 443, 86_400)],
                0,
            ),
            (
                r#"h3=":443"; ma=99999999999999999999999"#,
                vec![h3(None, 443, 30 * 86_400)],
                0,
            ),
            (r#"h3=":443"; ma=0"#, vec![h3(None, 443, 0)], 0),
        ];
        for (value, expected, skipped) in table {
            assert_eq!(alternatives(value), (expected.clone(), *skipped), "{value}");
        }
        assert_eq!(parse(b" clear "), Ok(AltSvc::Clear));
    }

    // HE-12.5: bad input is an error or a skipped alt-value, never a panic.
    #[test]
    fn he_12_5_bad_alt_svc_values_are_errors() {
        let bad: &[(&str, AltSvcError)] = &[
            ("", AltSvcError::Empty),
            (" , ,", AltSvcError::Empty),
            (
                r#"h3=":0""#,
                AltSvcError::Malformed("port out of range (1 to 65535)"),
            ),
            (
                r#"h3=":65536""#,
                AltSvcError::Malformed("port out of range (1 to 65535)"),
            ),
            (
                r#"h3=":""#,
                AltSvcError::Malformed("bad port in the authority"),
            ),
            (
                r#"h3="443""#,
                AltSvcError::Malformed("no port in the authority"),
            ),
            (
                r#"h3=:443"#,
                AltSvcError::Malformed("expected a quoted string"),
            ),
            (
                r#"h3=":443"#,
                AltSvcError::Malformed("unterminated quoted string"),
            ),
            (
                r#"h3":443""#,
                AltSvcError::Malformed("expected '=' after the protocol id"),
            ),
            (r#"=":443""#, AltSvcError::Malformed("expected a token")),
            (
                r#"h%3=":443""#,
                AltSvcError::Malformed("truncated percent-encoding"),
            ),
            (
                r#"h%zz=":443""#,
                AltSvcError::Malformed("bad percent-encoding"),
            ),
            (
                r#"h%+1=":443""#,
                AltSvcError::Malformed("bad percent-encoding"),
            ),
            (
                r#"h3=":443"; ma=soon"#,
                AltSvcError::Malformed("ma is not a number of seconds"),
            ),
            (
                r#"h3=":443"; ma"#,
                AltSvcError::Malformed("expected '=' after a parameter name"),
            ),
            (
                r#"h3="bad host!:443""#,
                AltSvcError::Malformed("bad host in the authority"),
            ),
            (
                r#"h3="[nope]:443""#,
                AltSvcError::Malformed("bad host in the authority"),
            ),
            (
                "clearly",
                AltSvcError::Malformed("expected '=' after the protocol id"),
            ),
        ];
        for (value, error) in bad {
            assert_eq!(parse(value.as_bytes()), Err(error.clone()), "{value}");
        }
        // One bad alt-value among good ones is skipped, the rest kept.
        assert_eq!(
            alternatives(r#"h3=":0", h3=":443" junk, h3=":8443""#),
            (vec![h3(None, 8443, 86_400)], 2)
        );
        // Past the limit, counted.
        let many = vec![r#"h3=":443""#; 40].join(",");
        let (kept, skipped) = alternatives(&many);
        assert_eq!(
            (kept.len(), skipped),
            (MAX_ALTERNATIVES, 40 - MAX_ALTERNATIVES)
        );
        // Arbitrary bytes: never a panic.
        for value in [
            &b"\xff\xfe=\"\x00:1\""[..],
            b"h3=\"\\",
            b"%",
            b"h3=\":443\";;",
        ] {
            let _ = parse(value);
        }
    }

    // HE-12.5: the cache keeps the origin's own h3 alternative for its `ma`; any later value
    // replaces it, `clear` and an alternative elsewhere remove it.
    #[test]
    fn he_12_5_the_cache_keeps_h3_for_its_max_age() {
        let quic = [b"h3".to_vec()];
        let t0 = Instant::now();
        let mut cache = AltSvcCache::new(8);
        let value = |v: &str| parse(v.as_bytes()).unwrap();
        let kept = cache.update(
            "Example.com",
            443,
            &value(r#"h3=":8443"; ma=60"#),
            &quic,
            t0,
        );
        assert_eq!(
            kept,
            Update::Kept {
                port: 8443,
                max_age: Duration::from_secs(60)
            }
        );
        assert_eq!(cache.quic_port("example.com", 443, t0), Some(8443));
        assert_eq!(
            cache.quic_port("example.com", 8443, t0),
            None,
            "another origin"
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(cache.quic_port("example.com", 443, later), None, "expired");
        // h2 only, an alternative on another host, ma=0 and clear all leave nothing.
        for other in [
            r#"h2=":443""#,
            r#"h3="cdn.example.net:443""#,
            r#"h3=":443"; ma=0"#,
            "clear",
        ] {
            cache.update("example.com", 443, &value(r#"h3=":443""#), &quic, t0);
            assert_eq!(cache.quic_port("example.com", 443, t0), Some(443));
            let update = cache.update("example.com", 443, &value(other), &quic, t0);
            assert_eq!(update, Update::Cleared, "{other}");
            assert_eq!(cache.quic_port("example.com", 443, t0), None, "{other}");
        }
        // The host named explicitly is the origin's own.
        cache.update(
            "example.com",
            443,
            &value(r#"h3="example.com:443""#),
            &quic,
            t0,
        );
        assert_eq!(cache.quic_port("example.com", 443, t0), Some(443));
        cache.clear("EXAMPLE.COM", 443);
        assert_eq!(cache.quic_port("example.com", 443, t0), None);
    }

    // HE-12.5: bounded; the oldest origins go first, and an origin stored again is young.
    #[test]
    fn he_12_5_the_cache_is_bounded() {
        let quic = [b"h3".to_vec()];
        let t0 = Instant::now();
        let mut cache = AltSvcCache::new(4);
        let value = parse(br#"h3=":443""#).unwrap();
        for i in 0..4 {
            cache.update(&format!("o{i}.test"), 443, &value, &quic, t0);
        }
        cache.update("o0.test", 443, &value, &quic, t0);
        cache.update("o4.test", 443, &value, &quic, t0);
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.quic_port("o1.test", 443, t0), None, "the oldest went");
        assert_eq!(
            cache.quic_port("o0.test", 443, t0),
            Some(443),
            "stored again"
        );
        for i in 0..10_000 {
            cache.update(&format!("n{i}.test"), 443, &value, &quic, t0);
            assert!(cache.len() <= 4 && cache.order.len() <= 8);
        }
        // The same origin stored over and over keeps the bookkeeping bounded too.
        for _ in 0..10_000 {
            cache.update("same.test", 443, &value, &quic, t0);
            assert!(cache.order.len() <= 8);
        }
        assert_eq!(cache.quic_port("same.test", 443, t0), Some(443));
    }
}
