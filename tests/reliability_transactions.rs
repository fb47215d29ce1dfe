//! Transactions with lost END_TRANSACTION requests and a producer that dies before
//! resolving them: the broker's check-back, answered by another producer of the group from
//! the "database", resolves every one — no rolled-back message is delivered, no committed
//! one is lost. Runs on a manual clock: check intervals pass by `advance`, not by sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
use rocketmq_sdk::{Client, TransactionListener, TransactionState};
use rocketmq_suite::reliability::heavy;
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(15);
const TOPIC: &str = "ledger";
const GROUP: &str = "ledger-producers";

/// The application's database: body -> whether the local transaction committed.
type Db = Arc<Mutex<HashMap<String, bool>>>;

#[derive(Clone)]
struct App {
    db: Db,
}

#[async_trait]
impl TransactionListener for App {
    type Arg = bool;

    async fn execute(&self, message: &Message, commit: &bool) -> TransactionState {
        let body = String::from_utf8_lossy(&message.body).into_owned();
        self.db.lock().unwrap().insert(body, *commit);
        if *commit {
            TransactionState::Commit
        } else {
            TransactionState::Rollback
        }
    }

    async fn check(&self, message: &MessageExt) -> TransactionState {
        let body = String::from_utf8_lossy(&message.body).into_owned();
        match self.db.lock().unwrap().get(&body) {
            Some(true) => TransactionState::Commit,
            Some(false) => TransactionState::Rollback,
            None => TransactionState::Unknown,
        }
    }
}

async fn client(broker: &EmbeddedBroker) -> Client {
    let c = Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    c.topic_route(TOPIC).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_end_transactions_and_a_dead_producer_are_resolved_by_check() {
    let n: usize = if heavy() { 2_000 } else { 60 };
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let broker = EmbeddedBroker::builder()
        .manual_clock(clock)
        .start()
        .await
        .unwrap();
    broker.create_topic(TOPIC, 4).await.unwrap();
    let db: Db = Arc::default();

    // Producer A: every other END_TRANSACTION is lost on the way, then A dies.
    let ca = client(&broker).await;
    let pa = ca
        .producer(GROUP)
        .start_transactional(App { db: db.clone() })
        .await
        .unwrap();
    let mut lost_ends = 0;
    for i in 0..n {
        if i % 2 == 0 {
            broker
                .faults()
                .fail_next(RequestCode::END_TRANSACTION, 1, ResponseCode::SYSTEM_ERROR);
            lost_ends += 1;
        }
        let commit = i % 3 != 0;
        let body = format!("{}-{i}", if commit { "commit" } else { "rollback" });
        pa.send(Message::new(TOPIC, Bytes::from(body)), &commit)
            .await
            .unwrap();
    }
    assert_eq!(broker.faults().injected(), lost_ends as u64);
    assert!(
        !broker.pending_transactions().unwrap().is_empty(),
        "lost ends leave open transactions"
    );
    pa.shutdown().await;
    ca.shutdown().await;

    // Producer B of the same group answers checks from the database.
    let cb = client(&broker).await;
    let pb = cb
        .producer(GROUP)
        .start_transactional(App { db: db.clone() })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            broker.broker(0).producer_connections(GROUP) > 0
        })
        .await
    );
    let mut rounds = 0;
    while !broker.pending_transactions().unwrap().is_empty() && rounds < 20 {
        let before = broker.broker(0).transaction_check_runs();
        broker.advance(Duration::from_secs(60)).unwrap();
        assert!(
            wait_until(T, || async {
                broker.broker(0).transaction_check_runs() > before
            })
            .await
        );
        // Let the check answers (oneway END_TRANSACTION from B) land.
        wait_until(Duration::from_secs(2), || async {
            broker.pending_transactions().unwrap().is_empty()
        })
        .await;
        rounds += 1;
    }
    assert!(
        broker.pending_transactions().unwrap().is_empty(),
        "every transaction resolved: {:?}",
        broker.pending_transactions().unwrap()
    );
    let delivered: Vec<String> = broker
        .messages(TOPIC)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    let commits: Vec<String> = db
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c)| **c)
        .map(|(b, _)| b.clone())
        .collect();
    let rollbacks_delivered = delivered
        .iter()
        .filter(|b| b.starts_with("rollback"))
        .count();
    let commits_lost = commits.iter().filter(|b| !delivered.contains(b)).count();
    eprintln!(
        "transactions: {n} sent, {lost_ends} END_TRANSACTION lost, {} committed, {} delivered, \
         {rollbacks_delivered} rollbacks delivered, {commits_lost} commits lost, {rounds} check rounds",
        commits.len(),
        delivered.len()
    );
    assert_eq!(rollbacks_delivered, 0);
    assert_eq!(commits_lost, 0);
    assert_eq!(delivered.len(), commits.len(), "each commit delivered once");
    pb.shutdown().await;
    cb.shutdown().await;
}
