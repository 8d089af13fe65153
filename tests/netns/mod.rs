//! A small lab of network namespaces for real-network tests and the side-by-side benchmark:
//!
//! ```text
//!   client ns            router ns                server ns
//!   c0 2001:db8:1::2 --- r0 2001:db8:1::1
//!      192.0.2.2            192.0.2.1
//!                        r1 2001:db8:2::1    --- s0 2001:db8:2::10, ::11, ::12 (TCP 8080)
//!                           198.51.100.1            198.51.100.10, .11     (TCP 8080)
//!                                                   198.51.100.53          (DNS, UDP 53)
//!                                                   TLS on 8443 with serve_tls
//! ```
//!
//! Only documentation ranges are used, only inside namespaces the lab creates; everything is
//! removed when the `Lab` is dropped (also when a test panics). Knobs: black hole and RST per
//! address (nft in the server), unreachable per family (a route in the client, or ICMP from the
//! router), added latency for IPv6 (NFQUEUE in the router, held by a thread here), and a DNS server
//! whose AAAA and A answers can be delayed, empty or failed.
#![allow(dead_code, unreachable_pub)]

#[path = "../common/dns.rs"]
mod dns;
pub mod nat64;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

/// The TLS port [`Lab::serve_tls`] listens on.
pub const TLS_PORT: u16 = 8443;

/// How a server address treats connections on [`TLS_PORT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsServe {
    /// Completes the TLS handshake (a certificate chain of several KB, so the server's first
    /// flight spans full-size packets) and holds the connection.
    Tls,
    /// Accepts, then resets (RST: linger 0).
    Reset,
    /// Accepts and never sends anything.
    Silent,
}

/// A self-signed certificate naming [`NAME`] (without the dot) and every server address, with
/// `padding` more names to make it bigger; and its key.
fn certificate(
    padding: usize,
) -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivatePkcs8KeyDer<'static>,
) {
    let mut names = vec![NAME.trim_end_matches('.').to_string()];
    names.extend((0..3).map(|i| v6(i).to_string()));
    names.extend((0..2).map(|i| v4(i).to_string()));
    names.extend((0..padding).map(|i| format!("padding-{i:040}.svc.test")));
    let key = rcgen::generate_simple_self_signed(names).unwrap();
    let private = rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    (key.cert.der().clone(), private)
}

