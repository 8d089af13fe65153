//! `--tls` (and `--http` with an https URL): the rustls client configuration the probe races
//! through: the platform's roots, or, with `--insecure`, any certificate (for diagnosis only).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// The probe's TLS settings: the client configuration and the certificate verifier it was made
/// with (ECH configurations are made with the same one).
pub struct Tls {
    pub config: Arc<ClientConfig>,
    #[cfg_attr(not(feature = "ech"), allow(dead_code))]
    pub verifier: Arc<dyn ServerCertVerifier>,
}

/// The client configuration: platform roots and, with `ca`, the PEM certificates of that file
/// (a private or test server), or none checked with `insecure`; ALPN h2 and http/1.1.
pub fn client_config(insecure: bool, ca: Option<&Path>) -> Result<Tls, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(AnyCertificate(provider.clone()))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (mut added, _) = roots.add_parsable_certificates(found.certs);
        if let Some(path) = ca {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--ca {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca {}: no certificate in the file",
                    path.display()
                ));
            }
            let (ca_added, ignored) = roots.add_parsable_certificates(certs);
            if ignored > 0 {
                return Err(format!(
                    "--ca {}: {ignored} certificate(s) could not be used",
                    path.display()
                ));
            }
            added += ca_added;
        }
        if added == 0 {
            return Err(
                "no usable root certificate on this system (try --ca FILE or --insecure)".into(),
            );
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .map_err(|e| e.to_string())?
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        verifier,
    })
}

/// eyeballs' `HttpsConnector` over `connector` with `tls`; with the `ech` feature, ECH on
/// (from HTTPS records, GREASE elsewhere).
pub fn https_connector(
    connector: &eyeballs::Connector,
    tls: &Tls,
) -> Result<eyeballs::hyper::HttpsConnector, String> {
    #[cfg_attr(not(feature = "ech"), allow(unused_mut))]
    let mut https = eyeballs::hyper::HttpsConnector::new(connector.clone(), tls.config.clone());
    #[cfg(feature = "ech")]
    https
        .enable_ech(tls.verifier.clone())
        .map_err(|e| format!("ECH: {e}"))?;
    Ok(https)
}

/// One of the connector's handshakes (`HttpsConnector`'s TLS one, `QuicConnector`'s with
/// `--quic`), its failures reworded by [`explain`], over TCP and QUIC alike; everything else as
/// the handshake has it.
pub struct Explained<H>(pub H);

impl<H: eyeballs::Handshake> eyeballs::Handshake for Explained<H> {
    type Output = H::Output;
    type Future = futures::future::MapErr<H::Future, fn(io::Error) -> io::Error>;

    fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
        to: &eyeballs::Destination<'_>,
    ) -> Self::Future {
        use futures::TryFutureExt;
        self.0
            .handshake(tcp, to)
            .map_err(explain as fn(io::Error) -> io::Error)
    }

    fn waits_for_service(&self) -> bool {
        self.0.waits_for_service()
    }

    fn required_record(&self) -> Option<fn(&eyeballs::https_records::ServiceRecord) -> bool> {
        self.0.required_record()
    }

    fn note(&self, output: &Self::Output) -> Option<std::borrow::Cow<'static, str>> {
        self.0.note(output)
    }

    fn quic_plan(&self) -> Option<&eyeballs::QuicPlan> {
        self.0.quic_plan()
    }

    fn quic(&self, to: &eyeballs::Destination<'_>) -> io::Result<Self::Future> {
        use futures::TryFutureExt;
        let attempt = self.0.quic(to)?;
        Ok(attempt.map_err(explain as fn(io::Error) -> io::Error))
    }
}

/// The TLS server name for a host the probe was given: without a zone id, brackets or a final
/// dot.
pub fn server_name(host: &str) -> Result<String, String> {
    let bare = host.split('%').next().unwrap_or(host);
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    let bare = bare.strip_suffix('.').unwrap_or(bare);
    ServerName::try_from(bare.to_string())
        .map(|_| bare.to_string())
        .map_err(|_| format!("{host:?} is not a valid TLS server name"))
}

/// A failed handshake in words a person can act on, each starting with its prefix in
/// [`crate::diagnose::TLS_FAILURES`] (the `--json` code comes from it), rustls's own words after:
/// the server speaks no TLS here, it sent an alert (named), its certificate is refused (why), or
/// it reset the connection. Anything else is left as rustls says it.
pub fn explain(e: io::Error) -> io::Error {
    use rustls::InvalidMessage;
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let (prefix, meaning) = match tls {
        Some(rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType
            | InvalidMessage::UnknownProtocolVersion
            | InvalidMessage::MessageTooLarge,
        )) => (
            "not TLS",
            "the server answered with bytes that are not TLS: something else (plain HTTP?) \
             listens on this port"
                .to_string(),
        ),
        Some(rustls::Error::AlertReceived(alert)) => (
            "TLS alert",
            format!("the server refused the handshake with the alert {alert:?}"),
        ),
        Some(rustls::Error::InvalidCertificate(why)) => (
            "certificate rejected",
            format!(
                "the server's certificate is not accepted ({why:?}); --insecure checks the path without it"
            ),
        ),
        Some(_) => return e,
        None => match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => (
                "reset during TLS",
                "the server closed or reset the connection in the middle of the handshake"
                    .to_string(),
            ),
            _ => return e,
        },
    };
    io::Error::new(e.kind(), format!("{prefix}: {meaning} (rustls: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explanation_has_its_code() {
        let cases = [
            (
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                ),
                "not_tls",
            ),
            (
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
                ),
                "tls_alert",
            ),
            (
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
                ),
                "certificate",
            ),
            (io::Error::from(io::ErrorKind::ConnectionReset), "tls_reset"),
        ];
        for (e, code) in cases {
            let text = explain(e).to_string();
            let (found, _) = crate::diagnose::TLS_FAILURES
                .iter()
                .find(|(_, prefix)| text.starts_with(prefix))
                .unwrap_or_else(|| panic!("{text}"));
            assert_eq!(*found, code, "{text}");
        }
        assert!(
            explain(io::Error::new(io::ErrorKind::InvalidData, "other")).to_string() == "other"
        );
        let alert = explain(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::UnrecognisedName),
        ));
        assert!(alert.to_string().contains("UnrecognisedName"), "{alert}");
    }
}

/// Accepts every certificate, but still checks the handshake's signatures (`--insecure`).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
