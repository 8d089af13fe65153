//! One set of rules on every entry point (HE-5.7, HE-5.9) and bounded work per poll (HE-5.10),
//! on real loopback sockets. Regression tests for issue 9, items 3, 4, 6 and 8.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{listen, serve};
use eyeballs::{
    AddressPolicy, Connector, Error, Family,
    config::{FamilyPolicy, SocketOptions},
    error::InputError,
    proto::admit::MAX_ADDRESSES,
    resolve::{Lookup, Resolve, StaticResolver},
};

// HE-5.7: `::ffff:127.0.0.1` next to `127.0.0.1` is one address, tried once, reported as IPv4.
#[tokio::test]
async fn he_5_7_mapped_and_plain_ipv4_are_one_address() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
    let plain: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (_, report) = Connector::new()
        .connect([mapped, plain])
        .with_report()
        .await
        .unwrap();
    assert_eq!(report.attempts().len(), 1, "{report}");
    assert_eq!(report.winner().unwrap().addr(), plain);
    assert_eq!(report.winner().unwrap().family(), Family::V4);

    // A mapped literal connects as IPv4 too.
    let (stream, report) = Connector::new()
        .connect(("::ffff:127.0.0.1", port))
        .with_report()
        .await
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), plain);
    assert_eq!(report.winner().unwrap().family(), Family::V4);
}

// HE-5.7 / HE-5.9: `Ipv6Only` never connects over IPv4 through a mapped literal, a mapped AAAA
// answer or a mapped address given to connect.
#[tokio::test]
async fn he_5_7_ipv6_only_refuses_mapped_ipv4() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let resolver = StaticResolver::new().with("mapped.test", ["::ffff:127.0.0.1".parse().unwrap()]);
    let connector = Connector::builder()
        .family(FamilyPolicy::Ipv6Only)
        .resolver(resolver)
        .build()
        .unwrap();

    let err = connector
        .connect(("::ffff:127.0.0.1", port))
        .await
        .unwrap_err();
    match &err {
        Error::InvalidInput {
            problem: InputError::FamilyNotAllowed { .. },
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("IPv4 address"), "{err}");
    assert!(err.to_string().contains("IPv6 only"), "{err}");

    let err = connector.connect(("mapped.test", port)).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");
    assert!(err.attempts().is_empty(), "nothing was tried: {err}");

    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
    let err = connector.connect([mapped]).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");

    let err = connector.resolve("mapped.test", port).await.unwrap_err();
    assert!(matches!(err, Error::NoAddresses(_)), "{err:?}");
}

// Issue 9 item 8: an IPv4 literal under Ipv6Only names the mismatch (and vice versa).
#[tokio::test]
async fn literal_of_an_excluded_family_names_the_mismatch() {
    for (policy, literal) in [
        (FamilyPolicy::Ipv6Only, "127.0.0.1"),
        (FamilyPolicy::Ipv4Only, "::1"),
    ] {
        let connector = Connector::builder().family(policy).build().unwrap();
        for err in [
            connector.connect((literal, 80)).await.unwrap_err(),
            connector.resolve(literal, 80).await.unwrap_err(),
        ] {
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        problem: InputError::FamilyNotAllowed { .. },
                        ..
                    }
                ),
                "{policy:?} {literal}: {err:?}"
            );
        }
    }
}

// HE-5.9: `resolve` applies the address policy to IP literals as `connect` does.
#[tokio::test]
async fn he_5_9_resolve_applies_the_policy_to_literals() {
    let connector = Connector::builder()
        .address_policy(AddressPolicy::public_only())
        .build()
        .unwrap();
    for literal in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "[::ffff:10.0.0.1]"] {
        let err = connector.resolve(literal, 80).await.unwrap_err();
        assert!(matches!(err, Error::Denied(_)), "{literal}: {err:?}");
        let err = connector.connect((literal, 80)).await.unwrap_err();
        assert!(matches!(err, Error::Denied(_)), "{literal}: {err:?}");
    }
    // Mapped literals come back as the IPv4 address they carry.
    let addrs = Connector::new()
        .resolve("::ffff:127.0.0.1", 80)
        .await
        .unwrap();
    assert_eq!(addrs, ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
}

