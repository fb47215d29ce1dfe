//! Reliability scenario 5 against real clients over loopback: the dedupe guard under a
//! redelivery storm (injected duplicate deliveries, dropped offset commits, cut
//! connections, consumer restarts, failing first attempts). Every message must take effect
//! exactly once: with the memory guard always, with Redis when `REDIS_URL` is set
//! (without it the Redis test says `SKIPPED (not run)` on the terminal, or fails when `CI`
//! is set).
//!
//! CI size: 1,500 messages (the report runs 5,000; `RELIABILITY_HEAVY=1` runs 20,000
//! here).

#[path = "dedupe_support/service.rs"]
mod service;

use rocketmq_sdk::dedupe::DedupeGuard;
use rocketmq_sdk::dedupe::memory::MemoryGuard;
use rocketmq_sdk::dedupe::redis::RedisGuard;
use rocketmq_suite::reliability::{dedupe_storm, heavy};

fn size() -> usize {
    if heavy() { 20_000 } else { 1_500 }
}

async fn assert_exactly_once<G: DedupeGuard + Clone>(guard: G, backend: &str, seed: u64) {
    let storm = dedupe_storm(guard, backend, size(), seed).await.unwrap();
    let r = &storm.report;
    eprintln!("{r}");
    assert_eq!(r.acknowledged, r.sent, "every send acknowledged: {r:?}");
    assert_eq!(r.lost, 0, "messages whose effect never happened: {r:?}");
    assert_eq!(r.duplicated, 0, "effects applied more than once: {r:?}");
    // The storm really happened: the guard had duplicates to absorb.
    assert!(storm.injected_redeliveries > 0, "{storm:?}");
    assert!(storm.restarts > 0, "{storm:?}");
    assert!(storm.failed_handlers > 0, "{storm:?}");
    assert!(storm.deliveries > r.sent + r.sent / 10, "{storm:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_guard_applies_every_effect_once_under_a_redelivery_storm() {
    assert_exactly_once(MemoryGuard::new(), "memory", 51).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_guard_applies_every_effect_once_under_a_redelivery_storm() {
    let Some(url) = service::service_url("REDIS_URL") else {
        return;
    };
    let run = std::process::id();
    let guard = RedisGuard::connect(&url)
        .await
        .unwrap()
        .prefix(format!("test:reliability-dedupe:{run}:"))
        .build()
        .unwrap();
    assert_exactly_once(guard, "redis", 52).await;
}
