//! Recovery: torn tails, bit flips, lost unflushed data under ASYNC_FLUSH, rebuilt consume
//! queues and index, consume-queue units beyond the commit log.

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use rocketmq_embedded_broker::store::storage::{MemoryStorage, Storage};
use rocketmq_embedded_broker::store::{
    FlushDiskType, GetStatus, PutResult, Store, StoreConfig, TruncationReason,
};
use rocketmq_sdk::protocol::message::record::{RecordRead, read_record};
use store_support::*;

async fn put_n(store: &Store, n: usize, tag: &str) -> Vec<PutResult> {
    let mut out = Vec::new();
    for i in 0..n {
        let body = format!("{tag}-{i}-{}", "x".repeat(i % 300));
        let key = format!("{tag}-{i}");
        let r = store
            .put_message(msg_with(
                "R",
                (i % 2) as i32,
                body.as_bytes(),
                Some(tag),
                &[&key],
            ))
            .await;
        assert!(r.is_stored(), "{r:?}");
        out.push(r);
    }
    out
}

fn sync_config(
    storage: &MemoryStorage,
    clock: Arc<rocketmq_embedded_broker::store::ManualClock>,
) -> StoreConfig {
    small_config(Arc::new(storage.clone()), clock)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .build()
        .unwrap()
}

fn assert_all_present(store: &Store, puts: &[PutResult]) {
    for p in puts {
        let rec = store
            .message_by_offset(p.physical_offset)
            .unwrap()
            .expect("present");
        let Ok(RecordRead::Record(v)) = read_record(&rec) else {
            panic!("garbage")
        };
        assert!(v.verify_crc());
        assert_eq!(v.queue_offset(), p.queue_offset);
    }
}

#[tokio::test]
async fn torn_tail_is_truncated_and_reported() {
    let (storage, clock) = mem();
    let cfg = sync_config(&storage, clock);
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let puts = put_n(&store, 20, "a").await;
    let end = store.commit_log_max_offset();
    // A second copy of the last record, cut short, at the end: a torn append.
    let last = store
        .message_by_offset(puts[19].physical_offset)
        .unwrap()
        .unwrap();
    store.crash();
    drop(store);
    let mut torn = last.to_vec();
    torn[28..36].copy_from_slice(&end.to_be_bytes());
    write_file(
        &storage,
        &segment_path(0),
        end as u64,
        &torn[..torn.len() / 2],
    );
    storage.power_loss();

    let (store, report) = Store::open(cfg.clone()).unwrap();
    assert!(report.abnormal);
    let t = report.truncation.clone().expect("truncation reported");
    assert_eq!(t.offset, end);
    assert!(!t.in_middle);
    assert!(
        matches!(
            t.reason,
            TruncationReason::BadLength { .. } | TruncationReason::Malformed(_)
        ),
        "{t:?}"
    );
    assert!(report.truncated_bytes > 0 && report.truncated_bytes <= (torn.len() / 2) as u64);
    assert_eq!(report.records_recovered, 20);
    assert_eq!(store.commit_log_max_offset(), end);
    assert_all_present(&store, &puts);
    assert_eq!(store.max_offset("R", 0) + store.max_offset("R", 1), 20);
    // The zeroed tail takes new appends.
    let r = store.put_message(msg("R", 0, b"after")).await;
    assert_eq!(r.physical_offset, end);
    assert_eq!(r.queue_offset, 10);
    store.shutdown().unwrap();
    let (store, report) = Store::open(cfg).unwrap();
    assert!(report.truncation.is_none(), "{report:?}");
    assert_eq!(store.max_offset("R", 0), 11);
}

#[tokio::test]
async fn damaged_body_of_last_record_is_dropped_with_its_queue_unit() {
    let (storage, clock) = mem();
    let cfg = sync_config(&storage, clock);
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let puts = put_n(&store, 11, "b").await;
    store.flush().unwrap();
    store.crash();
    drop(store);
    // Zero 10 bytes of the last record's body (the CRC covers the body only, as upstream).
    let last = &puts[10];
    let at = (last.physical_offset + 84 + 4) as u64;
    write_file(&storage, &segment_path(0), at, &[0u8; 10]);

    let (store, report) = Store::open(cfg).unwrap();
    let t = report.truncation.expect("truncation");
    assert_eq!(t.reason, TruncationReason::CrcMismatch);
    assert_eq!(t.offset, last.physical_offset);
    assert_eq!(report.consume_queue_units_truncated, 1);
    assert_eq!(
        store.max_offset("R", 0),
        5,
        "queue 0 lost its unit for the damaged record"
    );
    assert_eq!(store.max_offset("R", 1), 5);
    assert_all_present(&store, &puts[..10]);
    assert!(
        store
            .query_by_key("R", "b-10", 4, 0, i64::MAX)
            .unwrap()
            .messages
            .is_empty()
    );
    assert_eq!(
        store
            .query_by_key("R", "b-9", 4, 0, i64::MAX)
            .unwrap()
            .messages
            .len(),
        1
    );
}

