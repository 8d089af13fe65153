//! Encrypted Client Hello (RFC 9849, feature `ech`) for [`super::HttpsConnector`] (HE-11.x):
//! the client configuration for each ECH configuration list an HTTPS record offers, derived from
//! the connector's own and cached, and the GREASE configuration for endpoints that offer none.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{EchConfig, EchGreaseConfig, EchMode};
use rustls::crypto::aws_lc_rs::hpke;
use rustls::crypto::hpke::Hpke;
use rustls::pki_types::{EchConfigListBytes, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::{debug, warn};

/// How many ECH configuration lists' client configurations are kept (a few per service; a
/// list that stops being published leaves in turn).
const CACHED: usize = 16;

/// ECH for one connector: its base configuration and the verifier that configuration was made
/// with (rustls keeps a configuration's verifier private, and a configuration with ECH must be
/// built anew), GREASE, and the derived configurations.
pub(super) struct Ech {
    base: Arc<ClientConfig>,
    verifier: Arc<dyn ServerCertVerifier>,
    /// `None`: GREASE off.
    grease: Option<Arc<ClientConfig>>,
    /// By ECHConfigList: its configuration, or `None` for a list rustls cannot use (malformed,
    /// an unknown version, no HPKE suite in common), so that it is warned about once.
    cache: Mutex<VecDeque<Cached>>,
}

/// An ECHConfigList and its configuration (`None`: unusable).
type Cached = (Box<[u8]>, Option<Arc<ClientConfig>>);

impl fmt::Debug for Ech {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ech")
            .field("grease", &self.grease.is_some())
            .finish_non_exhaustive()
    }
}

impl Ech {
    /// ECH over `base`, whose certificate verifier is `verifier`; with GREASE when `grease`.
    pub(super) fn new(
        base: Arc<ClientConfig>,
        verifier: Arc<dyn ServerCertVerifier>,
        grease: bool,
    ) -> Result<Ech, rustls::Error> {
        let mut ech = Ech {
            base,
            verifier,
            grease: None,
            cache: Mutex::new(VecDeque::new()),
        };
        if grease {
            ech.grease = Some(Arc::new(ech.derive(grease_mode()?)?));
        }
        Ok(ech)
    }

    /// Whether GREASE is sent where no record offers ECH.
    pub(super) fn greases(&self) -> bool {
        self.grease.is_some()
    }

    /// The same, GREASE on or off.
    pub(super) fn with_grease(&self, on: bool) -> Result<Ech, rustls::Error> {
        Ech::new(self.base.clone(), self.verifier.clone(), on)
    }

    /// The configuration for an endpoint whose HTTPS record offers the ECHConfigList `list`
    /// (`None`: no record, or one without `ech`): ECH with that list, else GREASE (when on),
    /// else the base configuration.
    /// The second value says whether it offers real ECH (so that a rejection can be told apart).
    pub(super) fn choose(&self, list: Option<&[u8]>) -> (Arc<ClientConfig>, bool) {
        if let Some(list) = list
            && let Some(config) = self.for_list(list)
        {
            return (config, true);
        }
        let fallback = self.grease.clone().unwrap_or_else(|| self.base.clone());
        (fallback, false)
    }

    /// The configuration for the one retry after a rejection, with the server's retry
    /// configurations `list` (RFC 9849 section 6.1.6), offering `alpn`. Not cached: the value "may
    /// only be applied to the retry connection"; later connects use the published ones.
    pub(super) fn for_retry(
        &self,
        list: &[u8],
        alpn: &[Vec<u8>],
    ) -> Result<Arc<ClientConfig>, rustls::Error> {
        let config = EchConfig::new(EchConfigListBytes::from(list), hpke::ALL_SUPPORTED_SUITES)?;
        let mut config = self.derive(EchMode::Enable(config))?;
        config.alpn_protocols = alpn.to_vec();
        Ok(Arc::new(config))
    }

