//! Transactional messages end to end: the SDK's transactional producer against the
//! embedded broker over loopback, with the broker on a manual clock so check-backs happen
//! when a test moves time, not after 60 real seconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_embedded_broker::{
    EmbeddedBroker, EmbeddedBrokerBuilder, FlushMode, TransactionStatus,
};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult, PushConsumer};
use rocketmq_sdk::protocol::message::{Message, MessageExt, sysflag};
use rocketmq_sdk::protocol::topic::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC};
use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
use rocketmq_sdk::{
    Client, SendStatus, TransactionListener, TransactionProducer, TransactionState,
};
use rocketmq_suite::wait_until;
use tokio::sync::Notify;

const T: Duration = Duration::from_secs(10);
const TOPIC: &str = "payments";
const T0: i64 = 1_700_000_000_000;
/// Upstream's check interval, which the broker keeps by default.
const INTERVAL_MS: i64 = 60_000;

/// A listener whose answers a test sets, and which records the checks it gets.
#[derive(Clone)]
struct Script {
    execute: TransactionState,
    check: Arc<Mutex<TransactionState>>,
    checks: Arc<AtomicUsize>,
    checked: Arc<Mutex<Vec<MessageExt>>>,
}

impl Script {
    fn new(execute: TransactionState, check: TransactionState) -> Self {
        Script {
            execute,
            check: Arc::new(Mutex::new(check)),
            checks: Arc::default(),
            checked: Arc::default(),
        }
    }

    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TransactionListener for Script {
    /// When set, `execute` waits for it: the local transaction is still running.
    type Arg = Option<Arc<Notify>>;

    async fn execute(&self, _message: &Message, gate: &Self::Arg) -> TransactionState {
        if let Some(gate) = gate {
            gate.notified().await;
        }
        self.execute
    }

    async fn check(&self, message: &MessageExt) -> TransactionState {
        self.checked.lock().unwrap().push(message.clone());
        self.checks.fetch_add(1, Ordering::SeqCst);
        *self.check.lock().unwrap()
    }
}

struct Setup {
    broker: EmbeddedBroker,
    clock: Arc<ManualClock>,
}

impl Setup {
    async fn start() -> Setup {
        Self::start_with(EmbeddedBroker::builder()).await
    }

    async fn start_with(builder: EmbeddedBrokerBuilder) -> Setup {
        let clock = Arc::new(ManualClock::new(T0));
        let broker = builder.clock(clock.clone()).start().await.unwrap();
        broker.create_topic(TOPIC, 4).await.unwrap();
        Setup { broker, clock }
    }

    /// A client that already knows the topic's broker, so a producer started on it
    /// registers there at once (checks go only to registered producers).
    async fn client(&self) -> Client {
        self.client_with_heartbeat(Duration::from_secs(30)).await
    }

    async fn client_with_heartbeat(&self, heartbeat: Duration) -> Client {
        let client = Client::builder()
            .name_server(self.broker.name_server_addr())
            .heartbeat_interval(heartbeat)
            .build()
            .await
            .unwrap();
        client.topic_route(TOPIC).await.unwrap();
        client
    }

    async fn producer(
        &self,
        client: &Client,
        group: &str,
        script: &Script,
    ) -> TransactionProducer<Script> {
        let p = client
            .producer(group)
            .start_transactional(script.clone())
            .await
            .unwrap();
        assert!(
            wait_until(T, || async {
                self.broker.broker(0).producer_connections(group) > 0
            })
            .await,
            "producer {group} registered"
        );
        p
    }

    /// Moves the broker's clock one check interval and waits for the check run.
    async fn next_check_run(&self) {
        let b = self.broker.broker(0);
        let before = b.transaction_check_runs();
        self.clock.advance(INTERVAL_MS);
        assert!(
            wait_until(T, || async { b.transaction_check_runs() > before }).await,
            "a check run after the clock moved"
        );
    }

    fn delivered(&self) -> Vec<MessageExt> {
        self.broker.messages(TOPIC).unwrap()
    }

