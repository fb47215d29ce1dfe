//! The dedupe conformance suite: scenarios every guard must pass, generic over the backend.
//!
//! A [`Backend`] makes guards ("consumers"): every guard it makes shares the backend's
//! namespace (Redis prefix, SQL table) but has its own connection, like separate consumer
//! processes. Time-dependent scenarios use short real leases and condition waits; the
//! memory backend runs them on tokio's paused clock, which its guard reads.
#![allow(dead_code, clippy::print_stderr)]

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rocketmq_sdk::dedupe::{
    Claim, ConsumeOutcome, DedupeGuard, DedupeKey, Deduplicator, Lease, RetryReason,
};
use tokio::sync::{Barrier, Notify};
use tokio::time::Instant;

mod service;
// Not every binary that includes the suite needs a service (dedupe_memory does not).
#[allow(unused_imports)]
pub use service::service_url;

/// Settings of a guard a scenario asks for.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub lease: Duration,
    /// `None`: the default (lease/3).
    pub renew: Option<Duration>,
}

/// Renewal effectively off: longer than any test.
pub const NO_RENEWAL: Duration = Duration::from_secs(3600);

/// Makes guards on one shared namespace.
pub struct Backend<G> {
    pub name: &'static str,
    /// The lease time-dependent scenarios use.
    pub lease: Duration,
    make: Box<dyn Fn(Opts) -> BoxFuture<'static, G> + Send + Sync>,
}

impl<G: DedupeGuard + Clone> Backend<G> {
    pub fn new(
        name: &'static str,
        lease: Duration,
        make: impl Fn(Opts) -> BoxFuture<'static, G> + Send + Sync + 'static,
    ) -> Self {
        Backend {
            name,
            lease,
            make: Box::new(make),
        }
    }

    /// A guard with the backend's lease and default renewal.
    pub async fn guard(&self) -> G {
        self.guard_with(Opts {
            lease: self.lease,
            renew: None,
        })
        .await
    }

    pub async fn guard_with(&self, opts: Opts) -> G {
        (self.make)(opts).await
    }
}

/// Logs (warnings and up, or `RUST_LOG`) to the test output.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// A random lowercase hex suffix for per-test names.
pub fn suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xFFFF_FFFF_FFFF)
}

pub const GROUP: &str = "CID_dedupe_test";

pub fn key(k: &str) -> DedupeKey {
    DedupeKey::new(GROUP, k).unwrap()
}

pub fn dedupe<G: DedupeGuard>(g: G) -> Deduplicator {
    Deduplicator::builder(g, GROUP).build().unwrap()
}

async fn claim<G: DedupeGuard>(g: &G, k: &DedupeKey) -> Claim {
    g.begin(k).await.expect("begin")
}

fn proceed(c: Claim) -> Lease {
    match c {
        Claim::Proceed(l) => l,
        other => panic!("expected Proceed, got {other:?}"),
    }
}

