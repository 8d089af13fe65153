//! Name resolution: the [`Resolve`] trait and its implementations.
//!
//! A connect asks the resolver twice, once per family, AAAA first, and polls both lookups
//! concurrently, so that each family's answer is acted on as it arrives (RFC 8305 §3).

#[cfg(feature = "hickory")]
mod hickory;
mod static_table;
#[cfg(feature = "hickory")]
pub(crate) mod stub;
mod system;

#[cfg(feature = "hickory")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory")))]
pub use hickory::HickoryResolver;
pub use static_table::StaticResolver;
pub use system::SystemResolver;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::Family;

/// The future a [`Resolve`] implementation returns for one family's lookup.
///
/// `Ok` with an empty list means the name exists but has no address of that family (NODATA).
pub type Lookup = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send + 'static>>;

/// Resolves host names, one address family at a time.
///
/// Implement this to plug in your own resolver (a cache, a service-discovery client, a test
/// table). A connect calls [`Resolve::lookup`] for [`Family::V6`] and then for [`Family::V4`],
/// back to back, and polls both futures concurrently: the futures should start their query when
/// first polled and must not wait for each other.
///
/// `name` has been validated (ASCII, lowercase, at most 253 octets) and keeps its trailing dot
/// when the caller wrote one. Addresses of the other family in an answer are ignored.
///
/// ```
/// use eyeballs::{Family, resolve::{Lookup, Resolve, ResolveError}};
/// use std::net::IpAddr;
///
/// #[derive(Debug)]
/// struct OnlyLoopback;
///
/// impl Resolve for OnlyLoopback {
///     fn lookup(&self, _name: &str, family: Family) -> Lookup {
///         let ip: IpAddr = match family {
///             Family::V6 => "::1".parse().unwrap(),
///             Family::V4 => "127.0.0.1".parse().unwrap(),
///         };
///         Box::pin(async move { Ok(vec![ip]) })
///     }
/// }
/// ```
pub trait Resolve: fmt::Debug + Send + Sync + 'static {
    /// Starts a lookup of `name`'s addresses of `family`.
    fn lookup(&self, name: &str, family: Family) -> Lookup;

    /// Starts a lookup of `name`'s HTTPS records (RFC 9460), each answered as its RDATA in wire
    /// format (an empty list for NODATA). `name` is already the query name (`_8443._https.host`
    /// for a port other than 443). `None`, the default: this resolver does not look HTTPS records
    /// up, and connects go on without them.
    fn lookup_https(&self, name: &str) -> Option<RecordLookup> {
        let _ = name;
        None
    }

    /// [`Resolve::lookup`], with the answer's time to live when the resolver knows it. Used for
    /// answers a connector keeps: the NAT64 prefix discovered from `ipv4only.arpa` (RFC 7050
    /// §3) is kept for its TTL. The default calls [`Resolve::lookup`] and reports no TTL (the
    /// prefix is then kept for 10 minutes).
    fn lookup_with_ttl(&self, name: &str, family: Family) -> TtlLookup {
        let lookup = self.lookup(name, family);
        Box::pin(async move { lookup.await.map(|ips| (ips, None)) })
    }

    /// [`Resolve::lookup_with_ttl`], for a resolver that keeps expired answers (RFC 8767
    /// serve-stale): what a connect calls. The stream's first item is the answer; a
    /// [stale](Resolved::is_stale) one (the name server silent or failing, an answer expired
    /// recently) may be followed by the refresh's answer, which replaces it, or by an error or
    /// the end of the stream, after which the stale answer stands. Items after a fresh answer
    /// are ignored. The default yields [`Resolve::lookup_with_ttl`]'s answer, never stale.
    fn lookup_answers(&self, name: &str, family: Family) -> Answers {
        let lookup = self.lookup_with_ttl(name, family);
        Box::pin(futures::stream::once(async move {
            lookup.await.map(|(ips, ttl)| Resolved::fresh(ips, ttl))
        }))
    }
}