    async fn wait_delivered(&self, n: usize) -> Vec<MessageExt> {
        assert!(
            wait_until(T, || async { self.delivered().len() >= n }).await,
            "{n} message(s) delivered; have {:?}",
            self.delivered()
        );
        self.delivered()
    }

    fn pending(&self) -> usize {
        self.broker.pending_transactions().unwrap().len()
    }

    async fn wait_settled(&self) {
        assert!(
            wait_until(T, || async { self.pending() == 0 }).await,
            "no open transaction left"
        );
    }
}

/// What a push consumer of the topic received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<MessageExt>>>);

impl Received {
    fn bodies(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect()
    }
}

impl Setup {
    /// A push consumer of the topic, polling every queue before this returns.
    async fn consumer(&self, client: &Client, group: &str) -> (PushConsumer, Received) {
        let received = Received::default();
        let log = received.clone();
        let consumer = client
            .push_consumer(group)
            .subscribe(TOPIC, "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                let log = log.clone();
                async move {
                    log.0.lock().unwrap().extend(msgs);
                    ConsumeResult::Success
                }
            })
            .await
            .unwrap();
        self.wait_caught_up().await;
        (consumer, received)
    }

    /// Waits until the consumer holds a pull on each of the topic's 4 queues: it has
    /// taken everything there is.
    async fn wait_caught_up(&self) {
        assert!(
            wait_until(T, || async { self.broker.broker(0).held_pulls() >= 4 }).await,
            "the consumer is polling every queue"
        );
    }
}

fn msg(body: &str) -> Message {
    Message::new(TOPIC, Bytes::from(body.to_owned()))
}

#[tokio::test]
async fn a_committed_transaction_is_delivered_exactly_once() {
    let s = Setup::start().await;
    let client = s.client().await;
    let script = Script::new(TransactionState::Commit, TransactionState::Rollback);
    let producer = s.producer(&client, "tx-commit", &script).await;
    let consumer_client = s.client_with_heartbeat(Duration::from_millis(300)).await;
    let (consumer, received) = s.consumer(&consumer_client, "c-commit").await;

    let requests = s.broker.broker(0).faults().requests();
    requests.start();
    let receipt = producer.send(msg("paid"), &None).await.unwrap();
    assert_eq!(receipt.state, TransactionState::Commit);
    assert_eq!(receipt.receipt.status, SendStatus::SendOk);
    assert_eq!(
        receipt.receipt.transaction_id.as_deref(),
        Some(receipt.receipt.msg_id.as_str())
    );

    let delivered = s.wait_delivered(1).await;
    let m = &delivered[0];
    assert_eq!(&m.body[..], b"paid");
    assert_eq!(m.uniq_key(), Some(receipt.receipt.msg_id.as_str()));
    assert_eq!(m.queue_id, receipt.receipt.queue.queue_id);
    assert_eq!(
        sysflag::transaction_value(m.sys_flag),
        sysflag::TRANSACTION_COMMIT_TYPE
    );
    let half = &s.broker.messages(TRANS_HALF_TOPIC).unwrap()[0];
    assert_eq!(m.prepared_transaction_offset, half.commit_log_offset);
    assert_eq!(half.offset_msg_id(), receipt.receipt.offset_msg_id);
    s.wait_settled().await;
    // END_TRANSACTION carries what both Java brokers read: 4.9.x the broker name, 5.x the
    // transaction id (the golden captures show each Java client sending its own).
    let ends = requests.of(RequestCode::END_TRANSACTION);
    assert_eq!(ends.len(), 1, "{ends:?}");
    let end = &ends[0];
    assert_eq!(
        end.field("bname"),
        Some(receipt.receipt.queue.broker_name.as_str())
    );
    assert_eq!(end.field("producerGroup"), Some("tx-commit"));
    assert_eq!(end.field("commitOrRollback"), Some("8"));
    assert_eq!(end.field("fromTransactionCheck"), Some("false"));
    assert_eq!(end.field("msgId"), Some(receipt.receipt.msg_id.as_str()));
    assert_eq!(
        end.field("transactionId"),
        Some(receipt.receipt.msg_id.as_str())
    );

    // Time passes: no check, no second copy.
    for _ in 0..3 {
        s.next_check_run().await;
    }
    assert_eq!(s.delivered().len(), 1);
    assert_eq!(script.checks(), 0);
    assert_eq!(s.broker.broker(0).transaction_checks_sent(), 0);
    let committed = s
        .broker
        .transactions_in(TransactionStatus::Committed)
        .unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].transaction_id, receipt.receipt.msg_id);

    // A consumer gets it once, with its transaction id.
    assert!(wait_until(T, || async { !received.bodies().is_empty() }).await);
    s.wait_caught_up().await;
    assert_eq!(received.bodies(), vec!["paid".to_owned()]);
    let got = received.0.lock().unwrap()[0].clone();
    assert_eq!(got.msg_id(), receipt.receipt.msg_id);
    consumer.shutdown().await;
    consumer_client.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_rolled_back_transaction_is_never_delivered() {
    let s = Setup::start().await;
    let client = s.client().await;
    let script = Script::new(TransactionState::Rollback, TransactionState::Commit);
    let producer = s.producer(&client, "tx-rollback", &script).await;

    let receipt = producer.send(msg("cancelled"), &None).await.unwrap();
    assert_eq!(receipt.state, TransactionState::Rollback);
    assert!(
        wait_until(T, || async {
            s.broker
                .transactions_in(TransactionStatus::RolledBack)
                .unwrap()
                .len()
                == 1
        })
        .await
    );
    for _ in 0..3 {
        s.next_check_run().await;
    }
    assert!(s.delivered().is_empty());
    assert_eq!(script.checks(), 0, "a settled transaction is not checked");
    assert_eq!(s.pending(), 0);
    client.shutdown().await;
}

