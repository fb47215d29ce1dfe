//! Master/slave replication in the harness, over loopback TCP with raw requests: SYNC_MASTER
//! statuses (SEND_OK once the slave has it, SLAVE_NOT_AVAILABLE, FLUSH_SLAVE_TIMEOUT),
//! ASYNC_MASTER, the slave's registration as broker id 1, its read-only service, catching up
//! after a restart, and segment roll-over.

mod broker_support;

use std::time::Duration;

use broker_support::*;
use rocketmq_embedded_broker::{EmbeddedBroker, ReplicationMode};
use rocketmq_sdk::protocol::body::{JsonBody, TopicRouteData};
use rocketmq_sdk::protocol::header::GetRouteInfoRequestHeader;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::Connection;

async fn route(ns: &Connection, topic: &str) -> TopicRouteData {
    let mut req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            accept_standard_json_only: Some(true),
            ..Default::default()
        },
    );
    req.version = 479;
    let r = ns.request(req, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    TopicRouteData::decode(&r.body).unwrap()
}

/// Whether the slave of broker 0 has caught up with its master.
fn caught_up(b: &EmbeddedBroker) -> bool {
    let master = b.broker(0).commit_log_max_offset().unwrap();
    b.slave(0)
        .unwrap()
        .commit_log_max_offset()
        .is_ok_and(|s| s == master)
}

#[tokio::test]
async fn sync_master_answers_send_ok_once_the_slave_has_the_message() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .start()
        .await
        .unwrap();
    b.create_topic("repl", 2).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    for i in 0..20 {
        let h = send_ok(&conn, "repl", i % 2, format!("m{i}").as_bytes()).await;
        assert_eq!(h.queue_offset, i64::from(i / 2));
        // Answered only after the slave acknowledged past the message's end (the sends are
        // sequential, so that is the master's end).
        let acked = b.broker(0).slave_acked_offset().unwrap();
        assert!(acked >= b.broker(0).commit_log_max_offset().unwrap());
    }
    let master_end = b.broker(0).commit_log_max_offset().unwrap();
    assert_eq!(b.broker(0).slave_acked_offset(), Some(master_end));
    let slave = b.slave(0).unwrap();
    assert!(slave.is_slave());
    assert_eq!(slave.broker_id(), 1);
    assert_eq!(slave.commit_log_max_offset().unwrap(), master_end);
    // The slave rebuilt its consume queues: same messages, same queues, same offsets.
    let on_master = b.broker(0).messages("repl").unwrap();
    let on_slave = slave.messages("repl").unwrap();
    assert_eq!(on_slave.len(), 20);
    let key = |m: &rocketmq_sdk::protocol::message::MessageExt| {
        (
            m.queue_id,
            m.queue_offset,
            m.commit_log_offset,
            m.body.clone(),
        )
    };
    assert_eq!(
        on_master.iter().map(key).collect::<Vec<_>>(),
        on_slave.iter().map(key).collect::<Vec<_>>()
    );
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn slave_registers_as_broker_id_1_and_serves_pulls_read_only() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .start()
        .await
        .unwrap();
    b.create_topic("ro", 1).await.unwrap();
    let master = connect(&b.broker_addrs()[0]).await;
    send_ok(&master, "ro", 0, b"hello").await;
    let ns = connect(&b.name_server_addr()).await;
    let r = route(&ns, "ro").await;
    let addrs = &r.broker_datas[0].broker_addrs;
    assert_eq!(addrs.get(&0), Some(&b.broker_addrs()[0]));
    assert_eq!(addrs.get(&1), Some(&b.slave_addrs()[0]));
    assert_ne!(b.slave_addrs()[0], b.broker_addrs()[0]);

    let slave = connect(&b.slave_addrs()[0]).await;
    let (resp, _) = pull(&slave, &pull_header("g", "ro", 0, 0)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    assert_eq!(bodies(&resp), vec![b"hello".to_vec()]);
    // Sends to a slave get upstream's answer; nothing is stored there.
    let refused = send(&slave, "ro", 0, b"nope").await;
    assert_eq!(
        refused.response_code(),
        ResponseCode::SERVICE_NOT_AVAILABLE,
        "{refused:?}"
    );
    assert!(
        refused
            .remark
            .as_deref()
            .is_some_and(|r| r.contains("messages are put to the slave")),
        "{refused:?}"
    );
    assert_eq!(b.slave(0).unwrap().messages("ro").unwrap().len(), 1);

    // The master gone, its queues stay in the route, served by the slave.
    b.crash_broker(0).await.unwrap();
    let r = route(&ns, "ro").await;
    assert_eq!(r.broker_datas[0].broker_addrs.get(&0), None);
    assert_eq!(
        r.broker_datas[0].broker_addrs.get(&1),
        Some(&b.slave_addrs()[0])
    );
    assert_eq!(r.queue_datas.len(), 1);
    let (resp, _) = pull(&slave, &pull_header("g", "ro", 0, 0)).await;
    assert_eq!(bodies(&resp), vec![b"hello".to_vec()]);
}

