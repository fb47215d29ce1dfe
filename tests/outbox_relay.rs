//! The transactional outbox against the embedded broker over loopback and real databases.
//!
//! Every scenario runs on SQLite (a temporary file) always, and on PostgreSQL and
//! MySQL/MariaDB when `POSTGRES_URL` / `MYSQL_URL` are set. Without a URL (or with a
//! server that does not answer) the test prints `SKIPPED (not run): … needs …` on the
//! terminal and passes, except when `CI` is set: then it fails. Each run uses its own
//! tables (unique names), dropped at the end.

#[path = "dedupe_support/service.rs"]
mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::outbox::sqlx::{self, MySql, Pool, Postgres, Sqlite};
use rocketmq_sdk::outbox::{
    Backoff, IntoOutboxMessage, Outbox, OutboxDatabase, OutboxError, OutboxRecord, OutboxRelay,
    OutboxRelayBuilder, OutboxStatus,
};
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::message::Message;
use rocketmq_sdk::{Client, Producer};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Databases

/// What a scenario needs from a database beyond the outbox: a business table to change in
/// the same transaction.
trait TestDb: OutboxDatabase {
    /// The environment variable holding the URL; `None` for SQLite (always available).
    const URL_VAR: Option<&'static str>;

    fn connect(url: &str) -> impl Future<Output = Pool<Self>>;
    fn create_business_table(pool: &Pool<Self>, table: &str) -> impl Future<Output = ()>;
    fn insert_business_row(
        conn: &mut Self::Connection,
        table: &str,
        note: &str,
    ) -> impl Future<Output = ()>;
    fn count_business_rows(pool: &Pool<Self>, table: &str) -> impl Future<Output = i64>;
    fn drop_table(pool: &Pool<Self>, table: &str) -> impl Future<Output = ()>;
}

impl TestDb for Postgres {
    const URL_VAR: Option<&'static str> = Some("POSTGRES_URL");

    async fn connect(url: &str) -> Pool<Self> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(6)
            .connect(url)
            .await
            .expect("connect to PostgreSQL")
    }
    async fn create_business_table(pool: &Pool<Self>, table: &str) {
        sqlx::raw_sql(&format!(
            "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)"
        ))
        .execute(pool)
        .await
        .unwrap();
    }
    async fn insert_business_row(conn: &mut sqlx::PgConnection, table: &str, note: &str) {
        sqlx::query(&format!("INSERT INTO {table} (note) VALUES ($1)"))
            .bind(note)
            .execute(conn)
            .await
            .unwrap();
    }
    async fn count_business_rows(pool: &Pool<Self>, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }
    async fn drop_table(pool: &Pool<Self>, table: &str) {
        let _ = sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(pool)
            .await;
    }
}

impl TestDb for MySql {
    const URL_VAR: Option<&'static str> = Some("MYSQL_URL");

    async fn connect(url: &str) -> Pool<Self> {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(6)
            .connect(url)
            .await
            .expect("connect to MySQL/MariaDB")
    }
    async fn create_business_table(pool: &Pool<Self>, table: &str) {
        sqlx::raw_sql(&format!(
            "CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             note VARCHAR(255) NOT NULL) ENGINE=InnoDB"
        ))
        .execute(pool)
        .await
        .unwrap();
    }
    async fn insert_business_row(conn: &mut sqlx::MySqlConnection, table: &str, note: &str) {
        sqlx::query(&format!("INSERT INTO {table} (note) VALUES (?)"))
            .bind(note)
            .execute(conn)
            .await
            .unwrap();
    }
    async fn count_business_rows(pool: &Pool<Self>, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }
    async fn drop_table(pool: &Pool<Self>, table: &str) {
        let _ = sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(pool)
            .await;
    }
}

impl TestDb for Sqlite {
    const URL_VAR: Option<&'static str> = None;