#[tokio::test]
async fn an_unknown_transaction_is_committed_by_the_check() {
    let s = Setup::start().await;
    let client = s.client().await;
    let script = Script::new(TransactionState::Unknown, TransactionState::Commit);
    let producer = s.producer(&client, "tx-unknown", &script).await;

    let receipt = producer.send(msg("maybe"), &None).await.unwrap();
    assert_eq!(receipt.state, TransactionState::Unknown);
    assert_eq!(s.pending(), 1);
    assert!(s.delivered().is_empty());

    s.next_check_run().await;
    let delivered = s.wait_delivered(1).await;
    assert_eq!(&delivered[0].body[..], b"maybe");
    assert_eq!(script.checks(), 1);
    let checked = script.checked.lock().unwrap()[0].clone();
    assert_eq!(checked.topic, TOPIC, "checks carry the real topic");
    assert_eq!(checked.queue_id, receipt.receipt.queue.queue_id);
    assert_eq!(&checked.body[..], b"maybe");
    assert_eq!(
        checked.transaction_id.as_deref(),
        Some(receipt.receipt.msg_id.as_str())
    );
    s.wait_settled().await;
    s.next_check_run().await;
    assert_eq!(s.delivered().len(), 1);
    assert_eq!(script.checks(), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn a_lost_end_transaction_is_resolved_by_the_check() {
    let s = Setup::start().await;
    let client = s.client().await;
    let script = Script::new(TransactionState::Commit, TransactionState::Commit);
    let producer = s.producer(&client, "tx-lost", &script).await;
    s.broker
        .faults()
        .fail_next(RequestCode::END_TRANSACTION, 1, ResponseCode::SYSTEM_ERROR);

    let receipt = producer
        .send(msg("committed-locally"), &None)
        .await
        .unwrap();
    assert_eq!(receipt.state, TransactionState::Commit);
    assert!(
        wait_until(T, || async { s.broker.faults().injected() == 1 }).await,
        "the END_TRANSACTION reached the broker and was dropped"
    );
    assert!(s.delivered().is_empty());
    assert_eq!(s.pending(), 1);

    s.next_check_run().await;
    let delivered = s.wait_delivered(1).await;
    assert_eq!(&delivered[0].body[..], b"committed-locally");
    assert_eq!(script.checks(), 1);
    s.wait_settled().await;
    s.next_check_run().await;
    assert_eq!(s.delivered().len(), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn another_producer_of_the_group_answers_when_the_sender_is_gone() {
    let s = Setup::start().await;
    let group = "tx-failover";
    let first_client = s.client().await;
    let first = Script::new(TransactionState::Unknown, TransactionState::Rollback);
    let producer = s.producer(&first_client, group, &first).await;
    producer.send(msg("orphan"), &None).await.unwrap();
    first_client.shutdown().await;
    assert!(
        wait_until(T, || async {
            s.broker.broker(0).producer_connections(group) == 0
        })
        .await
    );

    let second_client = s.client().await;
    let second = Script::new(TransactionState::Rollback, TransactionState::Commit);
    let _second_producer = s.producer(&second_client, group, &second).await;
    s.next_check_run().await;
    let delivered = s.wait_delivered(1).await;
    assert_eq!(&delivered[0].body[..], b"orphan");
    assert_eq!(first.checks(), 0);
    assert_eq!(second.checks(), 1);
    second_client.shutdown().await;
}

#[tokio::test]
async fn a_transaction_nobody_decides_is_parked_after_fifteen_checks() {
    let s = Setup::start().await;
    let client = s.client().await;
    let script = Script::new(TransactionState::Unknown, TransactionState::Unknown);
    let producer = s.producer(&client, "tx-undecided", &script).await;
    let receipt = producer.send(msg("undecided"), &None).await.unwrap();

    // The broker's default maximum is upstream's 15 checks.
    for n in 1..=15 {
        s.next_check_run().await;
        assert!(
            wait_until(T, || async { script.checks() == n }).await,
            "check #{n} reached the producer"
        );
        assert_eq!(s.pending(), 1);
    }
    s.next_check_run().await;
    assert_eq!(s.pending(), 0);
    let parked = s.broker.parked_transactions().unwrap();
    assert_eq!(parked.len(), 1);
    let p = &parked[0];
    assert_eq!(p.status, TransactionStatus::Parked);
    assert_eq!(p.transaction_id, receipt.receipt.msg_id);
    assert_eq!(p.producer_group, "tx-undecided");
    assert_eq!((p.topic.as_str(), p.check_times), (TOPIC, 15));
    assert_eq!(p.message.topic, TRANS_CHECK_MAX_TIME_TOPIC);
    assert_eq!(&p.message.body[..], b"undecided");

    s.next_check_run().await;
    assert_eq!(script.checks(), 15, "no check after parking");
    assert!(s.delivered().is_empty());
    client.shutdown().await;
}

#[tokio::test]
async fn a_half_message_is_invisible_while_its_transaction_runs() {
    let s = Setup::start().await;
    let client = s.client().await;
    // Asked while the local transaction still runs, the application cannot know yet.
    let script = Script::new(TransactionState::Commit, TransactionState::Unknown);
    let producer = s.producer(&client, "tx-slow", &script).await;
    let consumer_client = s.client_with_heartbeat(Duration::from_millis(300)).await;
    let (consumer, received) = s.consumer(&consumer_client, "c-slow").await;
    let gate = Arc::new(Notify::new());
    let sending = {
        let producer = producer.clone();
        let gate = Some(gate.clone());
        tokio::spawn(async move { producer.send(msg("slow"), &gate).await })
    };
    assert!(wait_until(T, || async { s.pending() == 1 }).await);
    assert!(s.delivered().is_empty());
    assert_eq!(s.broker.messages(TRANS_HALF_TOPIC).unwrap().len(), 1);

    // A check comes while the transaction runs; "unknown" keeps the message hidden.
    s.next_check_run().await;
    assert!(wait_until(T, || async { script.checks() == 1 }).await);
    assert!(s.delivered().is_empty());
    s.wait_caught_up().await;
    assert!(received.bodies().is_empty(), "{:?}", received.bodies());

    // The local transaction commits: its END_TRANSACTION names the first half, which the
    // check has since replaced; the message is delivered once all the same.
    gate.notify_one();
    let receipt = sending.await.unwrap().unwrap();
    assert_eq!(receipt.state, TransactionState::Commit);
    let delivered = s.wait_delivered(1).await;
    assert_eq!(&delivered[0].body[..], b"slow");
    s.wait_settled().await;
    s.next_check_run().await;
    assert_eq!(s.delivered().len(), 1);
    assert_eq!(script.checks(), 1);
    assert!(wait_until(T, || async { !received.bodies().is_empty() }).await);
    s.wait_caught_up().await;
    assert_eq!(received.bodies(), vec!["slow".to_owned()]);
    consumer.shutdown().await;
    consumer_client.shutdown().await;
    client.shutdown().await;
}

async fn survives_restart(crash: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::start_with(
        EmbeddedBroker::builder()
            .directory(dir.path())
            .flush(FlushMode::Sync),
    )
    .await;
    // Short heartbeats, so the producer registers again soon after the restart.
    let client = s.client_with_heartbeat(Duration::from_millis(100)).await;
    let script = Script::new(TransactionState::Unknown, TransactionState::Commit);
    let group = "tx-restart";
    let producer = s.producer(&client, group, &script).await;
    producer.send(msg("across-restart"), &None).await.unwrap();
    assert_eq!(s.pending(), 1);

    if crash {
        s.broker.crash_broker(0).await.unwrap();
        s.broker.restart_broker(0).await.unwrap();
    } else {
        s.broker.restart_broker(0).await.unwrap();
    }
    let pending = s.broker.pending_transactions().unwrap();
    assert_eq!(pending.len(), 1, "rebuilt from the half and op queues");
    assert_eq!(&pending[0].message.body[..], b"across-restart");
    assert!(s.delivered().is_empty());
    assert!(
        wait_until(T, || async {
            s.broker.broker(0).producer_connections(group) > 0
        })
        .await,
        "the producer registered with the restarted broker"
    );

    s.next_check_run().await;
    let delivered = s.wait_delivered(1).await;
    assert_eq!(&delivered[0].body[..], b"across-restart");
    assert_eq!(script.checks(), 1);
    s.wait_settled().await;
    s.next_check_run().await;
    assert_eq!(s.delivered().len(), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn an_open_transaction_survives_a_broker_restart() {
    survives_restart(false).await;
}

#[tokio::test]
async fn an_open_transaction_survives_a_broker_crash() {
    survives_restart(true).await;
}

#[tokio::test]
async fn a_producer_that_met_the_broker_by_sending_still_gets_checks() {
    let s = Setup::start().await;
    // No route fetched before the start: the start heartbeats no broker, and the next
    // periodic heartbeat is an hour away.
    let client = Client::builder()
        .name_server(s.broker.name_server_addr())
        .heartbeat_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    // A round trip lets the client's background task take its immediate first heartbeat
    // tick while no broker is known yet.
    assert!(client.topic_route("no-such-topic").await.is_err());
    let script = Script::new(TransactionState::Unknown, TransactionState::Commit);
    let group = "tx-late-register";
    let producer = client
        .producer(group)
        .start_transactional(script.clone())
        .await
        .unwrap();
    assert_eq!(s.broker.broker(0).producer_connections(group), 0);
    producer.send(msg("first-contact"), &None).await.unwrap();
    assert!(
        wait_until(T, || async {
            s.broker.broker(0).producer_connections(group) > 0
        })
        .await,
        "the producer registered with the broker that stored its half"
    );
    s.next_check_run().await;
    s.wait_delivered(1).await;
    assert_eq!(script.checks(), 1);
    client.shutdown().await;
}
