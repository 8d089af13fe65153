//! The history store over arbitrary outcomes, keys, RTTs and clock moves: never a panic, never
//! past its bound, the latest outcome decides, failures expire (HE-4.2, HE-5.3).
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use eyeballs::proto::history::{History, Limits as HistoryLimits};
use eyeballs::report::PastFailure;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&size, ops)) = data.split_first() else {
        return;
    };
    let limits = HistoryLimits {
        max_entries: 1 + usize::from(size % 64),
        failure_ttl: Duration::from_millis(u64::from(size) * 10),
    };
    let mut h = History::new(limits);
    let mut now = Instant::now();
    for op in ops.chunks_exact(4) {
        now += Duration::from_millis(u64::from(op[3] % 32));
        let ip = if op[1] & 1 == 0 {
            IpAddr::from([192, 0, 2, op[1]])
        } else {
            IpAddr::from([
                0x2001,
                0xdb8,
                0,
                u16::from(op[1] >> 4),
                0,
                0,
                0,
                u16::from(op[1]),
            ])
        };
        let dst = SocketAddr::new(ip, 443);
        let src = (op[1] & 2 == 0).then(|| IpAddr::from([192, 0, 2, 200]));
        match op[0] % 3 {
            0 => {
                let rtt = Duration::from_micros(u64::from(op[2]) * 997);
                h.success(src, dst, rtt, now);
                let v = h.verdict(src, dst, now);
                assert!(v.worked() && v.failed().is_none(), "{v:?}");
                assert!(v.rtt().is_some());
            }
            1 => {
                h.failure(src, dst, PastFailure::Unreachable, now);
                let v = h.verdict(src, dst, now);
                assert!(!v.worked());
                if !limits.failure_ttl.is_zero() {
                    assert_eq!(v.failed(), Some(PastFailure::Unreachable));
                }
                assert_eq!(h.verdict(src, dst, now + limits.failure_ttl).failed(), None);
            }
            _ => {
                let v = h.verdict(src, dst, now);
                if let Some((srtt, rttvar)) = v.rtt() {
                    let bounds = (Duration::from_millis(10), Duration::from_secs(2));
                    let delay = v.attempt_delay(bounds).unwrap();
                    assert!(delay >= bounds.0 && delay <= bounds.1);
                    assert!(
                        srtt <= Duration::from_millis(255) && rttvar <= Duration::from_millis(255)
                    );
                }
            }
        }
        assert!(
            h.len() <= limits.max_entries,
            "{} > {}",
            h.len(),
            limits.max_entries
        );
    }
});