// HE-5.11 / HE-5.9: a port rule judges literals and given addresses at every entry point, and a
// name's destinations right before each attempt (nothing is sent to a refused port).
#[tokio::test]
async fn he_5_11_a_port_rule_applies_at_every_entry_point() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap().port();
    let connector = Connector::builder()
        .resolver(StaticResolver::new().with("local.test", ["127.0.0.1".parse().unwrap()]))
        .address_policy(AddressPolicy::ports(move |port| port != open))
        .build()
        .unwrap();
    let err = connector.resolve("127.0.0.1", open).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    let err = connector.connect(("127.0.0.1", open)).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    let addr = SocketAddr::from(([127, 0, 0, 1], open));
    let err = connector.connect(addr).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    let err = connector.connect(("local.test", open)).await.unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    // Nothing reached the listener: its accept queue is empty.
    let listener = listener.into_std().unwrap();
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection reached a refused port: {accepted:?}"
    );
}

/// A resolver that answers with `n` distinct loopback addresses in A (127.0.0.1 first, where the
/// test listens) and `::1` in AAAA: nothing leaves the machine.
#[derive(Debug)]
struct Huge(u32);

impl Resolve for Huge {
    fn lookup(&self, _name: &str, family: Family) -> Lookup {
        let ips: Vec<IpAddr> = match family {
            Family::V6 => vec![IpAddr::from(std::net::Ipv6Addr::LOCALHOST)],
            Family::V4 => (0..self.0)
                .map(|i| IpAddr::from(std::net::Ipv4Addr::from(0x7f00_0001 + i)))
                .collect(),
        };
        Box::pin(async move { Ok(ips) })
    }
}

/// Measures the longest stretch in which a ticker task on the same current-thread runtime could
/// not run, while `work` runs.
async fn longest_stall<F: std::future::IntoFuture>(work: F) -> (F::Output, Duration) {
    let worst = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let (worst, stop) = (worst.clone(), stop.clone());
        async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                let now = Instant::now();
                worst.fetch_max((now - last).as_micros() as u64, Ordering::Relaxed);
                last = now;
            }
        }
    });
    tokio::task::yield_now().await;
    let out = work.await;
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();
    (out, Duration::from_micros(worst.load(Ordering::Relaxed)))
}

