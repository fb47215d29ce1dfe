//! The producer against the embedded broker over loopback TCP.

use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::producer::{SelectByHash, java_hash_index};
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::message::{DecodeOptions, Message, decode_message_ext, sysflag};
use rocketmq_sdk::{Client, Error, SendStatus};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(10);

async fn client_for(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await
        .unwrap()
}

fn msg(topic: &str, body: &str) -> Message {
    Message::new(topic, Bytes::from(body.to_owned()))
}

#[tokio::test]
async fn sync_send_stores_body_and_properties_intact() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-sync").start().await.unwrap();
    let mut m = msg("orders", "hello");
    m.set_tags("created");
    m.set_keys(["order-1", "customer-7"]);
    m.put_property("custom", "value");
    let receipt = producer.send(m).await.unwrap();
    assert_eq!(receipt.status, SendStatus::SendOk);
    assert_eq!(receipt.attempts, 1);
    let stored = broker.messages("orders").unwrap();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(&s.body[..], b"hello");
    assert_eq!(s.tags(), Some("created"));
    assert_eq!(s.keys(), Some("order-1 customer-7"));
    assert_eq!(s.property("custom"), Some("value"));
    assert_eq!(s.uniq_key(), Some(receipt.msg_id.as_str()));
    assert_eq!(s.offset_msg_id(), receipt.offset_msg_id);
    assert_eq!(s.queue_id, receipt.queue.queue_id);
    assert_eq!(s.queue_offset, receipt.queue_offset);
    client.shutdown().await;
}

#[tokio::test]
async fn concurrent_async_sends_all_land() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-async").start().await.unwrap();
    let sends = (0..200).map(|i| producer.send(msg("many", &format!("m{i}"))));
    let receipts = futures::future::join_all(sends).await;
    let mut ids = std::collections::HashSet::new();
    for r in receipts {
        let r = r.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert!(ids.insert(r.offset_msg_id));
    }
    assert_eq!(broker.messages("many").unwrap().len(), 200);
    // Round-robin spreads the sends over every queue.
    let queues: std::collections::HashSet<i32> = broker
        .messages("many")
        .unwrap()
        .iter()
        .map(|m| m.queue_id)
        .collect();
    assert!(queues.len() > 1, "sends spread over queues: {queues:?}");
}

#[tokio::test]
async fn oneway_send_is_stored() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-oneway").start().await.unwrap();
    producer
        .send_oneway(msg("fire", "and forget"))
        .await
        .unwrap();
    assert!(wait_until(T, || async { broker.messages("fire").unwrap().len() == 1 }).await);
}

#[tokio::test]
async fn send_to_queue_and_batch() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-batch").start().await.unwrap();
    let first = producer.send(msg("b", "warm-up")).await.unwrap();
    let mut q = first.queue.clone();
    q.queue_id = (q.queue_id + 1) % 4;
    let r = producer
        .send_to_queue(msg("b", "to-queue"), &q)
        .await
        .unwrap();
    assert_eq!(r.queue, q);

    let batch: Vec<Message> = (0..3).map(|i| msg("b", &format!("batch-{i}"))).collect();
    let r = producer.send_batch(batch).await.unwrap();
    assert_eq!(r.msg_id.split(',').count(), 3);
    assert_eq!(r.offset_msg_id.split(',').count(), 3);
    let stored = broker.messages("b").unwrap();
    let mut bodies: Vec<_> = stored
        .iter()
        .filter(|m| m.queue_id == r.queue.queue_id && m.queue_offset >= r.queue_offset)
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    bodies.retain(|b| b.starts_with("batch-"));
    assert_eq!(
        bodies,
        ["batch-0", "batch-1", "batch-2"],
        "stored contiguously, in order"
    );
}