/// Polls `begin` until it claims the key, or panics after `limit`.
async fn wait_for_takeover<G: DedupeGuard>(g: &G, k: &DedupeKey, limit: Duration) -> Lease {
    let deadline = Instant::now() + limit;
    loop {
        if let Claim::Proceed(l) = claim(g, k).await {
            return l;
        }
        assert!(Instant::now() < deadline, "claim on {k} never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Outcome = ConsumeOutcome<&'static str>;

// ---------------------------------------------------------------------------------------
// The four semantics
// ---------------------------------------------------------------------------------------

/// First delivery runs the handler; a duplicate after success is acknowledged unrun.
pub async fn duplicate_after_success_is_acked_without_running<G: DedupeGuard + Clone>(
    b: &Backend<G>,
) {
    let d = dedupe(b.guard().await);
    let runs = AtomicU32::new(0);
    let k = key("success");
    let handler = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, &'static str>(())
    };
    let first: Outcome = d.run(&k, handler).await;
    assert!(matches!(first, ConsumeOutcome::Consumed), "{first:?}");
    // Another consumer (own connection) sees it consumed too.
    let d2 = dedupe(b.guard().await);
    for _ in 0..3 {
        let again: Outcome = d2.run(&k, handler).await;
        assert!(
            matches!(again, ConsumeOutcome::AlreadyConsumed),
            "{again:?}"
        );
        assert!(again.is_ack());
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A duplicate while the first delivery runs is retried later: not dropped, not run.
pub async fn duplicate_while_running_is_retried_not_dropped<G: DedupeGuard + Clone>(
    b: &Backend<G>,
) {
    let a = dedupe(b.guard().await);
    let other = dedupe(b.guard().await);
    let k = key("running");
    let runs = Arc::new(AtomicU32::new(0));
    let started = Arc::new(Notify::new());
    let finish = Arc::new(Notify::new());
    let first = {
        let (runs, started, finish, k) = (runs.clone(), started.clone(), finish.clone(), k.clone());
        tokio::spawn(async move {
            a.run(&k, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                started.notify_one();
                finish.notified().await;
                Ok::<_, &'static str>(())
            })
            .await
        })
    };
    started.notified().await;
    let dup: Outcome = other
        .run(&k, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(
        matches!(dup, ConsumeOutcome::RetryLater(RetryReason::InProgress)),
        "{dup:?}"
    );
    assert!(
        !dup.is_ack(),
        "a duplicate in progress must not be acknowledged"
    );
    finish.notify_one();
    let first = first.await.unwrap();
    assert!(matches!(first, ConsumeOutcome::Consumed), "{first:?}");
    // The redelivery of the duplicate is acknowledged without running.
    let redelivered: Outcome = other
        .run(&k, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(matches!(redelivered, ConsumeOutcome::AlreadyConsumed));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A failed handler releases the key: the retry runs it again.
pub async fn failed_handler_releases_the_key<G: DedupeGuard + Clone>(b: &Backend<G>) {
    let d = dedupe(b.guard().await);
    let k = key("fails-once");
    let attempts = AtomicU32::new(0);
    let handler = || async {
        if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            Err("first attempt fails")
        } else {
            Ok(())
        }
    };
    let first: Outcome = d.run(&k, handler).await;
    assert!(
        matches!(first, ConsumeOutcome::Failed("first attempt fails")),
        "{first:?}"
    );
    // Released at once: no lease wait before the retry runs.
    let retry: Outcome = d.run(&k, handler).await;
    assert!(matches!(retry, ConsumeOutcome::Consumed), "{retry:?}");
    let third: Outcome = d.run(&k, handler).await;
    assert!(matches!(third, ConsumeOutcome::AlreadyConsumed));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);

    // A panicking handler releases too (and the panic propagates).
    let k = key("panics");
    let d2 = d.clone();
    let k2 = k.clone();
    let panicked = tokio::spawn(async move {
        d2.run(&k2, || async {
            panic!("handler bug");
            #[allow(unreachable_code)]
            Ok::<_, &'static str>(())
        })
        .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    let after: Outcome = d.run(&k, || async { Ok(()) }).await;
    assert!(matches!(after, ConsumeOutcome::Consumed), "{after:?}");
}

/// A claim left by a killed consumer blocks duplicates until the lease ends, then the next
/// delivery takes it over.
pub async fn killed_consumers_claim_is_taken_over_after_the_lease<G: DedupeGuard + Clone>(
    b: &Backend<G>,
) {
    let killed = b.guard().await;
    let survivor = b.guard().await;
    let k = key("killed");
    let started = Instant::now();
    // The killed consumer claimed and then vanished: no renewal, no release.
    let _abandoned = proceed(claim(&killed, &k).await);
    drop(killed);
    assert_eq!(claim(&survivor, &k).await, Claim::InProgress);
    let lease = wait_for_takeover(&survivor, &k, b.lease * 20).await;
    let waited = started.elapsed();
    assert!(
        waited >= b.lease.mul_f64(0.9),
        "taken over after {waited:?}, before the lease ({:?}) ended",
        b.lease
    );
    survivor.complete(&lease).await.unwrap();
    assert_eq!(claim(&survivor, &k).await, Claim::AlreadyConsumed);
}

// ---------------------------------------------------------------------------------------
// Races, renewal, fencing
// ---------------------------------------------------------------------------------------

/// Two consumers racing on the same keys: each handler runs once.
pub async fn racing_consumers_run_each_handler_once<G: DedupeGuard + Clone>(b: &Backend<G>) {
    const KEYS: usize = 40;
    let consumers = [dedupe(b.guard().await), dedupe(b.guard().await)];
    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..KEYS).map(|_| AtomicU32::new(0)).collect());
    let in_progress = Arc::new(AtomicU32::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for d in consumers {
        let (runs, barrier, in_progress) = (runs.clone(), barrier.clone(), in_progress.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..KEYS {
                let k = key(&format!("race-{i}"));
                barrier.wait().await;
                loop {
                    let o: Outcome = d
                        .run(&k, || async {
                            runs[i].fetch_add(1, Ordering::SeqCst);
                            // Hold the claim across a few scheduler turns.
                            for _ in 0..5 {
                                tokio::task::yield_now().await;
                            }
                            Ok(())
                        })
                        .await;
                    match o {
                        ConsumeOutcome::Consumed | ConsumeOutcome::AlreadyConsumed => break,
                        ConsumeOutcome::RetryLater(RetryReason::InProgress) => {
                            in_progress.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::SeqCst), 1, "key race-{i} ran {r:?} times");
    }
    eprintln!(
        "{}: race: {} in-progress retries",
        b.name,
        in_progress.load(Ordering::Relaxed)
    );
}

/// A handler that outlives the initial lease keeps its claim (renewal): a duplicate polled
/// for three lease periods never runs. Control: with renewal off, the duplicate does take
/// the key over after one lease — so the first half fails if renewal breaks.
pub async fn long_handler_is_not_run_twice<G: DedupeGuard + Clone>(b: &Backend<G>) {
    let lease = b.lease;
    let slow = dedupe(b.guard().await);
    let dup = dedupe(b.guard().await);
    let k = key("long");
    let runs = Arc::new(AtomicU32::new(0));
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let first = {
        let (runs, release, started, k) =
            (runs.clone(), release.clone(), started.clone(), k.clone());
        tokio::spawn(async move {
            slow.run(&k, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                started.notify_one();
                release.notified().await;
                Ok::<_, &'static str>(())
            })
            .await
        })
    };
    started.notified().await;
    let t0 = Instant::now();
    let mut polls = 0;
    while t0.elapsed() < lease * 3 {
        let o: Outcome = dup
            .run(&k, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(
            matches!(o, ConsumeOutcome::RetryLater(RetryReason::InProgress)),
            "after {:?} of a {lease:?} lease the duplicate got {o:?}",
            t0.elapsed()
        );
        polls += 1;
        tokio::time::sleep(lease / 5).await;
    }
    assert!(polls >= 10);
    release.notify_one();
    assert!(matches!(first.await.unwrap(), ConsumeOutcome::Consumed));
    let o: Outcome = dup.run(&k, || async { Ok(()) }).await;
    assert!(matches!(o, ConsumeOutcome::AlreadyConsumed));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Control: the same without renewal admits the duplicate after one lease.
    let unrenewed = b
        .guard_with(Opts {
            lease,
            renew: Some(NO_RENEWAL),
        })
        .await;
    let k = key("long-unrenewed");
    let _held = proceed(claim(&unrenewed, &k).await);
    let took_over = wait_for_takeover(&b.guard().await, &k, lease * 20).await;
    assert_ne!(took_over.token(), _held.token());
}

/// A stale holder (its claim expired and was taken over) can neither renew, complete nor
/// release; nor can a forged token. The new holder's claim is unaffected.
pub async fn stale_token_cannot_complete_or_release<G: DedupeGuard + Clone>(b: &Backend<G>) {
    let stale = b
        .guard_with(Opts {
            lease: b.lease,
            renew: Some(NO_RENEWAL),
        })
        .await;
    let fresh = b.guard().await;
    let observer = b.guard().await;
    let k = key("fenced");
    let old = proceed(claim(&stale, &k).await);
    let new = wait_for_takeover(&fresh, &k, b.lease * 20).await;
    assert_ne!(old.token(), new.token());

    assert!(stale.renew(&old).await.unwrap_err().is_lease_lost());
    assert!(stale.release(&old).await.unwrap_err().is_lease_lost());
    assert!(stale.complete(&old).await.unwrap_err().is_lease_lost());
    let forged = Lease::new(k.clone(), "forged-token", b.lease);
    assert!(
        observer
            .complete(&forged)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(observer.release(&forged).await.unwrap_err().is_lease_lost());
    assert!(observer.renew(&forged).await.unwrap_err().is_lease_lost());
    // The new claim is intact: still in progress, not released, not consumed.
    assert_eq!(claim(&observer, &k).await, Claim::InProgress);

    fresh.renew(&new).await.unwrap();
    fresh.complete(&new).await.unwrap();
    fresh.complete(&new).await.unwrap(); // repeated complete: idempotent
    assert_eq!(claim(&observer, &k).await, Claim::AlreadyConsumed);
    // Nobody can release a consumed key, not even its holder.
    assert!(fresh.release(&new).await.unwrap_err().is_lease_lost());
    assert!(stale.release(&old).await.unwrap_err().is_lease_lost());
    assert_eq!(claim(&observer, &k).await, Claim::AlreadyConsumed);
}

// ---------------------------------------------------------------------------------------
// Exactly-once effect under duplicated deliveries
// ---------------------------------------------------------------------------------------

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `messages` ids with ~`dup_percent`% delivered twice, duplicates close to their
/// original (so they often overlap in flight).
pub fn deliveries(messages: usize, dup_percent: u64, seed: u64) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(messages * (100 + dup_percent as usize) / 100);
    for id in 0..messages {
        out.push(id);
        if rng.below(100) < dup_percent {
            out.push(id);
        }
    }
    let n = out.len();
    for i in 0..n {
        let j = (i + rng.below(24) as usize).min(n - 1);
        out.swap(i, j);
    }
    out
}

/// Tallies of an exactly-once run.
#[derive(Debug, Default)]
pub struct Tally {
    pub deliveries: usize,
    pub consumed: AtomicUsize,
    pub already: AtomicUsize,
    pub in_progress: AtomicUsize,
    pub failed: AtomicUsize,
    pub backend: AtomicUsize,
}

/// Delivers `ids` through `consumers` (each served by `workers` tasks), redelivering
/// whatever is not acknowledged, until every delivery is acknowledged. `run` runs one
/// delivery (id, attempt number of that delivery) on a consumer.
pub async fn deliver_all<C, F>(
    ids: Vec<usize>,
    consumers: Vec<C>,
    workers: usize,
    run: F,
) -> Arc<Tally>
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, usize, u32) -> BoxFuture<'static, ConsumeOutcome<String>> + Send + Sync + 'static,
{
    let tally = Arc::new(Tally {
        deliveries: ids.len(),
        ..Tally::default()
    });
    let queue: Arc<Mutex<VecDeque<(usize, u32)>>> =
        Arc::new(Mutex::new(ids.into_iter().map(|id| (id, 0)).collect()));
    let pending = Arc::new(AtomicUsize::new(tally.deliveries));
    let run = Arc::new(run);
    let mut tasks = Vec::new();
    for c in consumers {
        for _ in 0..workers {
            let (c, queue, pending, run, tally) = (
                c.clone(),
                queue.clone(),
                pending.clone(),
                run.clone(),
                tally.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(300);
                while pending.load(Ordering::SeqCst) > 0 {
                    assert!(Instant::now() < deadline, "deliveries did not finish");
                    let next = queue.lock().unwrap().pop_front();
                    let Some((id, attempt)) = next else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    let outcome = run(c.clone(), id, attempt).await;
                    let counter = match &outcome {
                        ConsumeOutcome::Consumed => &tally.consumed,
                        ConsumeOutcome::AlreadyConsumed => &tally.already,
                        ConsumeOutcome::RetryLater(RetryReason::InProgress) => &tally.in_progress,
                        ConsumeOutcome::Failed(_) => &tally.failed,
                        _ => &tally.backend,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if outcome.is_ack() {
                        pending.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        // Redelivered later, like RocketMQ's retry topic.
                        queue.lock().unwrap().push_back((id, attempt + 1));
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    tally
}

/// 10,000 messages, ~30% delivered twice, over 4 consumers × 4 workers, 5% of first
/// attempts failing before any effect: the side effect happens exactly 10,000 times, once
/// per message.
pub async fn exactly_once_effect_under_duplicates<G: DedupeGuard + Clone>(b: &Backend<G>) {
    const MESSAGES: usize = 10_000;
    init_tracing();
    let ids = deliveries(MESSAGES, 30, 0x5EED);
    let dups = ids.len() - MESSAGES;
    assert!((2_700..3_300).contains(&dups), "{dups} duplicates");
    let effects: Arc<Vec<AtomicU32>> = Arc::new((0..MESSAGES).map(|_| AtomicU32::new(0)).collect());
    let mut consumers = Vec::new();
    for _ in 0..4 {
        consumers.push(dedupe(b.guard().await));
    }
    let started = std::time::Instant::now();
    let fx = effects.clone();
    let tally = deliver_all(ids, consumers, 4, move |d: Deduplicator, id, attempt| {
        let fx = fx.clone();
        Box::pin(async move {
            let k = key(&format!("eo-{id}"));
            d.run(&k, || async {
                if attempt == 0 && id % 20 == 7 {
                    return Err(format!("injected failure of {id}"));
                }
                fx[id].fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await
        })
    })
    .await;
    let total: u64 = effects
        .iter()
        .map(|e| u64::from(e.load(Ordering::SeqCst)))
        .sum();
    let not_once: Vec<usize> = (0..MESSAGES)
        .filter(|&i| effects[i].load(Ordering::SeqCst) != 1)
        .take(10)
        .collect();
    eprintln!(
        "{}: exactly-once: {} deliveries ({dups} duplicates) in {:?}: consumed {}, already {}, in-progress retries {}, failed {}, backend {}",
        b.name,
        tally.deliveries,
        started.elapsed(),
        tally.consumed.load(Ordering::Relaxed),
        tally.already.load(Ordering::Relaxed),
        tally.in_progress.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.backend.load(Ordering::Relaxed),
    );
    assert!(
        not_once.is_empty(),
        "messages without exactly one effect: {not_once:?}"
    );
    assert_eq!(total, MESSAGES as u64);
    assert_eq!(tally.consumed.load(Ordering::Relaxed), MESSAGES);
    assert_eq!(tally.already.load(Ordering::Relaxed), dups);
    assert!(tally.failed.load(Ordering::Relaxed) >= MESSAGES / 20 - 10);
}

/// Counts calls, for handlers shared across tasks.
pub fn counter() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(0))
}
