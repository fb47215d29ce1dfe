//! The broker-facing API: batches, transactions, the schedule topic, long-polling wake-ups,
//! SYNC_FLUSH group commit, flush timeouts, `WAIT=false`, validation and locking.

mod store_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rocketmq_embedded_broker::store::storage::{FaultKind, FaultyStorage, MemoryStorage};
use rocketmq_embedded_broker::store::{
    FlushDiskType, GetStatus, MessageArrivingListener, PutStatus, SCHEDULE_TOPIC, Store, StoreError,
};
use rocketmq_sdk::protocol::message::hash::tags_code;
use rocketmq_sdk::protocol::message::keys;
use rocketmq_sdk::protocol::message::sysflag;
use store_support::*;

#[tokio::test]
async fn batch_gets_consecutive_offsets_in_one_segment() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(small_config(Arc::new(storage), clock).build().unwrap()).unwrap();
    store.put_message(msg("B", 2, b"first")).await;
    let batch: Vec<_> = (0..5)
        .map(|i| msg_with("B", 2, format!("b{i}").as_bytes(), Some("x"), &[]))
        .collect();
    let r = store.put_messages(batch).await;
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!(r.queue_offset, 1);
    assert_eq!(r.message_count, 5);
    assert_eq!(r.msg_ids.len(), 5);
    assert_eq!(r.msg_ids[0].len(), 32);
    let got = store.get_messages("B", 2, 1, 32, 1 << 20, None).unwrap();
    assert_eq!(got.messages.len(), 5);
    let total: usize = got.messages.iter().map(|m| m.record.len()).sum();
    assert_eq!(total, r.wrote_bytes);
    assert_eq!(got.messages[0].commit_log_offset, r.physical_offset);
    assert_eq!(got.body().len(), total);
    let mixed = vec![msg("B", 2, b"a"), msg("B", 3, b"b")];
    assert_eq!(
        store.put_messages(mixed).await.status,
        PutStatus::MessageIllegal
    );
    assert_eq!(
        store.put_messages(Vec::new()).await.status,
        PutStatus::MessageIllegal
    );
}

#[tokio::test]
async fn prepared_and_rollback_messages_skip_the_consume_queue() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(small_config(Arc::new(storage), clock).build().unwrap()).unwrap();
    let mut half = msg("Tx", 0, b"half");
    half.sys_flag = sysflag::TRANSACTION_PREPARED_TYPE;
    half.message.put_property(keys::UNIQ_KEY, "HALF1");
    let r = store.put_message(half).await;
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!(r.queue_offset, 0);
    assert_eq!(store.max_offset("Tx", 0), 0);
    assert_eq!(
        store
            .query_by_key("Tx", "HALF1", 4, 0, i64::MAX)
            .unwrap()
            .messages
            .len(),
        1
    );
    let mut rollback = msg("Tx", 0, b"rb");
    rollback.sys_flag = sysflag::TRANSACTION_ROLLBACK_TYPE;
    rollback.message.put_property(keys::UNIQ_KEY, "RB1");
    store.put_message(rollback).await;
    assert!(
        store
            .query_by_key("Tx", "RB1", 4, 0, i64::MAX)
            .unwrap()
            .messages
            .is_empty()
    );
    let mut commit = msg("Tx", 0, b"commit");
    commit.sys_flag = sysflag::TRANSACTION_COMMIT_TYPE;
    assert_eq!(store.put_message(commit).await.queue_offset, 0);
    assert_eq!(store.max_offset("Tx", 0), 1);
    // Recovery re-dispatch follows the same rule.
    store.crash();
}

#[tokio::test]
async fn schedule_topic_units_carry_the_delivery_time() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(small_config(Arc::new(storage), clock).build().unwrap()).unwrap();
    let mut m = msg_with(SCHEDULE_TOPIC, 2, b"later", Some("tagA"), &[]);
    m.message.set_delay_level(3);
    let r = store.put_message(m).await;
    let got = store
        .get_messages(SCHEDULE_TOPIC, 2, 0, 1, 1 << 20, None)
        .unwrap();
    assert_eq!(got.messages[0].tags_code, r.store_timestamp + 10_000);
    let mut plain = msg_with("Plain", 0, b"x", Some("tagA"), &[]);
    plain.message.set_delay_level(3);
    store.put_message(plain).await;
    let got = store.get_messages("Plain", 0, 0, 1, 1 << 20, None).unwrap();
    assert_eq!(got.messages[0].tags_code, tags_code("tagA"));
}

#[derive(Debug, Default)]
struct Counter(AtomicUsize);

