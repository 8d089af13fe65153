//! Host and URI parsing on arbitrary input: never a panic; what parses is stable.
#![no_main]

use eyeballs::__internal::{Host, parse_host, uri_host_port};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(host) = parse_host(&s) {
        match &host {
            Host::Name(name) => assert_eq!(parse_host(name).as_ref(), Ok(&host)),
            Host::Ip(ip, None) => assert_eq!(parse_host(&ip.to_string()).as_ref(), Ok(&host)),
            Host::Ip(..) => {}
        }
    }
    if let Ok(uri) = s.parse::<http::Uri>() {
        for enforce_http in [true, false] {
            if let Ok((host, _port)) = uri_host_port(&uri, enforce_http) {
                let _ = parse_host(host);
            }
        }
    }
});