// HE-5.10 / HE-5.12: 10,000 addresses on real sockets: the race connects, given addresses are
// deduplicated and cut at the limit, resolve applies the limit too. Source lookups happen in bounded batches (counted per
// poll in the driver tests); the longest executor stall is printed. (Before the batches one
// poll took 100+ ms.)
#[tokio::test(flavor = "current_thread")]
async fn he_5_10_huge_answers_do_not_block_the_executor() {
    let listener = listen("127.0.0.1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let connector = Connector::builder().resolver(Huge(10_000)).build().unwrap();
    let (result, stall) = longest_stall(connector.connect(("huge.test", port)).with_report()).await;
    let (_, report) = result.unwrap();
    assert_eq!(
        report.attempts().len(),
        2,
        "::1 refused, then 127.0.0.1: {report}"
    );
    // What bounds the work one poll does (at most one batch of 64 source lookups) is asserted
    // where it can be counted, in src/driver/tests.rs (he_5_10_source_lookups_per_poll_are_bounded);
    // a wall-clock bound here would fail on a loaded machine. The stall is shown, not asserted.
    eprintln!("10,000 A records: the executor was blocked for at most {stall:?}");

    // connect with addresses: 1,000 copies of one address are deduplicated before any system call.
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let many: Vec<SocketAddr> = (0..10_000)
        .map(|i| {
            if i % 10 == 0 {
                addr
            } else {
                SocketAddr::new(
                    IpAddr::from(std::net::Ipv4Addr::from(0x7f00_0002 + i)),
                    port,
                )
            }
        })
        .collect();
    let (result, stall) = longest_stall(Connector::new().connect(many).with_report()).await;
    let (_, report) = result.unwrap();
    eprintln!("10,000 addresses given: the executor was blocked for at most {stall:?}");
    assert!(
        report.attempts().len() <= 2,
        "{} attempts",
        report.attempts().len()
    );

    // Given addresses are cut at the limit too, and the report counts the rest (HE-5.12): the
    // 64th distinct address is the 70th given (every tenth is the same one).
    assert_eq!(MAX_ADDRESSES, 64);
    assert_eq!(report.over_limit(), 10_000 - 70, "{report}");

    // resolve() applies the same limit (HE-5.9, HE-5.12): ::1 and the first 64 IPv4 addresses,
    // still without a long stall.
    let (result, stall) = longest_stall(connector.resolve("huge.test", port)).await;
    assert_eq!(result.unwrap().len(), 1 + MAX_ADDRESSES);
    eprintln!("resolve, 10,000 A records: the executor was blocked for at most {stall:?}");
}

// Issue 9 item 8: messages name the target as it is, never with doubled brackets or a made-up
// port.
#[tokio::test]
async fn messages_name_the_target() {
    let refused = common::refused_addr("::1");
    let err = Connector::new()
        .connect(("[::1]", refused.port()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("connect to [::1]:{} failed", refused.port())),
        "{text}"
    );

    let a = common::refused_addr("127.0.0.1");
    let b = SocketAddr::new("::1".parse().unwrap(), a.port());
    let err = Connector::new().connect([a, b]).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "connect to 2 addresses (port {}) failed",
            a.port()
        )),
        "{text}"
    );
    assert!(
        err.report()
            .unwrap()
            .to_string()
            .starts_with("connect to 2 addresses"),
        "{}",
        err.report().unwrap()
    );
}

// Documented: `SocketOptions::local_v4` binds IPv4 attempts and does not restrict the connect to IPv4.
#[tokio::test]
async fn local_v4_binds_and_does_not_restrict() {
    let listener = listen("::1", 0);
    let port = listener.local_addr().unwrap().port();
    let _server = serve(listener);
    let bound = SocketOptions::default().local_v4("127.0.0.1".parse().unwrap());
    let connector = Connector::builder()
        .socket_options(bound.clone())
        .build()
        .unwrap();
    let stream = connector.connect(("::1", port)).await.unwrap();
    assert!(stream.local_addr().unwrap().is_ipv6());
    // And the documented way to restrict: the family policy.
    let v4_only = Connector::builder()
        .socket_options(bound)
        .family(FamilyPolicy::Ipv4Only)
        .build()
        .unwrap();
    assert!(v4_only.connect(("::1", port)).await.is_err());
}

// HE-4.4: a policy table on the builder (here gai.conf's classic "prefer IPv4") orders what
// `resolve` returns and what a connect tries first.
#[tokio::test]
async fn he_4_4_policy_table_prefers_ipv4() {
    let resolver = StaticResolver::new().with(
        "dual.test",
        ["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
    );
    let table = eyeballs::config::PolicyTable::from_gai_conf("precedence ::ffff:0:0/96 100\n");
    let connector = Connector::builder()
        .resolver(resolver.clone())
        .policy_table(table)
        .build()
        .unwrap();
    let addrs = connector.resolve("dual.test", 80).await.unwrap();
    assert_eq!(addrs[0], "127.0.0.1:80".parse::<SocketAddr>().unwrap());
    let default = Connector::builder()
        .resolver(resolver)
        .policy_table(eyeballs::config::PolicyTable::rfc6724())
        .build()
        .unwrap();
    let addrs = default.resolve("dual.test", 80).await.unwrap();
    assert_eq!(addrs[0], "[::1]:80".parse::<SocketAddr>().unwrap());
}