#[tokio::test]
async fn bit_flip_in_the_middle_stops_recovery_at_the_last_good_record() {
    let (storage, clock) = mem();
    let cfg = sync_config(&storage, clock);
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let puts = put_n(&store, 300, "c").await;
    assert!(
        store.commit_log_max_offset() > 64 * 1024 && store.commit_log_max_offset() < 3 * 64 * 1024
    );
    store.shutdown().unwrap();
    drop(store);
    // Flip one body bit of a record in the first segment.
    let victim = puts
        .iter()
        .position(|p| p.physical_offset > 30_000)
        .unwrap();
    let p = &puts[victim];
    let at = (p.physical_offset + 90) as u64;
    let mut b = read_file(&storage, &segment_path(0), at, 1);
    b[0] ^= 0x10;
    write_file(&storage, &segment_path(0), at, &b);

    let (store, report) = Store::open(cfg).unwrap();
    assert!(!report.abnormal);
    let t = report.truncation.clone().expect("truncation");
    assert_eq!(t.reason, TruncationReason::CrcMismatch);
    assert_eq!(t.offset, p.physical_offset);
    assert!(t.in_middle, "{report:?}");
    assert_eq!(report.segments_deleted, 1);
    assert_eq!(report.records_recovered, victim as u64);
    assert_eq!(store.commit_log_max_offset(), p.physical_offset);
    assert_all_present(&store, &puts[..victim]);
    for q in [0, 1] {
        let max = store.max_offset("R", q);
        let got = store
            .get_messages("R", q, max - 1, 1, 1 << 20, None)
            .unwrap();
        assert_eq!(got.status, GetStatus::Found);
        assert!(got.messages[0].commit_log_offset < p.physical_offset);
    }
    assert_eq!(
        store.max_offset("R", 0) + store.max_offset("R", 1),
        victim as i64
    );
}

#[tokio::test]
async fn async_flush_process_crash_loses_nothing_and_power_loss_only_the_unflushed_tail() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock)
        .flush_interval_commit_log(Duration::from_secs(3600))
        .flush_interval_consume_queue(Duration::from_secs(3600))
        .build()
        .unwrap();
    for power_loss in [false, true] {
        let (store, _) = Store::open(cfg.clone()).unwrap();
        let before = store.max_offset("R", 0) + store.max_offset("R", 1);
        let flushed = put_n(&store, 50, "d").await;
        store.flush().unwrap();
        let unflushed = put_n(&store, 30, "e").await;
        assert_eq!(
            store.max_offset("R", 0) + store.max_offset("R", 1),
            before + 80
        );
        store.crash();
        drop(store);
        if power_loss {
            storage.power_loss();
        }
        let (store, report) = Store::open(cfg.clone()).unwrap();
        assert!(report.abnormal);
        assert_all_present(&store, &flushed);
        if power_loss {
            // A machine crash loses what was not synced.
            assert_eq!(
                store.max_offset("R", 0) + store.max_offset("R", 1),
                before + 50
            );
            assert_eq!(store.commit_log_max_offset(), unflushed[0].physical_offset);
            assert!(
                store
                    .message_by_offset(unflushed[0].physical_offset)
                    .unwrap()
                    .is_none()
            );
        } else {
            // A process crash loses nothing: appends were in the kernel before the ack.
            assert_eq!(
                store.max_offset("R", 0) + store.max_offset("R", 1),
                before + 80
            );
            assert_all_present(&store, &unflushed);
        }
        store.shutdown().unwrap();
    }
}

#[tokio::test]
async fn lost_consume_queue_and_index_are_rebuilt_from_the_commit_log() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .flush_interval_consume_queue(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let puts = put_n(&store, 100, "f").await;
    store.crash();
    drop(store);
    storage.power_loss();
    let (store, report) = Store::open(cfg).unwrap();
    assert!(report.abnormal);
    assert_eq!(report.scan_start_offset, 0);
    assert_eq!(report.consume_queue_units_rebuilt, 100);
    assert_eq!(store.max_offset("R", 0), 50);
    assert_eq!(store.max_offset("R", 1), 50);
    assert_all_present(&store, &puts);
    for (i, p) in puts.iter().enumerate() {
        let got = store
            .get_messages("R", (i % 2) as i32, p.queue_offset, 1, 1 << 20, None)
            .unwrap();
        assert_eq!(got.messages[0].commit_log_offset, p.physical_offset);
        let q = store
            .query_by_key("R", &format!("f-{i}"), 4, 0, i64::MAX)
            .unwrap();
        assert_eq!(q.messages.len(), 1, "key f-{i}");
        assert_eq!(q.messages[0].commit_log_offset, p.physical_offset);
    }
}

#[tokio::test]
async fn consume_queue_units_beyond_the_commit_log_are_truncated() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock)
        .flush_interval_commit_log(Duration::from_secs(3600))
        .flush_interval_consume_queue(Duration::from_millis(5))
        .flush_consume_queue_thorough_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let flushed = put_n(&store, 50, "g").await;
    store.flush().unwrap();
    put_n(&store, 30, "h").await;
    // Wait until the consume-queue flusher synced queue 1's unit for offset 39 (the 80th
    // put); the commit log's last 30 records are never synced, so a power loss leaves
    // consume-queue units pointing past the commit log's end.
    let cq1 = std::path::PathBuf::from("/mem/store/consumequeue/R/1/00000000000000000000");
    assert!(wait_until(Duration::from_secs(10), || {
        storage
            .read_durable(&cq1, 39 * 20 + 8, 4)
            .is_some_and(|b| b != [0, 0, 0, 0])
    }));
    store.crash();
    drop(store);
    storage.power_loss();
    let (store, report) = Store::open(cfg).unwrap();
    assert_eq!(report.consume_queue_units_truncated, 30, "{report:?}");
    assert_eq!(store.max_offset("R", 0) + store.max_offset("R", 1), 50);
    assert_all_present(&store, &flushed);
    let got = store.get_messages("R", 1, 24, 32, 1 << 20, None).unwrap();
    assert_eq!(got.messages.len(), 1);
    assert_eq!(got.status, GetStatus::Found);
    let _: &dyn Storage = &storage;
}
