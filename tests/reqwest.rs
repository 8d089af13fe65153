//! The reqwest adapter: a reqwest client whose names resolve through eyeballs.

mod common;
mod http_server;

use std::net::SocketAddr;

use common::{dual_port, listening};
use eyeballs::{Connector, resolve::StaticResolver};
use reqwest::dns::Resolve;

fn connector() -> Connector {
    let table = StaticResolver::new().with(
        "svc.test",
        ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    );
    Connector::builder().resolver(table).build().unwrap()
}

// HE-4.1 / HE-4.3: the resolver hands reqwest the addresses in RFC 8305 order, with port 0.
#[tokio::test]
async fn resolver_returns_rfc8305_order() {
    let resolver = eyeballs::reqwest::Resolver::new(connector());
    let addrs: Vec<SocketAddr> = resolver
        .resolve("svc.test".parse().unwrap())
        .await
        .unwrap()
        .collect();
    let want: Vec<SocketAddr> = ["[::1]:0", "127.0.0.1:0"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(
        addrs, want,
        "::1 sorts first (RFC 6724 precedence), port left for reqwest"
    );
    let err = match resolver.resolve("missing.test".parse().unwrap()).await {
        Ok(_) => panic!("a name not in the table resolves"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("could not resolve"), "{err}");
}

#[tokio::test]
async fn reqwest_client_uses_the_resolver() {
    let dual = dual_port();
    let port = dual.port;
    // ::1 is bound but not listening (refused); 127.0.0.1 serves.
    let _s4 = http_server::serve_http(listening(dual.v4), None);
    let client = reqwest::Client::builder()
        .dns_resolver(eyeballs::reqwest::Resolver::new(connector()))
        .no_proxy()
        .build()
        .unwrap();
    let res = client
        .get(format!("http://svc.test:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("127.0.0.1:{port}")), "{body}");
    drop(dual.v6);
}

// Issue 9 item 8: a failed lookup's message names the host, not a placeholder port.
#[tokio::test]
async fn resolver_errors_name_the_host_only() {
    let resolver = eyeballs::reqwest::Resolver::new(connector());
    let err = match resolver.resolve("missing.test".parse().unwrap()).await {
        Ok(_) => panic!("a name not in the table resolves"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("connect to missing.test failed"), "{err}");
    assert!(!err.contains("missing.test:"), "{err}");
}

// Issue 9 item 5: reqwest never asks the resolver for IP-literal URLs; check_url closes that gap
// for every form the url crate accepts, and lets names through to the resolver.
#[test]
fn check_url_guards_ip_literal_urls() {
    use eyeballs::{AddressPolicy, Error};
    let guarded = eyeballs::reqwest::Resolver::new(
        Connector::builder()
            .address_policy(AddressPolicy::public_only())
            .build()
            .unwrap(),
    );
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://0177.0.0.1:8080/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "https://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
    ] {
        let parsed = reqwest::Url::parse(url).unwrap();
        match guarded.check_url(&parsed) {
            Err(Error::Denied(_)) => {}
            other => panic!("{url} ({parsed}): {other:?}"),
        }
    }
    for url in [
        "http://203.0.114.1/",
        "https://example.com/",
        "http://localhost/",
    ] {
        let parsed = reqwest::Url::parse(url).unwrap();
        assert!(guarded.check_url(&parsed).is_ok(), "{url}");
    }
    let no_host = reqwest::Url::parse("unix:/run/socket").unwrap();
    assert!(matches!(
        guarded.check_url(&no_host),
        Err(Error::InvalidInput { .. })
    ));
    // The family policy applies to literals too.
    let v6_only = eyeballs::reqwest::Resolver::new(
        Connector::builder()
            .family(eyeballs::config::FamilyPolicy::Ipv6Only)
            .build()
            .unwrap(),
    );
    assert!(matches!(
        v6_only.check_url(&reqwest::Url::parse("http://198.51.100.1/").unwrap()),
        Err(Error::InvalidInput { .. })
    ));
}