    async fn connect(path: &str) -> Pool<Self> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(20));
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("open SQLite")
    }
    async fn create_business_table(pool: &Pool<Self>, table: &str) {
        sqlx::raw_sql(&format!(
            "CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"
        ))
        .execute(pool)
        .await
        .unwrap();
    }
    async fn insert_business_row(conn: &mut sqlx::SqliteConnection, table: &str, note: &str) {
        sqlx::query(&format!("INSERT INTO {table} (note) VALUES (?)"))
            .bind(note)
            .execute(conn)
            .await
            .unwrap();
    }
    async fn count_business_rows(pool: &Pool<Self>, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }
    async fn drop_table(_pool: &Pool<Self>, _table: &str) {
        // The file goes away with its temporary directory.
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// One scenario's database side: the outbox table and a business table.
struct Env<DB: TestDb> {
    url: String,
    pool: Pool<DB>,
    outbox: Outbox<DB>,
    business: String,
    _dir: Option<tempfile::TempDir>,
}

impl<DB: TestDb> Env<DB> {
    async fn new() -> Option<Env<DB>> {
        let (url, dir) = match DB::URL_VAR {
            Some(var) => (service::service_url(var)?, None),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("outbox.db");
                (path.to_str().unwrap().to_owned(), Some(dir))
            }
        };
        let pool = DB::connect(&url).await;
        let outbox = Outbox::with_table(pool.clone(), &unique("outbox")).unwrap();
        outbox.migrate().await.unwrap();
        // Idempotent.
        outbox.migrate().await.unwrap();
        let business = unique("business");
        DB::create_business_table(&pool, &business).await;
        Some(Env {
            url,
            pool,
            outbox,
            business,
            _dir: dir,
        })
    }

    /// The same table through a second pool, as a second relay process would see it.
    async fn second_outbox(&self) -> Outbox<DB> {
        let pool = DB::connect(&self.url).await;
        Outbox::with_table(pool, &self.outbox.table()).unwrap()
    }

    /// Enqueues `messages` in one business transaction that also inserts a business row,
    /// and commits or rolls back. Returns the row ids.
    async fn transact(&self, messages: Vec<Message>, commit: bool) -> Vec<i64> {
        let mut tx = self.pool.begin().await.unwrap();
        DB::insert_business_row(&mut *tx, &self.business, "order paid").await;
        let mut ids = Vec::new();
        for m in messages {
            ids.push(self.outbox.enqueue(&mut tx, m).await.unwrap());
        }
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        ids
    }

    async fn status(&self, id: i64) -> Option<OutboxStatus> {
        self.outbox.get(id).await.unwrap().map(|r| r.status)
    }

    async fn all_sent(&self, ids: &[i64]) -> bool {
        for &id in ids {
            if self.status(id).await != Some(OutboxStatus::Sent) {
                return false;
            }
        }
        true
    }

    async fn cleanup(self) {
        DB::drop_table(&self.pool, &self.outbox.table()).await;
        DB::drop_table(&self.pool, &self.business).await;
        self.pool.close().await;
    }
}

async fn run<DB, F, Fut>(scenario: F)
where
    DB: TestDb,
    F: FnOnce(Env<DB>) -> Fut,
    Fut: Future<Output = Env<DB>>,
{
    let Some(env) = Env::<DB>::new().await else {
        return;
    };
    let env = scenario(env).await;
    env.cleanup().await;
}

/// Instantiates a scenario once per database.
macro_rules! on_every_database {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(super::$scenario::<Sqlite>).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(super::$scenario::<Postgres>).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                run(super::$scenario::<MySql>).await;
            }
        }
    )*};
}

on_every_database!(
    rolled_back_transaction_sends_nothing,
    committed_messages_are_sent_exactly_once,
    broker_outage_delays_but_loses_nothing,
    failing_broker_parks_after_max_attempts_and_alerts_once,
    two_relays_share_a_table_without_duplicates,
    per_key_order_survives_retries,
    shutdown_finishes_the_round_in_flight,
);

// ---------------------------------------------------------------------------------------
// Broker side

async fn client_for(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .route_poll_interval(Duration::from_millis(200))
        .build()
        .await
        .unwrap()
}

/// A producer that does not retry by itself: every relay attempt is one broker request.
async fn producer(client: &Client) -> Producer {
    client
        .producer(unique("outbox-relay"))
        .retries(0)
        .start()
        .await
        .unwrap()
}

fn relay<DB: OutboxDatabase>(outbox: &Outbox<DB>, producer: Producer) -> OutboxRelayBuilder<DB> {
    outbox
        .relay(producer)
        .poll_interval(Duration::from_millis(100))
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .metrics_interval(Some(Duration::from_millis(200)))
}

fn message(topic: &str, body: &str) -> Message {
    Message::new(topic, body.to_owned())
}

fn keyed(topic: &str, key: &str, body: &str) -> Message {
    let mut m = message(topic, body);
    m.set_sharding_key(key);
    m
}

