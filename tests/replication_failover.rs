//! The SDK against a master with a slave, over loopback: send receipts carry the
//! replication status, and a running push consumer keeps consuming from the slave once the
//! master dies (the route then lists only broker id 1), committing its offsets there.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::{EmbeddedBroker, ReplicationMode};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, SendStatus};
use rocketmq_suite::wait_until;
use tokio::sync::Semaphore;

const T: Duration = Duration::from_secs(20);

async fn client(ns: &str) -> Client {
    Client::builder()
        .name_server(ns)
        .heartbeat_interval(Duration::from_millis(200))
        .route_poll_interval(Duration::from_millis(200))
        .persist_offset_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receipts_carry_the_replication_status() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .slave_timeout(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    b.create_topic("receipts", 1).await.unwrap();
    let c = client(&b.name_server_addr()).await;
    let p = c.producer("receipts-p").start().await.unwrap();
    let send = || p.send(Message::new("receipts", Bytes::from_static(b"x")));
    assert_eq!(send().await.unwrap().status, SendStatus::SendOk);
    let slave = b.slave(0).unwrap();
    slave
        .faults()
        .delay_replication(Some(Duration::from_millis(500)));
    assert_eq!(send().await.unwrap().status, SendStatus::FlushSlaveTimeout);
    slave.crash().await;
    assert_eq!(send().await.unwrap().status, SendStatus::SlaveNotAvailable);
    assert_eq!(b.messages("receipts").unwrap().len(), 3, "all stored");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_consumer_moves_to_the_slave_when_the_master_dies() {
    const N: usize = 200;
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .start()
        .await
        .unwrap();
    let topic = "failover";
    let group = "failover-g";
    b.create_topic(topic, 1).await.unwrap();
    let ns = b.name_server_addr();
    let pc = client(&ns).await;
    let p = pc.producer("failover-p").start().await.unwrap();
    for i in 0..N {
        let r = p
            .send(Message::new(topic, Bytes::from(format!("m{i}"))))
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
    }
    pc.shutdown().await;

    // The consumer may only run as far as the test lets it, so most of the queue is still
    // unpulled when the master dies.
    let gate = Arc::new(Semaphore::new(0));
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let cc = client(&ns).await;
    let (g, s) = (gate.clone(), seen.clone());
    let consumer = cc
        .push_consumer(group)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .pull_batch_size(5)
        .pull_threshold_for_queue(5, 1 << 20)
        .consume_concurrency(1)
        .rebalance_interval(Duration::from_millis(200))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                for m in &msgs {
                    if let Ok(permit) = g.acquire().await {
                        permit.forget();
                    }
                    s.lock()
                        .unwrap()
                        .insert(String::from_utf8_lossy(&m.body).into_owned());
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    gate.add_permits(20);
    assert!(wait_until(T, || async { seen.lock().unwrap().len() >= 20 }).await);
    b.crash_broker(0).await.unwrap();
    gate.add_permits(N * 2);
    let all = wait_until(T, || async { seen.lock().unwrap().len() == N }).await;
    assert!(all, "consumed {} of {N}", seen.lock().unwrap().len());
    // Offsets went to the slave, the only broker left.
    let slave = b.slave(0).unwrap();
    let committed = wait_until(T, || async {
        slave.consumer_offsets(group, topic).get(&0) == Some(&(N as i64))
    })
    .await;
    assert!(committed, "{:?}", slave.consumer_offsets(group, topic));
    consumer.shutdown().await;
    cc.shutdown().await;
}
