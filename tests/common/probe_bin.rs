//! The probe example's binary, built once per test binary.

/// Builds `examples/probe` once (CARGO_BIN_EXE_* does not cover examples) and returns its path.
pub fn probe_bin() -> &'static std::path::PathBuf {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            // All features, as the README's test command builds everything (so nothing is
            // rebuilt), and so that --http is available.
            .args([
                "build",
                "--quiet",
                "--all-features",
                "--example",
                "probe",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo build --example probe");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"]["name"] == "probe")
            .find_map(|v| v["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo reported the probe's executable")
    })
}