/// A client configuration trusting `cert` alone, with these TLS versions.
fn trusting(
    provider: Arc<rustls::crypto::CryptoProvider>,
    cert: rustls::pki_types::CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Waits (5 s at most) for a server thread to say it has bound its sockets.
fn wait_bound(bound: &AtomicBool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bound.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "{what} never bound");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How a server address answers QUIC on UDP [`TLS_PORT`] ([`Lab::serve_quic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicServe {
    /// Completes the QUIC handshake (ALPN h3) and holds the connection.
    H3,
    /// Receives the client's Initial packets and never answers: the handshake never completes.
    Stall,
}

/// The TCP port every server address listens on.
pub const PORT: u16 = 8080;
/// The test name the lab's DNS server answers.
pub const NAME: &str = "svc.test.";
/// The lab's DNS server.
pub const DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 53));

pub fn v6(i: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x10 + i))
}

pub fn v4(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + i))
}

/// How the DNS server answers one record type.
#[derive(Debug, Clone)]
pub enum Rr {
    /// These addresses, after this delay.
    Answer(Duration, Vec<IpAddr>),
    /// NOERROR with no records (NODATA), after this delay.
    NoData(Duration),
    /// SERVFAIL, after this delay.
    ServFail(Duration),
}

impl Rr {
    pub fn now(addrs: Vec<IpAddr>) -> Rr {
        Rr::Answer(Duration::ZERO, addrs)
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Panics unless this process may build namespaces: the namespace tests are `#[ignore]`d, run
/// only when asked for (`bash .ci/test` as root), and then a lab that cannot be built is a failure,
/// never a silent pass.
#[allow(dead_code)]
pub fn require() {
    assert!(
        available(),
        "the network-namespace tests need root (CAP_NET_ADMIN), iproute2, nftables and iptables; \
         `bash .ci/test` installs the packages and runs them as root"
    );
}

/// Whether this process may build namespaces (root or CAP_NET_ADMIN, iproute2 and nft present).
/// When it cannot, says why on stderr (a bench then skips; a test panics through [`require`]).
pub fn available() -> bool {
    // Once per process: tests run in parallel, and each probe namespace needs a name of its own.
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(check_available)
}

fn check_available() -> bool {
    let probe = format!("eybprobe{}", std::process::id());
    let ok = run("ip", &["netns", "add", &probe]).is_ok();
    if ok {
        let _ = run("ip", &["netns", "del", &probe]);
    }
    let tools = Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok || !tools {
        eprintln!(
            "network-namespace labs need root (CAP_NET_ADMIN), iproute2, nftables and iptables; \
             `bash .ci/test` installs the packages"
        );
    }
    ok && tools
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Creates the namespaces client, router and server (`[c, r, s]`), links client c0 to router r0
/// and server s0 to router r1, puts `addrs` (namespace, device, address/length) on them, brings
/// the links up and turns forwarding on in the router. Duplicate address detection is off.
fn three_namespaces([c, r, s]: [&str; 3], addrs: &[(&str, &str, &str)]) -> Result<(), String> {
    for ns in [c, r, s] {
        run("ip", &["netns", "add", ns])?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        for key in [
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ] {
            run("ip", &["netns", "exec", ns, "sysctl", "-qw", key])?;
        }
    }
    for (a, ans, b) in [("c0", c, "r0"), ("s0", s, "r1")] {
        run(
            "ip",
            &[
                "link", "add", a, "netns", ans, "type", "veth", "peer", "name", b, "netns", r,
            ],
        )?;
    }
    for &(ns, dev, addr) in addrs {
        let mut args = vec!["-n", ns, "addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            args.push("nodad");
        }
        run("ip", &args)?;
    }
    for (ns, dev) in [(c, "c0"), (r, "r0"), (r, "r1"), (s, "s0")] {
        run("ip", &["-n", ns, "link", "set", dev, "up"])?;
    }
    for key in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
        run("ip", &["netns", "exec", r, "sysctl", "-qw", key])?;
    }
    Ok(())
}

/// Moves the calling thread into namespace `ns`.
fn enter(ns: &str) {
    let path = std::ffi::CString::new(format!("/var/run/netns/{ns}")).unwrap();
    // SAFETY: path is a valid C string; the fd is closed below; setns affects this thread only.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        assert!(
            fd >= 0,
            "open netns {ns}: {}",
            std::io::Error::last_os_error()
        );
        let rc = libc::setns(fd, libc::CLONE_NEWNET);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(rc, 0, "setns {ns}: {err}");
    }
}

/// A background thread inside a namespace, stopped and joined on drop.
struct Worker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Runs `body` on a new thread inside namespace `ns`; `body` returns once its flag is set.
    fn spawn(ns: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Worker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let ns = ns.to_string();
        let handle = std::thread::spawn(move || {
            enter(&ns);
            body(flag);
        });
        Worker {
            stop,
            handle: Some(handle),
        }
    }
}

/// Runs `f` on a thread inside namespace `ns`, on a current-thread tokio runtime.
fn in_namespace<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
    ns: &str,
    f: impl FnOnce() -> F + Send + 'static,
) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
    .join()
    .unwrap()
}

/// A resolver that asks only the DNS server at `dns`. Build it inside the namespace, so its
/// sockets live there.
fn resolver_of(dns: IpAddr) -> eyeballs::resolve::HickoryResolver {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    let config = ResolverConfig::from_parts(None, vec![], vec![NameServerConfig::udp(dns)]);
    let provider = hickory_resolver::net::runtime::TokioRuntimeProvider::default();
    let resolver = hickory_resolver::TokioResolver::builder_with_config(config, provider)
        .build()
        .unwrap();
    eyeballs::resolve::HickoryResolver::from_resolver(resolver)
}

