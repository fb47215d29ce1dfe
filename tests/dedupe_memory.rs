//! The memory guard through the dedupe conformance suite. Time-dependent scenarios run on
//! tokio's paused clock (which the guard's default `TokioClock` reads), so a "30 s" lease
//! takes no wall time and no test waits on real time.

mod dedupe_support;

use std::time::Duration;

use dedupe_support::*;
use rocketmq_sdk::dedupe::memory::{ManualClock, MemoryGuard};
use rocketmq_sdk::dedupe::{Claim, DedupeGuard};

/// Guards sharing one store: "consumers" of one process, with the asked settings.
fn backend() -> Backend<MemoryGuard> {
    let store = MemoryGuard::new();
    Backend::new("memory", Duration::from_secs(30), move |opts: Opts| {
        let mut b = MemoryGuard::builder().lease(opts.lease).shared_with(&store);
        if let Some(r) = opts.renew {
            b = b.renew_interval(r);
        }
        let g = b.build().unwrap();
        Box::pin(async move { g })
    })
}

#[tokio::test(start_paused = true)]
async fn duplicate_after_success_is_acked_without_running() {
    dedupe_support::duplicate_after_success_is_acked_without_running(&backend()).await;
}

#[tokio::test(start_paused = true)]
async fn duplicate_while_running_is_retried_not_dropped() {
    dedupe_support::duplicate_while_running_is_retried_not_dropped(&backend()).await;
}

#[tokio::test(start_paused = true)]
async fn failed_handler_releases_the_key() {
    dedupe_support::failed_handler_releases_the_key(&backend()).await;
}

#[tokio::test(start_paused = true)]
async fn killed_consumers_claim_is_taken_over_after_the_lease() {
    dedupe_support::killed_consumers_claim_is_taken_over_after_the_lease(&backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_consumers_run_each_handler_once() {
    dedupe_support::racing_consumers_run_each_handler_once(&backend()).await;
}

#[tokio::test(start_paused = true)]
async fn long_handler_is_not_run_twice() {
    dedupe_support::long_handler_is_not_run_twice(&backend()).await;
}

#[tokio::test(start_paused = true)]
async fn stale_token_cannot_complete_or_release() {
    dedupe_support::stale_token_cannot_complete_or_release(&backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_effect_under_duplicates() {
    dedupe_support::exactly_once_effect_under_duplicates(&backend()).await;
}

/// The injectable clock: expiry and retention follow a manual clock exactly.
#[tokio::test]
async fn manual_clock_drives_expiry_and_retention() {
    let clock = ManualClock::new();
    let g = MemoryGuard::builder()
        .lease(Duration::from_secs(10))
        .retention(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    let k = key("clocked");
    let Claim::Proceed(first) = g.begin(&k).await.unwrap() else {
        panic!()
    };
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(g.begin(&k).await.unwrap(), Claim::InProgress);
    g.renew(&first).await.unwrap(); // expires at 19.999 s now
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(g.begin(&k).await.unwrap(), Claim::InProgress);
    clock.advance(Duration::from_millis(1));
    let Claim::Proceed(second) = g.begin(&k).await.unwrap() else {
        panic!("expired claim not taken over")
    };
    assert!(g.complete(&first).await.unwrap_err().is_lease_lost());
    g.complete(&second).await.unwrap();
    clock.advance(Duration::from_millis(59_999));
    assert_eq!(g.begin(&k).await.unwrap(), Claim::AlreadyConsumed);
    assert_eq!(g.cleanup(), 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(g.cleanup(), 1);
    assert!(matches!(g.begin(&k).await.unwrap(), Claim::Proceed(_)));
}
