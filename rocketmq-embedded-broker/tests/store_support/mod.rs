//! Helpers shared by the `store_*` integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use bytes::Bytes;
use rocketmq_embedded_broker::store::storage::{MemoryStorage, Storage};
use rocketmq_embedded_broker::store::{ManualClock, StoreConfig, StoreConfigBuilder};
use rocketmq_sdk::protocol::message::record::DecodeOptions;
use rocketmq_sdk::protocol::message::{Message, MessageExt, decode_message_ext};

pub const T0: i64 = 1_700_000_000_000;

/// A small-file configuration over the given storage, with a manual clock.
pub fn small_config(storage: Arc<dyn Storage>, clock: Arc<ManualClock>) -> StoreConfigBuilder {
    StoreConfig::builder("/mem/store")
        .storage(storage)
        .clock(clock)
        .commit_log_file_size(64 * 1024)
        .consume_queue_units_per_file(64)
        .index_hash_slots(64)
        .index_max_entries(256)
}

pub fn mem() -> (MemoryStorage, Arc<ManualClock>) {
    (MemoryStorage::new(), Arc::new(ManualClock::new(T0)))
}

pub fn msg(topic: &str, queue_id: i32, body: &[u8]) -> MessageExt {
    let mut m = MessageExt::from(Message::new(topic, Bytes::copy_from_slice(body)));
    m.queue_id = queue_id;
    m.born_timestamp = T0;
    m
}

pub fn msg_with(
    topic: &str,
    queue_id: i32,
    body: &[u8],
    tags: Option<&str>,
    keys: &[&str],
) -> MessageExt {
    let mut m = msg(topic, queue_id, body);
    if let Some(t) = tags {
        m.message.set_tags(t);
    }
    if !keys.is_empty() {
        m.message.set_keys(keys.iter().copied());
    }
    m
}

pub fn decode(record: &Bytes) -> MessageExt {
    decode_message_ext(record, &DecodeOptions::default()).expect("stored record decodes")
}

/// Blocks on a future from synchronous test code.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Path of commit-log segment `n` under the small config.
pub fn segment_path(start: u64) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/mem/store/commitlog/{start:020}"))
}

/// Reads `len` bytes of a storage file.
pub fn read_file(
    storage: &dyn Storage,
    path: &std::path::Path,
    offset: u64,
    len: usize,
) -> Vec<u8> {
    let f = storage.open_file(path, false).expect("file exists");
    let mut buf = vec![0u8; len];
    let n = f.read_at(&mut buf, offset).expect("read");
    buf.truncate(n);
    buf
}

/// Writes bytes into a storage file and syncs (simulates damage that reached the disk).
pub fn write_file(storage: &dyn Storage, path: &std::path::Path, offset: u64, bytes: &[u8]) {
    let f = storage.open_file(path, false).expect("file exists");
    let mut done = 0;
    while done < bytes.len() {
        done += f
            .write_at(&bytes[done..], offset + done as u64)
            .expect("write");
    }
    f.sync_data().expect("sync");
}