/// One family's answer as [`Resolve::lookup_answers`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    ips: Vec<IpAddr>,
    ttl: Option<Duration>,
    expired: Option<Duration>,
}

impl Resolved {
    /// A current answer: `ips` (empty for NODATA), with its time to live when known.
    pub fn fresh(ips: Vec<IpAddr>, ttl: Option<Duration>) -> Resolved {
        Resolved {
            ips,
            ttl,
            expired: None,
        }
    }

    /// An answer whose time to live ran out `expired` ago, served while its refresh is
    /// pending or failed (RFC 8767).
    pub fn stale(ips: Vec<IpAddr>, expired: Duration) -> Resolved {
        Resolved {
            ips,
            ttl: None,
            expired: Some(expired),
        }
    }

    /// The addresses.
    pub fn ips(&self) -> &[IpAddr] {
        &self.ips
    }

    /// The addresses, owned.
    pub fn into_ips(self) -> Vec<IpAddr> {
        self.ips
    }

    /// How long the answer may be kept, when known (never for a stale answer).
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Whether the answer is expired, served stale.
    pub fn is_stale(&self) -> bool {
        self.expired.is_some()
    }

    /// How long ago a stale answer expired.
    pub fn expired(&self) -> Option<Duration> {
        self.expired
    }
}

/// The answers of one family's lookup: [`Resolve::lookup_answers`].
pub type Answers =
    Pin<Box<dyn futures::Stream<Item = Result<Resolved, ResolveError>> + Send + 'static>>;

/// A pending lookup of one family's addresses and the answer's time to live (`None`: unknown).
pub type TtlLookup = Pin<
    Box<
        dyn Future<Output = Result<(Vec<IpAddr>, Option<Duration>), ResolveError>> + Send + 'static,
    >,
>;

/// A pending lookup of records, each as its RDATA.
pub type RecordLookup =
    Pin<Box<dyn Future<Output = Result<Vec<Vec<u8>>, ResolveError>> + Send + 'static>>;

impl<R: Resolve + ?Sized> Resolve for Arc<R> {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        (**self).lookup(name, family)
    }

    fn lookup_https(&self, name: &str) -> Option<RecordLookup> {
        (**self).lookup_https(name)
    }

    fn lookup_with_ttl(&self, name: &str, family: Family) -> TtlLookup {
        (**self).lookup_with_ttl(name, family)
    }

    fn lookup_answers(&self, name: &str, family: Family) -> Answers {
        (**self).lookup_answers(name, family)
    }
}

/// What kind of resolution failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveErrorKind {
    /// The name does not exist (NXDOMAIN).
    NotFound,
    /// The lookup timed out.
    TimedOut,
    /// The resolver could not be set up (for example an unreadable `/etc/resolv.conf`).
    Config,
    /// Any other failure (SERVFAIL, a refused query, an I/O error).
    Other,
}

/// A failed lookup of one family.
#[derive(Debug, Clone)]
pub struct ResolveError {
    kind: ResolveErrorKind,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ResolveError {
    /// A new error of `kind`, described by `message`.
    pub fn new(kind: ResolveErrorKind, message: impl Into<String>) -> ResolveError {
        ResolveError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A new error that keeps `source` as its cause.
    pub fn with_source(
        kind: ResolveErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> ResolveError {
        ResolveError {
            kind,
            message: source.to_string(),
            source: Some(Arc::new(source)),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ResolveErrorKind {
        self.kind
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The resolver a [`crate::Connector`] uses when none is configured: hickory when the `hickory`
/// feature is on (the default), the system's getaddrinfo otherwise.
pub(crate) fn default_resolver() -> Arc<dyn Resolve> {
    #[cfg(feature = "hickory")]
    {
        Arc::new(HickoryResolver::from_system_conf())
    }
    #[cfg(not(feature = "hickory"))]
    {
        Arc::new(SystemResolver::new())
    }
}
