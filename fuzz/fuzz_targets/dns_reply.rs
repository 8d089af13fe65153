//! The direct DNS path's reading of a reply (HE-8.3) on arbitrary bytes: what hickory parses is
//! judged without a panic, and an answer is only ever a NOERROR, untruncated reply's addresses of
//! the asked family or its HTTPS records (the assertions are in `judge_dns_reply`).
#![no_main]

use eyeballs::__internal::judge_dns_reply;
use eyeballs::Family;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for family in [Some(Family::V6), Some(Family::V4), None] {
        for nodata_is_final in [false, true] {
            for qname in ["www.test.", "a."] {
                let _ = judge_dns_reply(data, qname, family, nodata_is_final);
            }
        }
    }
});
