//! Store benchmark (a plain binary, `harness = false`): raw disk figures and store figures in
//! one run, on the same file system.
//!
//! `cargo bench -p rocketmq-embedded-broker --bench store`
//!
//! Knobs: `STORE_BENCH_MB` (data volume for the sequential figures, default 256),
//! `STORE_BENCH_SECS` (duration of each sync-flush run, default 3), `STORE_BENCH_DIR` (where
//! to write; default a temporary directory under the cargo target directory).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout, missing_docs)]

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocketmq_embedded_broker::store::{FlushDiskType, GetStatus, PutStatus, Store, StoreConfig};
use rocketmq_sdk::protocol::message::{Message, MessageExt};

const MIB: f64 = 1024.0 * 1024.0;
const QUEUES: i32 = 8;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn message(i: u64, body: &Bytes) -> MessageExt {
    let mut m = MessageExt::from(Message::new("bench", body.clone()));
    m.queue_id = (i % QUEUES as u64) as i32;
    m.born_timestamp = 1;
    m.message.set_tags("TagA");
    m.message.set_keys([format!("order-{i}")]);
    m.message.set_uniq_key(format!("{:032X}", i));
    m
}

/// User + system CPU seconds of this process so far (from `/proc/self/stat`), to tell CPU cost
/// from waiting on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; 100 Hz ticks.
    (ticks(11) + ticks(12)) / 100.0
}

fn raw_sequential_write(dir: &Path, mb: u64) -> (f64, f64) {
    let path = dir.join("raw-seq");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0x5Au8; 1 << 20];
    let start = Instant::now();
    for _ in 0..mb {
        f.write_all(&chunk).unwrap();
    }
    let buffered = start.elapsed();
    f.sync_data().unwrap();
    let total = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    (
        mb as f64 / buffered.as_secs_f64(),
        mb as f64 / total.as_secs_f64(),
    )
}

fn raw_fsync_rate(dir: &Path, secs: u64) -> f64 {
    let path = dir.join("raw-fsync");
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let buf = vec![0xA5u8; 1024];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        f.write_all_at(&buf, n * 1024).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    std::fs::remove_file(&path).unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

fn open(dir: &Path, flush: FlushDiskType) -> Store {
    let cfg = StoreConfig::builder(dir)
        .flush_disk_type(flush)
        .build()
        .unwrap();
    Store::open(cfg).unwrap().0
}

fn main() {
    let mb = env_u64("STORE_BENCH_MB", 256);
    let secs = env_u64("STORE_BENCH_SECS", 3);
    let base: PathBuf = std::env::var("STORE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from("target"))
        });
    std::fs::create_dir_all(&base).unwrap();
    let tmp = tempfile::tempdir_in(&base).unwrap();
    let dir = tmp.path();
    println!(
        "store benchmark in {} ({mb} MiB, {secs} s sync runs)",
        dir.display()
    );

    // `STORE_BENCH_ONLY=async` skips everything but the async append run (for profiling).
    let only_async = std::env::var("STORE_BENCH_ONLY").is_ok_and(|v| v == "async");
    // Raw disk.
    let (raw_buffered, raw_synced) = if only_async {
        (1.0, 1.0)
    } else {
        raw_sequential_write(dir, mb)
    };
    let raw_fsyncs = if only_async {
        1.0
    } else {
        raw_fsync_rate(dir, secs.min(2))
    };
    println!(
        "raw: sequential write {raw_buffered:.0} MiB/s to page cache, {raw_synced:.0} MiB/s including fdatasync"
    );
    println!("raw: fdatasync rate {raw_fsyncs:.0}/s (1 KiB pwrite + fdatasync)");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let body = Bytes::from(vec![0x42u8; 1024]);

    // ASYNC_FLUSH appends of 1 KiB bodies, then a final flush so the figure includes the disk.
    let store = open(&dir.join("async"), FlushDiskType::AsyncFlush);
    let n = mb * 1024;
    // Messages are built before the clock starts: decoding requests is not the store's work.
    let msgs: Vec<MessageExt> = (0..n).map(|i| message(i, &body)).collect();
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let bytes = rt.block_on(async {
        let mut bytes = 0u64;
        for m in msgs {
            let r = store.put_message(m).await;
            assert_eq!(r.status, PutStatus::PutOk);
            bytes += r.wrote_bytes as u64;
        }
        bytes
    });
    let appended = start.elapsed();
    store.flush().unwrap();
    let total = start.elapsed();
    let cpu = cpu_seconds() - cpu_start;
    let async_mb = bytes as f64 / MIB / total.as_secs_f64();
    println!(
        "store ASYNC_FLUSH: {n} x 1 KiB: {:.0} msg/s, {:.0} MiB/s appended, {async_mb:.0} MiB/s including final flush = {:.0}% of raw synced sequential write",
        n as f64 / appended.as_secs_f64(),
        bytes as f64 / MIB / appended.as_secs_f64(),
        100.0 * async_mb / raw_synced
    );
    println!(
        "store ASYNC_FLUSH: {:.2} µs CPU per message (all threads, including flushes)",
        cpu * 1e6 / n as f64
    );

    if only_async {
        return;
    }
    // Reads: every queue from 0 to max, 32 messages per get.
    let start = Instant::now();
    let mut read = 0u64;
    let mut msgs = 0u64;
    for q in 0..QUEUES {
        let mut off = 0;
        loop {
            let got = store
                .get_messages("bench", q, off, 32, 1 << 20, None)
                .unwrap();
            if got.status != GetStatus::Found {
                break;
            }
            read += got.total_bytes as u64;
            msgs += got.messages.len() as u64;
            off = got.next_begin_offset;
        }
    }
    let el = start.elapsed();
    assert_eq!(msgs, n);
    println!(
        "store reads: {:.0} msg/s, {:.0} MiB/s (32 per get, data in the OS page cache)",
        msgs as f64 / el.as_secs_f64(),
        read as f64 / MIB / el.as_secs_f64()
    );
    store.shutdown().unwrap();
    drop(store);

    // SYNC_FLUSH with 1 and with 64 concurrent appenders.
    let mut rates = Vec::new();
    for appenders in [1u64, 64] {
        let store = Arc::new(open(
            &dir.join(format!("sync{appenders}")),
            FlushDiskType::SyncFlush,
        ));
        let acks = Arc::new(AtomicU64::new(0));
        let syncs_before = store.stats().commit_log_syncs;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for a in 0..appenders {
                let store = store.clone();
                let acks = acks.clone();
                let body = body.clone();
                tasks.push(tokio::spawn(async move {
                    let mut i = a;
                    while Instant::now() < deadline {
                        let r = store.put_message(message(i, &body)).await;
                        assert_eq!(r.status, PutStatus::PutOk);
                        acks.fetch_add(1, Ordering::Relaxed);
                        i += appenders;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let el = start.elapsed();
        let acked = acks.load(Ordering::Relaxed);
        let syncs = store.stats().commit_log_syncs - syncs_before;
        let rate = acked as f64 / el.as_secs_f64();
        println!(
            "store SYNC_FLUSH, {appenders:>2} appender(s): {rate:.0} acks/s, {syncs} fdatasyncs for {acked} acks = {:.3} fsyncs/ack",
            syncs as f64 / acked.max(1) as f64
        );
        rates.push(rate);
        store.shutdown().unwrap();
    }
    println!(
        "store SYNC_FLUSH: 64 appenders = {:.1}x the single-appender rate",
        rates[1] / rates[0]
    );
}
