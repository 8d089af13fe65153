use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Lookup, Resolve, ResolveError, ResolveErrorKind};
use crate::proto::Family;

/// A fixed table of names and addresses: for tests, and for programs that pin names.
///
/// Names are matched case-insensitively, with or without a trailing dot. A name that is not in
/// the table fails with [`ResolveErrorKind::NotFound`]; a name present with no address of the
/// asked family answers with no addresses (NODATA).
///
/// ```
/// let resolver = eyeballs::resolve::StaticResolver::new()
///     .with("db.internal", ["2001:db8::5".parse().unwrap(), "192.0.2.5".parse().unwrap()]);
/// let connector = eyeballs::Connector::builder().resolver(resolver).build().unwrap();
/// # let _ = connector;
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Adds `addrs` for `name` (appending to what the name already has).
    pub fn with(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> StaticResolver {
        Arc::make_mut(&mut self.table)
            .entry(normalize(name))
            .or_default()
            .extend(addrs);
        self
    }
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Resolve for StaticResolver {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let result = match self.table.get(&normalize(name)) {
            Some(addrs) => Ok(addrs
                .iter()
                .copied()
                .filter(|ip| Family::of_ip(ip) == family)
                .collect()),
            None => Err(ResolveError::new(
                ResolveErrorKind::NotFound,
                format!("{name} is not in the static table"),
            )),
        };
        Box::pin(std::future::ready(result))
    }
}
