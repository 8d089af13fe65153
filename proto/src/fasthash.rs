//! A fast keyed hash for the race's address sets and maps. std's default (SipHash-1-3) is built
//! for arbitrary input and costs tens of nanoseconds per socket address, which a race over a long
//! answer pays several times per address. This one folds each word into the state with a 64x64 to
//! 128-bit multiply (the core of foldhash and aHash's fallback), keyed by a seed drawn once per
//! process from std's random keys, so the addresses a name server chooses cannot be aimed at one
//! bucket without knowing the seed.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// A `HashMap` with [`FastState`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
/// A `HashSet` with [`FastState`].
pub(crate) type FastSet<T> = std::collections::HashSet<T, FastState>;

/// Builds [`FastHasher`]s keyed by the process's seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> FastState {
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed = *SEED.get_or_init(|| RandomState::new().hash_one(0x6579_6562_616c_6c73_u64));
        FastState { seed }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            acc: self.seed,
            key: self.seed.rotate_left(32) ^ MULTIPLIER,
        }
    }
}

/// An odd constant with well-spread bits (the golden ratio's, as in Fibonacci hashing).
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// See the module's documentation.
#[derive(Debug, Clone)]
pub(crate) struct FastHasher {
    acc: u64,
    key: u64,
}

/// The 128-bit product of `a` and `b`, its halves xored: every input bit reaches every output
/// bit's neighbourhood.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.acc = fold_mul(self.acc ^ word, self.key | 1);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.mix(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.acc, MULTIPLIER ^ self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv6Addr, SocketAddr};

    // Addresses that differ in one bit, in any word, hash apart, and the table spreads them: a
    // set of 100,000 addresses a name server could choose (one /64, counting up; and flips of one
    // bit) keeps every probe short.
    #[test]
    fn close_addresses_spread() {
        let state = FastState::default();
        let addr = |bits: u128| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(bits)), 443);
        let base = 0x2001_0db8_u128 << 96;
        let mut hashes: Vec<u64> = (0..100_000u128)
            .map(|i| state.hash_one(addr(base | i)))
            .collect();
        // One bit flipped, in any word, of an address outside that /64.
        let other = base | (0xabcd << 64);
        hashes.extend((0..128).map(|bit| state.hash_one(addr(other ^ (1 << bit)))));
        let n = hashes.len();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), n, "no two of them collide in 64 bits");
        // The low bits pick the bucket: counting up must not fill a few of 2^17 buckets.
        let mut buckets = vec![0u32; 1 << 17];
        for i in 0..100_000u128 {
            buckets[(state.hash_one(addr(base | i)) & ((1 << 17) - 1)) as usize] += 1;
        }
        let fullest = buckets.iter().max().copied().unwrap_or(0);
        assert!(fullest <= 12, "{fullest} addresses in one bucket");
    }

    #[test]
    fn byte_strings_of_other_lengths_differ() {
        let state = FastState::default();
        let hash = |b: &[u8]| {
            let mut h = state.build_hasher();
            h.write(b);
            h.finish()
        };
        assert_ne!(hash(b"ab"), hash(b"ab\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