fn bodies(broker: &EmbeddedBroker, topic: &str) -> Vec<String> {
    broker
        .messages(topic)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// A rolled-back business transaction leaves neither the business row nor the message;
/// the relay, having demonstrably processed the table (a later committed marker is sent),
/// never sent it.
async fn rolled_back_transaction_sends_nothing<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let relay = relay(&env.outbox, producer(&client).await).start().unwrap();
    let topic = "outbox-rollback";

    let rolled_back = env
        .transact(vec![message(topic, "rolled back")], false)
        .await;
    assert_eq!(env.outbox.get(rolled_back[0]).await.unwrap(), None);
    let marker = env.transact(vec![message(topic, "marker")], true).await;
    relay.notify();
    assert!(wait_until(T, || env.all_sent(&marker)).await, "marker sent");

    assert_eq!(
        bodies(&broker, topic),
        ["marker"],
        "the rolled-back message never went out"
    );
    assert_eq!(DB::count_business_rows(&env.pool, &env.business).await, 1);
    let counts = env.outbox.counts().await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.parked), (0, 1, 0));
    relay.shutdown().await.unwrap();
    env
}

/// Committed messages are sent once each, intact (topic, tags, keys, properties, body,
/// and the `UNIQ_KEY` fixed at enqueue), and never again.
async fn committed_messages_are_sent_exactly_once<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let relay = relay(&env.outbox, producer(&client).await).start().unwrap();
    let topic = "outbox-once";

    let mut first = message(topic, "order 1 paid");
    first.set_tags("paid");
    first.set_keys(["order-1", "customer-9"]);
    first.put_property("tenant", "acme");
    first.flag = 3;
    let ids = env
        .transact(vec![first, keyed(topic, "order-2", "order 2 paid")], true)
        .await;
    let notifier = relay.notifier();
    notifier.notify();
    assert!(wait_until(T, || env.all_sent(&ids)).await, "both sent");

    let stored = broker.messages(topic).unwrap();
    assert_eq!(stored.len(), 2, "exactly one copy of each: {stored:?}");
    let row = env.outbox.get(ids[0]).await.unwrap().unwrap();
    let s = stored
        .iter()
        .find(|m| &m.body[..] == b"order 1 paid")
        .unwrap();
    assert_eq!(s.tags(), Some("paid"));
    assert_eq!(s.keys(), Some("order-1 customer-9"));
    assert_eq!(s.property("tenant"), Some("acme"));
    assert_eq!(s.flag, 3);
    assert_eq!(
        s.uniq_key(),
        row.msg_id.as_deref(),
        "UNIQ_KEY fixed at enqueue"
    );
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_some());
    assert_eq!(row.tags.as_deref(), Some("paid"));
    assert_eq!(row.keys.as_deref(), Some("order-1 customer-9"));
    let keyed_row = env.outbox.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(keyed_row.shard_key.as_deref(), Some("order-2"));

    // More rounds (a later message, extra wake-ups) do not send the first ones again.
    let later = env.transact(vec![message(topic, "later")], true).await;
    relay.notify();
    relay.notify();
    assert!(wait_until(T, || env.all_sent(&later)).await);
    assert_eq!(broker.messages(topic).unwrap().len(), 3);
    assert_eq!(DB::count_business_rows(&env.pool, &env.business).await, 2);

    // Sent rows can be purged; nothing else is touched.
    assert_eq!(
        env.outbox
            .purge_sent(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(env.outbox.purge_sent(Duration::ZERO).await.unwrap(), 3);
    assert_eq!(env.outbox.counts().await.unwrap().sent, 0);
    relay.shutdown().await.unwrap();
    env
}

/// The broker is down when the business transactions commit: the relay keeps failing,
/// and once the broker is back every message is delivered, none lost, none twice, keyed
/// ones in order.
async fn broker_outage_delays_but_loses_nothing<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let topic = "outbox-outage";
    broker.create_topic(topic, 4).await.unwrap();
    let relay = relay(&env.outbox, producer(&client).await)
        .max_attempts(10_000)
        .start()
        .unwrap();

    broker.crash().await;
    let mut expected = Vec::new();
    let mut unkeyed = Vec::new();
    for tx in 0..5 {
        let mut batch = Vec::new();
        for i in 0..4 {
            let body = format!("tx{tx}-m{i}");
            expected.push(body.clone());
            batch.push(if i % 2 == 0 {
                message(topic, &body)
            } else {
                keyed(topic, &format!("key-{}", i / 2), &body)
            });
        }
        let ids = env.transact(batch, true).await;
        unkeyed.extend([ids[0], ids[2]]);
        relay.notify();
    }
    // Every unkeyed row has been tried (and failed) while the broker was down.
    let tried = || async {
        for &id in &unkeyed {
            let r = env.outbox.get(id).await.unwrap().unwrap();
            if r.attempts == 0 || r.status != OutboxStatus::Pending {
                return false;
            }
        }
        true
    };
    assert!(
        wait_until(T, tried).await,
        "attempts fail during the outage"
    );
    assert_eq!(env.outbox.counts().await.unwrap().sent, 0);
    let failed = env.outbox.get(unkeyed[0]).await.unwrap().unwrap();
    assert!(failed.last_error.is_some());

    broker.restart().await.unwrap();
    let sent = || async { env.outbox.counts().await.unwrap().sent == 20 };
    assert!(wait_until(T, sent).await, "all delivered after the restart");

    let mut got = bodies(&broker, topic);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "nothing lost, nothing twice");
    for key in ["key-0", "key-1"] {
        let order: Vec<String> = broker
            .messages(topic)
            .unwrap()
            .iter()
            .filter(|m| m.sharding_key() == Some(key))
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "{key} in enqueue order");
    }
    relay.shutdown().await.unwrap();
    env
}

