//! A bench that runs in a network namespace of its own (root): it runs itself again inside a new
//! namespace, with an environment variable saying so; the namespace, and the files written for
//! it under /etc/netns, go when the run ends, also when it fails. Shared by `by_name` and
//! `hostile`.

use std::process::Command;

/// Whether this process is the run inside the namespace (`inside` is set).
pub fn is_inside(inside: &str) -> bool {
    std::env::var_os(inside).is_some()
}

/// Runs this bench again, with its arguments, inside a new namespace `{prefix}-{pid}` whose
/// /etc/netns files are `files` (name, text: `resolv.conf`, `hosts`), with `inside` set, and
/// fails unless that run succeeds. Without root or iproute2, says so and returns.
pub fn run_inside(bench: &str, prefix: &str, inside: &str, files: &[(&str, &str)]) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || Command::new("ip").arg("-V").output().is_err() {
        println!("{bench}: needs root and iproute2 (network namespaces); skipped");
        return;
    }
    let ns = format!("{prefix}-{}", std::process::id());
    let _cleanup = Namespace::create(&ns, files);
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .env(inside, "1")
        .status()
        .unwrap();
    assert!(status.success(), "the bench inside the namespace failed");
}

/// A namespace and its /etc/netns files; removed when dropped.
struct Namespace(String);

impl Namespace {
    fn create(name: &str, files: &[(&str, &str)]) -> Namespace {
        run("ip", &["netns", "add", name]);
        let guard = Namespace(name.to_string());
        if !files.is_empty() {
            let dir = format!("/etc/netns/{name}");
            std::fs::create_dir_all(&dir).unwrap();
            for (file, text) in files {
                std::fs::write(format!("{dir}/{file}"), text).unwrap();
            }
        }
        guard
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.0));
    }
}

/// Runs `cmd` with `args`, and fails unless it succeeds.
pub fn run(cmd: &str, args: &[&str]) {
    let status = Command::new(cmd).args(args).status().unwrap();
    assert!(status.success(), "{cmd} {args:?} failed");
}
