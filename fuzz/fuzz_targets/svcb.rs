//! HTTPS record RDATA (RFC 9460) on arbitrary bytes: an answer or an error, never a panic; what
//! parses keeps the format's promises (HE-10.1). The bytes, and a parsed record's `ech`, also go
//! to `HttpsConnector`'s ECH configuration builder: used or skipped, never a panic (HE-11.4).
#![no_main]

use eyeballs::https_records::ServiceRecord;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    eyeballs::__internal::ech_config_list_is_used(data);
    let Ok(record) = ServiceRecord::from_rdata(data) else {
        return;
    };
    if let Some(ech) = &record.ech {
        eyeballs::__internal::ech_config_list_is_used(ech);
    }
    assert!(record.target.len() <= 253, "{record:?}");
    // What parses can be written back, and reads back as itself.
    let wire = record.to_rdata().expect("a parsed record is writable");
    assert_eq!(ServiceRecord::from_rdata(&wire).as_ref(), Ok(&record));
    if record.is_alias() {
        assert!(
            record.alpn.is_empty() && record.port.is_none(),
            "AliasMode ignores params"
        );
        return;
    }
    let set = record.alpn_set();
    assert_eq!(
        set.iter().any(|p| p == b"http/1.1"),
        !record.no_default_alpn || record.alpn.iter().any(|p| p == b"http/1.1")
    );
    assert!(record.alpn.iter().all(|p| !p.is_empty()));
    assert_eq!(record.usable_with(&set), !set.is_empty());
});