/// A broker failing every send: the row is tried `max_attempts` times, parked, and the
/// alert fires exactly once. Later rounds leave it alone; a requeue sends it.
async fn failing_broker_parks_after_max_attempts_and_alerts_once<DB: TestDb>(
    env: Env<DB>,
) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let topic = "outbox-park";
    broker.create_topic(topic, 4).await.unwrap();
    let alerts: Arc<Mutex<Vec<(String, OutboxRecord)>>> = Arc::default();
    let seen = Arc::clone(&alerts);
    let relay = relay(&env.outbox, producer(&client).await)
        .max_attempts(3)
        .alert(move |table: &str, record: &OutboxRecord| {
            seen.lock()
                .unwrap()
                .push((table.to_owned(), record.clone()));
        })
        .start()
        .unwrap();

    broker
        .faults()
        .fail_next_sends(1_000_000, ResponseCode::SYSTEM_BUSY);
    let ids = env.transact(vec![keyed(topic, "k", "doomed")], true).await;
    let later = env
        .transact(vec![keyed(topic, "k", "after the doomed one")], true)
        .await;
    relay.notify();
    let parked = || async { env.status(ids[0]).await == Some(OutboxStatus::Parked) };
    assert!(wait_until(T, parked).await, "parked");

    let row = env.outbox.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(row.attempts, 3);
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or("")
            .contains("SYSTEM_BUSY"),
        "{:?}",
        row.last_error
    );
    assert_eq!(broker.faults().injected(), 3, "exactly three attempts");
    let listed = env.outbox.parked(10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    {
        let alerts = alerts.lock().unwrap();
        assert_eq!(alerts.len(), 1, "alerted once");
        assert_eq!(alerts[0].0, env.outbox.table());
        assert_eq!(alerts[0].1.id, ids[0]);
        assert_eq!(alerts[0].1.status, OutboxStatus::Parked);
        assert_eq!(alerts[0].1.attempts, 3);
    }

    // The broker heals. The relay keeps going (a marker gets through) but leaves the
    // parked row alone, and the later row of its key waits behind it.
    broker.faults().clear();
    let marker = env.transact(vec![message(topic, "marker")], true).await;
    relay.notify();
    assert!(wait_until(T, || env.all_sent(&marker)).await);
    assert_eq!(env.status(ids[0]).await, Some(OutboxStatus::Parked));
    assert_eq!(env.status(later[0]).await, Some(OutboxStatus::Pending));
    assert_eq!(bodies(&broker, topic), ["marker"]);
    assert_eq!(alerts.lock().unwrap().len(), 1, "still alerted once");

    // A human requeues it: it goes out, then the row behind it.
    assert!(env.outbox.requeue(ids[0]).await.unwrap());
    assert!(
        !env.outbox.requeue(ids[0]).await.unwrap(),
        "no longer parked"
    );
    relay.notify();
    let both = [ids[0], later[0]];
    assert!(wait_until(T, || env.all_sent(&both)).await);
    let got: Vec<String> = bodies(&broker, topic)
        .into_iter()
        .filter(|b| b != "marker")
        .collect();
    assert_eq!(got, ["doomed", "after the doomed one"]);
    assert!(
        !env.outbox.discard(ids[0]).await.unwrap(),
        "only parked rows"
    );
    assert_eq!(alerts.lock().unwrap().len(), 1);
    relay.shutdown().await.unwrap();
    env
}

