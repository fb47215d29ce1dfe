//! Reliability under SIGKILL: a broker child process on a directory store is killed at
//! random moments while a producer keeps sending; after restart on the same store and
//! ports every acknowledged message must be there, intact.
//!
//! Sizes. The issue asks for SYNC_FLUSH + SIGKILL at ≥ 20 runs × ≥ 10,000 messages in the
//! fast variant and 100 runs in the heavy one: `examples/reliability_report.rs` runs exactly
//! that (20 × 10,000 standard, about 4–5 minutes in a debug build on 2 shared cores; 100 ×
//! 10,000 with `RELIABILITY_HEAVY=1`), and so does this test with `RELIABILITY_HEAVY=1`
//! (100 × 10,000). The default CI variant here is deliberately smaller (2 runs × 600
//! messages) to keep `cargo test` quick; it is a smoke test of the same scenario, not the
//! issue's bar.

use rocketmq_embedded_broker::FlushMode;
use rocketmq_suite::reliability::{CrashSettings, crash_under_load, heavy};

fn child_exe() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_reliability-broker"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_sigkill_loses_no_acknowledged_message() {
    let (runs, messages) = if heavy() { (100, 10_000) } else { (2, 600) };
    let mut s = CrashSettings::new(FlushMode::Sync, runs, messages);
    s.seed = 11;
    let r = crash_under_load(&child_exe(), &s).await.unwrap();
    eprintln!("{r}");
    assert!(r.acknowledged > 0, "something was acknowledged: {r:?}");
    assert_eq!(r.lost, 0, "acknowledged messages lost: {r:?}");
    assert_eq!(r.corrupt, 0, "corrupt records: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flush_sigkill_loss_is_bounded_by_the_flush_window() {
    let (runs, messages) = if heavy() { (10, 10_000) } else { (1, 600) };
    let mut s = CrashSettings::new(FlushMode::Async, runs, messages);
    s.seed = 12;
    let r = crash_under_load(&child_exe(), &s).await.unwrap();
    eprintln!("{r}");
    assert!(r.acknowledged > 0, "something was acknowledged: {r:?}");
    assert_eq!(r.corrupt, 0, "corrupt records: {r:?}");
    // A process kill keeps the page cache: anything lost must have been acknowledged
    // within the flush interval (500 ms) plus scheduling slack before a kill.
    if r.lost > 0 {
        let ms: u64 = r
            .note
            .rsplit("loss window ")
            .next()
            .and_then(|s| s.trim_end_matches(" ms").parse().ok())
            .unwrap();
        assert!(ms <= 2_000, "loss outside the unflushed window: {r:?}");
    }
}