#[tokio::test]
async fn sync_master_without_slave_answers_slave_not_available_and_keeps_the_message() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .start()
        .await
        .unwrap();
    b.create_topic("nos", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "nos", 0, b"before").await;
    b.slave(0).unwrap().crash().await;
    assert_eq!(b.broker(0).slave_acked_offset(), None);
    let r = send(&conn, "nos", 0, b"alone").await;
    assert_eq!(
        r.response_code(),
        ResponseCode::SLAVE_NOT_AVAILABLE,
        "{r:?}"
    );
    assert_eq!(
        b.broker(0).messages("nos").unwrap().len(),
        2,
        "stored anyway"
    );

    // A restarted slave catches up from its own commit-log end, then sends are OK again.
    b.slave(0).unwrap().restart().await.unwrap();
    assert!(wait_until(|| caught_up(&b)).await);
    send_ok(&conn, "nos", 0, b"after").await;
    let bodies: Vec<_> = b
        .slave(0)
        .unwrap()
        .messages("nos")
        .unwrap()
        .into_iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(bodies, [&b"before"[..], b"alone", b"after"]);
}

#[tokio::test]
async fn slow_slave_turns_sync_sends_into_flush_slave_timeout() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .slave_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    b.create_topic("slow", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "slow", 0, b"fast").await;
    b.slave(0)
        .unwrap()
        .faults()
        .delay_replication(Some(Duration::from_millis(600)));
    let r = send(&conn, "slow", 0, b"late").await;
    assert_eq!(
        r.response_code(),
        ResponseCode::FLUSH_SLAVE_TIMEOUT,
        "{r:?}"
    );
    // Stored, and the slave gets it in the end.
    b.slave(0).unwrap().faults().delay_replication(None);
    assert!(wait_until(|| caught_up(&b)).await);
    assert_eq!(b.slave(0).unwrap().messages("slow").unwrap().len(), 2);
}

#[tokio::test]
async fn slave_too_far_behind_is_not_waited_for() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .slave_fall_behind_max(1_000)
        .slave_timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    b.create_topic("lag", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "lag", 0, b"one").await;
    b.slave(0)
        .unwrap()
        .faults()
        .delay_replication(Some(Duration::from_secs(5)));
    // The first lagging send waits (the slave is only a small message behind)...
    let first = tokio::spawn({
        let conn = conn.clone();
        async move { send(&conn, "lag", 0, b"two").await }
    });
    assert!(wait_until(|| b.broker(0).messages("lag").unwrap().len() == 2).await);
    // ...the next leaves it more than 1000 bytes behind: answered at once.
    let started = std::time::Instant::now();
    let r = send(&conn, "lag", 0, &[b'x'; 2_000]).await;
    assert_eq!(
        r.response_code(),
        ResponseCode::SLAVE_NOT_AVAILABLE,
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    b.slave(0).unwrap().faults().delay_replication(None);
    first.abort();
}

#[tokio::test]
async fn async_master_answers_before_the_slave_has_it() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Async)
        .slave_timeout(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    b.create_topic("am", 1).await.unwrap();
    b.slave(0)
        .unwrap()
        .faults()
        .delay_replication(Some(Duration::from_millis(300)));
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "am", 0, b"x").await;
    b.slave(0).unwrap().crash().await;
    // No slave at all: still SEND_OK for an ASYNC_MASTER.
    send_ok(&conn, "am", 0, b"y").await;
    b.slave(0).unwrap().faults().delay_replication(None);
    b.slave(0).unwrap().restart().await.unwrap();
    assert!(wait_until(|| caught_up(&b)).await);
    assert_eq!(b.slave(0).unwrap().messages("am").unwrap().len(), 2);
}

