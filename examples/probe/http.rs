//! `--http`: one request through eyeballs' hyper connector (and hyper-rustls for https).

use bytes::Bytes;
use eyeballs::Connector;
use eyeballs::hyper::{ConnectionInfo, HttpConnector};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::render::{Style, ms};

/// GETs `url`; prints the result; returns whether it got a response.
pub async fn request(connector: &Connector, url: &str, as_json: bool, style: Style) -> bool {
    let result = get(connector, url).await;
    if as_json {
        let v = match &result {
            Ok((status, version, info)) => json!({"http": {
                "url": url, "ok": true, "status": status, "version": version,
                "winner": info.as_ref().map(|i| json!({"addr": i.remote_addr().to_string(), "family": i.family().as_str()})),
                "error": null,
            }}),
            Err(e) => {
                json!({"http": {"url": url, "ok": false, "status": null, "version": null, "winner": null, "error": e}})
            }
        };
        println!("{v}");
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
) -> Result<(u16, String, Option<ConnectionInfo>), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let mut http = HttpConnector::new(connector.clone());
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
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
