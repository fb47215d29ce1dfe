//! Test helper for `tests/store_crash.rs`: appends to a file store under SYNC_FLUSH from several
//! concurrent tasks and prints one line per acknowledged message, until it is killed.
//!
//! Usage: `store-crash-child <store dir> <generation>`
//!
//! Output lines: `<generation> <task> <seq> <physical offset> <queue id> <queue offset> <body len>`.
//! The body of each message is `crash_body(generation, task, seq)` (duplicated in the test).

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rocketmq_embedded_broker::store::{FlushDiskType, PutStatus, Store, StoreConfig};
use rocketmq_sdk::protocol::message::{Message, MessageExt};

const TASKS: u64 = 6;
const QUEUES: u64 = 3;

fn crash_body(generation: u64, task: u64, seq: u64) -> Vec<u8> {
    let h = generation
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(task.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add(seq.wrapping_mul(0x1656_67B1_9E37_79F9));
    let len = 50 + (h >> 7) % 3000;
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ h.rotate_left((i % 64) as u32)) as u8)
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(generation)) = (args.next(), args.next()) else {
        let _ = writeln!(
            std::io::stderr(),
            "usage: store-crash-child <dir> <generation>"
        );
        std::process::exit(2);
    };
    let generation: u64 = generation.parse().unwrap_or(0);
    let config = StoreConfig::builder(dir)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .commit_log_file_size(256 * 1024)
        .consume_queue_units_per_file(512)
        .index_hash_slots(256)
        .index_max_entries(1024)
        .flush_interval_consume_queue(std::time::Duration::from_millis(20))
        .flush_consume_queue_thorough_interval(std::time::Duration::from_millis(100))
        .build();
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "config: {e}");
            std::process::exit(3);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "runtime: {e}");
            std::process::exit(4);
        }
    };
    let (store, _report) = match Store::open(config) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "open: {e}");
            std::process::exit(5);
        }
    };
    let store = Arc::new(store);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    runtime.block_on(async move {
        let mut handles = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            let out = out.clone();
            handles.push(tokio::spawn(async move {
                for seq in 0.. {
                    let queue_id = ((task + seq) % QUEUES) as i32;
                    let body = crash_body(generation, task, seq);
                    let len = body.len();
                    let mut m = MessageExt::from(Message::new("crash", Bytes::from(body)));
                    m.queue_id = queue_id;
                    m.message.set_keys([format!("g{generation}t{task}s{seq}")]);
                    m.message.set_tags(format!("t{task}"));
                    let r = store.put_message(m).await;
                    if r.status != PutStatus::PutOk {
                        let _ = writeln!(std::io::stderr(), "put failed: {r:?}");
                        std::process::exit(6);
                    }
                    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = writeln!(
                        o,
                        "{generation} {task} {seq} {} {queue_id} {} {len}",
                        r.physical_offset, r.queue_offset
                    );
                    let _ = o.flush();
                }
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    });
}