/// Two relays (two pools, two producers) serve one table: every message is sent, none
/// twice.
async fn two_relays_share_a_table_without_duplicates<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let topic = "outbox-two-relays";
    broker.create_topic(topic, 4).await.unwrap();
    let client_a = client_for(&broker).await;
    let client_b = client_for(&broker).await;
    let other = env.second_outbox().await;
    let a = relay(&env.outbox, producer(&client_a).await)
        .batch_size(4)
        .start()
        .unwrap();
    let b = relay(&other, producer(&client_b).await)
        .batch_size(4)
        .start()
        .unwrap();

    let mut expected = BTreeSet::new();
    for tx in 0..12 {
        let batch: Vec<Message> = (0..10)
            .map(|i| {
                let body = format!("tx{tx:02}-m{i}");
                expected.insert(body.clone());
                message(topic, &body)
            })
            .collect();
        env.transact(batch, true).await;
        a.notify();
        b.notify();
    }
    let sent = || async { env.outbox.counts().await.unwrap().sent == 120 };
    assert!(wait_until(T, sent).await, "all sent");

    let stored = broker.messages(topic).unwrap();
    assert_eq!(stored.len(), 120, "none twice");
    let got: BTreeSet<String> = stored
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(got, expected);
    let ids: BTreeSet<&str> = stored.iter().filter_map(|m| m.uniq_key()).collect();
    assert_eq!(ids.len(), 120);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    other.pool().close().await;
    env
}

/// Sends fail now and then; with two relays racing, every key's messages still reach
/// the broker in enqueue order, on one queue, once each.
async fn per_key_order_survives_retries<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let topic = "outbox-order";
    broker.create_topic(topic, 4).await.unwrap();
    let client_a = client_for(&broker).await;
    let client_b = client_for(&broker).await;
    let other = env.second_outbox().await;
    let a = relay(&env.outbox, producer(&client_a).await)
        .max_attempts(1_000)
        .start()
        .unwrap();
    let b = relay(&other, producer(&client_b).await)
        .max_attempts(1_000)
        .start()
        .unwrap();

    let keys = ["alpha", "beta", "gamma", "delta"];
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    broker
        .faults()
        .fail_next_sends(7, ResponseCode::SYSTEM_BUSY);
    for round in 0..8 {
        let batch: Vec<Message> = keys
            .iter()
            .map(|k| {
                let body = format!("{k}-{round}");
                expected.entry(k).or_default().push(body.clone());
                keyed(topic, k, &body)
            })
            .collect();
        env.transact(batch, true).await;
        if round == 3 {
            // A second burst of failures in the middle of the stream.
            broker
                .faults()
                .fail_next_sends(5, ResponseCode::SYSTEM_BUSY);
        }
        a.notify();
        b.notify();
    }
    let sent = || async { env.outbox.counts().await.unwrap().sent == 32 };
    assert!(wait_until(T, sent).await, "all sent");
    assert_eq!(broker.faults().injected(), 12, "the failures happened");

    let stored = broker.messages(topic).unwrap();
    assert_eq!(stored.len(), 32);
    for k in keys {
        let of_key: Vec<_> = stored
            .iter()
            .filter(|m| m.sharding_key() == Some(k))
            .collect();
        let queues: BTreeSet<i32> = of_key.iter().map(|m| m.queue_id).collect();
        assert_eq!(queues.len(), 1, "{k} on one queue");
        let order: Vec<String> = of_key
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        assert_eq!(order, expected[k], "{k} in enqueue order");
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    other.pool().close().await;
    env
}