#[tokio::test]
async fn retries_get_through_system_busy() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-retry").start().await.unwrap();
    producer.send(msg("busy", "route warm-up")).await.unwrap();
    broker
        .faults()
        .fail_next_sends(2, ResponseCode::SYSTEM_BUSY);
    let r = producer
        .send(msg("busy", "third time lucky"))
        .await
        .unwrap();
    assert_eq!(r.attempts, 3);
    assert_eq!(broker.messages("busy").unwrap().len(), 2);

    let one_retry = client
        .producer("p-retry-1")
        .retries(1)
        .start()
        .await
        .unwrap();
    broker
        .faults()
        .fail_next_sends(2, ResponseCode::SYSTEM_BUSY);
    let err = one_retry.send(msg("busy", "gives up")).await.unwrap_err();
    assert_eq!(
        err.response_code(),
        Some(ResponseCode::SYSTEM_BUSY),
        "{err:?}"
    );
    // Codes Java does not retry fail at once.
    broker
        .faults()
        .fail_next_sends(1, ResponseCode::MESSAGE_ILLEGAL);
    let err = producer.send(msg("busy", "refused")).await.unwrap_err();
    assert_eq!(err.response_code(), Some(ResponseCode::MESSAGE_ILLEGAL));
}

#[tokio::test]
async fn non_ok_store_status_is_reported_and_optionally_retried_elsewhere() {
    let broker = EmbeddedBroker::builder().brokers(2).start().await.unwrap();
    // On both brokers, so the route lists both (auto-creation would only create it on the
    // broker that took the first send).
    broker.create_topic("st", 4).await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-status").start().await.unwrap();
    producer.send(msg("st", "warm-up")).await.unwrap();
    broker
        .faults()
        .set_send_status(Some(ResponseCode::FLUSH_DISK_TIMEOUT));
    let r = producer.send(msg("st", "slow disk")).await.unwrap();
    assert_eq!(r.status, SendStatus::FlushDiskTimeout);
    assert_eq!(r.attempts, 1, "not retried by default");
    broker.faults().set_send_status(None);

    // Only the first broker's disk is slow now; with the option on, those sends move on.
    broker
        .broker(0)
        .faults()
        .set_send_status(Some(ResponseCode::FLUSH_DISK_TIMEOUT));
    let retrying = client
        .producer("p-status-2")
        .retry_another_broker_when_not_store_ok(true)
        .start()
        .await
        .unwrap();
    let slow = broker.broker(0).name().to_owned();
    let mut moved = 0;
    for i in 0..10 {
        let r = retrying.send(msg("st", &format!("m{i}"))).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert_ne!(r.queue.broker_name, slow);
        if r.attempts == 2 {
            moved += 1;
        }
    }
    assert!(
        moved > 0,
        "round-robin put some first attempts on the slow broker"
    );
}

#[tokio::test]
async fn retry_moves_to_the_other_broker_when_one_is_down() {
    let broker = EmbeddedBroker::builder().brokers(2).start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-failover").start().await.unwrap();
    broker.create_topic("fo", 4).await.unwrap();
    let route = client.refresh_route("fo").await.unwrap();
    let brokers: std::collections::BTreeSet<_> = route
        .publish_queues
        .iter()
        .map(|q| q.broker_name.clone())
        .collect();
    assert_eq!(brokers.len(), 2, "route lists both brokers: {brokers:?}");
    let down = broker.broker(0).name().to_owned();
    broker.crash_broker(0).await.unwrap();
    for i in 0..10 {
        let r = producer.send(msg("fo", &format!("m{i}"))).await.unwrap();
        assert_ne!(r.queue.broker_name, down, "sent to the live broker");
    }
}

#[tokio::test]
async fn ordered_sends_by_key_land_on_one_queue_as_java_would_choose() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-order").start().await.unwrap();
    let route_queues = {
        producer.send(msg("ordered", "create")).await.unwrap();
        client
            .refresh_route("ordered")
            .await
            .unwrap()
            .publish_queues
            .clone()
    };
    let expected = &route_queues[java_hash_index(
        rocketmq_sdk::producer::JavaHashCode::java_hash_code("order-42"),
        route_queues.len(),
    )];
    for i in 0..20 {
        let r = producer
            .send_with_selector(
                msg("ordered", &format!("step-{i}")),
                &SelectByHash,
                "order-42",
            )
            .await
            .unwrap();
        assert_eq!(&r.queue, expected);
    }
    let bodies: Vec<_> = broker
        .messages("ordered")
        .unwrap()
        .into_iter()
        .filter(|m| m.queue_id == expected.queue_id)
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .filter(|b| b.starts_with("step-"))
        .collect();
    let want: Vec<_> = (0..20).map(|i| format!("step-{i}")).collect();
    assert_eq!(bodies, want);
}

