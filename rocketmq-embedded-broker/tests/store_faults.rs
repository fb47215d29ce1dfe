//! Injected I/O faults: a failed write or sync is reported to the appender and damages nothing
//! that was acknowledged before it.

mod store_support;

use std::sync::Arc;

use rocketmq_embedded_broker::store::storage::{FaultKind, FaultyStorage, MemoryStorage};
use rocketmq_embedded_broker::store::{
    FlushDiskType, GetStatus, PutResult, PutStatus, Store, StoreConfig,
};
use store_support::*;

fn config(storage: &FaultyStorage) -> StoreConfig {
    let (_, clock) = mem();
    small_config(Arc::new(storage.clone()), clock)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .build()
        .unwrap()
}

async fn put(store: &Store, i: usize) -> PutResult {
    let body = format!("m{i}-{}", "z".repeat(i * 37 % 900));
    store
        .put_message(msg_with(
            "F",
            (i % 2) as i32,
            body.as_bytes(),
            None,
            &[&format!("m{i}")],
        ))
        .await
}

/// Every acked message is present and intact; every served unit is an intact record.
fn check(store: &Store, acked: &[(usize, PutResult)]) {
    for (i, p) in acked {
        let rec = store
            .message_by_offset(p.physical_offset)
            .unwrap()
            .unwrap_or_else(|| panic!("acked m{i} missing"));
        let ext = decode(&rec);
        assert!(ext.message.body.starts_with(format!("m{i}-").as_bytes()));
        assert_eq!(ext.queue_offset, p.queue_offset);
    }
    for q in 0..2 {
        let max = store.max_offset("F", q);
        let mut off = store.min_offset("F", q);
        while off < max {
            let got = store.get_messages("F", q, off, 32, 1 << 30, None).unwrap();
            assert_eq!(got.status, GetStatus::Found);
            off = got.next_begin_offset;
            for m in &got.messages {
                let v = rocketmq_sdk::protocol::message::RecordView::parse(&m.record).unwrap();
                assert!(v.verify_crc());
            }
        }
    }
}

async fn reopen_and_check(
    storage: &FaultyStorage,
    mem: &MemoryStorage,
    acked: &[(usize, PutResult)],
) {
    storage.faults().heal();
    mem.power_loss();
    let (store, report) = Store::open(config(storage)).unwrap();
    assert!(report.abnormal);
    check(&store, acked);
    // And the store keeps working.
    let r = put(&store, 999).await;
    assert_eq!(r.status, PutStatus::PutOk);
    store.shutdown().unwrap();
}

#[tokio::test]
async fn enospc_during_sync_flush_is_reported_and_corrupts_nothing() {
    for budget in [0u64, 1, 100, 4095, 4096, 5000, 20_000] {
        let mem = MemoryStorage::new();
        let storage = FaultyStorage::new(Arc::new(mem.clone()));
        let (store, _) = Store::open(config(&storage)).unwrap();
        let mut acked = Vec::new();
        for i in 0..40 {
            let r = put(&store, i).await;
            assert_eq!(r.status, PutStatus::PutOk);
            acked.push((i, r));
        }
        storage
            .faults()
            .fail_writes_after(budget, FaultKind::NoSpace);
        let mut failed = 0;
        // Appends write their bytes (not whole pages) through to the file, so the largest
        // budget needs more puts than a page-at-flush store did before one fails.
        for i in 40..200 {
            let r = put(&store, i).await;
            match r.status {
                PutStatus::PutOk => acked.push((i, r)),
                PutStatus::IoError | PutStatus::CreateMappedFileFailed => failed += 1,
                other => panic!("unexpected status {other:?}: {r:?}"),
            }
        }
        assert!(failed > 0, "budget {budget}: some put must fail");
        assert!(storage.faults().injected() > 0);
        // Reads still work while the disk is full.
        check(&store, &acked);
        store.crash();
        drop(store);
        reopen_and_check(&storage, &mem, &acked).await;
    }
}

#[tokio::test]
async fn failed_fsync_is_reported_and_retried_after_healing() {
    let mem = MemoryStorage::new();
    let storage = FaultyStorage::new(Arc::new(mem.clone()));
    let (store, _) = Store::open(config(&storage)).unwrap();
    let mut acked = Vec::new();
    for i in 0..10 {
        acked.push((i, put(&store, i).await));
    }
    storage.faults().fail_syncs_after(0, FaultKind::Io);
    let r = put(&store, 10).await;
    assert_eq!(r.status, PutStatus::IoError, "{r:?}");
    assert!(r.detail.is_some());
    storage.faults().heal();
    // The next successful flush also makes the failed put's bytes durable.
    let r2 = put(&store, 11).await;
    assert_eq!(r2.status, PutStatus::PutOk);
    acked.push((10, r));
    acked.push((11, r2));
    store.crash();
    drop(store);
    reopen_and_check(&storage, &mem, &acked).await;
}

#[tokio::test]
async fn short_writes_are_completed() {
    let mem = MemoryStorage::new();
    let storage = FaultyStorage::new(Arc::new(mem.clone()));
    storage.faults().short_writes(true);
    let (store, _) = Store::open(config(&storage)).unwrap();
    let mut acked = Vec::new();
    for i in 0..150 {
        let r = put(&store, i).await;
        assert_eq!(r.status, PutStatus::PutOk);
        acked.push((i, r));
    }
    store.crash();
    drop(store);
    reopen_and_check(&storage, &mem, &acked).await;
}

#[tokio::test]
async fn failing_segment_creation_refuses_the_put_and_recovers() {
    let mem = MemoryStorage::new();
    let storage = FaultyStorage::new(Arc::new(mem.clone()));
    let (store, _) = Store::open(config(&storage)).unwrap();
    let mut acked = Vec::new();
    storage.faults().fail_creates(Some(FaultKind::NoSpace));
    let mut refused = 0;
    for i in 0..150 {
        let r = put(&store, i).await;
        match r.status {
            PutStatus::PutOk => acked.push((i, r)),
            PutStatus::CreateMappedFileFailed => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "rolling to a new segment must have failed");
    storage.faults().fail_creates(None);
    for i in 150..160 {
        let r = put(&store, i).await;
        assert_eq!(r.status, PutStatus::PutOk);
        acked.push((i, r));
    }
    store.crash();
    drop(store);
    reopen_and_check(&storage, &mem, &acked).await;
}