#[tokio::test]
async fn replication_follows_segment_roll_over_on_directory_stores() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBroker::builder()
        .directory(dir.path())
        .slave(ReplicationMode::Sync)
        .configure_store(|s| s.commit_log_file_size(8 * 1024))
        .start()
        .await
        .unwrap();
    b.create_topic("roll", 2).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    let body = vec![b'z'; 700];
    for i in 0..60 {
        send_ok(&conn, "roll", i % 2, &body).await;
    }
    let master_end = b.broker(0).commit_log_max_offset().unwrap();
    assert!(master_end > 4 * 8 * 1024, "several segments: {master_end}");
    assert_eq!(
        b.slave(0).unwrap().commit_log_max_offset().unwrap(),
        master_end
    );
    assert_eq!(b.slave(0).unwrap().messages("roll").unwrap().len(), 60);
    assert!(dir.path().join("broker-a-slave").join("commitlog").is_dir());
    // A gracefully restarted slave recovers its own store and keeps following.
    b.slave(0).unwrap().restart().await.unwrap();
    send_ok(&conn, "roll", 0, &body).await;
    assert_eq!(b.slave(0).unwrap().messages("roll").unwrap().len(), 61);
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn slave_ahead_of_a_restarted_master_is_not_trusted() {
    // The master never flushes on its own: its crash loses everything the slave has.
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .slave_timeout(Duration::from_millis(200))
        .configure_store(|s| {
            s.flush_interval_commit_log(Duration::from_secs(3600))
                .flush_commit_log_thorough_interval(Duration::from_secs(3600))
        })
        .start()
        .await
        .unwrap();
    b.create_topic("ahead", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    for i in 0..5 {
        send_ok(&conn, "ahead", 0, format!("m{i}").as_bytes()).await;
    }
    let slave_end = b.slave(0).unwrap().commit_log_max_offset().unwrap();
    b.crash_broker(0).await.unwrap();
    assert_eq!(b.broker(0).slave_acked_offset(), None, "master down");
    b.restart_broker(0).await.unwrap();
    assert!(b.broker(0).commit_log_max_offset().unwrap() < slave_end);
    // The new message lands below offsets the slave acknowledged for other records: the
    // master must not take those acknowledgements for this one.
    let conn = connect(&b.broker_addrs()[0]).await;
    let r = send(&conn, "ahead", 0, b"after the crash").await;
    assert_eq!(
        r.response_code(),
        ResponseCode::SLAVE_NOT_AVAILABLE,
        "{r:?}"
    );
}

#[tokio::test]
async fn batches_that_roll_the_master_over_land_at_the_same_offsets_on_the_slave() {
    // The master moves a whole batch to the next segment; the slave receives it record by
    // record, and its first record alone would still fit the old segment.
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .configure_store(|s| s.commit_log_file_size(8 * 1024))
        .start()
        .await
        .unwrap();
    b.create_topic("batches", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    let body = [b'b'; 600];
    let mut total = 0;
    for i in 0..40 {
        // Batches of 1 to 5 records leave varying room at the ends of segments.
        let bodies: Vec<&[u8]> = vec![&body; 1 + i % 5];
        total += bodies.len();
        let r = conn
            .request(batch_request("batches", 0, &bodies), T)
            .await
            .unwrap();
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    }
    let master_end = b.broker(0).commit_log_max_offset().unwrap();
    assert_eq!(
        b.slave(0).unwrap().commit_log_max_offset().unwrap(),
        master_end
    );
    let offsets = |h: &rocketmq_embedded_broker::BrokerHandle| -> Vec<i64> {
        h.messages("batches")
            .unwrap()
            .iter()
            .map(|m| m.commit_log_offset)
            .collect()
    };
    assert_eq!(offsets(b.broker(0)).len(), total);
    assert_eq!(offsets(b.slave(0).unwrap()), offsets(b.broker(0)));
    // The case happened: a segment was left with room for the batch's first record.
    let stored = b.broker(0).messages("batches").unwrap();
    let rolled_early = stored.windows(2).any(|w| {
        let prev_end = w[0].commit_log_offset + i64::from(w[0].store_size);
        let next = &w[1];
        next.commit_log_offset % (8 * 1024) == 0
            && next.commit_log_offset - prev_end >= i64::from(next.store_size) + 8
    });
    assert!(rolled_early, "no batch rolled over early; adjust the sizes");
}

#[tokio::test]
async fn slave_copies_the_masters_consumer_offsets() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Async)
        .start()
        .await
        .unwrap();
    b.create_topic("offs", 2).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    for i in 0..4 {
        send_ok(&conn, "offs", i % 2, b"m").await;
    }
    // A pull creates the group.
    pull(&conn, &pull_header("g", "offs", 0, 0)).await;
    for (queue_id, offset) in [(0, 2), (1, 1)] {
        let r = conn
            .request(
                RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
                    &rocketmq_sdk::protocol::header::UpdateConsumerOffsetRequestHeader {
                        consumer_group: "g".into(),
                        topic: "offs".into(),
                        queue_id,
                        commit_offset: offset,
                        ..Default::default()
                    },
                ),
                T,
            )
            .await
            .unwrap();
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    }
    let want = std::collections::BTreeMap::from([(0, 2), (1, 1)]);
    assert_eq!(b.broker(0).consumer_offsets("g", "offs"), want);
    // Copied within about a second, so a consumer that comes to the slave while the master
    // is down resumes there.
    assert!(wait_until(|| b.slave(0).unwrap().consumer_offsets("g", "offs") == want).await);
}

#[tokio::test]
async fn a_restarted_master_finds_its_slave_again() {
    let b = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .start()
        .await
        .unwrap();
    b.create_topic("again", 1).await.unwrap();
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "again", 0, b"before").await;
    b.restart_broker(0).await.unwrap();
    // Connected again by the time the restart returns: SEND_OK, not SLAVE_NOT_AVAILABLE.
    assert!(b.broker(0).slave_acked_offset().is_some());
    let conn = connect(&b.broker_addrs()[0]).await;
    send_ok(&conn, "again", 0, b"after").await;
    assert_eq!(b.slave(0).unwrap().messages("again").unwrap().len(), 2);
}
