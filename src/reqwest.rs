//! The reqwest adapter (feature `reqwest`): [`Resolver`], RFC 8305-ordered addresses for reqwest.
//!
//! reqwest has no public hook that replaces its TCP connect step, so this is what can honestly be
//! offered: a `reqwest::dns::Resolve` that looks up AAAA and A concurrently with the
//! [`Connector`]'s resolver and returns the addresses in the order RFC 8305 wants them tried
//! (RFC 6724 sorted, families interleaved, duplicates removed).
//!
//! What you get: the right address order, both families resolved concurrently, and your choice of
//! resolver. What you do not get: reqwest's own connector still does the connecting, with
//! hyper-util's logic: it tries the first family's addresses one after another and starts the other
//! family once, after its 300 ms fallback delay. There is no Resolution Delay, no staggering
//! across all addresses, and a failed connect keeps only the first error.
//!
//! For the full RFC 8305 behaviour, use hyper-util's client with [`crate::hyper::HttpConnector`].
//!
//! # The address policy and IP-literal URLs
//!
//! reqwest asks a resolver only for names: a URL whose host is an IP literal
//! (`http://127.0.0.1/`, `http://[::1]/`) is connected to directly, and the `url` crate turns
//! `http://2130706433/`, `http://0x7f.1/` and `http://017700000001/` into `127.0.0.1` before
//! reqwest sees them. The connector's [`crate::AddressPolicy`] therefore never sees such a URL
//! through this resolver. Guard untrusted URLs with [`Resolver::check_url`] before sending the
//! request; it applies the same rules as [`Connector::resolve`] to the host the `url` crate
//! parsed, in every form it accepts. (Redirects go through reqwest's redirect policy: check each
//! hop there with the same function, or turn redirects off.)
//! ```no_run
//! # async fn run() -> Result<(), reqwest::Error> {
//! let client = reqwest::Client::builder()
//!     .dns_resolver(eyeballs::reqwest::Resolver::new(eyeballs::Connector::new()))
//!     .build()?;
//! let body = client.get("http://example.com/").send().await?.text().await?;
//! # drop(body);
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;

use ::reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::InputError;
use crate::{Connector, Error};

/// A `reqwest::dns::Resolve` that returns addresses in RFC 8305 order.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    connector: Connector,
}

impl Resolver {
    /// Resolves with `connector`'s resolver, family policy and sorting.
    pub fn new(connector: Connector) -> Resolver {
        Resolver { connector }
    }

    /// Checks `url`'s host before a request is sent: an IP literal (in any form the `url` crate
    /// accepts: `127.0.0.1`, `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) must pass the
    /// connector's family and address policies ([`Error::Denied`], [`Error::InvalidInput`]
    /// otherwise); a URL without a host is [`Error::InvalidInput`]. A name passes: this resolver
    /// applies the policies to its addresses when reqwest asks for them.
    ///
    /// ```
    /// use eyeballs::{AddressPolicy, Connector};
    ///
    /// let connector = Connector::builder()
    ///     .address_policy(AddressPolicy::public_only())
    ///     .build()
    ///     .unwrap();
    /// let resolver = eyeballs::reqwest::Resolver::new(connector);
    /// let url = reqwest::Url::parse("http://2130706433/admin").unwrap(); // 127.0.0.1
    /// assert!(matches!(resolver.check_url(&url), Err(eyeballs::Error::Denied(_))));
    /// assert!(resolver.check_url(&"https://example.com/".parse().unwrap()).is_ok());
    /// ```
    pub fn check_url(&self, url: &::reqwest::Url) -> Result<(), Error> {
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(Error::InvalidInput {
                input: url.to_string(),
                problem: InputError::EmptyHost,
            });
        };
        let port = url.port_or_known_default().unwrap_or(0);
        self.connector.check_host(host, port)
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let connector = self.connector.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // reqwest fills in the port: hand back port 0, which it replaces. The port given
            // here only has to be valid; messages name the host alone.
            let addrs = connector
                .resolve(&host, 1)
                .await
                .map_err(|e| e.with_target(host))?;
            let addrs: Vec<SocketAddr> = addrs
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), 0))
                .collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
