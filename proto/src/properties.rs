//! Property tests: the core's invariants (the same checker the fuzz target runs) over arbitrary
//! event sequences, on every test run. Unit tests, so the checker never ships in
//! the library (it is compiled for tests and fuzzing only).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    // HE-5.1, HE-5.2, HE-5.4, HE-5.6 and termination, for any sequence of answers, attempt
    // outcomes and clock moves (see proto/src/check.rs for the list).
    #[test]
    fn race_invariants_hold_for_any_event_sequence(data in proptest::collection::vec(any::<u8>(), 0..800)) {
        if let Err(broken) = crate::check::run(&data) {
            prop_assert!(false, "{}", broken);
        }
    }
}

// A fixed regression corpus: sequences that once exercised edge cases (a winner arriving with a
// timeout in the same step, late answers after every attempt failed, thousands of addresses).
#[test]
fn race_invariants_regressions() {
    let cases: &[&[u8]] = &[
        &[],
        &[
            0, 10, 0, 0, 1, 0, 0, 0, 0x00, 3, 1, 2, 3, 0x10, 2, 4, 5, 6, 6, 6, 4, 0, 4, 1,
        ],
        &[
            0, 10, 0, 0, 1, 0, 1, 1, 1, 0x30, 0x0b, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 6, 6, 6, 3, 0,
            5, 0xff, 0xff,
        ],
        &[
            7, 208, 0, 10, 2, 0, 0, 10, 2, 0, 1, 1, 1, 0x10, 1, 3, 6, 3, 0, 0, 1, 9, 6, 4, 1, 7,
            200,
        ],
    ];
    for data in cases {
        crate::check::run(data).unwrap_or_else(|e| panic!("{data:?}: {e}"));
    }
}

// Found by the fuzzer: a connect timeout of 65536 ms overflowed the decoder's arithmetic.
#[test]
fn race_invariants_fuzz_regression_long_timeout() {
    crate::check::run(&[196, 224, 254, 255, 255, 253, 255, 255, 255, 255]).unwrap();
}

/// Inputs the fuzzer found, kept as regressions (base64 of the `race` target's crash files).
#[test]
fn race_fuzz_regressions() {
    let cases: &[&[u8]] = &[
        // Hints (HE-10.5) set the Resolution Delay's start, then the real answer replaced them
        // by nothing: the delay's deadline stayed, in the past, with nothing to start.
        &[
            0x0a, 0x25, 0x0a, 0x0a, 0x12, 0xae, 0xaa, 0xaa, 0x00, 0x22, 0x0a, 0xf2, 0x22, 0x22,
            0x22, 0x2f, 0x22, 0x4a, 0x22, 0x92, 0x13, 0x22, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x22, 0x22, 0x10, 0x22, 0x22, 0x2f,
            0x22, 0x4a, 0x22, 0x92, 0x13, 0x22, 0x0a, 0xeb, 0xeb, 0xeb, 0xeb, 0x25, 0x89, 0x8a,
            0x0d, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc,
            0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc,
            0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xdc, 0xc7, 0x55, 0x3c, 0x00,
            0x00, 0x59, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1e, 0x22,
            0x22, 0x22, 0x22, 0x22, 0x10, 0x2f, 0x00, 0x4a, 0x22, 0x5a, 0x55, 0x00, 0x11, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x2c,
        ],
    ];
    for data in cases {
        assert_eq!(crate::check::run(data), Ok(()), "{data:?}");
    }
}
