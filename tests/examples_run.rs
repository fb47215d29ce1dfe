//! Runs every example binary and checks it did what it says: exit status 0 within its time
//! limit and, for the feature examples, the `OK: ...` line each prints once everything it
//! demonstrates was verified (an example that sees something go wrong exits non-zero).
//!
//! `cargo test --workspace` builds the examples before the tests run; this test runs the
//! binaries from `target/<profile>/examples/`. Run on its own (`cargo test --test
//! examples_run`), cargo does not build examples, so the test builds the missing ones with
//! `cargo build --examples` first (already-built ones are used as they are).
//!
//! `dedupe_redis` needs Redis: without `REDIS_URL` (or with a server that does not
//! answer) it prints `SKIPPED (not run): … needs REDIS_URL` on the terminal, or fails
//! when `CI` is set. `dedupe_sql` always
//! runs: on `POSTGRES_URL` when set, else on SQLite in memory.

#[path = "dedupe_support/service.rs"]
mod service;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: each example takes about a second; debug builds on a loaded machine are slow.
const LIMIT: Duration = Duration::from_secs(120);

/// Says something on the terminal even though the test harness captures `eprintln!`.
use service::tell;

fn examples_dir() -> PathBuf {
    // target/<profile>/deps/examples_run-<hash> -> target/<profile>/examples
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples")
}

fn binary(name: &str) -> PathBuf {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        build_examples();
    }
    assert!(
        path.exists(),
        "example binary {} is missing",
        path.display()
    );
    path
}

/// `cargo build --examples` with the cargo and profile that built this test.
fn build_examples() {
    static ONCE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if *built {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--examples", "-p", "rocketmq-suite"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    tell("examples_run: building the examples (cargo build --examples)");
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "cargo build --examples failed");
    *built = true;
}

/// Runs example `name` with `args` and extra environment; returns its stdout, after
/// checking the exit status and the time limit.
fn run(name: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = Command::new(binary(name));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("example starts");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "example {name} did not finish within {LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "example {name} failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("example {name} ran in {:?}\n{stdout}", started.elapsed());
    stdout
}

/// Runs a feature example and checks its `OK:` line.
fn run_ok(name: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let stdout = run(name, args, env);
    assert!(
        stdout.lines().any(|l| l.starts_with("OK: ")),
        "example {name} exited 0 but did not print its OK line:\n{stdout}"
    );
    stdout
}

fn passthrough(var: &str) -> Vec<(&str, String)> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| (var, v))
        .into_iter()
        .collect()
}

#[test]
fn quickstart() {
    // Its content is the quickstart's own business: it must run and exit 0.
    run("quickstart", &[], &[]);
}

#[test]
fn ordered() {
    run_ok("ordered", &[], &[]);
}

#[test]
fn delay() {
    run_ok("delay", &[], &[]);
}

#[test]
fn request_reply() {
    run_ok("request_reply", &[], &[]);
}

#[test]
fn broadcast() {
    run_ok("broadcast", &[], &[]);
}

#[test]
fn pull_rewind() {
    run_ok("pull_rewind", &[], &[]);
}

#[test]
fn transaction() {
    run_ok("transaction", &[], &[]);
}

#[test]
fn fault_injection() {
    run_ok("fault_injection", &[], &[]);
}

#[test]
fn outbox() {
    run_ok("outbox", &[], &[]);
}

#[test]
fn external_without_namesrv_starts_the_embedded_broker() {
    let out = run_ok("external", &[], &[]);
    assert!(out.contains("started an embedded broker"), "{out}");
}

#[test]
fn dedupe_sql() {
    let env = passthrough("POSTGRES_URL");
    let out = run_ok("dedupe_sql", &[], &env);
    let expected = if env.is_empty() {
        "SQLite in memory"
    } else {
        "PostgreSQL at"
    };
    assert!(
        out.lines().next().is_some_and(|l| l.contains(expected)),
        "the first line says which database runs ({expected}):\n{out}"
    );
}

#[test]
fn dedupe_redis() {
    let Some(url) = service::service_url("REDIS_URL") else {
        return;
    };
    run_ok("dedupe_redis", &[], &[("REDIS_URL", url)]);
}

#[test]
fn benchmark_runs_briefly() {
    let out = run(
        "benchmark",
        &["producer", "--embedded", "--duration", "1"],
        &[],
    );
    assert!(!out.trim().is_empty(), "the benchmark prints its figures");
}

#[test]
fn reliability_report_is_left_to_the_reliability_suite() {
    // ~45 s in a debug build: its scenarios run in tests/reliability_*.rs; only check the
    // binary exists (it was built, so it compiles).
    if std::env::var_os("RUN_SLOW_EXAMPLES").is_some() {
        run("reliability_report", &[], &[]);
    } else {
        assert!(binary("reliability_report").exists());
        tell(
            "examples_run: not running example reliability_report (~45 s; \
             set RUN_SLOW_EXAMPLES=1 to run it)",
        );
    }
}
