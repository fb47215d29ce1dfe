//! The push consumer against the embedded broker over loopback: clustering rebalance,
//! broadcasting, graceful restart, a killed member, rewind.

mod consumer_support;

use std::collections::BTreeSet;
use std::time::Duration;

use consumer_support::*;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult, MessageModel};
use rocketmq_sdk::protocol::message::MessageExt;
use rocketmq_suite::wait_until;

const FAST_REBALANCE: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_splits_queues_and_moves_them_on_join_and_leave() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("split", 8).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let log = Log::default();
    let mut clients = Vec::new();
    let mut consumers = Vec::new();
    for who in 0..2 {
        let c = client(&broker).await;
        let consumer = c
            .push_consumer("g-split")
            .subscribe("split", "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .rebalance_interval(FAST_REBALANCE)
            .start(recorder(who, log.clone()))
            .await
            .unwrap();
        clients.push(c);
        consumers.push(consumer);
    }
    // Two members: 4 queues each, disjoint.
    assert!(
        wait_until(T, || async {
            let a = owned(&consumers[0], "split");
            let b = owned(&consumers[1], "split");
            a.len() == 4 && b.len() == 4 && a.is_disjoint(&b)
        })
        .await,
        "queues split 4/4: {:?} {:?}",
        owned(&consumers[0], "split"),
        owned(&consumers[1], "split")
    );
    let mut sent = send_n(&producer, "split", "a", 80).await;
    assert!(wait_until(T, || async { log.has_all(&sent) }).await);
    assert!(
        !log.by(0).is_empty() && !log.by(1).is_empty(),
        "both members consumed"
    );

    // A third member joins: 3/3/2, still disjoint and complete.
    let c = client(&broker).await;
    let third = c
        .push_consumer("g-split")
        .subscribe("split", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(FAST_REBALANCE)
        .start(recorder(2, log.clone()))
        .await
        .unwrap();
    clients.push(c);
    consumers.push(third);
    let balanced = |sizes: [usize; 3]| {
        let mut s = sizes;
        s.sort();
        s == [2, 3, 3]
    };
    assert!(
        wait_until(T, || async {
            let sets: Vec<_> = consumers.iter().map(|c| owned(c, "split")).collect();
            let union: BTreeSet<_> = sets.iter().flatten().cloned().collect();
            balanced([sets[0].len(), sets[1].len(), sets[2].len()]) && union.len() == 8
        })
        .await,
        "queues rebalanced over three members"
    );
    sent.extend(send_n(&producer, "split", "b", 80).await);
    assert!(wait_until(T, || async { log.has_all(&sent) }).await);
    assert!(!log.by(2).is_empty(), "the new member consumed");

    // A member leaves gracefully: the two others take its queues over.
    let leaving = consumers.remove(1);
    leaving.shutdown().await;
    assert!(
        wait_until(T, || async {
            let a = owned(&consumers[0], "split");
            let b = owned(&consumers[1], "split");
            a.len() == 4 && b.len() == 4 && a.is_disjoint(&b)
        })
        .await,
        "queues split 4/4 again"
    );
    sent.extend(send_n(&producer, "split", "c", 80).await);
    assert!(
        wait_until(T, || async { log.has_all(&sent) }).await,
        "nothing lost or stuck"
    );
    for c in &consumers {
        c.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_gives_every_instance_every_message() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("bcast", 4).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let mut consumers = Vec::new();
    for who in 0..3 {
        let c = client(&broker).await;
        let consumer = c
            .push_consumer("g-bcast")
            .subscribe("bcast", "*")
            .message_model(MessageModel::Broadcasting)
            .offset_store_dir(dir.path())
            .rebalance_interval(FAST_REBALANCE)
            .start(recorder(who, log.clone()))
            .await
            .unwrap();
        assert_eq!(owned(&consumer, "bcast").len(), 4, "every queue");
        consumers.push((c, consumer));
    }
    let sent = send_n(&producer, "bcast", "m", 40).await;
    assert!(
        wait_until(T, || async {
            (0..3).all(|who| {
                let got: BTreeSet<_> = log.by(who).into_iter().map(|d| d.body).collect();
                sent.iter().all(|b| got.contains(b))
            })
        })
        .await,
        "each instance got every message"
    );
    // Offsets are local: one file per instance, nothing on the broker.
    for (c, consumer) in &consumers {
        consumer.shutdown().await;
        let file = dir
            .path()
            .join(c.client_id())
            .join("g-bcast")
            .join("offsets.json");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("\"topic\":\"bcast\""), "{text}");
    }
    assert!(broker.consumer_offsets("g-bcast", "bcast").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_then_restart_redelivers_nothing() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("restart", 4).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let log = Log::default();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-restart")
        .subscribe("restart", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    let first = send_n(&producer, "restart", "first", 40).await;
    assert!(wait_until(T, || async { log.has_all(&first) }).await);
    consumer.shutdown().await;
    // Every queue's offset is past its last message.
    let offsets = broker.consumer_offsets("g-restart", "restart");
    assert_eq!(offsets.values().sum::<i64>(), 40, "{offsets:?}");

    let second = send_n(&producer, "restart", "second", 20).await;
    let restarted = c
        .push_consumer("g-restart")
        .subscribe("restart", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(recorder(1, log.clone()))
        .await
        .unwrap();
    assert!(wait_until(T, || async { log.has_all(&second) }).await);
    // Give a redelivery the chance to show up: wait for the held pulls (all caught up).
    assert!(wait_until(T, || async { broker.broker(0).held_pulls() >= 4 }).await);
    let again: Vec<_> = log
        .by(1)
        .into_iter()
        .filter(|d| d.body.starts_with("first"))
        .collect();
    assert!(
        again.is_empty(),
        "redelivered after a graceful restart: {again:?}"
    );
    assert!(log.counts().values().all(|n| *n == 1), "each message once");
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_s_unacked_messages_go_to_the_survivor() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("kill", 4).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let log = Log::default();

    let survivor_client = client(&broker).await;
    let survivor = survivor_client
        .push_consumer("g-kill")
        .subscribe("kill", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(FAST_REBALANCE)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();

    // The victim records what it receives but never finishes a message with an odd
    // number: it hangs on them, as a process stuck mid-batch.
    let victim_client = client(&broker).await;
    let vlog = log.clone();
    let victim = victim_client
        .push_consumer("g-kill")
        .subscribe("kill", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(FAST_REBALANCE)
        .start(move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
            let log = vlog.clone();
            async move {
                for m in &msgs {
                    log.record(1, m, ctx.queue());
                }
                let n: u32 = String::from_utf8_lossy(&msgs[0].body)
                    .rsplit('-')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if n % 2 == 1 {
                    std::future::pending::<()>().await;
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            owned(&survivor, "kill").len() == 2 && owned(&victim, "kill").len() == 2
        })
        .await
    );
    let sent = send_n(&producer, "kill", "k", 60).await;
    // The victim has taken some odd messages and is stuck on them.
    assert!(
        wait_until(T, || async {
            log.by(1)
                .iter()
                .filter(|d| d.body.rsplit('-').next().unwrap().parse::<u32>().unwrap() % 2 == 1)
                .count()
                >= 2
        })
        .await
    );
    let stuck: BTreeSet<String> = log
        .by(1)
        .into_iter()
        .map(|d| d.body)
        .filter(|b| b.rsplit('-').next().unwrap().parse::<u32>().unwrap() % 2 == 1)
        .collect();

    // Kill: drop the consumer without shutdown and close the process's connections.
    drop(victim);
    victim_client.shutdown().await;

    assert!(
        wait_until(T, || async { owned(&survivor, "kill").len() == 4 }).await,
        "the survivor took every queue"
    );
    assert!(
        wait_until(T, || async {
            let seen: BTreeSet<String> = log.by(0).into_iter().map(|d| d.body).collect();
            stuck.iter().all(|b| seen.contains(b))
        })
        .await,
        "the victim's unacked messages were redelivered to the survivor"
    );
    assert!(
        wait_until(T, || async { log.has_all(&sent) }).await,
        "none lost"
    );
    survivor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_to_a_timestamp_redelivers_from_there() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("rewind", 2).await.unwrap();
    let (pc, producer) = producer(&broker).await;
    let log = Log::default();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-rewind")
        .subscribe("rewind", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    let old = send_n(&producer, "rewind", "old", 10).await;
    assert!(wait_until(T, || async { log.has_all(&old) }).await);
    // A clear gap in store times between the old and the new messages.
    let stored_last = broker
        .messages("rewind")
        .unwrap()
        .iter()
        .map(|m| m.store_timestamp)
        .max()
        .unwrap();
    assert!(
        wait_until(T, || async {
            rocketmq_sdk::protocol::message::id::now_ms() > stored_last + 20
        })
        .await
    );
    let cut = rocketmq_sdk::protocol::message::id::now_ms();
    let new = send_n(&producer, "rewind", "new", 10).await;
    assert!(wait_until(T, || async { log.has_all(&new) }).await);
    assert!(log.counts().values().all(|n| *n == 1));
    // Everything consumed and committed: wait for the commits to reach the broker.
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("g-rewind", "rewind")
                .values()
                .sum::<i64>()
                == 20
        })
        .await
    );

    let table = pc
        .reset_offset_by_timestamp("g-rewind", "rewind", cut)
        .await
        .unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(
        table.values().sum::<i64>(),
        10,
        "the old messages are before the cut"
    );
    // The new messages come again, the old ones do not.
    assert!(
        wait_until(T, || async {
            let c = log.counts();
            new.iter().all(|b| c.get(b) == Some(&2))
        })
        .await,
        "redelivered from the timestamp: {:?}",
        log.counts()
    );
    assert!(wait_until(T, || async { broker.broker(0).held_pulls() >= 2 }).await);
    let c = log.counts();
    assert!(old.iter().all(|b| c.get(b) == Some(&1)), "{c:?}");
    consumer.shutdown().await;
}

/// Java 4.9.x/5.0 brokers answer a reset for a group with nobody online with
/// CONSUMER_NOT_ONLINE; like Java's mqadmin, the SDK then searches each queue by time and
/// writes the offsets itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_with_no_consumer_online_writes_each_queue_directly() {
    use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
    let broker = broker().await;
    broker.create_topic("offline", 2).await.unwrap();
    let (pc, producer) = producer(&broker).await;
    let sent = send_n(&producer, "offline", "m", 6).await;
    // The group consumed everything once, then went offline.
    let log = Log::default();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-offline")
        .subscribe("offline", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    assert!(wait_until(T, || async { log.has_all(&sent) }).await);
    consumer.shutdown().await;
    c.shutdown().await;
    assert_eq!(
        broker
            .consumer_offsets("g-offline", "offline")
            .values()
            .sum::<i64>(),
        6
    );
    let faults = broker.broker(0).faults();
    faults.fail_next(
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
        1,
        ResponseCode::CONSUMER_NOT_ONLINE,
    );
    faults.requests().start();
    // A time before every message: each queue back to 0... after moving it to the end.
    let table = pc
        .reset_offset_by_timestamp("g-offline", "offline", i64::MAX / 2)
        .await
        .unwrap();
    assert_eq!(table.len(), 2, "{table:?}");
    assert_eq!(
        table.values().sum::<i64>(),
        6,
        "the end of each queue: {table:?}"
    );
    assert_eq!(
        broker.consumer_offsets("g-offline", "offline"),
        table.iter().map(|(mq, o)| (mq.queue_id, *o)).collect()
    );
    let log = faults.requests();
    assert_eq!(log.of(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET).len(), 1);
    assert_eq!(log.of(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP).len(), 2);
    assert_eq!(log.of(RequestCode::UPDATE_CONSUMER_OFFSET).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_started_before_its_topic_exists_picks_it_up() {
    init_tracing();
    let broker = broker().await;
    let log = Log::default();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-late")
        .subscribe("late", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(FAST_REBALANCE)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    assert!(owned(&consumer, "late").is_empty());
    broker.create_topic("late", 4).await.unwrap();
    assert!(
        wait_until(T, || async { owned(&consumer, "late").len() == 4 }).await,
        "queues taken once the topic exists"
    );
    let (_pc, producer) = producer(&broker).await;
    let sent = send_n(&producer, "late", "l", 12).await;
    assert!(wait_until(T, || async { log.has_all(&sent) }).await);
    consumer.shutdown().await;
}

/// With a long rebalance interval (Java's is 20 s), a consumer whose topic did not exist
/// at start still takes its queues soon after the topic appears: rounds that find no route
/// are retried after 1 s, 2 s, 4 s… instead of a whole interval later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_retried_sooner_than_the_rebalance_interval() {
    init_tracing();
    let broker = broker().await;
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-late-slow")
        .subscribe("late-slow", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_secs(600))
        .start(recorder(0, Log::default()))
        .await
        .unwrap();
    assert!(owned(&consumer, "late-slow").is_empty());
    broker.create_topic("late-slow", 2).await.unwrap();
    assert!(
        wait_until(T, || async { owned(&consumer, "late-slow").len() == 2 }).await,
        "queues taken long before the next 600 s round"
    );
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_subscription_filters_and_concurrent_batches() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("tags", 2).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let log = Log::default();
    let batch_sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l, b) = (log.clone(), batch_sizes.clone());
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-tags")
        .subscribe("tags", "A || C")
        .consume_from(ConsumeFrom::FirstOffset)
        .consume_batch_max_size(4)
        .pull_batch_size(16)
        .start(move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
            let (l, b) = (l.clone(), b.clone());
            async move {
                b.lock().unwrap().push(msgs.len());
                for m in &msgs {
                    l.record(0, m, ctx.queue());
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let mut wanted = Vec::new();
    for i in 0..30 {
        let tag = ["A", "B", "C"][i % 3];
        let body = format!("{tag}-{i}");
        let mut m =
            rocketmq_sdk::protocol::message::Message::new("tags", body.clone().into_bytes());
        m.set_tags(tag);
        producer.send(m).await.unwrap();
        if tag != "B" {
            wanted.push(body);
        }
    }
    assert!(wait_until(T, || async { log.has_all(&wanted) }).await);
    // (A trailing run of filtered messages is committed only when the held pull times
    // out, as with the Java broker, so the committed offsets are not checked here.)
    assert!(
        log.all().iter().all(|d| !d.body.starts_with('B')),
        "B filtered out"
    );
    assert_eq!(log.len(), 20, "each wanted message once");
    assert!(
        batch_sizes
            .lock()
            .unwrap()
            .iter()
            .all(|n| (1..=4).contains(n))
    );
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_notification_triggers_the_rebalance() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("notify", 4).await.unwrap();
    let log = Log::default();
    // The periodic rebalance is far away: only NOTIFY_CONSUMER_IDS_CHANGED can move queues
    // within the test's time.
    let slow = Duration::from_secs(3600);
    let c1 = client(&broker).await;
    let first = c1
        .push_consumer("g-notify")
        .subscribe("notify", "*")
        .rebalance_interval(slow)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    assert_eq!(owned(&first, "notify").len(), 4);
    let c2 = client(&broker).await;
    let second = c2
        .push_consumer("g-notify")
        .subscribe("notify", "*")
        .rebalance_interval(slow)
        .start(recorder(1, log.clone()))
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            owned(&first, "notify").len() == 2 && owned(&second, "notify").len() == 2
        })
        .await,
        "the first member gave up half of its queues on the notification"
    );
    second.shutdown().await;
    assert!(
        wait_until(T, || async { owned(&first, "notify").len() == 4 }).await,
        "and took them back when the second left"
    );
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_resumes_from_the_local_offset_file() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("bcast-file", 2).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let start = |who: usize| {
        let (log, dir, ns) = (
            log.clone(),
            dir.path().to_owned(),
            broker.name_server_addr(),
        );
        async move {
            let c = rocketmq_sdk::Client::builder()
                .name_server(ns)
                .instance_name("bcast-fixed")
                .persist_offset_interval(Duration::from_millis(100))
                .build()
                .await
                .unwrap();
            let consumer = c
                .push_consumer("g-bcast-file")
                .subscribe("bcast-file", "*")
                .message_model(MessageModel::Broadcasting)
                .consume_from(ConsumeFrom::FirstOffset)
                .offset_store_dir(dir)
                .start(recorder(who, log))
                .await
                .unwrap();
            (c, consumer)
        }
    };
    let (_c1, first) = start(0).await;
    let old = send_n(&producer, "bcast-file", "old", 10).await;
    assert!(wait_until(T, || async { log.has_all(&old) }).await);
    first.shutdown().await;
    let new = send_n(&producer, "bcast-file", "new", 5).await;
    let (_c2, second) = start(1).await;
    assert!(wait_until(T, || async { log.has_all(&new) }).await);
    assert!(wait_until(T, || async { broker.broker(0).held_pulls() >= 2 }).await);
    assert!(
        log.by(1).iter().all(|d| d.body.starts_with("new")),
        "the restarted instance continued from its file: {:?}",
        log.by(1)
    );
    second.shutdown().await;
}
