//! Reliability under SIGKILL: a broker child process on a directory store is killed at
//! random moments while a producer keeps sending; after restart on the same store and
//! ports every acknowledged message must be there, intact.
//!
//! Sizes. The default variant (what `cargo test` runs) is small: SYNC 2 runs × 600
//! messages, ASYNC 3 runs × 1,000, two kills a run. `RELIABILITY_HEAVY=1` runs SYNC 100 ×
//! 10,000 and ASYNC 20 × 5,000. Each test asserts the number of kills performed, so a run
//! whose kill point is never reached fails instead of passing silently.

use rocketmq_embedded_broker::FlushMode;
use rocketmq_suite::reliability::{CrashSettings, consumer_crash, crash_under_load, heavy};

fn child_exe() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_reliability-broker"))
}

fn assert_kills(r: &rocketmq_suite::reliability::Report, s: &CrashSettings) {
    let expected = (s.runs * s.kills_per_run) as u64;
    assert_eq!(r.kills, expected, "mid-run kills performed: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_sigkill_loses_no_acknowledged_message() {
    let (runs, messages) = if heavy() { (100, 10_000) } else { (2, 600) };
    let mut s = CrashSettings::new(FlushMode::Sync, runs, messages);
    s.seed = 11;
    let r = crash_under_load(&child_exe(), &s).await.unwrap();
    eprintln!("{r}");
    assert_kills(&r, &s);
    assert!(r.acknowledged > 0, "something was acknowledged: {r:?}");
    assert_eq!(r.lost, 0, "acknowledged messages lost: {r:?}");
    assert_eq!(r.corrupt, 0, "corrupt records: {r:?}");
}

/// Appends reach the kernel before the acknowledgement (as upstream's mmap store), so a
/// process kill under ASYNC flush loses nothing acknowledged either; only a machine crash
/// may lose the unflushed window (tested with the memory storage's power loss in
/// `rocketmq-embedded-broker/tests/store_crash.rs` and `cluster.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flush_sigkill_loses_no_acknowledged_message() {
    let (runs, messages) = if heavy() { (20, 5_000) } else { (3, 1_000) };
    let mut s = CrashSettings::new(FlushMode::Async, runs, messages);
    s.seed = 12;
    let r = crash_under_load(&child_exe(), &s).await.unwrap();
    eprintln!("{r}");
    assert_kills(&r, &s);
    assert!(r.acknowledged > 0, "something was acknowledged: {r:?}");
    assert_eq!(r.lost, 0, "acknowledged messages lost: {r:?}");
    assert_eq!(r.corrupt, 0, "corrupt records: {r:?}");
}

/// A consumer process killed mid-batch: no final offset persist, no unregister. The
/// group's other instance takes over once the broker notices, so nothing is lost, and
/// exactly the work the dead one finished past its committed offsets comes again (a
/// graceful stop commits everything, so nothing would come again and the count would not
/// match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_batch_loses_nothing_and_its_uncommitted_work_comes_again() {
    let messages = if heavy() { 20_000 } else { 600 };
    let (r, d) = consumer_crash(&child_exe(), messages, 21).await.unwrap();
    eprintln!("{r}");
    assert_eq!(r.kills, 1, "{r:?}");
    assert_eq!(r.acknowledged, messages as u64, "{r:?}");
    assert_eq!(r.lost, 0, "acknowledged messages never consumed: {r:?}");
    assert!(d.finished >= (messages / 3) as u64, "{d:?}");
    assert!(
        d.uncommitted > 0,
        "the kill left finished work uncommitted: {d:?}"
    );
    assert_eq!(d.uncommitted_not_redelivered, 0, "{d:?}");
    assert_eq!(
        d.redelivered, d.uncommitted,
        "only uncommitted work comes again: {d:?}"
    );
    assert_eq!(r.duplicated, d.redelivered, "{r:?} {d:?}");
}