/// Runs `program` in namespace `ns` with `dns` as its resolv.conf (as `ip netns exec` provides
/// from `/etc/netns/NS/`, removed with the namespace's lab), `NO_COLOR` set; waits for it.
fn run_in_namespace(
    ns: &str,
    dns: IpAddr,
    program: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let dir = format!("/etc/netns/{ns}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/resolv.conf"), format!("nameserver {dns}\n")).unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub struct Lab {
    client: String,
    router: String,
    server: String,
    workers: Vec<Worker>,
    nft_ready: [bool; 2],
    /// HTTPS records the DNS server serves, per query name (lowercase, with the final dot).
    https: HttpsTable,
    /// Other names the DNS server answers AAAA and A for (lowercase, with the final dot).
    names: NameTable,
}

/// Other names' addresses.
type NameTable = Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<IpAddr>>>>;

/// HTTPS answers: per query name, a delay and the records.
type HttpsTable = Arc<std::sync::Mutex<std::collections::HashMap<String, (Duration, Vec<Https>)>>>;

/// One HTTPS record the lab's DNS server serves (RFC 9460).
#[derive(Debug, Clone, Default)]
pub struct Https {
    /// SvcPriority (0: AliasMode).
    pub priority: u16,
    /// TargetName; "." for the name itself.
    pub target: String,
    pub alpn: Vec<String>,
    pub no_default_alpn: bool,
    pub port: Option<u16>,
    pub hints: Vec<IpAddr>,
    /// `ech`: an ECHConfigList (RFC 9848).
    pub ech: Option<Vec<u8>>,
}

impl Lab {
    /// Builds the three namespaces, links and addresses; serves TCP on every server address and
    /// DNS with `dns_aaaa`/`dns_a`; returns once both families carry traffic end to end.
    pub fn new(dns_aaaa: Rr, dns_a: Rr) -> Lab {
        let id = format!(
            "eyb{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut lab = Lab {
            client: format!("{id}c"),
            router: format!("{id}r"),
            server: format!("{id}s"),
            workers: Vec::new(),
            nft_ready: [false; 2],
            https: Default::default(),
            names: Default::default(),
        };
        lab.build()
            .unwrap_or_else(|e| panic!("building the lab: {e}"));
        lab.serve_tcp();
        lab.serve_dns(dns_aaaa, dns_a);
        lab.wait_ready();
        lab
    }

    fn build(&self) -> Result<(), String> {
        let (c, r, s) = (
            self.client.as_str(),
            self.router.as_str(),
            self.server.as_str(),
        );
        let mut addrs = vec![
            (c, "c0", "2001:db8:1::2/64"),
            (c, "c0", "192.0.2.2/24"),
            (r, "r0", "2001:db8:1::1/64"),
            (r, "r0", "192.0.2.1/24"),
            (r, "r1", "2001:db8:2::1/64"),
            (r, "r1", "198.51.100.1/24"),
            (s, "s0", "198.51.100.53/24"),
        ];
        let server6: Vec<String> = (0..3).map(|i| format!("{}/64", v6(i))).collect();
        let server4: Vec<String> = (0..2).map(|i| format!("{}/24", v4(i))).collect();
        addrs.extend(
            server6
                .iter()
                .chain(&server4)
                .map(|a| (s, "s0", a.as_str())),
        );
        three_namespaces([c, r, s], &addrs)?;
        let routes = [
            (c, "-4", "192.0.2.1"),
            (c, "-6", "2001:db8:1::1"),
            (s, "-4", "198.51.100.1"),
            (s, "-6", "2001:db8:2::1"),
        ];
        for (ns, family, via) in routes {
            run(
                "ip",
                &["-n", ns, family, "route", "add", "default", "via", via],
            )?;
        }
        Ok(())
    }

    fn spawn(&mut self, ns: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) {
        self.workers.push(Worker::spawn(ns, body));
    }

