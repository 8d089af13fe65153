//! An IPv6-only network with NAT64 (tayga) and DNS64, for the HE-7 tests:
//!
//! ```text
//!   client ns              router ns                          server ns
//!   c0 2001:db8:1::2 ---   r0 2001:db8:1::1                     (IPv4 only)
//!      (no IPv4 unless        2001:db8:1::53 (DNS64, UDP 53)
//!       dual_stack)        nat64 (tayga): 2001:db8:64::/96 <-> pool 192.0.2.128/25
//!                          64:ff9b::/96 mapped onto it (nft dnat)
//!                          r1 198.51.100.1              ---   s0 198.51.100.10 (TCP 8080)
//! ```
//!
//! The DNS64 server reveals one prefix for `ipv4only.arpa` (RFC 7050): the network-specific
//! 2001:db8:64::/96, or the well-known 64:ff9b::/96 (tayga 0.9 will not translate
//! documentation addresses under the well-known prefix, so the router rewrites it to the
//! network-specific one; the client cannot tell). 2001:db8:3::/64 is black-holed in the router.

use super::*;

use eyeballs::nat64::Nat64Prefix;
use hickory_proto::rr::{RData, Record, rdata};

/// The server's IPv4 address, reachable from the client only through NAT64.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The DNS64 server.
pub const DNS64: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x53));
/// A native IPv6 address whose packets the router drops.
pub const BLACK_HOLED: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 1);

/// The prefix tayga translates.
pub fn network_specific() -> Nat64Prefix {
    Nat64Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0), 96).unwrap()
}

/// tayga's path: on the `PATH`, or where Debian puts it (`/usr/sbin`, not on every user's
/// `PATH`).
fn tayga() -> &'static str {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("tayga").exists()));
    if on_path { "tayga" } else { "/usr/sbin/tayga" }
}

/// What the DNS64 server answers for one name.
#[derive(Debug, Clone, Default)]
pub struct Dns64Name {
    /// Real AAAA records.
    pub aaaa: Vec<Ipv6Addr>,
    /// Real A records.
    pub a: Vec<Ipv4Addr>,
    /// Synthesize AAAA from A when there is no real AAAA (DNS64, RFC 6147).
    pub dns64: bool,
}

pub struct Nat64Lab {
    client: String,
    router: String,
    server: String,
    workers: Vec<Worker>,
    tayga: Option<std::process::Child>,
    dir: std::path::PathBuf,
    /// The prefix the network reveals (and its DNS64 synthesizes with).
    pub prefix: Nat64Prefix,
    /// How many `ipv4only.arpa` queries the DNS64 server answered.
    pub ipv4only_queries: Arc<AtomicUsize>,
}

impl Nat64Lab {
    /// Builds the lab with `prefix` (the well-known or the network-specific one) and the names
    /// the DNS64 server answers; `dual_stack` also gives the client IPv4 (then NAT64 is not
    /// needed). Returns once a connect through NAT64 works.
    pub fn new(prefix: Nat64Prefix, names: Vec<(&str, Dns64Name)>, dual_stack: bool) -> Nat64Lab {
        let id = format!(
            "eyb{}n{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut lab = Nat64Lab {
            client: format!("{id}c"),
            router: format!("{id}r"),
            server: format!("{id}s"),
            workers: Vec::new(),
            tayga: None,
            dir: std::env::temp_dir().join(format!("{id}-tayga")),
            prefix,
            ipv4only_queries: Arc::default(),
        };
        lab.build(dual_stack)
            .unwrap_or_else(|e| panic!("building the NAT64 lab: {e}"));
        lab.serve_tcp();
        let names = names
            .into_iter()
            .map(|(n, d)| (n.to_ascii_lowercase(), d))
            .collect();
        lab.serve_dns64(names);
        lab.wait_ready();
        lab
    }