#[tokio::test]
async fn large_bodies_are_compressed_on_the_wire_and_read_back_whole() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-zip").start().await.unwrap();
    let body: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    assert!(body.len() > 4096);
    producer.send(msg("zip", &body)).await.unwrap();
    // Read the stored record itself: the flag and the smaller body prove the wire form.
    let store = broker.broker(0).store().unwrap();
    let queue = store.queue_ids("zip")[0];
    let got = store
        .get_messages("zip", queue, 0, 1, usize::MAX, None)
        .unwrap();
    let raw = decode_message_ext(
        &got.messages[0].record,
        &DecodeOptions {
            decompress_body: false,
            ..DecodeOptions::default()
        },
    )
    .unwrap();
    assert!(sysflag::is_compressed(raw.sys_flag), "stored compressed");
    assert!(raw.body.len() < body.len());
    let decoded = broker.messages("zip").unwrap();
    assert_eq!(&decoded[0].body[..], body.as_bytes(), "inflated on read");
}

#[tokio::test]
async fn invalid_messages_are_refused_before_any_network_call() {
    // Nothing listens here: any network call would fail with a connect error instead.
    let client = Client::builder()
        .name_server("127.0.0.1:1")
        .build()
        .await
        .unwrap();
    let producer = client.producer("p-invalid").start().await.unwrap();
    let big = Message::new("t", Bytes::from(vec![0u8; 4 * 1024 * 1024 + 1]));
    assert!(matches!(
        producer.send(big).await,
        Err(Error::InvalidMessage(_))
    ));
    assert!(matches!(
        producer.send(Message::new("t", Bytes::new())).await,
        Err(Error::InvalidMessage(_))
    ));
    assert!(matches!(
        producer.send(msg("bad topic!", "x")).await,
        Err(Error::InvalidMessage(_))
    ));
    // Java's NOT_ALLOWED_SEND_TOPIC_SET is refused before sending; other system topics
    // (TBW102, the trace topic) are not, as in Java's `Validators.checkMessage`.
    assert!(matches!(
        producer.send(msg("SCHEDULE_TOPIC_XXXX", "x")).await,
        Err(Error::InvalidMessage(_))
    ));
    let err = Client::builder().build().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                field: "name_servers",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn timeouts_are_typed() {
    // A peer that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let client = Client::builder()
        .name_server(addr)
        .request_timeout(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let producer = client.producer("p-timeout").start().await.unwrap();
    let err = producer.send(msg("t", "x")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn a_topic_created_after_start_is_found() {
    let broker = EmbeddedBroker::builder()
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-late").start().await.unwrap();
    let err = producer.send(msg("late", "too early")).await.unwrap_err();
    assert!(matches!(err, Error::NoRoute(_)), "{err:?}");
    broker.create_topic("late", 2).await.unwrap();
    let r = producer.send(msg("late", "now")).await.unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
}

#[tokio::test]
async fn a_consumer_on_the_same_client_finds_a_topic_the_producer_auto_created() {
    use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
    use rocketmq_sdk::protocol::message::MessageExt;
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let client = client_for(&broker).await;
    let producer = client.producer("p-auto").start().await.unwrap();
    // The first send goes out on the default topic's route (the broker creates "auto").
    producer.send(msg("auto", "one")).await.unwrap();
    let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let g = got.clone();
    let consumer = client
        .push_consumer("c-auto")
        .subscribe("auto", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(100))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let g = g.clone();
            async move {
                g.fetch_add(msgs.len(), std::sync::atomic::Ordering::SeqCst);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            got.load(std::sync::atomic::Ordering::SeqCst) == 1
        })
        .await,
        "the consumer must not keep the producer's borrowed default-topic route"
    );
    consumer.shutdown().await;
}
