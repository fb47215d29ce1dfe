//! ACL 1.0 end to end: SDK clients with credentials against the embedded broker with ACL on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::acl::{Account, AclConfig, Perm};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, ClientBuilder, Error};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(20);

const PRODUCER_AK: &str = "app-producer";
const PRODUCER_SK: &str = "producer-secret-1";
const CONSUMER_AK: &str = "app-consumer";
const CONSUMER_SK: &str = "consumer-secret-1";

fn acl() -> AclConfig {
    AclConfig::new()
        .account(
            Account::new(PRODUCER_AK, PRODUCER_SK)
                .default_topic_perm(Perm::Deny)
                .default_group_perm(Perm::Deny)
                .topic_perm("orders", Perm::Pub),
        )
        .account(
            Account::new(CONSUMER_AK, CONSUMER_SK)
                .default_topic_perm(Perm::Deny)
                .default_group_perm(Perm::Sub)
                .topic_perm("orders", Perm::Sub),
        )
}

async fn broker() -> EmbeddedBroker {
    let broker = EmbeddedBroker::builder()
        .acl(acl())
        .start()
        .await
        .expect("broker starts");
    broker.create_topic("orders", 4).await.unwrap();
    broker.create_topic("payments", 4).await.unwrap();
    broker
}

fn builder(broker: &EmbeddedBroker) -> ClientBuilder {
    Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .route_poll_interval(Duration::from_millis(500))
}

fn msg(topic: &str, body: String) -> Message {
    Message::new(topic, Bytes::from(body))
}

/// The broker's refusal, as the producer reports it.
fn refusal(e: &Error) -> (ResponseCode, String) {
    match e {
        Error::Broker { code, remark, .. } => (*code, remark.clone()),
        other => panic!("expected a broker refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_producer_and_push_consumer_work_end_to_end() {
    let broker = broker().await;
    let pc = builder(&broker)
        .credentials(PRODUCER_AK, PRODUCER_SK)
        .build()
        .await
        .unwrap();
    let producer = pc.producer("order-svc").start().await.unwrap();
    let cc = builder(&broker)
        .credentials(CONSUMER_AK, CONSUMER_SK)
        .build()
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let consumer = cc
        .push_consumer("billing")
        .subscribe("orders", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let log = log.clone();
            async move {
                for m in msgs {
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&m.body).into_owned());
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();

    let mut sent = Vec::new();
    for i in 0..20 {
        let body = format!("order-{i}");
        producer.send(msg("orders", body.clone())).await.unwrap();
        sent.push(body);
    }
    assert_eq!(broker.messages("orders").unwrap().len(), 20);
    assert!(
        wait_until(T, || async {
            let s = seen.lock().unwrap();
            sent.iter().all(|b| s.contains(b))
        })
        .await,
        "every message consumed: {:?}",
        seen.lock().unwrap()
    );
    // Offsets commits are signed and authorised too.
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets_by_queue("billing", "orders")
                .values()
                .sum::<i64>()
                == 20
        })
        .await,
        "offsets committed: {:?}",
        broker.consumer_offsets_by_queue("billing", "orders")
    );
    consumer.shutdown().await;
    cc.shutdown().await;
    pc.shutdown().await;
}