    /// The cached configuration for `list`, made on first use.
    fn for_list(&self, list: &[u8]) -> Option<Arc<ClientConfig>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, config)) = cache.iter().find(|(l, _)| **l == *list) {
            return config.clone();
        }
        let made = EchConfig::new(EchConfigListBytes::from(list), hpke::ALL_SUPPORTED_SUITES)
            .and_then(|config| self.derive(EchMode::Enable(config)));
        let config = match made {
            Ok(config) => Some(Arc::new(config)),
            Err(e) => {
                warn!(error = %e, len = list.len(), "ignoring an unusable ECH configuration list");
                None
            }
        };
        if cache.len() == CACHED {
            cache.pop_front();
        }
        cache.push_back((list.into(), config.clone()));
        config
    }

    /// A configuration like the base one, with ECH in `mode`: every public setting copied, the
    /// same crypto provider and verifier, TLS 1.3 only (ECH needs it).
    fn derive(&self, mode: EchMode) -> Result<ClientConfig, rustls::Error> {
        let base = &self.base;
        let mut config = ClientConfig::builder_with_provider(base.crypto_provider().clone())
            .with_ech(mode)?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone())
            .with_client_cert_resolver(base.client_auth_cert_resolver.clone());
        config.alpn_protocols = base.alpn_protocols.clone();
        config.check_selected_alpn = base.check_selected_alpn;
        config.resumption = base.resumption.clone();
        config.max_fragment_size = base.max_fragment_size;
        config.enable_sni = base.enable_sni;
        config.key_log = base.key_log.clone();
        config.enable_secret_extraction = base.enable_secret_extraction;
        config.enable_early_data = base.enable_early_data;
        config.require_ems = base.require_ems;
        config.time_provider = base.time_provider.clone();
        config.cert_decompressors = base.cert_decompressors.clone();
        config.cert_compressors = base.cert_compressors.clone();
        config.cert_compression_cache = base.cert_compression_cache.clone();
        config.send_ticket_request = base.send_ticket_request;
        Ok(config)
    }
}

/// The one retry after the server rejected ECH with retry configurations (RFC 9849 section
/// 6.1.6, HE-11.3): a new connection to the same address, in the same attempt of the race.
pub(super) struct Retry {
    pub(super) ech: Arc<Ech>,
    pub(super) connector: crate::Connector,
    pub(super) addr: std::net::SocketAddr,
    pub(super) name: ServerName<'static>,
    /// The ALPN protocols the first handshake offered.
    pub(super) alpn: Vec<Vec<u8>>,
}

impl Retry {
    /// Runs `first`, the handshake with the published configuration; on a rejection with retry
    /// configurations, one more on a new connection with them. `true`: the retry won. Rejected
    /// without retry configurations, or again on the retry: an error that says so (never a
    /// handshake with the name in clear text).
    pub(super) async fn run(
        self,
        first: tokio_rustls::Connect<TcpStream>,
    ) -> io::Result<(TlsStream<TcpStream>, bool)> {
        let err = match first.await {
            Ok(stream) => return Ok((stream, false)),
            Err(err) => err,
        };
        let list = match rejection(&err) {
            None => return Err(err),
            Some(None) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "ECH rejected: the server sent no retry configuration, and the name is not sent in clear text",
                ));
            }
            Some(Some(list)) => list,
        };
        debug!(addr = %self.addr, "ECH rejected with retry configurations: one retry");
        let config = self.ech.for_retry(&list, &self.alpn).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ECH rejected, and the server's retry configurations are unusable: {e}"),
            )
        })?;
        let tcp = self
            .connector
            .connect(self.addr)
            .await
            .map_err(|e| io::Error::other(format!("ECH retry: {e}")))?;
        match TlsConnector::from(config).connect(self.name, tcp).await {
            Ok(stream) => Ok((stream, true)),
            Err(e) if rejection(&e).is_some() => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "ECH rejected again on the retry with the server's own configurations",
            )),
            Err(e) => Err(e),
        }
    }
}

