//! The stub resolver's screening and reading of a reply (HE-8.4) on arbitrary bytes: what
//! hickory parses is screened and judged without a panic, and an answer is only ever a NOERROR,
//! untruncated response's addresses of the asked family or its HTTPS records (the assertions
//! are in `judge_dns_reply`).
#![no_main]

use eyeballs::__internal::judge_dns_reply;
use eyeballs::Family;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for family in [Some(Family::V6), Some(Family::V4), None] {
        for qname in ["www.test.", "a."] {
            let _ = judge_dns_reply(data, qname, family);
        }
    }
});
