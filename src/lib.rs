//! # eyeballs: Happy Eyeballs for tokio (RFC 8305, and parts of the v3 draft)
//!
//! `eyeballs` opens TCP connections fast on dual-stack networks. It resolves AAAA and A
//! concurrently, sorts the addresses (RFC 6724) and interleaves the families, staggers connection
//! attempts (250 ms apart by default), starts the next attempt at once when one fails, returns the
//! first [`tokio::net::TcpStream`] that connects, and closes every other socket: Happy Eyeballs
//! v2 (RFC 8305). From the Happy Eyeballs v3 draft it also races through a handshake of the
//! caller's ([`Connect::handshake`], [`Handshake`]; TLS in the `rustls` hyper connector), uses
//! HTTPS records (RFC 9460: hints, ALPN, priority, port), reaches IPv4 through NAT64, and
//! remembers earlier connects.
//!
//! ```no_run
//! # async fn run() -> Result<(), eyeballs::Error> {
//! let stream = eyeballs::connect("example.com", 443).await?;
//! # drop(stream);
//! # Ok(())
//! # }
//! ```
//!
//! A runnable example against a local listener:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//!
//! let connector = eyeballs::Connector::new();
//! let (stream, report) = connector.connect(("127.0.0.1", port)).with_report().await?;
//! assert_eq!(stream.peer_addr()?.port(), port);
//! assert_eq!(report.winner().unwrap().addr(), stream.peer_addr()?);
//! # Ok(())
//! # }
//! ```
//!
//! ## Racing through a handshake
//!
//! A TCP connection that completes proves little: a TCP-terminating middlebox, an IPv6 path that
//! resets after the SYN-ACK, or a path-MTU black hole hands over a connection that fails a moment
//! later while the other family would have worked. [`Connect::handshake`] runs a handshake of
//! yours (a closure of the stream, or a [`Handshake`]) on every attempt whose TCP connects; the
//! first to complete wins and a failed one starts the next address at once. The `rustls`
//! feature's [`hyper::HttpsConnector`](crate::hyper) races through TLS this way.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // A server that greets first, as SMTP does.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     let (mut s, _) = listener.accept().await.unwrap();
//!     s.write_all(b"220 ready\r\n").await.unwrap();
//!     tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//! });
//!
//! let connector = eyeballs::Connector::new();
//! let stream = connector
//!     .connect(("127.0.0.1", port))
//!     .handshake(|mut s: tokio::net::TcpStream| async move {
//!         let mut code = [0u8; 3];
//!         s.read_exact(&mut code).await?; // an address that never greets loses
//!         match &code {
//!             b"220" => Ok(s),
//!             _ => Err(std::io::Error::other("no greeting")),
//!         }
//!     })
//!     .await?;
//! # drop(stream);
//! # Ok(())
//! # }
//! ```
//!
//! ## HTTPS records, NAT64, expired answers
//!
//! - **HTTPS records** (RFC 9460; [`Builder::https_records`], on by default in the rustls
//!   connector): the record is asked with AAAA and A; its `ipv6hint`/`ipv4hint` addresses start
//!   the race before AAAA answers, endpoints go by priority with their own port and ALPN, an
//!   endpoint without a protocol in common is skipped, aliases and TargetNames are followed
//!   ([`https_records`], [`report::Report::service_answer`]).
//! - **IPv6-only networks** ([`Builder::nat64`], on): with no IPv4 route, the network's NAT64
//!   prefix is discovered (RFC 7050) and IPv4 literals, A-only names and `ipv4hint`s are
//!   synthesized into IPv6 destinations that race like AAAA answers; DNS64 answers are recognised
//!   and judged by the IPv4 address they stand for ([`nat64`]).
//! - **Expired answers** (RFC 8767; [`Builder::serve_stale`], on): when the name server is silent,
//!   the default resolver starts with an answer that expired less than a day ago, marked stale in
//!   the report, and the refresh replaces it.
//! - **Memory of earlier connects** ([`Builder::history`], on): RTTs and failures per network
//!   reorder the next connect's addresses and set its attempt delay.
//!
//! The repository's `docs/` folder has the long form of each (rules, numbers, measurements).
//!
//! ## How it is built
//!
//! ```text
//!   Connector::connect(target)
//!        │
//!        ▼
//!   ┌─────────── driver (tokio) ───────────┐ events ┌──── proto (sans-IO core) ───┐
//!   │ Resolve::lookup  on Action::Query    │───────▶│ Race::handle(input, now)    │
//!   │ Dial::dial(addr) on Action::Start    │◀───────│ Race::poll_action()         │
//!   │ drop the attempt on Action::Cancel   │ actions│ admit, sort (RFC 6724),     │
//!   │ one Sleep at Race::poll_timeout()    │        │ interleave, stagger         │
//!   └──────────────────────────────────────┘        └─────────────────────────────┘
//! ```
//!
//! The core, [`proto`] (the crate `eyeballs-proto`), takes `now` as a parameter and never touches
//! a clock or a socket: it is a crate of its own with no dependencies, so the compiler keeps it
//! pure. Every rule of the RFC is tested there with explicit times; the driver only carries out
//! what the core decides: which queries to send (each with an id its answer carries), which
//! address to try when, which attempt to cancel. A driver for another runtime or event loop uses
//! [`proto`] the same way (its docs drive a race by hand). The rules, each with the id its tests
//! cite, are in [`requirements`].
//!
//! ## Address sorting
//!
//! Destinations are sorted by RFC 6724 §6 with the default policy table, using the source address
//! the kernel would pick for each (a connected UDP socket; nothing is sent). Rules 3 (avoid
//! deprecated addresses), 4 (prefer home addresses) and 7 (prefer native transport) need data a
//! user-space client cannot see and are skipped. Rule 9 (longest matching prefix) is applied to
//! IPv6 only, so DNS round robin on IPv4 survives.
//!
//! ## Guarding against SSRF
//!
//! [`AddressPolicy::public_only`] on [`Builder::address_policy`] refuses loopback, private and
//! other special-purpose destinations, checked right before each attempt (after DNS, so rebinding
//! cannot slip past it).
//!
//! The same rules apply on every entry point: names and IP literals, [`Connector::connect`],
//! [`Connector::connect`] given addresses, and [`Connector::resolve`], with IPv4-mapped IPv6 addresses judged
//! as the IPv4 address they carry. One gap is reqwest's, not ours: reqwest connects to IP-literal
//! URLs without asking a resolver, so the `reqwest` adapter cannot see them; check untrusted URLs
//! with `eyeballs::reqwest::Resolver::check_url` first (feature `reqwest`).
//!
//! ## Public dependencies
//!
//! Two dependencies appear in the public API, so their major versions are part of ours:
//! socket2 0.6 (the socket given to [`config::SocketOptions::hook`] and [`config::SocketHook`]) and, with the
//! `hickory` feature, hickory-resolver 0.26 (`HickoryResolver::from_resolver` and
//! `HickoryResolver::from_config` take its types). tokio's `TcpStream` is what a connect returns.
//!
//! ## Features
//! - `hickory` (default): the default resolver: the system configuration (`/etc/resolv.conf`,
//!   `/etc/hosts`) read as glibc reads it, eyeballs' stub resolver for ordinary names and
//!   hickory-resolver for special-use ones ([`resolve::HickoryResolver`]). Without it,
//!   [`resolve::SystemResolver`] (getaddrinfo) is the default.
//! - `hyper`: [`hyper::HttpConnector`], a connector for hyper-util's client and TLS wrappers.
//! - `rustls` (implies `hyper`): [`hyper::HttpsConnector`], which races through the rustls TLS
//!   handshake and uses HTTPS records.
//! - `native-roots` (implies `rustls`): [`hyper::HttpsConnector::with_native_roots`], the
//!   platform's root certificates.
//! - `ech` (implies `rustls`): Encrypted Client Hello (RFC 9849) in [`hyper::HttpsConnector`]
//!   ([`hyper::HttpsConnector::enable_ech`]): the name only encrypted where the HTTPS record
//!   offers ECH, GREASE elsewhere; HPKE from aws-lc-rs.
//! - `reqwest`: [`reqwest::Resolver`], RFC 8305-ordered addresses for reqwest.
//!
//! On docs.rs every item says which feature it needs.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The sans-IO core, [`eyeballs_proto`]: the race as a state machine that takes time as a
/// parameter, for drivers on another runtime or event loop.
pub use eyeballs_proto as proto;

