//! Crash test in the style of sled's: a child process appends under SYNC_FLUSH to a file store
//! and prints every acknowledged message; we SIGKILL it at a random moment, reopen the store
//! and check that every acknowledged message is present and intact, that the consume queues
//! agree with the commit log, and that nothing unreadable is served. The same directory is
//! reused across iterations, so recovery also runs over the results of earlier recoveries.
//!
//! `STORE_CRASH_ITERATIONS` (default 20) and `STORE_CRASH_SEED` control the run.

// The seed must reach the person reading a failed CI log.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rocketmq_embedded_broker::store::{FlushDiskType, GetStatus, Store, StoreConfig};
use rocketmq_sdk::protocol::message::decode_message_ext;
use rocketmq_sdk::protocol::message::record::{DecodeOptions, RecordRead, read_record};

const QUEUES: i32 = 3;

/// Same function as in `src/bin/store-crash-child.rs`.
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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Ack {
    generation: u64,
    task: u64,
    seq: u64,
    phy: i64,
    queue_id: i32,
    queue_offset: i64,
    len: usize,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 7 {
        return None;
    }
    Some(Ack {
        generation: f[0].parse().ok()?,
        task: f[1].parse().ok()?,
        seq: f[2].parse().ok()?,
        phy: f[3].parse().ok()?,
        queue_id: f[4].parse().ok()?,
        queue_offset: f[5].parse().ok()?,
        len: f[6].parse().ok()?,
    })
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig::builder(dir)
        .flush_disk_type(FlushDiskType::SyncFlush)
        .commit_log_file_size(256 * 1024)
        .consume_queue_units_per_file(512)
        .index_hash_slots(256)
        .index_max_entries(1024)
        .build()
        .expect("config")
}

fn verify(
    dir: &std::path::Path,
    acked: &BTreeMap<(u64, u64, u64), Ack>,
    child_acked: bool,
    seed: u64,
    iteration: u64,
) {
    let ctx = format!("seed {seed} iteration {iteration}");
    let (store, report) =
        Store::open(config(dir)).unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
    if child_acked {
        assert!(
            report.abnormal,
            "{ctx}: a killed child must leave the abort marker"
        );
    }
    if let Some(t) = &report.truncation {
        assert!(
            !t.in_middle,
            "{ctx}: damage in the middle of the log: {report:?}"
        );
    }
    // Every acknowledged message is there, intact, where the ack said.
    for a in acked.values() {
        let rec = store
            .message_by_offset(a.phy)
            .unwrap()
            .unwrap_or_else(|| panic!("{ctx}: acked message {a:?} missing; report {report:?}"));
        let ext = decode_message_ext(&rec, &DecodeOptions::default().with_check_crc(true))
            .unwrap_or_else(|e| panic!("{ctx}: acked message {a:?} corrupt: {e}"));
        assert_eq!(ext.message.body.len(), a.len, "{ctx}: {a:?}");
        assert_eq!(
            ext.message.body.as_ref(),
            crash_body(a.generation, a.task, a.seq).as_slice(),
            "{ctx}: {a:?}"
        );
        assert_eq!(ext.queue_id, a.queue_id, "{ctx}");
        assert_eq!(ext.queue_offset, a.queue_offset, "{ctx}");
        let got = store
            .get_messages("crash", a.queue_id, a.queue_offset, 1, 1 << 20, None)
            .unwrap();
        assert_eq!(got.status, GetStatus::Found, "{ctx}: {a:?}");
        assert_eq!(
            got.messages[0].commit_log_offset, a.phy,
            "{ctx}: consume queue disagrees for {a:?}"
        );
    }
    // Consume queues are dense, and every unit serves an intact record of its queue.
    let mut records = 0;
    for q in 0..QUEUES {
        let (min, max) = (store.min_offset("crash", q), store.max_offset("crash", q));
        let mut off = min;
        while off < max {
            let got = store
                .get_messages("crash", q, off, 32, 1 << 30, None)
                .unwrap();
            assert_eq!(
                got.status,
                GetStatus::Found,
                "{ctx}: queue {q} offset {off} of {max}"
            );
            for m in &got.messages {
                assert_eq!(m.queue_offset, off, "{ctx}: queue {q} not dense");
                let Ok(RecordRead::Record(v)) = read_record(&m.record) else {
                    panic!("{ctx}: garbage served at queue {q} offset {off}");
                };
                assert!(v.verify_crc(), "{ctx}: bad CRC served");
                assert_eq!(v.queue_id(), q);
                assert_eq!(v.queue_offset(), off);
                assert_eq!(v.physical_offset(), m.commit_log_offset);
                off += 1;
                records += 1;
            }
        }
    }
    assert!(records >= acked.len(), "{ctx}: fewer records than acks");
    // A few acked keys through the index.
    for a in acked.values().rev().take(5) {
        let key = format!("g{}t{}s{}", a.generation, a.task, a.seq);
        let q = store.query_by_key("crash", &key, 4, 0, i64::MAX).unwrap();
        assert!(
            q.messages.iter().any(|m| m.commit_log_offset == a.phy),
            "{ctx}: key {key} not indexed"
        );
    }
    // Alternate clean shutdowns and crashes of the verifier itself.
    if iteration.is_multiple_of(2) {
        store.shutdown().unwrap();
    } else {
        store.crash();
    }
}

#[test]
fn sigkill_under_sync_flush_loses_no_acknowledged_message() {
    let iterations: u64 = std::env::var("STORE_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("STORE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("store crash test: STORE_CRASH_SEED={seed} STORE_CRASH_ITERATIONS={iterations}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<(u64, u64, u64), Ack> = BTreeMap::new();
    let started = Instant::now();
    for iteration in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-child"))
            .arg(dir.path())
            .arg(iteration.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill after a random number of acks or a random delay, whichever comes first; small
        // delays land during the child's own recovery.
        let want = rng.below(150);
        let deadline = Instant::now() + Duration::from_millis(rng.below(400));
        let mut lines = Vec::new();
        while (lines.len() as u64) < want {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("seed {seed}: child exited on its own ({status}): {err}");
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        reader.join().unwrap();
        // Every complete line the child printed was an acknowledgement.
        lines.extend(rx.try_iter());
        let mut child_acked = false;
        for l in &lines {
            if let Some(a) = parse_ack(l) {
                acked.insert((a.generation, a.task, a.seq), a);
                child_acked = true;
            }
        }
        verify(dir.path(), &acked, child_acked, seed, iteration);
    }
    eprintln!(
        "store crash test: {iterations} kills, {} acknowledged messages verified, {:?}",
        acked.len(),
        started.elapsed()
    );
}