impl MessageArrivingListener for Counter {
    fn arriving(&self, topic: &str, _queue_id: i32, max_offset: i64, _tags: i64, _ts: i64) {
        assert_eq!(topic, "W");
        assert!(max_offset > 0);
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_wake_when_a_message_arrives() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(small_config(Arc::new(storage), clock).build().unwrap()).unwrap();
    let store = Arc::new(store);
    let counter = Arc::new(Counter::default());
    store.set_arriving_listener(Some(counter.clone()));
    assert!(
        !store
            .wait_for_message("W", 1, 0, Duration::from_millis(20))
            .await
    );
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .wait_for_message("W", 1, 0, Duration::from_secs(30))
                .await
        })
    };
    // Make sure the waiter is parked before the put (it can't miss the wake-up either way).
    tokio::task::yield_now().await;
    store.put_message(msg("W", 1, b"wake")).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap()
    );
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert!(
        store
            .wait_for_message("W", 1, 0, Duration::from_millis(1))
            .await
    );
}

fn sync_store(faulty: &FaultyStorage, timeout: Duration) -> Store {
    let (_, clock) = mem();
    let cfg = small_config(Arc::new(faulty.clone()), clock)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .sync_flush_timeout(timeout)
        .commit_log_file_size(16 << 20)
        .build()
        .unwrap();
    Store::open(cfg).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_covers_many_appenders_with_one_sync() {
    let faulty = FaultyStorage::new(Arc::new(MemoryStorage::new()));
    let store = Arc::new(sync_store(&faulty, Duration::from_secs(30)));
    faulty.faults().delay_syncs(Some(Duration::from_millis(20)));
    let before = store.stats().commit_log_syncs;
    let mut tasks = Vec::new();
    for t in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..4 {
                let r = store
                    .put_message(msg("G", t % 4, format!("{t}-{i}").as_bytes()))
                    .await;
                assert_eq!(r.status, PutStatus::PutOk);
                // Acknowledged means durable.
                assert!(
                    store.commit_log_flushed_offset() >= r.physical_offset + r.wrote_bytes as i64
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let syncs = store.stats().commit_log_syncs - before;
    assert!(
        syncs * 8 <= 256,
        "{syncs} syncs for 256 acks: group commit is not grouping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_disk_gives_flush_disk_timeout_but_keeps_the_message() {
    let faulty = FaultyStorage::new(Arc::new(MemoryStorage::new()));
    let store = sync_store(&faulty, Duration::from_millis(30));
    faulty
        .faults()
        .delay_syncs(Some(Duration::from_millis(300)));
    let r = store.put_message(msg("S", 0, b"slow")).await;
    assert_eq!(r.status, PutStatus::FlushDiskTimeout);
    assert!(r.is_stored());
    assert_eq!(
        store
            .get_messages("S", 0, 0, 1, 1 << 20, None)
            .unwrap()
            .status,
        GetStatus::Found
    );
    faulty.faults().heal();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_false_does_not_wait_for_the_flush() {
    let faulty = FaultyStorage::new(Arc::new(MemoryStorage::new()));
    let store = sync_store(&faulty, Duration::from_secs(30));
    faulty.faults().fail_syncs_after(0, FaultKind::Io);
    let mut m = msg("N", 0, b"no wait");
    m.message.set_wait_store_msg_ok(false);
    assert_eq!(store.put_message(m).await.status, PutStatus::PutOk);
    assert_eq!(
        store.put_message(msg("N", 0, b"wait")).await.status,
        PutStatus::IoError
    );
    faulty.faults().heal();
}

#[tokio::test]
async fn illegal_messages_are_refused_and_nothing_is_stored() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage), clock)
        .max_message_size(1000)
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg).unwrap();
    for topic in ["", "bad topic", "../x", &"t".repeat(128)] {
        assert_eq!(
            store.put_message(msg(topic, 0, b"x")).await.status,
            PutStatus::MessageIllegal,
            "{topic:?}"
        );
    }
    assert_eq!(
        store.put_message(msg("T", -1, b"x")).await.status,
        PutStatus::MessageIllegal
    );
    assert_eq!(
        store.put_message(msg("T", 0, &[0u8; 1001])).await.status,
        PutStatus::MessageIllegal
    );
    let mut big = msg("T", 0, b"x");
    big.message.put_property("P", "v".repeat(40_000));
    assert_eq!(
        store.put_message(big).await.status,
        PutStatus::PropertiesSizeExceeded
    );
    assert_eq!(store.commit_log_max_offset(), 0);
    let r = store.put_message(msg("T", 0, b"ok")).await;
    assert_eq!((r.status, r.physical_offset), (PutStatus::PutOk, 0));
    store.shutdown().unwrap();
    assert_eq!(
        store.put_message(msg("T", 0, b"late")).await.status,
        PutStatus::ServiceNotAvailable
    );
    assert!(matches!(store.shutdown(), Err(StoreError::ShutDown)));
}

#[tokio::test]
async fn a_second_store_on_the_same_root_is_refused() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage), clock).build().unwrap();
    let (store, _) = Store::open(cfg.clone()).unwrap();
    assert!(matches!(
        Store::open(cfg.clone()),
        Err(StoreError::Locked(_))
    ));
    store.shutdown().unwrap();
    let (again, _) = Store::open(cfg).unwrap();
    again.crash();
}

