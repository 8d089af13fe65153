//! Nothing leaks: no socket and no task, on success, failure, timeout or cancellation.
//! One test in its own binary, because it counts the whole process's file descriptors.

mod common;

use std::time::Duration;

use common::{Behaviour, BlackHole, expect_greeting, listen, open_fds, refused_addr, serve_as};
use eyeballs::Connector;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_socket_or_task_survives_any_outcome() {
    let listener = listen("127.0.0.1", 0);
    let live = listener.local_addr().unwrap();
    // Accepts and closes at once, so the server holds no socket between rounds.
    let server = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    // Handshake servers (HE-9.4): one greets, one resets after accepting, one stays silent.
    let greet_listener = listen("127.0.0.1", 0);
    let greet = greet_listener.local_addr().unwrap();
    let reset_listener = listen("::1", 0);
    let reset = reset_listener.local_addr().unwrap();
    let silent_listener = listen("::1", 0);
    let silent = silent_listener.local_addr().unwrap();
    let handshake_servers = [
        serve_as(greet_listener, Behaviour::Greet),
        serve_as(reset_listener, Behaviour::Reset),
        serve_as(silent_listener, Behaviour::Silent),
    ];
    let refused = refused_addr("::1");
    let hole6 = BlackHole::new("[::1]:0".parse().unwrap());
    let hole4 = BlackHole::new("127.0.0.1:0".parse().unwrap());
    let connector = Connector::builder()
        .attempt_delay(Duration::from_millis(20))
        .connect_timeout(Duration::from_millis(200))
        .build()
        .unwrap();

    // Warm up once so lazily created runtime resources are not counted as leaks.
    drop(connector.connect([live]).await.unwrap());
    drop(
        connector
            .connect([greet])
            .handshake(expect_greeting)
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fds = open_fds();
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    for round in 0..20 {
        // Success after a black hole and a refusal lose the race.
        let s = connector
            .connect([hole6.addr, refused, live])
            .await
            .unwrap();
        drop(s);
        // Failure: refused only.
        assert!(connector.connect([refused]).await.is_err());
        // Timeout: black holes only.
        assert!(connector.connect([hole6.addr, hole4.addr]).await.is_err());
        // Cancellation: the connect future dropped mid-race, with both attempts in flight.
        let racing = connector.connect([hole6.addr, hole4.addr]);
        assert!(
            tokio::time::timeout(Duration::from_millis(50 + round), racing)
                .await
                .is_err()
        );
    }
    for round in 0..10 {
        // Through a handshake: the reset and the silent connections lose, the greeting wins.
        let s = connector
            .connect([reset, silent, greet])
            .handshake(expect_greeting)
            .await
            .unwrap();
        drop(s);
        // Every handshake fails or stalls: failure at the timeout.
        assert!(
            connector
                .connect([reset, silent])
                .handshake(expect_greeting)
                .await
                .is_err()
        );
        // Cancellation mid-handshake.
        let racing = connector.connect([silent]).handshake(expect_greeting);
        assert!(
            tokio::time::timeout(Duration::from_millis(30 + round), racing)
                .await
                .is_err()
        );
    }
    // The servers see the clients' closes and close their ends.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for server in handshake_servers {
        server.abort();
        let _ = server.await;
    }
    // Sockets are closed synchronously on drop; give the server's accept loop a moment anyway.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.abort();
    let _ = server.await;
    // The server task was alive at the baseline and is gone now. The runtime releases a finished
    // task a moment after its JoinHandle resolves, so give the count up to a second to settle.
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..100 {
        if metrics.num_alive_tasks() + 4 <= tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.num_alive_tasks() + 4, tasks, "tasks left running");
    // Exactly the servers' listening sockets are gone; every connect's socket was already closed.
    assert_eq!(open_fds(), fds - 4, "file descriptors leaked");
}