/// Shutting down in the middle of a round lets the round finish: no row is left leased,
/// and every message the broker holds is recorded as sent. A new relay sends the rest.
async fn shutdown_finishes_the_round_in_flight<DB: TestDb>(env: Env<DB>) -> Env<DB> {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let topic = "outbox-shutdown";
    broker.create_topic(topic, 4).await.unwrap();
    let relay = relay(&env.outbox, producer(&client).await)
        .batch_size(100)
        .concurrency(2)
        .lease(Duration::from_secs(300))
        .start()
        .unwrap();
    let batch = (0..100).map(|i| message(topic, &format!("m{i}"))).collect();
    env.transact(batch, true).await;
    relay.notify();
    let started = || async { env.outbox.counts().await.unwrap().sent > 0 };
    assert!(wait_until(T, started).await);
    relay.shutdown().await.unwrap();

    let counts = env.outbox.counts().await.unwrap();
    assert_eq!(
        counts.sent as usize,
        broker.messages(topic).unwrap().len(),
        "every stored message is recorded as sent"
    );
    let now = std::time::SystemTime::now();
    for row in env.outbox.list(OutboxStatus::Pending, 1000).await.unwrap() {
        assert!(row.next_attempt_at <= now, "row {} left leased", row.id);
    }

    let relay = relay_again(&env.outbox, producer(&client).await);
    relay.notify();
    let all = || async { env.outbox.counts().await.unwrap().sent == 100 };
    assert!(wait_until(T, all).await);
    assert_eq!(broker.messages(topic).unwrap().len(), 100);
    relay.shutdown().await.unwrap();
    env
}

fn relay_again<DB: OutboxDatabase>(outbox: &Outbox<DB>, producer: Producer) -> OutboxRelay {
    relay(outbox, producer).start().unwrap()
}

/// A relay that is dropped or shut down stops; bad settings are refused at start.
#[tokio::test]
async fn relay_settings_are_validated_and_shutdown_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Sqlite::connect(dir.path().join("o.db").to_str().unwrap()).await;
    let outbox = Outbox::new(pool);
    outbox.migrate().await.unwrap();
    assert!(outbox.ddl()[0].contains("rocketmq_outbox"));
    assert!(Outbox::with_table(outbox.pool().clone(), "Robert'); DROP TABLE x;--").is_err());
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let p = producer(&client).await;
    let err = OutboxRelay::builder(outbox.clone(), p.clone())
        .lease(Duration::from_secs(1))
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("lease"), "{err}");
    let err = outbox.relay(p.clone()).max_attempts(0).start().unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
    let relay = outbox.relay(p).start().unwrap();
    assert!(relay.is_running());
    relay.shutdown().await.unwrap();
}

/// Typed messages plug in through `From<T> for Message` or by implementing
/// `IntoOutboxMessage`; a conversion or validation error fails the enqueue, inside the
/// business transaction, and nothing is stored.
#[tokio::test]
async fn typed_messages_plug_in_and_invalid_ones_are_refused_at_enqueue() {
    struct OrderPaid {
        order: u64,
    }
    impl From<OrderPaid> for Message {
        fn from(e: OrderPaid) -> Message {
            let mut m = Message::new("order-events", format!("{{\"order\":{}}}", e.order));
            m.set_sharding_key(format!("order-{}", e.order));
            m
        }
    }
    struct Unserializable;
    impl IntoOutboxMessage for Unserializable {
        fn into_outbox_message(self) -> Result<Message, rocketmq_sdk::Error> {
            Err(rocketmq_sdk::Error::InvalidMessage(
                "cannot serialize".into(),
            ))
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let pool = Sqlite::connect(dir.path().join("o.db").to_str().unwrap()).await;
    let outbox = Outbox::with_table(pool.clone(), "typed_outbox").unwrap();
    outbox.migrate().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let id = outbox
        .enqueue(&mut tx, OrderPaid { order: 7 })
        .await
        .unwrap();
    let refused = outbox.enqueue(&mut tx, Unserializable).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OutboxError::Sdk(rocketmq_sdk::Error::InvalidMessage(_))
        ),
        "{refused}"
    );
    let empty = outbox
        .enqueue(&mut tx, Message::new("order-events", ""))
        .await
        .unwrap_err();
    assert!(
        matches!(
            empty,
            OutboxError::Sdk(rocketmq_sdk::Error::InvalidMessage(_))
        ),
        "{empty}"
    );
    tx.commit().await.unwrap();

    let row = outbox.get(id).await.unwrap().unwrap();
    assert_eq!(row.shard_key.as_deref(), Some("order-7"));
    assert_eq!(row.status, OutboxStatus::Pending);
    assert_eq!(&row.message().unwrap().body[..], b"{\"order\":7}");
    assert!(row.msg_id.is_some(), "UNIQ_KEY assigned at enqueue");
    assert_eq!(
        outbox.counts().await.unwrap().pending,
        1,
        "only the valid one"
    );
}
