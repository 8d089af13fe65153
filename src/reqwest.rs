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

use crate::Connector;

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
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let connector = self.connector.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // reqwest fills in the port: hand back port 0, which it replaces.
            let addrs = connector.resolve(&host, 1).await?;
            let addrs: Vec<SocketAddr> = addrs
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), 0))
                .collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
