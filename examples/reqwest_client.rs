//! reqwest with eyeballs' resolver: both families resolved concurrently, addresses handed to
//! reqwest in RFC 8305 order (reqwest's own connector still does the connecting; see the
//! `eyeballs::reqwest` docs for what that does and does not give you).
//!
//! ```sh
//! cargo run --example reqwest_client --features reqwest                # a local server
//! cargo run --example reqwest_client --features reqwest -- http://example.com/
//! ```

#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::error::Error;
use std::net::SocketAddr;

use eyeballs::Connector;
use reqwest::dns::Resolve;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            http_server::serve_http(listener, None);
            format!("http://localhost:{port}/")
        }
    };
    let resolver = eyeballs::reqwest::Resolver::new(Connector::new());
    let host = reqwest::Url::parse(&url)?
        .host_str()
        .unwrap_or_default()
        .to_string();
    if host.parse::<std::net::IpAddr>().is_err() {
        // The resolver hands reqwest addresses with port 0 (reqwest sets the URL's port): show
        // the addresses alone.
        let order: Vec<String> = resolver
            .resolve(host.parse()?)
            .await?
            .map(|addr: SocketAddr| addr.ip().to_string())
            .collect();
        println!(
            "{host} resolves, in the order reqwest will try: {}",
            order.join(", ")
        );
    }
    let client = reqwest::Client::builder().dns_resolver(resolver).build()?;
    let res = client.get(&url).send().await?;
    let from = res
        .remote_addr()
        .map_or("an unknown address".to_string(), |a| a.to_string());
    println!(
        "GET {url}: {} over {:?}, from {from}",
        res.status(),
        res.version()
    );
    Ok(())
}
