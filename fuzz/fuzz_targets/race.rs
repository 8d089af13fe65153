//! The Happy Eyeballs state machine driven by arbitrary DNS answers (thousands of records,
//! duplicates, mixed families, v4-mapped, unspecified and multicast addresses), attempt outcomes
//! and clock moves; every invariant is checked after every step (see proto/src/check.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = eyeballs::proto::check::run(data) {
        panic!("invariant broken: {broken}");
    }
});
