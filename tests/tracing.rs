//! tracing: one span per connect with `host` and `port`, structured events per DNS answer and per
//! attempt. Its own binary, since it installs a subscriber for the thread.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{dual_port, listening, serve};
use eyeballs::{Connector, resolve::StaticResolver};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_span_per_connect_and_structured_events() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let dual = dual_port();
            let port = dual.port;
            let _s4 = serve(listening(dual.v4)); // ::1 is bound but not listening: refused
            let resolver = StaticResolver::new().with(
                "svc.test",
                ["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            );
            let connector = Connector::builder().resolver(resolver).build().unwrap();
            connector.connect(("svc.test", port)).await.unwrap();
        })
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("eyeballs::connect{host=\"svc.test\""))
        .collect();
    let has = |words: &[&str]| lines.iter().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(has(&["dns answer", "family=ipv6", "count=1"]), "{log}");
    assert!(has(&["dns answer", "family=ipv4", "count=1"]), "{log}");
    assert!(
        has(&["attempt started", "addr=[::1]:", "attempt=0", "family=ipv6"]),
        "{log}"
    );
    assert!(has(&["attempt failed", "attempt=0", "error="]), "{log}");
    assert!(
        has(&[
            "attempt started",
            "addr=127.0.0.1:",
            "attempt=1",
            "family=ipv4"
        ]),
        "{log}"
    );
    assert!(has(&["connected", "attempt=1"]), "{log}");
    assert!(
        lines.iter().all(|l| l.contains("port=")),
        "every event is inside the connect's span: {log}"
    );
}
