use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use super::{Lookup, Resolve, ResolveError, ResolveErrorKind};
use crate::core::Family;

/// A resolver built on hickory-resolver: the default.
///
/// [`HickoryResolver::from_system_conf`] reads the system configuration (`/etc/resolv.conf` and
/// `/etc/hosts`, so `localhost` and local names work) the first time it is used, once, and shares
/// its cache across every connect and every clone.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: Arc<OnceLock<Result<TokioResolver, ResolveError>>>,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver")
            .field("ready", &self.inner.get().is_some())
            .finish()
    }
}

impl HickoryResolver {
    /// A resolver configured from the system's DNS configuration, read on first use.
    pub fn from_system_conf() -> HickoryResolver {
        HickoryResolver {
            inner: Arc::new(OnceLock::new()),
        }
    }

    /// Wraps a hickory resolver you built yourself (custom name servers, options, hosts).
    pub fn from_resolver(resolver: TokioResolver) -> HickoryResolver {
        HickoryResolver {
            inner: Arc::new(OnceLock::from(Ok(resolver))),
        }
    }

    fn resolver(&self) -> Result<TokioResolver, ResolveError> {
        self.inner
            .get_or_init(|| {
                TokioResolver::builder_tokio()
                    .and_then(|b| b.build())
                    .map_err(|e| ResolveError::with_source(ResolveErrorKind::Config, e))
            })
            .clone()
    }
}

impl Resolve for HickoryResolver {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let resolver = self.resolver();
        let name = name.to_string();
        Box::pin(async move {
            let resolver = resolver?;
            let answer = match family {
                Family::V6 => resolver.ipv6_lookup(name.as_str()).await,
                Family::V4 => resolver.ipv4_lookup(name.as_str()).await,
            };
            match answer {
                Ok(lookup) => Ok(lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::AAAA(a) if family == Family::V6 => Some(IpAddr::V6(a.0)),
                        RData::A(a) if family == Family::V4 => Some(IpAddr::V4(a.0)),
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() && !e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => {
                    let kind = if e.is_nx_domain() {
                        ResolveErrorKind::NotFound
                    } else if matches!(e, hickory_resolver::net::NetError::Timeout) {
                        ResolveErrorKind::TimedOut
                    } else {
                        ResolveErrorKind::Other
                    };
                    Err(ResolveError::with_source(kind, e))
                }
            }
        })
    }
}
