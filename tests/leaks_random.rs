//! 10,000 connects to loopback with random outcomes (win after a black hole, refused, timeout,
//! future dropped mid-race, in DNS or in the attempts) and random drops: afterwards the process
//! has the same open file descriptors and no task left running. One test per binary, because it
//! counts the whole process's file descriptors.

mod common;

use std::future::IntoFuture;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{BlackHole, dual_port, listening, open_fds};
use eyeballs::{
    Connector, Family,
    resolve::{Lookup, Resolve},
};
use futures::StreamExt;

/// Answers every name with ::1 and 127.0.0.1 after a pseudo-random delay of 0 to 4 ms per family,
/// or never, for names starting with "hang".
#[derive(Debug, Default)]
struct JitteryResolver {
    n: AtomicU64,
}

impl Resolve for JitteryResolver {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        let hang = name.starts_with("hang") && family == Family::V4;
        let ip: IpAddr = if family == Family::V6 {
            "::1".parse().unwrap()
        } else {
            "127.0.0.1".parse().unwrap()
        };
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_micros(n.wrapping_mul(2654435761) % 4000)).await;
            Ok(vec![ip])
        })
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_connects_leave_nothing_behind() {
    // Port `win`: IPv6 black-holed, IPv4 serving (accept and close). Port `refused`: both bound but
    // not listening. Port `hole`: both black-holed.
    let win = dual_port();
    let win_port = win.port;
    let _hole6 = BlackHole::from_bound(win.v6);
    let listener = listening(win.v4);
    let server = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let refused = dual_port();
    let hole = dual_port();
    let (_h6, _h4) = (
        BlackHole::from_bound(hole.v6),
        BlackHole::from_bound(hole.v4),
    );
    let connector = Connector::builder()
        .resolver(JitteryResolver::default())
        .attempt_delay(Duration::from_millis(10))
        .connect_timeout(Duration::from_millis(40))
        .build()
        .unwrap();

    // Warm up, so lazily created runtime resources are not counted.
    let _ = connector.connect(("warm.test", win_port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fds = open_fds();
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks = metrics.num_alive_tasks();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let plans: Vec<(u64, u64)> = (0..10_000)
        .map(|_| (rng.next() % 5, rng.next() % 3))
        .collect();
    let (mut won, mut failed, mut dropped) = (0u32, 0u32, 0u32);
    let outcomes = futures::stream::iter(plans.into_iter().enumerate())
        .map(|(i, (scenario, drop_after))| {
            let connector = connector.clone();
            async move {
                let (name, port) = match scenario {
                    0 | 1 => ("win.test", win_port),
                    2 => ("refused.test", refused.port),
                    3 => ("hole.test", hole.port),
                    _ => ("hang.test", hole.port), // A never answers: dropped while DNS is in flight
                };
                let connect = connector.connect((name, port)).into_future();
                // Drop a third of the futures at a pseudo-random moment mid-race.
                let limit = if drop_after == 0 {
                    Duration::from_micros((i as u64 * 7919) % 15_000)
                } else {
                    Duration::from_secs(5)
                };
                match tokio::time::timeout(limit, connect).await {
                    Ok(Ok(stream)) => {
                        drop(stream);
                        0
                    }
                    Ok(Err(_)) => 1,
                    Err(_) => 2,
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<u8>>()
        .await;
    for o in outcomes {
        match o {
            0 => won += 1,
            1 => failed += 1,
            _ => dropped += 1,
        }
    }
    assert!(
        won > 1000 && failed > 1000 && dropped > 1000,
        "won {won}, failed {failed}, dropped {dropped}"
    );

    // A connect dropped while an attempt and a DNS lookup are in flight closes every socket at
    // once: no waiting, no background task left to do it.
    // A connector with no history yet: the shared one has learned that this IPv6 address
    // black-holes and would rightly wait for A before trying it.
    let fresh = Connector::builder()
        .resolver(JitteryResolver::default())
        .attempt_delay(Duration::from_millis(10))
        .connect_timeout(Duration::from_millis(40))
        .build()
        .unwrap();
    let before = open_fds();
    let mut racing = fresh.connect(("hang.test", hole.port)).into_future();
    assert!(
        tokio::time::timeout(Duration::from_millis(20), &mut racing)
            .await
            .is_err()
    );
    assert!(
        open_fds() > before,
        "the IPv6 attempt's socket is open while A is still pending"
    );
    drop(racing);
    assert_eq!(
        open_fds(),
        before,
        "dropping the future closed the attempt's socket at once"
    );

    server.abort();
    let _ = server.await;
    for _ in 0..200 {
        if metrics.num_alive_tasks() < tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        metrics.num_alive_tasks() + 1,
        tasks,
        "tasks left running (the server task is gone)"
    );
    // Exactly the server's listening socket is gone.
    assert_eq!(
        open_fds(),
        fds - 1,
        "file descriptors leaked over 10,000 connects"
    );
}