/// Whether `error` (a TLS handshake's) is the server's rejection of ECH (RFC 9849 section
/// 6.1.6), and if so the retry configurations it sent, as an ECHConfigList (`None`: none).
///
/// rustls 0.23 hands the retry configurations over only as its internal message type; they are
/// encoded back through its (unstable, hidden) codec, the one way to reach them before rustls
/// 0.24's `EchConfig::for_retry`. tests/ech.rs checks the round trip against a real server.
pub(super) fn rejection(error: &io::Error) -> Option<Option<Vec<u8>>> {
    use rustls::internal::msgs::codec::Codec;
    let inner = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::PeerIncompatible(
        rustls::PeerIncompatible::ServerRejectedEncryptedClientHello(configs),
    ) = inner
    else {
        return None;
    };
    Some(configs.as_ref().filter(|c| !c.is_empty()).map(|configs| {
        let mut body = Vec::new();
        for config in configs {
            config.encode(&mut body);
        }
        let mut list = u16::try_from(body.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes()
            .to_vec();
        list.extend(body);
        list
    }))
}

/// GREASE ECH (RFC 9849 section 6.2) with X25519 and AES-128-GCM, the suite most servers
/// publish, and a fresh placeholder key.
fn grease_mode() -> Result<EchMode, rustls::Error> {
    let suite = hpke::DH_KEM_X25519_HKDF_SHA256_AES_128;
    let (public, _) = suite.generate_key_pair()?;
    Ok(EchMode::Grease(EchGreaseConfig::new(suite, public)))
}

/// For the svcb fuzz target (HE-11.4): the configuration an ECHConfigList gives, on a
/// connector made once; `true` when the list is used (ECH), `false` when it is skipped (GREASE).
/// Never a panic.
#[cfg(fuzzing)]
pub(crate) fn fuzz_list_is_used(list: &[u8]) -> bool {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified};
    use rustls::pki_types::{CertificateDer, UnixTime};

    /// Trusts nothing: the fuzz target never connects.
    #[derive(Debug)]
    struct Nothing;
    impl ServerCertVerifier for Nothing {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Err(rustls::Error::General("fuzzing".into()))
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General("fuzzing".into()))
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General("fuzzing".into()))
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            Vec::new()
        }
    }

    static ECH: std::sync::OnceLock<Ech> = std::sync::OnceLock::new();
    let ech = ECH.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = Arc::new(Nothing);
        let base = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        Ech::new(Arc::new(base), verifier, true).expect("GREASE")
    });
    ech.choose(Some(list)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> (Arc<ClientConfig>, Arc<dyn ServerCertVerifier>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let cert = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        roots.add(cert.cert.der().clone()).unwrap();
        let verifier: Arc<dyn ServerCertVerifier> =
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots.into(),
                provider.clone(),
            )
            .build()
            .unwrap();
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        (Arc::new(config), verifier)
    }

    /// An ECHConfigList of one version-0xfe0d configuration: X25519, HKDF-SHA256, AES-128-GCM.
    fn list(version: u16, kem: u16) -> Vec<u8> {
        let mut contents = vec![7];
        contents.extend(kem.to_be_bytes());
        contents.extend(32u16.to_be_bytes());
        contents.extend([9; 32]);
        contents.extend([0, 4, 0, 1, 0, 1]);
        contents.push(0);
        contents.push(11);
        contents.extend(b"public.test");
        contents.extend([0, 0]);
        let mut config = version.to_be_bytes().to_vec();
        config.extend((contents.len() as u16).to_be_bytes());
        config.extend(contents);
        let mut list = (config.len() as u16).to_be_bytes().to_vec();
        list.extend(config);
        list
    }

    // HE-11.1: a usable list gets an ECH configuration, made once and cached, with the base
    // configuration's settings.
    #[test]
    fn he_11_1_a_usable_list_is_used_and_cached() {
        let (base, verifier) = base();
        let ech = Ech::new(base, verifier, true).unwrap();
        let good = list(0xfe0d, 0x0020);
        let (first, offers) = ech.choose(Some(&good));
        assert!(offers);
        assert!(!Arc::ptr_eq(&first, ech.grease.as_ref().unwrap()));
        assert!(!Arc::ptr_eq(&first, &ech.base));
        assert_eq!(first.alpn_protocols, [b"h2".to_vec()]);
        let (again, _) = ech.choose(Some(&good));
        assert!(Arc::ptr_eq(&first, &again), "cached");
    }

    // HE-11.4: a malformed or unsupported list is skipped (the endpoint has no ECH: GREASE);
    // never a panic.
    #[test]
    fn he_11_4_unusable_lists_fall_back_to_grease() {
        let (base, verifier) = base();
        let ech = Ech::new(base, verifier, true).unwrap();
        let good = list(0xfe0d, 0x0020);
        let unusable = [
            list(0xfe0c, 0x0020),            // an unknown version
            list(0xfe0d, 0x7777),            // no HPKE suite in common
            good[..good.len() - 3].to_vec(), // truncated
            vec![],
            vec![0xff; 3],
        ];
        for bad in &unusable {
            let (chosen, offers) = ech.choose(Some(bad));
            assert!(!offers, "{bad:?}");
            assert!(
                Arc::ptr_eq(&chosen, ech.grease.as_ref().unwrap()),
                "{bad:?}"
            );
        }
        // No record: GREASE; GREASE off: the base configuration.
        assert!(Arc::ptr_eq(
            &ech.choose(None).0,
            ech.grease.as_ref().unwrap()
        ));
        let plain = ech.with_grease(false).unwrap();
        assert!(Arc::ptr_eq(&plain.choose(None).0, &plain.base));
    }

    // The cache is bounded: many lists, at most CACHED kept.
    #[test]
    fn the_cache_is_bounded() {
        let (base, verifier) = base();
        let ech = Ech::new(base, verifier, false).unwrap();
        for i in 0..(3 * CACHED as u8) {
            let mut l = list(0xfe0d, 0x0020);
            l[6] = i; // the config id
            ech.choose(Some(&l));
        }
        assert_eq!(ech.cache.lock().unwrap().len(), CACHED);
    }
}
