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

// ---------------------------------------------------------------------------------------
// The runner: fail-closed, keys, batches, cancellation
// ---------------------------------------------------------------------------------------

mod runner {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use rocketmq_sdk::dedupe::memory::MemoryGuard;
    use rocketmq_sdk::dedupe::{
        Claim, ConsumeOutcome, DedupeError, DedupeGuard, DedupeKey, Deduplicator, KeySource, Lease,
        MissingKeyPolicy, RetryReason, async_trait,
    };
    use rocketmq_sdk::protocol::message::{Message, MessageExt};

    use super::dedupe_support::GROUP;

    /// A guard whose backend is down (or hangs).
    #[derive(Debug)]
    struct Broken {
        hang: bool,
        inner: MemoryGuard,
        fail_complete: bool,
    }

    #[async_trait]
    impl DedupeGuard for Broken {
        fn lease_duration(&self) -> Duration {
            Duration::from_secs(30)
        }
        async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
            if self.fail_complete {
                return self.inner.begin(key).await;
            }
            if self.hang {
                futures::future::pending::<()>().await;
            }
            Err(DedupeError::Backend("connection refused".into()))
        }
        async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
            self.inner.renew(lease).await
        }
        async fn complete(&self, _: &Lease) -> Result<(), DedupeError> {
            Err(DedupeError::Backend("connection reset".into()))
        }
        async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
            self.inner.release(lease).await
        }
    }

    fn msg(topic: &str, uniq: &str) -> MessageExt {
        let mut m = MessageExt::from(Message::new(topic, "payload"));
        m.set_uniq_key(uniq);
        m
    }

    type Outcome = ConsumeOutcome<&'static str>;

    #[tokio::test(start_paused = true)]
    async fn backend_errors_and_timeouts_fail_closed() {
        let runs = AtomicU32::new(0);
        let handler = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        for hang in [false, true] {
            let d = Deduplicator::builder(
                Broken {
                    hang,
                    inner: MemoryGuard::new(),
                    fail_complete: false,
                },
                GROUP,
            )
            .op_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
            let o: Outcome = d.run_message(&msg("orders", "U1"), handler).await;
            match o {
                ConsumeOutcome::RetryLater(RetryReason::Backend(e)) => {
                    assert!(e.is_backend());
                    assert_eq!(hang, matches!(e, DedupeError::Timeout(_)), "{e}");
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    /// Once the handler succeeded, a failing marker write does not turn into a retry (which
    /// could only run the handler again): the delivery is acknowledged, after the
    /// configured attempts.
    #[tokio::test(start_paused = true)]
    async fn marker_write_failure_after_success_still_acks() {
        let d = Deduplicator::builder(
            Broken {
                hang: false,
                inner: MemoryGuard::new(),
                fail_complete: true,
            },
            GROUP,
        )
        .complete_attempts(3)
        .build()
        .unwrap();
        let runs = AtomicU32::new(0);
        let o: Outcome = d
            .run_message(&msg("orders", "U1"), || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(matches!(o, ConsumeOutcome::Consumed), "{o:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keys_are_namespaced_by_group_and_topic() {
        let store = MemoryGuard::new();
        let by_group = |g: &str| Deduplicator::builder(store.clone(), g).build().unwrap();
        let runs = AtomicU32::new(0);
        let handler = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let billing = by_group("billing");
        let shipping = by_group("shipping");
        let m = msg("orders", "U1");
        assert_eq!(billing.key_for(&m).unwrap().key(), "orders:U1");
        let o: Outcome = billing.run_message(&m, handler).await;
        assert!(matches!(o, ConsumeOutcome::Consumed));
        // Another group consumes the same message independently.
        let o: Outcome = shipping.run_message(&m, handler).await;
        assert!(matches!(o, ConsumeOutcome::Consumed));
        // Same UNIQ_KEY on another topic: another message.
        let o: Outcome = billing.run_message(&msg("refunds", "U1"), handler).await;
        assert!(matches!(o, ConsumeOutcome::Consumed));
        // A retry (topic %RETRY%billing, RETRY_TOPIC=orders) is the same message.
        let mut retry = msg("%RETRY%billing", "U1");
        retry.put_property("RETRY_TOPIC", "orders");
        let o: Outcome = billing.run_message(&retry, handler).await;
        assert!(matches!(o, ConsumeOutcome::AlreadyConsumed), "{o:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // Without topic namespacing the key is the bare UNIQ_KEY.
        let flat = Deduplicator::builder(store.clone(), "flat")
            .namespace_by_topic(false)
            .build()
            .unwrap();
        assert_eq!(flat.key_for(&m).unwrap().key(), "U1");
        let o: Outcome = flat.run_message(&m, handler).await;
        assert!(matches!(o, ConsumeOutcome::Consumed));
        let o: Outcome = flat.run_message(&msg("refunds", "U1"), handler).await;
        assert!(matches!(o, ConsumeOutcome::AlreadyConsumed));
    }

    #[tokio::test]
    async fn keys_and_custom_extractors_and_missing_keys() {
        let store = MemoryGuard::new();
        let runs = AtomicU32::new(0);
        let handler = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        // KEYS: two sends of one business key (different UNIQ_KEYs) are one message.
        let by_keys = Deduplicator::builder(store.clone(), "by-keys")
            .key_source(KeySource::Keys)
            .build()
            .unwrap();
        let mut a = msg("orders", "U1");
        a.set_keys(["order-42"]);
        let mut b = msg("orders", "U2");
        b.set_keys(["order-42"]);
        assert!(matches!(
            by_keys.run_message(&a, handler).await,
            Outcome::Consumed
        ));
        assert!(matches!(
            by_keys.run_message(&b, handler).await,
            Outcome::AlreadyConsumed
        ));
        // A payload field.
        let by_body = Deduplicator::builder(store.clone(), "by-body")
            .key_source(KeySource::custom(|m| {
                let body = std::str::from_utf8(&m.body).ok()?;
                body.strip_prefix("order=").map(str::to_owned)
            }))
            .build()
            .unwrap();
        let mut c = msg("orders", "U3");
        c.body = "order=77".into();
        let mut d = msg("orders", "U4");
        d.body = "order=77".into();
        assert_eq!(by_body.key_for(&c).unwrap().key(), "orders:77");
        assert!(matches!(
            by_body.run_message(&c, handler).await,
            Outcome::Consumed
        ));
        assert!(matches!(
            by_body.run_message(&d, handler).await,
            Outcome::AlreadyConsumed
        ));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // No key: retried (fail closed) by default, or run unguarded if asked.
        let no_keys = msg("orders", "U5");
        let o = by_keys.run_message(&no_keys, handler).await;
        assert!(
            matches!(o, Outcome::RetryLater(RetryReason::InvalidKey(_))),
            "{o:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let lenient = Deduplicator::builder(store.clone(), "lenient")
            .key_source(KeySource::Keys)
            .missing_key(MissingKeyPolicy::RunUnguarded)
            .build()
            .unwrap();
        assert!(matches!(
            lenient.run_message(&no_keys, handler).await,
            Outcome::Consumed
        ));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(Deduplicator::builder(store, "bad group").build().is_err());
    }

    /// A batch stops at the first failure; the consumed prefix is acknowledged without
    /// running when the batch comes back.
    #[tokio::test]
    async fn batch_stops_at_first_failure_and_skips_consumed_prefix_on_retry() {
        let d = Deduplicator::builder(MemoryGuard::new(), GROUP)
            .build()
            .unwrap();
        let batch: Vec<MessageExt> = (0..5).map(|i| msg("orders", &format!("B{i}"))).collect();
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = calls.clone();
        let first = d
            .run_batch(&batch, |m| {
                let c = c.clone();
                async move {
                    let id = m.uniq_key().unwrap().to_owned();
                    c.lock().unwrap().push(id.clone());
                    if id == "B2" { Err("B2 failed") } else { Ok(()) }
                }
            })
            .await;
        assert!(!first.is_ack());
        assert_eq!(first.acked(), 2);
        assert_eq!(first.outcomes().len(), 3, "stopped at the failure");
        assert!(matches!(
            first.failure(),
            Some(ConsumeOutcome::Failed("B2 failed"))
        ));
        assert_eq!(*calls.lock().unwrap(), ["B0", "B1", "B2"]);
        calls.lock().unwrap().clear();
        let c = calls.clone();
        let retry = d
            .run_batch(&batch, |m| {
                let c = c.clone();
                async move {
                    c.lock().unwrap().push(m.uniq_key().unwrap().to_owned());
                    Ok::<_, &'static str>(())
                }
            })
            .await;
        assert!(retry.is_ack());
        assert_eq!(*calls.lock().unwrap(), ["B2", "B3", "B4"]);
        let outcomes = retry.into_outcomes();
        assert!(matches!(outcomes[0], ConsumeOutcome::AlreadyConsumed));
        assert!(matches!(outcomes[2], ConsumeOutcome::Consumed));
    }

    /// A run dropped mid-handler (e.g. the consumer's consume timeout) releases its claim
    /// at once instead of blocking the key for a lease.
    #[tokio::test(start_paused = true)]
    async fn cancelled_run_releases_its_claim() {
        let g = MemoryGuard::new(); // 30 s lease
        let d = Deduplicator::builder(g.clone(), GROUP).build().unwrap();
        let m = msg("orders", "C1");
        let k = d.key_for(&m).unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_secs(1),
            d.run_message(&m, || {
                futures::future::pending::<Result<(), &'static str>>()
            }),
        )
        .await;
        assert!(cancelled.is_err());
        let freed = rocketmq_suite::wait_until(Duration::from_secs(2), || {
            let g = g.clone();
            let k = k.clone();
            async move { matches!(g.begin(&k).await.unwrap(), Claim::Proceed(_)) }
        })
        .await;
        assert!(
            freed,
            "the claim of a cancelled run stayed until the lease expired"
        );
    }
}
