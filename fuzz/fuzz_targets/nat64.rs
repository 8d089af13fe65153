//! NAT64 prefix discovery (RFC 7050) over arbitrary answers, and RFC 6052 synthesis and
//! extraction over arbitrary prefixes: never a panic; what is found is consistent (HE-7.3, HE-7.4).
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use eyeballs::proto::nat64::{Nat64Prefix, discover as discover_nat64};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let answer: Vec<Ipv6Addr> = data
        .chunks_exact(16)
        .map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap()))
        .collect();
    for prefix in discover_nat64(&answer) {
        let wka = [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];
        assert!(
            answer
                .iter()
                .any(|a| prefix.extract(*a).is_some_and(|v4| wka.contains(&v4))),
            "{prefix} found in nothing"
        );
    }
    if let [len, a, b, c, d, rest @ ..] = data {
        let base = rest
            .iter()
            .take(16)
            .fold(0u128, |acc, x| acc << 8 | u128::from(*x));
        if let Ok(prefix) = Nat64Prefix::new(Ipv6Addr::from(base), *len) {
            let v4 = Ipv4Addr::new(*a, *b, *c, *d);
            assert_eq!(prefix.extract(prefix.synthesize(v4)), Some(v4));
        }
    }
});