#[tokio::test]
async fn an_unsigned_client_is_refused_with_the_reason() {
    let broker = broker().await;
    let client = builder(&broker).build().await.unwrap();
    let producer = client.producer("anonymous").start().await.unwrap();
    let err = producer
        .send(msg("orders", "x".into()))
        .await
        .expect_err("an unsigned send is refused");
    let (code, remark) = refusal(&err);
    assert_eq!(code, ResponseCode::SYSTEM_ERROR);
    assert!(err.is_access_denied(), "{err:?}");
    assert!(remark.contains("No accessKey is configured"), "{remark}");
    assert!(broker.messages("orders").unwrap().is_empty());
    client.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_and_unknown_key_are_refused_with_the_reason() {
    let broker = broker().await;
    let wrong = builder(&broker)
        .credentials(PRODUCER_AK, "not-the-secret")
        .build()
        .await
        .unwrap();
    let err = wrong
        .producer("p1")
        .start()
        .await
        .unwrap()
        .send(msg("orders", "x".into()))
        .await
        .unwrap_err();
    let (code, remark) = refusal(&err);
    assert_eq!(code, ResponseCode::SYSTEM_ERROR);
    assert!(err.is_access_denied(), "{err:?}");
    assert!(
        remark.contains("Check signature failed for accessKey=app-producer"),
        "{remark}"
    );
    assert!(!remark.contains("not-the-secret"), "{remark}");

    let unknown = builder(&broker)
        .credentials("nobody-here", "whatever-secret")
        .build()
        .await
        .unwrap();
    let err = unknown
        .producer("p2")
        .start()
        .await
        .unwrap()
        .send(msg("orders", "x".into()))
        .await
        .unwrap_err();
    let (code, remark) = refusal(&err);
    assert_eq!(code, ResponseCode::SYSTEM_ERROR);
    assert!(err.is_access_denied(), "{err:?}");
    assert!(
        remark.contains("No acl config for nobody-here: unknown access key"),
        "{remark}"
    );
    assert!(broker.messages("orders").unwrap().is_empty());
    wrong.shutdown().await;
    unknown.shutdown().await;
}

#[tokio::test]
async fn a_producer_without_pub_on_a_topic_is_refused_there_only() {
    let broker = broker().await;
    let client = builder(&broker)
        .credentials(PRODUCER_AK, PRODUCER_SK)
        .build()
        .await
        .unwrap();
    let producer = client.producer("order-svc").start().await.unwrap();
    let err = producer
        .send(msg("payments", "x".into()))
        .await
        .unwrap_err();
    let (code, remark) = refusal(&err);
    assert_eq!(code, ResponseCode::SYSTEM_ERROR);
    assert!(err.is_access_denied(), "{err:?}");
    assert!(
        remark
            .contains("No default permission for topic:payments: accessKey=app-producer lacks PUB"),
        "{remark}"
    );
    producer.send(msg("orders", "ok".into())).await.unwrap();
    // The consumer account may read orders but not write them.
    let consumer_side = builder(&broker)
        .credentials(CONSUMER_AK, CONSUMER_SK)
        .build()
        .await
        .unwrap();
    let err = consumer_side
        .producer("sneaky")
        .start()
        .await
        .unwrap()
        .send(msg("orders", "x".into()))
        .await
        .unwrap_err();
    let (_, remark) = refusal(&err);
    assert!(
        remark.contains(
            "No default permission for topic:orders: accessKey=app-consumer lacks PUB (topicPerms has orders=SUB)"
        ),
        "{remark}"
    );
    assert_eq!(broker.messages("orders").unwrap().len(), 1);
    assert!(broker.messages("payments").unwrap().is_empty());
    client.shutdown().await;
    consumer_side.shutdown().await;
}

#[tokio::test]
async fn a_security_token_is_signed_and_accepted() {
    let broker = broker().await;
    let client = builder(&broker)
        .security_token("sts-token-123")
        .credentials(PRODUCER_AK, PRODUCER_SK)
        .build()
        .await
        .unwrap();
    assert_eq!(
        client
            .config()
            .credentials
            .as_ref()
            .and_then(|c| c.security_token()),
        Some("sts-token-123")
    );
    let debug = format!("{:?}", client.config());
    assert!(!debug.contains(PRODUCER_SK), "{debug}");
    assert!(!debug.contains("sts-token-123"), "{debug}");
    let producer = client.producer("order-svc").start().await.unwrap();
    producer
        .send(msg("orders", "with-token".into()))
        .await
        .unwrap();
    client.shutdown().await;
}

#[tokio::test]
async fn a_security_token_without_credentials_is_a_config_error() {
    let err = Client::builder()
        .name_server("127.0.0.1:9876")
        .security_token("orphan")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                field: "credentials",
                ..
            }
        ),
        "{err:?}"
    );
}

/// `rocketmq-admin` on an ACL cluster: without credentials the broker refuses (exit 1,
/// the AclException text shown); with `--access-key`/`--secret-key` (or the
/// `ROCKETMQ_ACCESS_KEY`/`ROCKETMQ_SECRET_KEY` variables) the same verb works.
#[tokio::test]
async fn the_admin_cli_signs_its_requests_when_given_credentials() {
    let broker = broker().await;
    let ns = broker.name_server_addr();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rocketmq-admin"));
        cmd.args(["--namesrv", &ns])
            .args(extra)
            .args(["send", "--topic", "orders", "--body", "from-admin"])
            .env_remove("NAMESRV_ADDR")
            .env_remove("ROCKETMQ_ACCESS_KEY")
            .env_remove("ROCKETMQ_SECRET_KEY")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output()
    };
    let refused = run(&[], &[]).await.unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("AclException"),
        "{refused:?}"
    );
    assert!(broker.messages("orders").unwrap().is_empty());
    let signed = run(
        &["--access-key", PRODUCER_AK, "--secret-key", PRODUCER_SK],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(signed.status.code(), Some(0), "{signed:?}");
    let from_env = run(
        &[],
        &[
            ("ROCKETMQ_ACCESS_KEY", PRODUCER_AK),
            ("ROCKETMQ_SECRET_KEY", PRODUCER_SK),
        ],
    )
    .await
    .unwrap();
    assert_eq!(from_env.status.code(), Some(0), "{from_env:?}");
    assert_eq!(broker.messages("orders").unwrap().len(), 2);
}
