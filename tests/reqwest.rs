//! The reqwest adapter: a reqwest client whose names resolve through eyeballs.

mod common;
mod http_server;

use std::net::SocketAddr;

use common::{dual_port, listening};
use eyeballs::{Connector, StaticResolver};
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
