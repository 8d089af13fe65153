//! `Alt-Svc` values (RFC 7838) of arbitrary bytes: never a panic; what parses is within its
//! bounds (a port of 1 or more, at most the kept alternatives and the longest age), and the
//! cache stays within its capacity (HE-12.5).
#![no_main]

use std::time::{Duration, Instant};

use eyeballs::proto::altsvc::{self, AltSvc, AltSvcCache, MAX_ALTERNATIVES, MAX_MAX_AGE};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(value) = altsvc::parse(data) else {
        return;
    };
    if let AltSvc::Alternatives { alternatives, .. } = &value {
        assert!(!alternatives.is_empty() && alternatives.len() <= MAX_ALTERNATIVES);
        for a in alternatives {
            assert!(a.port != 0);
            assert!(a.max_age <= MAX_MAX_AGE);
        }
    }
    let t0 = Instant::now();
    let mut cache = AltSvcCache::new(2);
    let quic = [b"h3".to_vec()];
    for (i, host) in ["a.test", "b.test", "c.test", "a.test"].iter().enumerate() {
        cache.update(host, 443, &value, &quic, t0 + Duration::from_secs(i as u64));
        assert!(cache.len() <= 2);
    }
    if let Some(port) = cache.quic_port("a.test", 443, t0) {
        assert!(port != 0);
    }
});
