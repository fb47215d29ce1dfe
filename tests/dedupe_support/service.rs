//! The one place a service-backed test (Redis, PostgreSQL, MariaDB/MySQL) decides whether
//! it can run. Shared by every such test binary: `dedupe_support` re-exports it, and
//! binaries that do not need the conformance suite include this file alone
//! (`#[path = "dedupe_support/service.rs"] mod service;`).
//!
//! Without its URL, or with a server that does not answer:
//! - when `CI` is set (to anything but empty, `false` or `0`), the test **fails**: CI must
//!   never pass a test it did not run;
//! - otherwise the test returns early and says so with a line the harness does not
//!   capture (`SKIPPED (not run): <binary>::<test> needs <VAR> (...)`), numbered so the
//!   last line of a binary tells how many of its tests did not run.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How many tests of this binary were skipped so far.
static SKIPPED: AtomicUsize = AtomicUsize::new(0);

/// How long a server gets to accept a TCP connection before it counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `CI` asks for every test to run: set, and not empty, `false` or `0`.
pub fn ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
        }
        Err(_) => false,
    }
}

/// The URL in `var` when its server answers, or `None` after a visible skip line; with
/// [`ci`] true a missing URL or an unreachable server fails the test instead.
pub fn service_url(var: &str) -> Option<String> {
    let url = match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => return skip(var, "not set".to_owned()),
    };
    match probe(&url) {
        Ok(()) => Some(url),
        Err(e) => skip(var, format!("{url} unreachable: {e}")),
    }
}

/// Fails under CI, else records the skip and prints the line.
fn skip(var: &str, why: String) -> Option<String> {
    let test = test_name();
    if ci() {
        panic!(
            "{test} needs {var} ({why}), and CI is set: a service-backed test must run in CI \
             (start the service and set {var}, or unset CI to skip locally)"
        );
    }
    report_skip(var, &why, "CI=true would fail");
    None
}

/// Records that the current test did not run for want of `var` and prints the
/// `SKIPPED (not run)` line, without the CI check (for peers CI does not provide, such as
/// the interop broker).
pub fn report_skip(var: &str, why: &str, note: &str) {
    let test = test_name();
    let n = SKIPPED.fetch_add(1, Ordering::SeqCst) + 1;
    tell(&format!(
        "SKIPPED (not run): {test} needs {var} ({why}) [{n} skipped in {}; {note}]",
        binary()
    ));
}

/// Writes to the process's stderr handle: unlike `eprintln!`, not captured by libtest.
pub fn tell(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// `binary::test`, from the executable's name and the thread libtest names after the test.
fn test_name() -> String {
    let thread = std::thread::current();
    format!(
        "{}::{}",
        binary(),
        thread.name().unwrap_or("<unnamed test>")
    )
}

/// The test binary's name without cargo's hash (`dedupe_redis-0123abcd` → `dedupe_redis`).
fn binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("tests");
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem.to_owned(),
    }
}

/// A TCP connection to the URL's host and port (default port by scheme). URLs whose
/// address cannot be read here (Unix sockets, query-string hosts) are not probed: the test
/// connects and reports for itself.
fn probe(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(());
    };
    let default_port = match scheme {
        "redis" | "rediss" => 6379,
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return Ok(()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return Ok(());
    }
    let (host, port) = match host_port.rsplit_once(':') {
        // `[::1]:6379`, `host:6379`
        Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| "bad port".to_owned())?),
        _ => (host_port, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .collect();
    let mut last = format!("no address for {host}:{port}");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}
