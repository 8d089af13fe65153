//! `--http`: one request through eyeballs' hyper connector (and hyper-rustls for https).

use crate::records::{self, Endpoint, HttpResult};
use crate::render::{Style, ms};
use bytes::Bytes;
use eyeballs::Connector;
use eyeballs::hyper::ConnectionInfo;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// GETs `url`; prints the result; returns whether it got a response.
pub async fn request(
    connector: &Connector,
    url: &str,
    (insecure, ca): (bool, Option<&std::path::Path>),
    as_json: bool,
    style: Style,
) -> bool {
    let result = get(connector, url, insecure, ca).await;
    if as_json {
        let http = match &result {
            Ok((status, version, info)) => HttpResult {
                url: url.to_string(),
                ok: true,
                status: Some(*status),
                version: Some(version.clone()),
                winner: info.as_ref().map(|i| Endpoint::of(i.remote_addr())),
                error: None,
            },
            Err(e) => HttpResult {
                url: url.to_string(),
                ok: false,
                status: None,
                version: None,
                winner: None,
                error: Some(e.clone()),
            },
        };
        println!("{}", records::line(&records::Http { http }));
    } else {
        match &result {
            Ok((status, version, info)) => {
                let via = info.as_ref().map_or(String::new(), |i| {
                    format!(
                        " via {} ({}, attempt {} of {}, connected in {:.1} ms)",
                        i.remote_addr(),
                        i.family(),
                        i.attempt() + 1,
                        i.attempts(),
                        ms(i.elapsed())
                    )
                });
                println!(
                    "  {} GET {url}: {status} {version}{via}",
                    style.green("http:")
                );
            }
            Err(e) => println!("  {} GET {url}: {e}", style.red("http:")),
        }
    }
    result.is_ok()
}

async fn get(
    connector: &Connector,
    url: &str,
    insecure: bool,
    ca: Option<&std::path::Path>,
) -> Result<(u16, String, Option<ConnectionInfo>), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    #[cfg(feature = "rustls")]
    let client: Client<_, Empty<Bytes>> = {
        // HE-9.1: https races through the TLS handshake.
        let tls = crate::tls::client_config(insecure, ca)?;
        let https = crate::tls::https_connector(connector, &tls)?;
        Client::builder(TokioExecutor::new()).build(https)
    };
    #[cfg(not(feature = "rustls"))]
    let client: Client<_, Empty<Bytes>> = {
        if insecure || ca.is_some() {
            return Err("--insecure and --ca with --http need the rustls feature".into());
        }
        let mut http = eyeballs::hyper::HttpConnector::new(connector.clone());
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("loading the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Client::builder(TokioExecutor::new()).build(https)
    };
    let res = client.get(uri).await.map_err(|e| error_chain(&e))?;
    let status = res.status().as_u16();
    let version = format!("{:?}", res.version());
    let info = res.extensions().get::<ConnectionInfo>().cloned();
    res.into_body()
        .collect()
        .await
        .map_err(|e| error_chain(&e))?;
    Ok((status, version, info))
}

/// An error with its causes, since hyper's outer error alone rarely says what went wrong.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
