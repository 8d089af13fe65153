//! The stub resolver's one cache: what each name said for each kind (addresses of a family,
//! HTTPS records), positive and negative, kept until its TTL runs out. Bounded (at most
//! [`CAPACITY`] entries), with O(1) eviction and no lock every lookup shares: moka's concurrent
//! cache (TinyLFU admission, LRU eviction), which hickory-resolver uses for its own cache too.

use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::Name;

use super::rules::{Found, Kind};

/// At most this many (name, kind) entries are kept.
pub(crate) const CAPACITY: u64 = 4_096;

/// How long past its TTL an answer may still be served stale (RFC 8767 section 5 suggests one
/// to three days; one day, the longest anything is kept at all).
pub(crate) const STALE_FOR: Duration = Duration::from_secs(86_400);

/// What one name said for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Records of the kind (never empty).
    Found(Found),
    /// The name exists without records of the kind (NODATA).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name is an alias whose chain the reply did not finish: its target is asked.
    Alias(Name),
}

#[derive(Debug, Clone)]
struct Entry {
    kept: Kept,
    until: Instant,
}

struct Expiry;

impl moka::Expiry<(Box<str>, Kind), Entry> for Expiry {
    fn expire_after_create(
        &self,
        _key: &(Box<str>, Kind),
        entry: &Entry,
        created_at: Instant,
    ) -> Option<Duration> {
        Some((entry.until + STALE_FOR).saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &(Box<str>, Kind),
        entry: &Entry,
        updated_at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some((entry.until + STALE_FOR).saturating_duration_since(updated_at))
    }
}

/// Answers kept by their TTL (and a day beyond, to be served stale when the name server is
/// silent or failing, RFC 8767), shared by every runtime.
pub(crate) struct Cache {
    entries: moka::sync::Cache<(Box<str>, Kind), Entry>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

/// The key of a name: its absolute, lowercase spelling.
pub(crate) fn key(name: &Name, kind: Kind) -> (Box<str>, Kind) {
    let mut ascii = name.to_ascii();
    ascii.make_ascii_lowercase();
    (ascii.into_boxed_str(), kind)
}

impl Cache {
    pub(crate) fn new(capacity: u64) -> Cache {
        Cache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(Expiry)
                .build(),
        }
    }

    /// What `name` said for `kind` and the time it has left, if that has not run out at `now`.
    pub(crate) fn get(&self, name: &Name, kind: Kind, now: Instant) -> Option<(Kept, Duration)> {
        let entry = self.entries.get(&key(name, kind))?;
        let left = entry
            .until
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())?;
        Some((entry.kept, left))
    }

    /// What `name` said for `kind`, also when it expired (at most [`STALE_FOR`] ago), and how
    /// long ago it expired (zero while it has not).
    pub(crate) fn get_stale(
        &self,
        name: &Name,
        kind: Kind,
        now: Instant,
    ) -> Option<(Kept, Duration)> {
        let entry = self.entries.get(&key(name, kind))?;
        if now >= entry.until + STALE_FOR {
            return None;
        }
        Some((entry.kept, now.saturating_duration_since(entry.until)))
    }

    /// Keeps what `name` said for `kind` for `ttl` (a zero TTL keeps nothing and forgets what
    /// was kept). NXDOMAIN is about the name, so it is kept for every kind (RFC 2308 section 5).
    pub(crate) fn put(&self, name: &Name, kind: Kind, kept: Kept, ttl: Duration, now: Instant) {
        let kinds = if kept == Kept::NxDomain {
            &Kind::ALL[..]
        } else {
            std::slice::from_ref(&kind)
        };
        for &kind in kinds {
            let key = key(name, kind);
            if ttl.is_zero() {
                // Answers at TTL 0 are common (load balancers): a removal costs moka a write,
                // so only when there is something to forget.
                if self.entries.contains_key(&key) {
                    self.entries.invalidate(&key);
                }
            } else {
                let until = now + ttl;
                self.entries.insert(
                    key,
                    Entry {
                        kept: kept.clone(),
                        until,
                    },
                );
            }
        }
    }

    /// How many entries are kept (moka counts lazily: after pending work is done).
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Family;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    const V4: Kind = Kind::Addresses(Family::V4);
    const V6: Kind = Kind::Addresses(Family::V6);

    // HE-8.4: kept for the TTL, by kind, by name in any case; NXDOMAIN for every kind; TTL 0
    // forgets; bounded.
    #[test]
    fn he_8_4_cache() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let cache = Cache::new(64);
        let found = Kept::Found(Found::Ips(vec!["192.0.2.1".parse().unwrap()]));
        cache.put(&name("a.test."), V4, found.clone(), s(10), t0);
        assert_eq!(
            cache.get(&name("a.test."), V4, t0 + s(4)),
            Some((found.clone(), s(6)))
        );
        assert_eq!(
            cache.get(&name("A.Test."), V4, t0),
            Some((found.clone(), s(10))),
            "case"
        );
        assert_eq!(cache.get(&name("a.test."), V6, t0), None, "kinds apart");
        assert_eq!(cache.get(&name("a.test."), V4, t0 + s(10)), None, "expired");
        cache.put(&name("a.test."), V4, found.clone(), s(0), t0);
        assert_eq!(cache.get(&name("a.test."), V4, t0), None, "TTL 0 forgets");

        cache.put(&name("gone.test."), V6, Kept::NxDomain, s(300), t0);
        for kind in Kind::ALL {
            assert_eq!(
                cache.get(&name("gone.test."), kind, t0 + s(1)),
                Some((Kept::NxDomain, s(299))),
                "NXDOMAIN holds for {kind:?}"
            );
        }
        cache.put(&name("empty.test."), V6, Kept::NoData, s(60), t0);
        assert_eq!(
            cache.get(&name("empty.test."), V4, t0),
            None,
            "NODATA is one kind's"
        );

        assert_eq!(
            cache.get_stale(&name("gone.test."), V4, t0 + s(400)),
            Some((Kept::NxDomain, s(100))),
            "kept beyond its TTL, to be served stale"
        );
        assert_eq!(
            cache.get_stale(&name("gone.test."), V4, t0 + s(300) + STALE_FOR),
            None
        );
        assert_eq!(
            cache.get_stale(&name("gone.test."), V4, t0 + s(10)),
            Some((Kept::NxDomain, s(0))),
            "not expired yet"
        );

        let small = Cache::new(8);
        for i in 0..100 {
            small.put(&name(&format!("n{i}.test.")), V4, found.clone(), s(100), t0);
        }
        assert!(small.len() <= 8, "{} entries", small.len());
    }
}
