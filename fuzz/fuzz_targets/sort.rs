//! RFC 6724 sorting on arbitrary destinations and sources: total, deterministic, a permutation.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use eyeballs::proto::nat64::{PrefixSource, SynthesizedBy, Translation, WELL_KNOWN};
use eyeballs::proto::sort::{Candidate, sort_destinations};

fn ip(bytes: &[u8]) -> IpAddr {
    if bytes[0] & 1 == 0 {
        IpAddr::from([bytes[1], bytes[2], bytes[3], bytes[4]])
    } else {
        let mut b = [0u8; 16];
        b.copy_from_slice(&bytes[1..17]);
        IpAddr::from(b)
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input: Vec<Candidate> = data
        .chunks_exact(35)
        .map(|c| Candidate {
            dst: SocketAddr::new(ip(&c[..17]), 443),
            src: (c[34] & 3 != 0).then(|| ip(&c[17..34])),
            hist: Default::default(),
            // Some destinations stand for an IPv4 address (NAT64): sorted as it.
            origin: (c[34] & 4 != 0).then(|| Translation {
                ipv4: std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                prefix: WELL_KNOWN,
                by: SynthesizedBy::Dns64,
                learned: PrefixSource::WellKnown,
            }),
        })
        .collect();
    let mut once = input.clone();
    sort_destinations(&mut once);
    let mut twice = once.clone();
    sort_destinations(&mut twice);
    assert_eq!(once, twice, "sorting is idempotent");
    let mut reversed: Vec<Candidate> = input.iter().rev().copied().collect();
    sort_destinations(&mut reversed);
    let mut a: Vec<_> = once.iter().map(|c| (c.dst, c.src)).collect();
    let mut b: Vec<_> = reversed.iter().map(|c| (c.dst, c.src)).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "sorting permutes its input");
});
