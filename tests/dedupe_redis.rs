//! The Redis guard against the server in `REDIS_URL` (without it, or with a server that
//! does not answer, each test prints `SKIPPED (not run): … needs REDIS_URL` on the terminal;
//! with `CI` set it fails). Every test uses its own key prefix.

mod dedupe_support;

use std::time::Duration;

use dedupe_support::*;
use rocketmq_sdk::dedupe::redis::RedisGuard;
use rocketmq_sdk::dedupe::redis::client::aio::ConnectionManager;
use rocketmq_sdk::dedupe::{Claim, ConsumeOutcome, DedupeGuard, RetryReason};

const LEASE: Duration = Duration::from_millis(1000);

struct Fixture {
    backend: Backend<RedisGuard>,
    prefix: String,
    url: String,
}

async fn fixture() -> Option<Fixture> {
    let url = service_url("REDIS_URL")?;
    init_tracing();
    let prefix = format!("test:dedupe:{}:", suffix());
    let (u, p) = (url.clone(), prefix.clone());
    let backend = Backend::new("redis", LEASE, move |opts: Opts| {
        let (u, p) = (u.clone(), p.clone());
        Box::pin(async move {
            let mut b = RedisGuard::connect(&u)
                .await
                .expect("connect")
                .prefix(p)
                .lease(opts.lease)
                .retention(Duration::from_secs(600));
            if let Some(r) = opts.renew {
                b = b.renew_interval(r);
            }
            b.build().unwrap()
        })
    });
    Some(Fixture {
        backend,
        prefix,
        url,
    })
}

impl Fixture {
    async fn conn(&self) -> ConnectionManager {
        rocketmq_sdk::dedupe::redis::client::Client::open(self.url.as_str())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap()
    }

    /// Deletes the test's keys.
    async fn teardown(self) {
        let mut conn = self.conn().await;
        let keys: Vec<String> = rocketmq_sdk::dedupe::redis::client::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = rocketmq_sdk::dedupe::redis::client::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

macro_rules! scenario {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(fx) = fixture().await else { return };
            dedupe_support::$name(&fx.backend).await;
            fx.teardown().await;
        }
    };
}

scenario!(duplicate_after_success_is_acked_without_running);
scenario!(duplicate_while_running_is_retried_not_dropped);
scenario!(failed_handler_releases_the_key);
scenario!(killed_consumers_claim_is_taken_over_after_the_lease);
scenario!(racing_consumers_run_each_handler_once);
scenario!(long_handler_is_not_run_twice);
scenario!(stale_token_cannot_complete_or_release);
scenario!(exactly_once_effect_under_duplicates);

/// Claims live for the lease, consumed records for the retention: Redis TTLs, the value
/// carrying status and token.
#[tokio::test]
async fn ttls_follow_lease_and_retention() {
    let Some(fx) = fixture().await else { return };
    let g = fx.backend.guard().await;
    let k = key("ttl");
    let rkey = g.redis_key(&k);
    let mut conn = fx.conn().await;
    let Claim::Proceed(lease) = g.begin(&k).await.unwrap() else {
        panic!()
    };
    let pttl: i64 = rocketmq_sdk::dedupe::redis::client::cmd("PTTL")
        .arg(&rkey)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 1000, "claim TTL {pttl} ms");
    let value: String = rocketmq_sdk::dedupe::redis::client::cmd("GET")
        .arg(&rkey)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, format!("CONSUMING:{}", lease.token()));
    g.complete(&lease).await.unwrap();
    let pttl: i64 = rocketmq_sdk::dedupe::redis::client::cmd("PTTL")
        .arg(&rkey)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 590_000 && pttl <= 600_000, "record TTL {pttl} ms");
    let value: String = rocketmq_sdk::dedupe::redis::client::cmd("GET")
        .arg(&rkey)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, format!("CONSUMED:{}", lease.token()));
    fx.teardown().await;
}

/// A Redis error (here WRONGTYPE: a hash where the record should be) fails closed: the
/// handler does not run and the delivery is retried later.
#[tokio::test]
async fn backend_errors_fail_closed() {
    let Some(fx) = fixture().await else { return };
    let g = fx.backend.guard().await;
    let k = key("wrongtype");
    let mut conn = fx.conn().await;
    let _: i64 = rocketmq_sdk::dedupe::redis::client::cmd("HSET")
        .arg(g.redis_key(&k))
        .arg("f")
        .arg("v")
        .query_async(&mut conn)
        .await
        .unwrap();
    let d = dedupe(g);
    let mut ran = false;
    let o: ConsumeOutcome<()> = d
        .run(&k, || {
            ran = true;
            async { Ok(()) }
        })
        .await;
    assert!(
        matches!(o, ConsumeOutcome::RetryLater(RetryReason::Backend(_))),
        "{o:?}"
    );
    assert!(!ran, "the handler ran although the guard could not answer");
    fx.teardown().await;
}
