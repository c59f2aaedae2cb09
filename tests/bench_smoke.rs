//! Keep the benchmark from rotting: a smoke run (`--quick`) of
//! bench/bench.py against the built husk must measure every row and exit 0.
//! No timing is asserted here; the numbers belong in bench/RESULTS.md.

/// $HUSK_BIN when set, as in tests/common, else the binary cargo built.
fn husk_bin() -> String {
    match std::env::var("HUSK_BIN") {
        Ok(p) if !p.is_empty() => p,
        _ => env!("CARGO_BIN_EXE_husk").to_string(),
    }
}

#[test]
fn benchmark_smoke_run() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/bench.py");
    let out = std::process::Command::new("python3")
        .args([dir, "--quick", "--runtimes"])
        .arg(format!("husk={}", husk_bin()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run python3 bench/bench.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "run + delete",
        "create (ms)",
        "start (ms)",
        "exec /bin/true",
        "seccomp profile",
        "max RSS of `run`",
        "smallest memory limit",
        "binary size",
        "syscalls of one",
    ] {
        assert!(text.contains(row), "no {row:?} row in:\n{text}");
    }
    assert!(!text.contains("FAILED"), "{text}");
}
