//! Memory per connect in flight, side by side (issue 23): eyeballs' `Connector::connect`,
//! hyper-util's `HttpConnector` (what reqwest uses) and a bare `tokio::net::TcpStream::connect`,
//! each connect in a task of its own, to a name whose IPv6 and IPv4 addresses are both
//! black-holed, so that every connect holds what a real stalled connect holds: eyeballs and
//! hyper-util two sockets and their race (their second attempt starts after 250 ms and 300 ms),
//! tokio one socket.
//!
//! The black holes are loopback listeners (`[::1]` and `127.0.0.1`, one port) whose accept queue
//! is full: the kernel drops every further SYN, so a connect stays in SYN-SENT. Both clients get
//! the name's two addresses from a static table (no DNS: what is measured is the connect).
//!
//! Each client runs in a process of its own (so one's heap does not hide another's), 2 rounds of
//! each, at 1,000 and 10,000 connects (or as many as the descriptor limit allows, two per connect). 1 s after the connects start, it reports per connect:
//! the resident memory it grew by (`/proc/self/statm`), the bytes live on the heap (a counting
//! allocator, exact) and the descriptors open. Then it drops every connect and reports what came
//! back: descriptors and live heap bytes must return to where they were before (checked; the
//! bench fails otherwise), and resident memory after `malloc_trim`. Needs no root. Run it with
//! `cargo bench --bench memory --all-features`.

use std::convert::Infallible;
use std::future::{IntoFuture, Ready, ready};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use socket2::{Domain, Socket, Type};
use tower_service::Service;

#[path = "../tests/common/counting.rs"]
mod counting;

use counting::{Counting, allocations, live};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CHILD: &str = "EYEBALLS_MEMORY_CHILD";
const NAME: &str = "blackhole.test";
const LEVELS: [usize; 2] = [1_000, 10_000];
const ROUNDS: usize = 2;
const CLIENTS: [&str; 3] = ["eyeballs", "hyper-util", "tokio"];

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (client, n) = spec.split_once(':').expect("client:count");
        child(client, n.parse().expect("a count"));
        return;
    }
    println!(
        "memory per connect in flight, 1 s after the start (IPv6 and IPv4 black-holed, a task per connect; {ROUNDS} rounds, one process each)"
    );
    println!(
        "{:>7} | {:<11} | {:>13} | {:>13} | {:>11} | {:>8} | after drop",
        "connects", "client", "resident B/c", "heap B/c", "allocs/c", "fds/c"
    );
    for n in LEVELS {
        let mut resident = [Vec::new(), Vec::new(), Vec::new()];
        let mut connects = n;
        for _ in 0..ROUNDS {
            for (i, client) in CLIENTS.iter().enumerate() {
                let out = Command::new(std::env::current_exe().unwrap())
                    .env(CHILD, format!("{client}:{n}"))
                    .output()
                    .expect("run the child");
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{client} at {n} failed: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let line = text.lines().last().unwrap_or_default();
                if line.starts_with("skipped") {
                    println!("{n:>8} | {client:<11} | {line}");
                    continue;
                }
                let m = Measured::parse(line);
                println!(
                    "{:>8} | {client:<11} | {:>13.0} | {:>13.0} | {:>11.1} | {:>8.2} | {}",
                    m.connects, m.resident, m.heap, m.allocations, m.fds, m.after_drop
                );
                resident[i].push(m.resident);
                connects = m.connects;
            }
        }
        let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        if resident.iter().all(|r| !r.is_empty()) {
            println!(
                "{connects:>8} | eyeballs / hyper-util resident: {:.2}x; / tokio: {:.2}x",
                mean(&resident[0]) / mean(&resident[1]),
                mean(&resident[0]) / mean(&resident[2])
            );
        }
    }
}

/// One child's report.
struct Measured {
    connects: usize,
    resident: f64,
    heap: f64,
    allocations: f64,
    fds: f64,
    after_drop: String,
}

impl Measured {
    fn parse(line: &str) -> Measured {
        let mut parts = line.splitn(6, ' ');
        let mut next = || parts.next().expect("a field").to_string();
        Measured {
            connects: next().parse().unwrap(),
            resident: next().parse().unwrap(),
            heap: next().parse().unwrap(),
            allocations: next().parse().unwrap(),
            fds: next().parse().unwrap(),
            after_drop: next(),
        }
    }
}

/// Bytes resident in this process.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split(' ').nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    pages * page
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raises the descriptor limit to what `n` connects with two sockets each need, as far as the
/// system allows; returns how many connects fit.
fn descriptors_for(n: usize) -> usize {
    let fit = |limit: libc::rlim_t| n.min((limit as usize).saturating_sub(256) / 2);
    let want = (2 * n + 256) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to write to.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur >= want {
        return n;
    }
    // A privileged process may raise the hard limit too.
    if limit.rlim_max < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        // SAFETY: `raised` is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return n;
        }
    }
    let old = limit.rlim_cur;
    limit.rlim_cur = want.min(limit.rlim_max);
    // SAFETY: `limit` is a valid rlimit.
    match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } {
        0 => fit(limit.rlim_cur),
        _ => fit(old),
    }
}

