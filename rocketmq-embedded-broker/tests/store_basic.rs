//! Put/get/restart basics, roll-over with the blank marker, offsets by time, key queries.

mod store_support;

use std::sync::Arc;

use rocketmq_embedded_broker::store::{GetStatus, PutStatus, Store};
use rocketmq_sdk::protocol::message::hash::tags_code;
use rocketmq_sdk::protocol::message::record::{BLANK_MAGIC, RecordRead, read_record};
use store_support::*;

#[tokio::test]
async fn put_then_get_then_restart() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock.clone())
        .build()
        .unwrap();
    let (store, report) = Store::open(cfg.clone()).unwrap();
    assert!(!report.abnormal);
    let mut offsets = Vec::new();
    for i in 0..10u32 {
        clock.advance(10);
        let r = store
            .put_message(msg_with(
                "T",
                (i % 2) as i32,
                format!("body-{i}").as_bytes(),
                Some("tagA"),
                &["k1"],
            ))
            .await;
        assert_eq!(r.status, PutStatus::PutOk, "{r:?}");
        assert_eq!(r.queue_offset, i64::from(i / 2));
        assert_eq!(r.store_timestamp, T0 + 10 * i64::from(i + 1));
        offsets.push(r.physical_offset);
    }
    assert_eq!(store.max_offset("T", 0), 5);
    assert_eq!(store.min_offset("T", 1), 0);
    let got = store.get_messages("T", 1, 0, 32, 1 << 20, None).unwrap();
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.messages.len(), 5);
    assert_eq!(got.next_begin_offset, 5);
    for (j, m) in got.messages.iter().enumerate() {
        let ext = decode(&m.record);
        assert_eq!(
            ext.message.body.as_ref(),
            format!("body-{}", 2 * j + 1).as_bytes()
        );
        assert_eq!(ext.queue_offset, j as i64);
        assert_eq!(ext.commit_log_offset, offsets[2 * j + 1]);
        assert_eq!(m.tags_code, tags_code("tagA"));
    }
    let none = store
        .get_messages(
            "T",
            1,
            0,
            32,
            1 << 20,
            Some(&|c: i64| c == tags_code("other")),
        )
        .unwrap();
    assert_eq!(none.status, GetStatus::NoMatchedMessage);
    assert_eq!(none.next_begin_offset, 5);
    assert_eq!(
        store
            .get_messages("T", 1, 5, 32, 1 << 20, None)
            .unwrap()
            .status,
        GetStatus::OffsetOverflowOne
    );
    assert_eq!(
        store
            .get_messages("T", 1, 7, 32, 1 << 20, None)
            .unwrap()
            .status,
        GetStatus::OffsetOverflowBadly
    );
    assert_eq!(
        store
            .get_messages("X", 1, 0, 32, 1 << 20, None)
            .unwrap()
            .status,
        GetStatus::NoMatchedLogicQueue
    );
    let q = store.query_by_key("T", "k1", 64, 0, i64::MAX).unwrap();
    assert_eq!(q.messages.len(), 10);
    assert_eq!(store.offset_by_time("T", 0, T0 + 35).unwrap(), 2);
    store.shutdown().unwrap();
    drop(store);

    let (store, report) = Store::open(cfg).unwrap();
    assert!(!report.abnormal);
    assert!(report.truncation.is_none(), "{report:?}");
    assert_eq!(store.max_offset("T", 0), 5);
    let got = store.get_messages("T", 0, 3, 32, 1 << 20, None).unwrap();
    assert_eq!(got.messages.len(), 2);
    assert_eq!(
        decode(&got.messages[0].record).message.body.as_ref(),
        b"body-6"
    );
    let r = store.put_message(msg("T", 0, b"after")).await;
    assert_eq!(r.queue_offset, 5);
    assert_eq!(
        store
            .query_by_key("T", "k1", 64, 0, i64::MAX)
            .unwrap()
            .messages
            .len(),
        10
    );
}

#[tokio::test]
async fn roll_over_writes_blank_marker() {
    let (storage, clock) = mem();
    let cfg = small_config(Arc::new(storage.clone()), clock.clone())
        .build()
        .unwrap();
    let (store, _) = Store::open(cfg.clone()).unwrap();
    let body = vec![7u8; 1000];
    let mut last = None;
    for _ in 0..200 {
        let r = store.put_message(msg("Roll", 0, &body)).await;
        assert!(r.is_stored());
        last = Some(r);
    }
    let last = last.unwrap();
    assert!(
        last.physical_offset > 2 * 64 * 1024,
        "spans several segments"
    );
    // Find the end of the first segment: the record that does not fit is preceded by a marker.
    let got = store.get_messages("Roll", 0, 0, 32, 1 << 30, None).unwrap();
    let per_seg = 64 * 1024 / got.messages[0].record.len() as i64;
    let first_in_second = store
        .get_messages("Roll", 0, per_seg, 1, 1 << 20, None)
        .unwrap();
    assert_eq!(first_in_second.messages[0].commit_log_offset, 64 * 1024);
    let last_in_first = store
        .get_messages("Roll", 0, per_seg - 1, 1, 1 << 20, None)
        .unwrap();
    let m = &last_in_first.messages[0];
    let marker_at = m.commit_log_offset + m.record.len() as i64;
    let remaining = 64 * 1024 - marker_at;
    assert!(remaining < m.record.len() as i64 + 8);
    store.shutdown().unwrap();
    // Read the marker from the file directly.
    use rocketmq_embedded_broker::store::storage::Storage;
    let f = storage
        .open_file(
            std::path::Path::new("/mem/store/commitlog/00000000000000000000"),
            false,
        )
        .unwrap();
    let mut buf = [0u8; 8];
    f.read_at(&mut buf, marker_at as u64).unwrap();
    match read_record(&buf).unwrap() {
        RecordRead::Blank { remaining: r } => assert_eq!(i64::from(r), remaining),
        other => panic!("expected blank marker, got {other:?}"),
    }
    assert_eq!(
        i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        BLANK_MAGIC
    );
    let (store, report) = Store::open(cfg).unwrap();
    assert!(report.truncation.is_none());
    assert_eq!(store.max_offset("Roll", 0), 200);
    assert_eq!(
        store.commit_log_max_offset(),
        last.physical_offset + last.wrote_bytes as i64
    );
}