    /// Runs `f` on a thread inside the client namespace, on a current-thread tokio runtime.
    pub fn in_client<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
        &self,
        f: impl FnOnce() -> F + Send + 'static,
    ) -> T {
        in_namespace(&self.client, f)
    }

    fn serve_tcp(&mut self) {
        self.spawn(&self.server.clone(), |stop| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let addrs: Vec<IpAddr> = (0..3).map(v6).chain((0..2).map(v4)).collect();
                for ip in addrs {
                    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, PORT))
                        .await
                        .unwrap();
                    tokio::spawn(async move {
                        let mut held = Vec::new();
                        while let Ok((s, _)) = listener.accept().await {
                            held.push(s);
                        }
                    });
                }
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        });
    }

    /// Serves HTTPS records for `name` (a query name such as `svc.test.` or
    /// `_8443._https.svc.test.`) after `delay`.
    pub fn https(&mut self, name: &str, delay: Duration, records: Vec<Https>) {
        self.https
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), (delay, records));
    }

    /// Serves AAAA and A for another name (an HTTPS record's target), at once.
    pub fn name(&mut self, name: &str, ips: Vec<IpAddr>) {
        self.names
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), ips);
    }

    fn serve_dns(&mut self, aaaa: Rr, a: Rr) {
        let https = self.https.clone();
        let names = self.names.clone();
        self.spawn(&self.server.clone(), move |stop| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let socket = Arc::new(
                    tokio::net::UdpSocket::bind(SocketAddr::new(DNS, 53))
                        .await
                        .unwrap(),
                );
                let mut buf = vec![0u8; 1500];
                loop {
                    let recv =
                        tokio::time::timeout(Duration::from_millis(20), socket.recv_from(&mut buf))
                            .await;
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(Ok((n, peer))) = recv else { continue };
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let (socket, aaaa, a) = (socket.clone(), aaaa.clone(), a.clone());
                    let https = https.lock().unwrap().clone();
                    let names = names.lock().unwrap().clone();
                    tokio::spawn(async move {
                        if let Some((delay, reply)) = answer(&query, &aaaa, &a, &https, &names) {
                            tokio::time::sleep(delay).await;
                            let _ = socket.send_to(&reply, peer).await;
                        }
                    });
                }
            });
        });
    }

    /// A resolver for the client namespace that asks only the lab's DNS server. Build it inside
    /// [`Lab::in_client`], so its sockets live in the client namespace.
    pub fn resolver() -> eyeballs::resolve::HickoryResolver {
        resolver_of(DNS)
    }

    fn wait_ready(&self) {
        // IPv6 needs a moment after setup before packets flow: poll until both families connect.
        let ok = self.in_client(|| async {
            let deadline = Instant::now() + Duration::from_secs(10);
            for ip in [v6(0), v4(0)] {
                loop {
                    let attempt = tokio::time::timeout(
                        Duration::from_millis(300),
                        tokio::net::TcpStream::connect((ip, PORT)),
                    )
                    .await;
                    if matches!(attempt, Ok(Ok(_))) {
                        break;
                    }
                    if Instant::now() > deadline {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            true
        });
        assert!(ok, "the lab's network never came up");
    }

    fn nft(&mut self, ns_index: usize, rule: &str) {
        let ns = if ns_index == 0 {
            self.server.clone()
        } else {
            self.router.clone()
        };
        if !self.nft_ready[ns_index] {
            let hook = if ns_index == 0 { "input" } else { "forward" };
            let script = format!(
                "add table inet lab\nadd chain inet lab f {{ type filter hook {hook} priority 0; }}\n"
            );
            nft_script(&ns, &script);
            self.nft_ready[ns_index] = true;
        }
        nft_script(&ns, &format!("add rule inet lab f {rule}\n"));
    }

    fn daddr(ip: IpAddr) -> String {
        match ip {
            IpAddr::V6(a) => format!("ip6 daddr {a}"),
            IpAddr::V4(a) => format!("ip daddr {a}"),
        }
    }

    /// SYNs to `ip` are dropped: connect() hangs.
    pub fn black_hole(&mut self, ip: IpAddr) {
        self.nft(0, &format!("{} tcp dport {PORT} drop", Self::daddr(ip)));
    }

    /// Serves [`TLS_PORT`] on each address as `serve` says; returns a client configuration that
    /// trusts the certificate, which names [`NAME`] (without the dot) and every server address.
    pub fn serve_tls(&mut self, serve: &[(IpAddr, TlsServe)]) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Padding: a certificate of about 3 KB, so the server's first flight needs full-size
        // packets (what a path-MTU black hole drops).
        let (cert, private) = certificate(60);
        let private = rustls::pki_types::PrivateKeyDer::Pkcs8(private);
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], private)
            .unwrap();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let serve = serve.to_vec();
        let bound = Arc::new(AtomicBool::new(false));
        let ready = bound.clone();
        self.spawn(&self.server.clone(), move |stop| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                for (ip, how) in serve {
                    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, TLS_PORT))
                        .await
                        .unwrap();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        while let Ok((s, _)) = listener.accept().await {
                            match how {
                                TlsServe::Reset => {
                                    let _ =
                                        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                                }
                                TlsServe::Silent => {
                                    tokio::spawn(async move {
                                        let _held = s;
                                        std::future::pending::<()>().await;
                                    });
                                }
                                TlsServe::Tls => {
                                    let acceptor = acceptor.clone();
                                    tokio::spawn(async move {
                                        if let Ok(tls) = acceptor.accept(s).await {
                                            let _held = tls;
                                            std::future::pending::<()>().await;
                                        }
                                    });
                                }
                            }
                        }
                    });
                }
                ready.store(true, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        });
        wait_bound(&bound, "the TLS server");
        trusting(provider, cert, rustls::DEFAULT_VERSIONS)
    }

    /// Serves QUIC (ALPN h3) on UDP [`TLS_PORT`] of each address as `serve` says, and TLS on
    /// TCP [`TLS_PORT`] of the same addresses (handshakes complete and are held); returns a client
    /// configuration trusting the certificate (TLS 1.3, as QUIC needs).
    pub fn serve_quic(&mut self, serve: &[(IpAddr, QuicServe)]) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, private) = certificate(0);
        let server = |alpn: &[&[u8]]| {
            let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(private.clone_key()),
                )
                .unwrap();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            config
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server(&[b"h2", b"http/1.1"])));
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(server(&[b"h3"])).unwrap();
        let quic = quinn::ServerConfig::with_crypto(Arc::new(quic));
        let serve = serve.to_vec();
        let bound = Arc::new(AtomicBool::new(false));
        let ready = bound.clone();
        self.spawn(&self.server.clone(), move |stop| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut endpoints = Vec::new();
                for (ip, how) in serve {
                    let addr = SocketAddr::new(ip, TLS_PORT);
                    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        while let Ok((s, _)) = listener.accept().await {
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(s).await {
                                    let _held = tls;
                                    std::future::pending::<()>().await;
                                }
                            });
                        }
                    });
                    let endpoint = quinn::Endpoint::server(quic.clone(), addr).unwrap();
                    let accepting = endpoint.clone();
                    tokio::spawn(async move {
                        let mut stalled = Vec::new();
                        while let Some(incoming) = accepting.accept().await {
                            match how {
                                // Never answered: the client's Initials go unacknowledged.
                                QuicServe::Stall => stalled.push(incoming),
                                QuicServe::H3 => {
                                    tokio::spawn(async move {
                                        if let Ok(conn) = incoming.await {
                                            let _ = conn.closed().await;
                                        }
                                    });
                                }
                            }
                        }
                    });
                    endpoints.push(endpoint);
                }
                ready.store(true, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                drop(endpoints);
            });
        });
        wait_bound(&bound, "the QUIC server");
        trusting(provider, cert, &[&rustls::version::TLS13])
    }

    /// The router drops UDP to [`TLS_PORT`] (QUIC) silently, for IPv6 only or for both families,
    /// as office and hotel firewalls do.
    pub fn drop_udp(&mut self, ipv6_only: bool) {
        let family = if ipv6_only { "meta nfproto ipv6 " } else { "" };
        self.nft(1, &format!("{family}udp dport {TLS_PORT} drop"));
    }

    /// `ip netns exec` into the server namespace, for a program to run there.
    pub fn in_server_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new("ip");
        command.args(["netns", "exec", &self.server]);
        command
    }

    /// Runs `program` in the client namespace with the lab's DNS server as its resolv.conf (as
    /// `ip netns exec` provides from `/etc/netns/NS/`), `NO_COLOR` set; waits for it.
    pub fn run_in_client(&self, program: &std::path::Path, args: &[&str]) -> std::process::Output {
        run_in_namespace(&self.client, DNS, program, args)
    }

    /// A path-MTU black hole for IPv6 (RFC 8900): the router drops the server's IPv6 TCP
    /// packets on [`TLS_PORT`] larger than 1280 bytes, without an ICMP "packet too big".
    pub fn pmtu_black_hole_v6(&mut self) {
        self.nft(
            1,
            &format!("meta nfproto ipv6 tcp sport {TLS_PORT} meta length > 1280 drop"),
        );
    }

    /// Takes back every [`Lab::black_hole`] and [`Lab::refuse`]: the server accepts again.
    pub fn heal(&mut self) {
        if self.nft_ready[0] {
            nft_script(&self.server.clone(), "flush chain inet lab f\n");
        }
    }

    /// Connections to `ip` are refused with a RST.
    pub fn refuse(&mut self, ip: IpAddr) {
        self.nft(
            0,
            &format!("{} tcp dport {PORT} reject with tcp reset", Self::daddr(ip)),
        );
    }

    /// The client has no route to the server's IPv6 network: connect() fails at once.
    pub fn unreachable_route_v6(&self) {
        run(
            "ip",
            &[
                "-n",
                &self.client,
                "-6",
                "route",
                "add",
                "unreachable",
                "2001:db8:2::/64",
            ],
        )
        .unwrap();
    }

    /// The router answers SYNs to `ip` with ICMP host unreachable.
    pub fn icmp_unreachable(&mut self, ip: IpAddr) {
        self.nft(
            1,
            &format!(
                "{} tcp dport {PORT} reject with icmpx host-unreachable",
                Self::daddr(ip)
            ),
        );
    }

    /// Holds every forwarded IPv6 TCP packet for `each_way` in the router (NFQUEUE): IPv6's
    /// round trip grows by twice that.
    pub fn delay_ipv6(&mut self, each_way: Duration) {
        self.delay(false, each_way);
    }

    /// As [`Lab::delay_ipv6`], for IPv4.
    pub fn delay_ipv4(&mut self, each_way: Duration) {
        self.delay(true, each_way);
    }

    fn delay(&mut self, ipv4: bool, each_way: Duration) {
        let queue_num: u16 = if ipv4 { 1 } else { 0 };
        let bound = Arc::new(AtomicBool::new(false));
        let ready = bound.clone();
        self.spawn(&self.router.clone(), move |stop| {
            let mut queue = nfq::Queue::open().expect("open NFQUEUE");
            queue.bind(queue_num).expect("bind NFQUEUE");
            queue.set_nonblocking(true);
            ready.store(true, Ordering::SeqCst);
            let mut held: std::collections::VecDeque<(Instant, nfq::Message)> = Default::default();
            while !stop.load(Ordering::SeqCst) {
                while let Ok(msg) = queue.recv() {
                    held.push_back((Instant::now() + each_way, msg));
                }
                while held.front().is_some_and(|(t, _)| *t <= Instant::now()) {
                    let (_, mut msg) = held.pop_front().unwrap();
                    msg.set_verdict(nfq::Verdict::Accept);
                    let _ = queue.verdict(msg);
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            for (_, mut msg) in held {
                msg.set_verdict(nfq::Verdict::Accept);
                let _ = queue.verdict(msg);
            }
        });
        while !bound.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.router,
                if ipv4 {
                    "iptables-nft"
                } else {
                    "ip6tables-nft"
                },
                "-A",
                "FORWARD",
                "-p",
                "tcp",
                "-j",
                "NFQUEUE",
                "--queue-num",
                &queue_num.to_string(),
                "--queue-bypass",
            ],
        )
        .unwrap();
    }
}

