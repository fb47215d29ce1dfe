//! `ROCKETMQ_TEST_NAMESRV`: `#[rocketmq_sdk::test]` bodies against an external cluster.
//! The parent test starts a broker (standing in for a real cluster), then runs this same
//! test binary with the variable set, once for a test that only needs a `Client` (it must
//! talk to that cluster) and once for a test that needs the embedded broker (it must say it
//! did not run, and pass).

use std::process::Output;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::protocol::message::Message;

const TOPIC: &str = "external-switch";

#[rocketmq_sdk::test]
#[ignore = "run by external_cluster_switch with ROCKETMQ_TEST_NAMESRV set"]
async fn child_sends_through_the_external_cluster(client: Client) {
    let producer = client.producer("external-switch-p").start().await.unwrap();
    producer
        .send(Message::new(TOPIC, Bytes::from_static(b"from-child")))
        .await
        .unwrap();
    client.shutdown().await;
}

#[rocketmq_sdk::test(brokers = 2)]
#[ignore = "run by external_cluster_switch with ROCKETMQ_TEST_NAMESRV set"]
async fn child_needing_the_embedded_broker(broker: EmbeddedBroker) {
    // Reached only if the switch failed to skip: the parent sees the failure.
    assert!(
        broker.name_server_addr().is_empty(),
        "ran against {} instead of skipping",
        broker.name_server_addr()
    );
}

async fn child(test: &str, ns: &str) -> Output {
    tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", test])
        .env("ROCKETMQ_TEST_NAMESRV", ns)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn external_cluster_switch() {
    let cluster = EmbeddedBroker::start().await.unwrap();
    let ns = cluster.name_server_addr();

    let ran = child("child_sends_through_the_external_cluster", &ns).await;
    assert!(ran.status.success(), "{ran:?}");
    assert!(
        String::from_utf8_lossy(&ran.stdout).contains("1 passed"),
        "{ran:?}"
    );
    let stored = cluster.messages(TOPIC).unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the child's send reached the external cluster"
    );
    assert_eq!(&stored[0].message.body[..], b"from-child");

    let skipped = child("child_needing_the_embedded_broker", &ns).await;
    assert!(skipped.status.success(), "{skipped:?}");
    let err = String::from_utf8_lossy(&skipped.stderr);
    assert!(
        err.contains("SKIPPED (not run)")
            && err.contains("an `EmbeddedBroker` parameter")
            && err.contains("brokers"),
        "{skipped:?}"
    );
}