#[tokio::test]
async fn offset_by_time_finds_the_first_message_at_or_after() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(
        small_config(Arc::new(storage), clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut times = Vec::new();
    for i in 0..100 {
        clock.advance(if i % 10 == 0 { 1000 } else { 1 });
        times.push(
            store
                .put_message(msg("Time", 0, b"t"))
                .await
                .store_timestamp,
        );
    }
    assert_eq!(store.offset_by_time("Time", 0, 0).unwrap(), 0);
    assert_eq!(store.offset_by_time("Time", 0, i64::MAX).unwrap(), 100);
    for (i, t) in times.iter().enumerate() {
        let first = times.iter().position(|x| x >= t).unwrap();
        assert_eq!(
            store.offset_by_time("Time", 0, *t).unwrap(),
            first as i64,
            "message {i}"
        );
        assert_eq!(
            store.offset_by_time("Time", 0, t - 1).unwrap(),
            times.iter().position(|x| *x >= t - 1).unwrap() as i64
        );
    }
    assert_eq!(
        store.message_store_timestamp("Time", 0, 42).unwrap(),
        Some(times[42])
    );
    assert_eq!(store.offset_by_time("Nope", 0, 5).unwrap(), 0);
}

#[tokio::test]
async fn hostile_arguments_never_panic() {
    let (storage, clock) = mem();
    let (store, _) = Store::open(small_config(Arc::new(storage), clock).build().unwrap()).unwrap();
    store.put_message(msg("H", 0, b"x")).await;
    for off in [i64::MIN, -1, 1, 2, i64::MAX] {
        let _ = store
            .get_messages("H", 0, off, usize::MAX, usize::MAX, None)
            .unwrap();
        let _ = store.get_messages("H", i32::MIN, off, 0, 0, None).unwrap();
        assert!(store.message_by_offset(off).unwrap().is_none() || off == 0);
        let _ = store.message_store_timestamp("H", 0, off).unwrap();
        let _ = store.offset_by_time("H", 0, off).unwrap();
        assert!(
            !store
                .wait_for_message("H", 0, off.max(1), Duration::ZERO)
                .await
                || off < 1
        );
    }
    assert!(
        store
            .query_by_key("H", "", usize::MAX, i64::MIN, i64::MAX)
            .unwrap()
            .messages
            .is_empty()
    );
    assert!(
        store
            .query_by_key("../../etc", "k", 0, 0, 0)
            .unwrap()
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn a_damaged_queue_offset_header_is_not_dispatched_on_recovery() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .flush_interval_consume_queue(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg.clone()).unwrap();
    store.put_message(msg("Q", 0, b"a")).await;
    let r = store.put_message(msg("Q", 0, b"b")).await;
    store.crash();
    drop(store);
    // The body CRC does not cover the header: corrupt QUEUEOFFSET of the second record.
    write_file(
        &storage,
        &segment_path(0),
        (r.physical_offset + 20) as u64,
        &(i64::MAX / 3).to_be_bytes(),
    );
    storage.power_loss();
    // Consume queues were never flushed, so recovery rebuilds them and meets the damaged offset.
    let (store, report) = Store::open(cfg).unwrap();
    assert_eq!(report.records_recovered, 2);
    assert_eq!(store.max_offset("Q", 0), 1);
    assert_eq!(store.put_message(msg("Q", 0, b"c")).await.queue_offset, 1);
}

#[test]
fn readers_run_concurrently_with_appends_and_see_only_whole_records() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage), clock)
        .flush_interval_commit_log(Duration::from_millis(1))
        .flush_commit_log_least_pages(0)
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg).unwrap();
    let store = Arc::new(store);
    const N: i64 = 2000;
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            block_on(async {
                for i in 0..N {
                    let body = format!("{i:08}-{}", "r".repeat((i % 700) as usize));
                    assert!(
                        store
                            .put_message(msg("C", (i % 2) as i32, body.as_bytes()))
                            .await
                            .is_stored()
                    );
                }
            })
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|q| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut next = 0i64;
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while next < N / 2 {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "reader {q} stuck at {next}"
                    );
                    let got = store.get_messages("C", q, next, 32, 1 << 20, None).unwrap();
                    for m in &got.messages {
                        assert_eq!(m.queue_offset, next);
                        let ext = decode(&m.record);
                        let i: i64 = std::str::from_utf8(&ext.message.body[..8])
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert_eq!(i, next * 2 + i64::from(q));
                        next += 1;
                    }
                    if got.messages.is_empty() {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}