fn nft_script(ns: &str, script: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft in {ns}: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.workers.clear(); // stops and joins every thread (they hold sockets in the namespaces)
        for ns in [&self.client, &self.router, &self.server] {
            let _ = run("ip", &["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.client));
    }
}

/// One HTTPS record as hickory-proto builds it.
fn https_record(name: hickory_proto::rr::Name, r: &Https) -> hickory_proto::rr::Record {
    use hickory_proto::rr::rdata::svcb::{Alpn, IpHint, SVCB, SvcParamKey, SvcParamValue};
    use hickory_proto::rr::rdata::{A, AAAA, HTTPS};
    let target = if r.target == "." {
        hickory_proto::rr::Name::root()
    } else {
        hickory_proto::rr::Name::from_ascii(&r.target).unwrap()
    };
    let mut params = Vec::new();
    if !r.alpn.is_empty() {
        params.push((SvcParamKey::Alpn, SvcParamValue::Alpn(Alpn(r.alpn.clone()))));
    }
    if r.no_default_alpn {
        params.push((SvcParamKey::NoDefaultAlpn, SvcParamValue::NoDefaultAlpn));
    }
    if let Some(port) = r.port {
        params.push((SvcParamKey::Port, SvcParamValue::Port(port)));
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for ip in &r.hints {
        match ip {
            IpAddr::V4(v) => v4.push(A(*v)),
            IpAddr::V6(v) => v6.push(AAAA(*v)),
        }
    }
    if !v4.is_empty() {
        params.push((SvcParamKey::Ipv4Hint, SvcParamValue::Ipv4Hint(IpHint(v4))));
    }
    // Keys in increasing order (RFC 9460 §2.2): ech (5) between ipv4hint (4) and ipv6hint (6).
    if let Some(ech) = &r.ech {
        use hickory_proto::rr::rdata::svcb::EchConfigList;
        let value = SvcParamValue::EchConfigList(EchConfigList(ech.clone()));
        params.push((SvcParamKey::EchConfigList, value));
    }
    if !v6.is_empty() {
        params.push((SvcParamKey::Ipv6Hint, SvcParamValue::Ipv6Hint(IpHint(v6))));
    }
    let svcb = SVCB::new(r.priority, target, params);
    hickory_proto::rr::Record::from_rdata(name, 60, hickory_proto::rr::RData::HTTPS(HTTPS(svcb)))
}

/// The DNS server's reply to `query`, and when to send it.
fn answer(
    query: &Message,
    aaaa: &Rr,
    a: &Rr,
    https: &std::collections::HashMap<String, (Duration, Vec<Https>)>,
    names: &std::collections::HashMap<String, Vec<IpAddr>>,
) -> Option<(Duration, Vec<u8>)> {
    let q = query.queries.first()?;
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(q.clone());
    if q.query_type() == RecordType::HTTPS {
        let name = q.name().to_ascii().to_ascii_lowercase();
        let Some((delay, records)) = https.get(&name) else {
            // NODATA for the lab's name, NXDOMAIN for any other.
            if !name.eq_ignore_ascii_case(NAME) {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            return Some((Duration::ZERO, reply.to_vec().ok()?));
        };
        for r in records {
            reply.add_answer(https_record(q.name().clone(), r));
        }
        return Some((*delay, reply.to_vec().ok()?));
    }
    if let Some(ips) = names.get(&q.name().to_ascii().to_ascii_lowercase()) {
        for record in dns::address_records(q, ips, 60) {
            reply.add_answer(record);
        }
        return Some((Duration::ZERO, reply.to_vec().ok()?));
    }
    let known = q.name().to_ascii().eq_ignore_ascii_case(NAME);
    let rule = match q.query_type() {
        RecordType::AAAA => aaaa,
        RecordType::A => a,
        _ => &Rr::NoData(Duration::ZERO),
    };
    let delay = match rule {
        _ if !known => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            Duration::ZERO
        }
        Rr::Answer(d, ips) => {
            for record in dns::address_records(q, ips, 60) {
                reply.add_answer(record);
            }
            *d
        }
        Rr::NoData(d) => *d,
        Rr::ServFail(d) => {
            reply.metadata.response_code = ResponseCode::ServFail;
            *d
        }
    };
    Some((delay, reply.to_vec().ok()?))
}