pub mod config;
mod connect;
mod connector;
mod dial;
mod driver;
pub mod error;
pub mod handshake;
mod host;
pub mod nat64;
pub mod report;
pub mod resolve;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "quic")]
#[cfg_attr(docsrs, doc(cfg(feature = "quic")))]
pub mod quic;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;

/// HTTPS records (RFC 9460): the parsed record, and the endpoints a connect derives from them.
pub mod https_records {
    pub use crate::proto::svcb::{ServiceEndpoint, ServiceRecord, ServiceRecordError};
}

/// One connect as a value, and what it yields: [`Connector::connect`] returns a [`Connect`].
pub mod request {
    pub use crate::connect::{Connect, ConnectFuture, Target, WithReport, WithoutReport, Yield};
}

/// Which destination addresses a connect may use: [`AddressPolicy`], [`policy::is_public`].
pub mod policy {
    pub use eyeballs_proto::policy::{AddressPolicy, is_public};
}

/// The requirement table: every rule eyeballs implements, with the id its tests cite.
#[doc = include_str!("requirements.md")]
pub mod requirements {}

// The public interface is: what most users need here, the rest in the modules above, each
// named for what it holds (config, error, report, resolve, nat64, https_records, handshake,
// policy, request, and the adapters).
pub use crate::connect::{Connect, Target};
pub use crate::connector::{Builder, Connector, connect};
pub use crate::error::Error;
pub use crate::handshake::{Destination, Handshake};
pub use crate::proto::policy::AddressPolicy;
pub use crate::proto::{Family, Protocol, QuicPlan};
pub use crate::report::Report;

/// Not part of the public API: the fuzzing hooks, compiled with `--cfg fuzzing` only (what
/// `cargo fuzz` builds). The core's own targets use [`proto`].
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __internal {
    pub use crate::host::{Host, parse_host};

    /// The stub resolver's screening and reading of a reply, for the dns_reply fuzz target
    /// (HE-8.4).
    #[cfg(feature = "hickory")]
    pub use crate::resolve::stub::rules::judge_wire as judge_dns_reply;

    /// Whether `HttpsConnector` uses an ECHConfigList (`false`: skipped, GREASE instead), for
    /// the svcb fuzz target (HE-11.4).
    #[cfg(feature = "ech")]
    pub fn ech_config_list_is_used(list: &[u8]) -> bool {
        crate::hyper::ech::fuzz_list_is_used(list)
    }

    /// The hyper connector's URI reading, for the parse fuzz target.
    #[cfg(feature = "hyper")]
    pub fn uri_host_port(
        uri: &::http::Uri,
        enforce_http: bool,
    ) -> Result<(&str, u16), crate::hyper::ConnectError> {
        crate::hyper::host_port(uri, enforce_http)
    }
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The examples of `docs/connecting.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/connecting.md")]
pub struct ConnectingDoctests;

/// The examples of `docs/adapters.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/adapters.md")]
pub struct AdaptersDoctests;