/// A listener on `ip:port` (port 0: any) whose accept queue is full: one connection waits in it
/// (kept open in the returned client socket), never accepted, and every further SYN is dropped.
fn black_hole(ip: IpAddr, port: u16) -> std::io::Result<(Socket, Socket)> {
    let domain = Domain::for_address(SocketAddr::new(ip, port));
    let listener = Socket::new(domain, Type::STREAM, None)?;
    if ip.is_ipv6() {
        listener.set_only_v6(true)?;
    }
    listener.bind(&SocketAddr::new(ip, port).into())?;
    listener.listen(0)?;
    let addr = listener.local_addr()?.as_socket().unwrap();
    let filler = Socket::new(domain, Type::STREAM, None)?;
    filler.connect_timeout(&addr.into(), Duration::from_secs(2))?;
    Ok((listener, filler))
}

/// Black holes on `[::1]` and `127.0.0.1` with one port.
fn black_holes() -> (u16, Vec<(Socket, Socket)>) {
    for _ in 0..20 {
        let Ok(v6) = black_hole(IpAddr::V6(Ipv6Addr::LOCALHOST), 0) else {
            continue;
        };
        let port = v6.0.local_addr().unwrap().as_socket().unwrap().port();
        if let Ok(v4) = black_hole(IpAddr::V4(Ipv4Addr::LOCALHOST), port) {
            return (port, vec![v6, v4]);
        }
    }
    panic!("no port free on both [::1] and 127.0.0.1");
}

/// hyper-util's resolver seam answering the name with both loopback addresses, as eyeballs'
/// static table does.
#[derive(Clone)]
struct Both;

impl Service<Name> for Both {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        ready(Ok(vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        ]
        .into_iter()))
    }
}

/// One client's `n` connects in flight; prints one line: resident, heap and allocations per
/// connect, descriptors per connect, and what came back after the drop.
fn child(client: &str, n: usize) {
    // At the top level, as many as the descriptor limit allows (said in the output).
    let n = descriptors_for(n);
    if n < 100 {
        println!("skipped: the descriptor limit allows fewer than 100 connects");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (port, _holes) = black_holes();
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        let eyeballs = eyeballs::Connector::builder()
            .resolver(
                eyeballs::resolve::StaticResolver::new()
                    .with(NAME, [v6.ip(), Ipv4Addr::LOCALHOST.into()]),
            )
            .build()
            .unwrap();
        let mut hyper = HttpConnector::new_with_resolver(Both);
        hyper.enforce_http(false);
        let uri: http::Uri = format!("http://{NAME}:{port}/").parse().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        // One connect of each kind first, its task ended, so lazily built state (runtime
        // internals, timers, the history) is in the baseline rather than in the first connect.
        {
            let warm = eyeballs.clone();
            let mut h = hyper.clone();
            let u = uri.clone();
            let mut warmup = tokio::task::JoinSet::new();
            warmup.spawn(async move { drop(warm.connect((NAME, port)).into_future().await) });
            warmup.spawn(async move { drop(h.call(u).await) });
            warmup.spawn(async move { drop(tokio::net::TcpStream::connect(v6).await) });
            tokio::time::sleep(Duration::from_millis(400)).await;
            warmup.shutdown().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (fds0, live0, allocs0) = (open_fds(), live(), allocations());
        trim();
        let resident0 = resident();
        for _ in 0..n {
            match client {
                "eyeballs" => {
                    let c = eyeballs.clone();
                    tasks.spawn(async move {
                        drop(c.connect((NAME, port)).into_future().await);
                    })
                }
                "hyper-util" => {
                    let (mut h, u) = (hyper.clone(), uri.clone());
                    tasks.spawn(async move { drop(h.call(u).await) })
                }
                "tokio" => {
                    tasks.spawn(async move { drop(tokio::net::TcpStream::connect(v6).await) })
                }
                other => panic!("unknown client {other}"),
            };
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (fds1, live1, allocs1, resident1) = (open_fds(), live(), allocations(), resident());
        assert!(
            tasks.try_join_next().is_none(),
            "a connect to a black hole finished"
        );
        tasks.shutdown().await;
        // Closed sockets leave the runtime's I/O driver at its next turn.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (fds2, live2) = (open_fds(), live());
        trim();
        let resident2 = resident();
        let per = |x: f64| x / n as f64;
        assert_eq!(fds2, fds0, "descriptors left open after the drop");
        // A little slack: the runtime's own buffers (timer wheel levels, I/O event lists).
        let kept = live2 - live0;
        assert!(
            kept < 64 * 1024,
            "{kept} heap bytes kept after every connect was dropped"
        );
        println!(
            "{n} {} {} {} {} descriptors back, heap {:+} B, resident {:+} KiB",
            per(resident1 as f64 - resident0 as f64),
            per((live1 - live0) as f64),
            per((allocs1 - allocs0) as f64),
            per((fds1 - fds0) as f64),
            kept,
            (resident2 as isize - resident0 as isize) / 1024,
        );
    });
}

/// Returns freed memory to the system, so that resident memory shows what is live.
fn trim() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
}
