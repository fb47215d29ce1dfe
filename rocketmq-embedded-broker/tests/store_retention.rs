//! Retention: expired commit-log files go on a manual trigger, at the deletion hour, or when
//! the disk fills; consume queues and index follow; a full disk refuses puts.

mod store_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_embedded_broker::store::storage::{MemoryStorage, Storage};
use rocketmq_embedded_broker::store::{
    FixedDiskUsage, GetStatus, ManualClock, PutStatus, Store, StoreConfigBuilder,
};
use store_support::*;

const SEG: i64 = 64 * 1024;
const HOUR: i64 = 3_600_000;

fn config(
    storage: &MemoryStorage,
    clock: &Arc<ManualClock>,
    disk: &Arc<FixedDiskUsage>,
) -> StoreConfigBuilder {
    small_config(Arc::new(storage.clone()), clock.clone()).disk_probe(disk.clone())
}

async fn fill(store: &Store, segments: i64) -> usize {
    let body = vec![1u8; 900];
    let mut n = 0;
    while store.commit_log_max_offset() < segments * SEG {
        let r = store
            .put_message(msg_with(
                "Ret",
                (n % 2) as i32,
                &body,
                None,
                &[&format!("k{n}")],
            ))
            .await;
        assert_eq!(r.status, PutStatus::PutOk);
        n += 1;
    }
    n
}

fn files(storage: &MemoryStorage, dir: &str) -> usize {
    storage
        .read_dir(Path::new(dir))
        .map(|v| v.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn manual_trigger_deletes_only_expired_files_and_queues_follow() {
    let (storage, clock) = mem();
    let disk = Arc::new(FixedDiskUsage::new(10));
    // Start at 22:13 UTC, far from the default deletion hour 04.
    let (store, _) = Store::open(config(&storage, &clock, &disk).build().unwrap()).unwrap();
    let mut n = fill(&store, 5).await;
    // Two more, so both queues have a message in the newest segment.
    for q in 0..2 {
        assert!(
            store
                .put_message(msg_with("Ret", q, b"new", None, &[&format!("k{n}")]))
                .await
                .is_stored()
        );
        n += 1;
    }
    assert_eq!(files(&storage, "/mem/store/commitlog"), 6);
    let cq_files_before = files(&storage, "/mem/store/consumequeue/Ret/0");
    let index_files_before = files(&storage, "/mem/store/index");
    assert!(index_files_before >= 2);

    clock.advance(71 * HOUR);
    assert_eq!(store.delete_expired_files().unwrap(), 0, "not expired yet");
    clock.advance(2 * HOUR);
    let deleted = store.delete_expired_files().unwrap();
    assert_eq!(deleted, 5, "every file but the newest");
    assert_eq!(files(&storage, "/mem/store/commitlog"), 1);
    assert_eq!(store.commit_log_min_offset(), 5 * SEG);

    // Consume queues: min offsets moved past the deleted records, whole files went away.
    for q in 0..2 {
        let min = store.min_offset("Ret", q);
        assert!(min > 0);
        let got = store.get_messages("Ret", q, 0, 1, 1 << 20, None).unwrap();
        assert_eq!(got.status, GetStatus::OffsetTooSmall);
        assert_eq!(got.next_begin_offset, min);
        let got = store.get_messages("Ret", q, min, 1, 1 << 20, None).unwrap();
        assert_eq!(got.status, GetStatus::Found);
        assert!(got.messages[0].commit_log_offset >= 5 * SEG);
        if min > 0 {
            let before = store
                .get_messages("Ret", q, min - 1, 1, 1 << 20, None)
                .unwrap();
            assert_eq!(before.status, GetStatus::OffsetTooSmall);
        }
    }
    assert!(files(&storage, "/mem/store/consumequeue/Ret/0") < cq_files_before);
    assert!(files(&storage, "/mem/store/index") < index_files_before);
    // Keys of deleted messages are gone; the newest ones still resolve.
    assert!(
        store
            .query_by_key("Ret", "k0", 4, 0, i64::MAX)
            .unwrap()
            .messages
            .is_empty()
    );
    let last = format!("k{}", n - 1);
    assert_eq!(
        store
            .query_by_key("Ret", &last, 4, 0, i64::MAX)
            .unwrap()
            .messages
            .len(),
        1
    );

    // The state survives a restart.
    store.shutdown().unwrap();
    let (store, report) = Store::open(config(&storage, &clock, &disk).build().unwrap()).unwrap();
    assert!(report.truncation.is_none());
    assert_eq!(store.commit_log_min_offset(), 5 * SEG);
    assert!(store.min_offset("Ret", 0) > 0);
}

#[tokio::test]
async fn the_cleaner_deletes_at_the_deletion_hour() {
    let (storage, clock) = mem();
    let disk = Arc::new(FixedDiskUsage::new(10));
    let cfg = config(&storage, &clock, &disk)
        .clean_resource_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg).unwrap();
    fill(&store, 3).await;
    // 22:13 + 80 h = 06:13: past the reserved time but not the hour.
    clock.advance(80 * HOUR);
    assert!(!wait_until(Duration::from_millis(200), || store
        .commit_log_min_offset()
        > 0));
    // 04:13 two days later.
    clock.advance(22 * HOUR);
    assert!(wait_until(Duration::from_secs(10), || store
        .commit_log_min_offset()
        == 3 * SEG));
}

#[tokio::test]
async fn disk_usage_drives_deletion_and_admission() {
    let (storage, clock) = mem();
    let disk = Arc::new(FixedDiskUsage::new(10));
    let cfg = config(&storage, &clock, &disk)
        .clean_resource_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg).unwrap();
    fill(&store, 4).await;
    // Over the 75 % ratio: expired files go at any hour, unexpired ones stay.
    disk.set_percent(80);
    clock.advance(HOUR);
    assert!(!wait_until(Duration::from_millis(200), || store
        .commit_log_min_offset()
        > 0));
    clock.advance(72 * HOUR);
    assert!(wait_until(Duration::from_secs(10), || store
        .commit_log_min_offset()
        == 4 * SEG));
    // Over the 85 % forced ratio: files go even unexpired.
    disk.set_percent(10);
    fill(&store, 7).await;
    disk.set_percent(86);
    assert!(wait_until(Duration::from_secs(10), || store
        .commit_log_min_offset()
        == 7 * SEG));
    // Over the 90 % warning ratio: puts are refused until usage drops.
    disk.set_percent(95);
    assert!(wait_until(Duration::from_secs(10), || {
        futures::executor::block_on(store.put_message(msg("Ret", 0, b"x"))).status
            == PutStatus::ServiceNotAvailable
    }));
    disk.set_percent(50);
    assert!(wait_until(Duration::from_secs(10), || {
        futures::executor::block_on(store.put_message(msg("Ret", 0, b"x"))).status
            == PutStatus::PutOk
    }));
}