    /// Panics unless the NAT64 lab can be built (root, namespaces, tayga): its tests are
    /// `#[ignore]`d and run only when asked for, where a missing lab is a failure.
    pub fn require() {
        assert!(
            Self::available(),
            "the NAT64 tests need root, network namespaces and tayga; `bash .ci/test` installs \
             tayga and runs them as root"
        );
    }

    /// Whether tayga is installed (`bash .ci/test` installs it).
    pub fn available() -> bool {
        let ok = Command::new(tayga())
            .arg("--help")
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            eprintln!("the NAT64 lab needs tayga; `bash .ci/test` installs it");
        }
        ok && available()
    }

    fn build(&mut self, dual_stack: bool) -> Result<(), String> {
        let (c, r, s) = (
            self.client.clone(),
            self.router.clone(),
            self.server.clone(),
        );
        let (c, r, s) = (c.as_str(), r.as_str(), s.as_str());
        let mut addrs = vec![
            (c, "c0", "2001:db8:1::2/64"),
            (r, "r0", "2001:db8:1::1/64"),
            (r, "r0", "2001:db8:1::53/64"),
            (r, "r1", "198.51.100.1/24"),
            (s, "s0", "198.51.100.10/24"),
        ];
        if dual_stack {
            addrs.extend([(c, "c0", "192.0.2.2/26"), (r, "r0", "192.0.2.1/26")]);
        }
        three_namespaces([c, r, s], &addrs)?;
        run(
            "ip",
            &[
                "-n",
                c,
                "-6",
                "route",
                "add",
                "default",
                "via",
                "2001:db8:1::1",
            ],
        )?;
        if dual_stack {
            run(
                "ip",
                &["-n", c, "-4", "route", "add", "default", "via", "192.0.2.1"],
            )?;
        }
        run(
            "ip",
            &[
                "-n",
                s,
                "-4",
                "route",
                "add",
                "default",
                "via",
                "198.51.100.1",
            ],
        )?;

        // tayga: 2001:db8:64::/96 <-> the pool 192.0.2.128/25, over the TUN device nat64.
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let conf = self.dir.join("tayga.conf");
        std::fs::write(
            &conf,
            format!(
                "tun-device nat64\nipv4-addr 192.0.2.100\nprefix {}\n\
                 dynamic-pool 192.0.2.128/25\ndata-dir {}\n",
                network_specific(),
                self.dir.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let conf = conf.to_str().unwrap();
        run("ip", &["netns", "exec", r, tayga(), "--mktun", "-c", conf])?;
        run("ip", &["-n", r, "link", "set", "nat64", "up"])?;
        run(
            "ip",
            &["-n", r, "route", "add", "192.0.2.128/25", "dev", "nat64"],
        )?;
        let nsp = network_specific().to_string();
        run("ip", &["-n", r, "-6", "route", "add", &nsp, "dev", "nat64"])?;
        let child = Command::new("ip")
            .args(["netns", "exec", r, tayga(), "--nodetach", "-c", conf])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("tayga: {e}"))?;
        self.tayga = Some(child);
        // The well-known prefix onto tayga's, and the black-holed IPv6 network.
        nft_script(
            r,
            &format!(
                "table ip6 n64 {{\n\
                   chain pre {{ type nat hook prerouting priority -100; \
                     ip6 daddr 64:ff9b::/96 dnat ip6 prefix to {nsp}; }}\n\
                   chain fw {{ type filter hook forward priority 0; \
                     ip6 daddr 2001:db8:3::/64 drop; }}\n\
                 }}\n"
            ),
        );
        Ok(())
    }

    fn spawn(&mut self, ns: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) {
        self.workers.push(Worker::spawn(ns, body));
    }

    fn serve_tcp(&mut self) {
        self.spawn(&self.server.clone(), |stop| {
            let listener =
                std::net::TcpListener::bind(SocketAddr::new(SERVER.into(), PORT)).unwrap();
            listener.set_nonblocking(true).unwrap();
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }

    fn serve_dns64(&mut self, names: std::collections::HashMap<String, Dns64Name>) {
        let prefix = self.prefix;
        let ipv4only = self.ipv4only_queries.clone();
        self.spawn(&self.router.clone(), move |stop| {
            let socket = std::net::UdpSocket::bind(SocketAddr::new(DNS64, 53)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = vec![0u8; 1500];
            while !stop.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                if let Some(reply) = dns64_answer(&query, prefix, &names, &ipv4only) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
    }

    /// A resolver for the client namespace that asks only the DNS64 server. Build it inside
    /// [`Nat64Lab::in_client`].
    pub fn resolver() -> eyeballs::resolve::HickoryResolver {
        resolver_of(DNS64)
    }

    /// Runs `f` on a thread inside the client namespace, on a current-thread tokio runtime.
    pub fn in_client<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
        &self,
        f: impl FnOnce() -> F + Send + 'static,
    ) -> T {
        in_namespace(&self.client, f)
    }

    /// Runs `program` in the client namespace with the DNS64 server as its resolv.conf,
    /// `NO_COLOR` set; waits for it.
    pub fn run_in_client(&self, program: &std::path::Path, args: &[&str]) -> std::process::Output {
        run_in_namespace(&self.client, DNS64, program, args)
    }

    fn wait_ready(&self) {
        // Through tayga, by the network-specific prefix, until a connect works.
        let dst = SocketAddr::new(network_specific().synthesize(SERVER).into(), PORT);
        let ok = self.in_client(move || async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let attempt = tokio::time::timeout(
                    Duration::from_millis(300),
                    tokio::net::TcpStream::connect(dst),
                )
                .await;
                if matches!(attempt, Ok(Ok(_))) {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        assert!(ok, "the NAT64 lab's network never came up");
    }
}

impl Drop for Nat64Lab {
    fn drop(&mut self) {
        self.workers.clear();
        if let Some(mut tayga) = self.tayga.take() {
            let _ = tayga.kill();
            let _ = tayga.wait();
        }
        for ns in [&self.client, &self.router, &self.server] {
            let _ = run("ip", &["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.client));
    }
}

/// The DNS64 server's reply: `ipv4only.arpa` under the prefix (RFC 7050), the names' records,
/// AAAA synthesized from A where asked (RFC 6147), NXDOMAIN for anything else.
fn dns64_answer(
    query: &Message,
    prefix: Nat64Prefix,
    names: &std::collections::HashMap<String, Dns64Name>,
    ipv4only: &AtomicUsize,
) -> Option<Vec<u8>> {
    let q = query.queries.first()?;
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(q.clone());
    let name = q.name().to_ascii().to_ascii_lowercase();
    let wka = [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];
    let entry = if name == "ipv4only.arpa." {
        ipv4only.fetch_add(1, Ordering::SeqCst);
        Some(Dns64Name {
            aaaa: Vec::new(),
            a: wka.to_vec(),
            dns64: true,
        })
    } else {
        names.get(&name).cloned()
    };
    let Some(entry) = entry else {
        reply.metadata.response_code = ResponseCode::NXDomain;
        return reply.to_vec().ok();
    };
    let records: Vec<RData> = match q.query_type() {
        RecordType::AAAA if !entry.aaaa.is_empty() => entry
            .aaaa
            .iter()
            .map(|v| RData::AAAA(rdata::AAAA(*v)))
            .collect(),
        RecordType::AAAA if entry.dns64 => entry
            .a
            .iter()
            .map(|v| RData::AAAA(rdata::AAAA(prefix.synthesize(*v))))
            .collect(),
        RecordType::A => entry.a.iter().map(|v| RData::A(rdata::A(*v))).collect(),
        _ => Vec::new(),
    };
    for data in records {
        reply.add_answer(Record::from_rdata(q.name().clone(), 300, data));
    }
    reply.to_vec().ok()
}
