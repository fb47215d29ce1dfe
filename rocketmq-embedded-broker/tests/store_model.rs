//! Model-based test: random puts, gets, restarts (clean, crash, power loss) and torn tails,
//! compared against an in-memory model of what the store must hold.

mod store_support;

use std::sync::Arc;

use proptest::prelude::*;
use rocketmq_embedded_broker::store::storage::MemoryStorage;
use rocketmq_embedded_broker::store::{
    FlushDiskType, GetStatus, ManualClock, PutStatus, Store, StoreConfig,
};
use store_support::*;

const QUEUES: i32 = 3;

#[derive(Debug, Clone)]
enum Op {
    Put {
        queue: i32,
        len: usize,
        tag: Option<u8>,
    },
    Batch {
        queue: i32,
        count: usize,
        len: usize,
    },
    Get {
        queue: i32,
        back: u64,
        max: usize,
        tag: Option<u8>,
    },
    Restart {
        clean: bool,
        power_loss: bool,
    },
    TearTail {
        records: usize,
        garbage: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..QUEUES, 0usize..1500, proptest::option::of(0u8..3)).prop_map(|(queue, len, tag)| Op::Put { queue, len, tag }),
        1 => (0..QUEUES, 1usize..6, 0usize..400).prop_map(|(queue, count, len)| Op::Batch { queue, count, len }),
        3 => (0..QUEUES, 0u64..12, 1usize..40, proptest::option::of(0u8..3)).prop_map(|(queue, back, max, tag)| Op::Get { queue, back, max, tag }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(clean, power_loss)| Op::Restart { clean, power_loss }),
        1 => (1usize..4, any::<u8>()).prop_map(|(records, garbage)| Op::TearTail { records, garbage }),
    ]
}

#[derive(Debug, Clone)]
struct Rec {
    queue: i32,
    body: Vec<u8>,
    tag: Option<u8>,
    key: String,
    phy: i64,
    len: usize,
}

#[derive(Default)]
struct Model {
    /// Every stored record in commit-log order.
    log: Vec<Rec>,
}

impl Model {
    fn queue(&self, q: i32) -> Vec<&Rec> {
        self.log.iter().filter(|r| r.queue == q).collect()
    }
}

fn body(n: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + n * 13) as u8).collect()
}

fn tag_name(t: u8) -> String {
    format!("tag{t}")
}

fn config(storage: &MemoryStorage, clock: &Arc<ManualClock>) -> StoreConfig {
    StoreConfig::builder("/mem/model")
        .storage(Arc::new(storage.clone()))
        .clock(clock.clone())
        .flush_disk_type(FlushDiskType::SyncFlush)
        .commit_log_file_size(8 * 1024)
        .consume_queue_units_per_file(16)
        .index_hash_slots(16)
        .index_max_entries(32)
        .build()
        .unwrap()
}

fn check_queue(store: &Store, model: &Model, q: i32) -> Result<(), TestCaseError> {
    let recs = model.queue(q);
    prop_assert_eq!(store.max_offset("T", q), recs.len() as i64);
    let mut off = 0i64;
    while off < recs.len() as i64 {
        let got = store.get_messages("T", q, off, 32, 1 << 30, None).unwrap();
        prop_assert_eq!(got.status, GetStatus::Found);
        for m in &got.messages {
            let r = recs[off as usize];
            let ext = decode(&m.record);
            prop_assert_eq!(ext.message.body.as_ref(), r.body.as_slice());
            prop_assert_eq!(ext.commit_log_offset, r.phy);
            prop_assert_eq!(ext.queue_offset, off);
            prop_assert_eq!(ext.message.tags().map(str::to_owned), r.tag.map(tag_name));
            off += 1;
        }
    }
    Ok(())
}

fn check_all(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    for q in 0..QUEUES {
        check_queue(store, model, q)?;
    }
    let end = model.log.last().map_or(0, |r| r.phy + r.len as i64);
    prop_assert!(store.commit_log_max_offset() >= end);
    for r in model.log.iter().rev().take(4) {
        let found = store.query_by_key("T", &r.key, 4, 0, i64::MAX).unwrap();
        prop_assert_eq!(found.messages.len(), 1, "key {}", r.key);
        prop_assert_eq!(found.messages[0].commit_log_offset, r.phy);
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let storage = MemoryStorage::new();
    let clock = Arc::new(ManualClock::new(T0));
    let (mut store, _) = Store::open(config(&storage, &clock)).unwrap();
    let mut model = Model::default();
    let mut n = 0usize;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for op in ops {
        match op {
            Op::Put { queue, len, tag } => {
                n += 1;
                clock.advance(1);
                let key = format!("key{n}");
                let b = body(n, len);
                let tags = tag.map(tag_name);
                let r = rt.block_on(store.put_message(msg_with(
                    "T",
                    queue,
                    &b,
                    tags.as_deref(),
                    &[&key],
                )));
                prop_assert_eq!(r.status, PutStatus::PutOk);
                prop_assert_eq!(r.queue_offset, model.queue(queue).len() as i64);
                model.log.push(Rec {
                    queue,
                    body: b,
                    tag,
                    key,
                    phy: r.physical_offset,
                    len: r.wrote_bytes,
                });
            }
            Op::Batch { queue, count, len } => {
                let mut msgs = Vec::new();
                let mut recs = Vec::new();
                for _ in 0..count {
                    n += 1;
                    let key = format!("key{n}");
                    let b = body(n, len);
                    msgs.push(msg_with("T", queue, &b, None, &[&key]));
                    recs.push(Rec {
                        queue,
                        body: b,
                        tag: None,
                        key,
                        phy: 0,
                        len: 0,
                    });
                }
                let r = rt.block_on(store.put_messages(msgs));
                prop_assert_eq!(r.status, PutStatus::PutOk);
                prop_assert_eq!(r.message_count, count);
                prop_assert_eq!(r.queue_offset, model.queue(queue).len() as i64);
                let mut phy = r.physical_offset;
                for mut rec in recs {
                    // Key lengths differ by digits, so read each record's real length back.
                    let rec_bytes = store.message_by_offset(phy).unwrap().expect("batch record");
                    rec.phy = phy;
                    rec.len = rec_bytes.len();
                    phy += rec_bytes.len() as i64;
                    model.log.push(rec);
                }
                prop_assert_eq!(phy, r.physical_offset + r.wrote_bytes as i64);
            }
            Op::Get {
                queue,
                back,
                max,
                tag,
            } => {
                let recs = model.queue(queue);
                let offset = (recs.len() as i64 - back as i64).max(0);
                let filter_code =
                    tag.map(|t| rocketmq_sdk::protocol::message::hash::tags_code(&tag_name(t)));
                let f = move |c: i64| filter_code.is_none_or(|fc| fc == c);
                let got = store
                    .get_messages("T", queue, offset, max, 1 << 30, Some(&f))
                    .unwrap();
                // Like upstream, one get reads units from one consume-queue file only (16 units
                // per file here); the consumer simply pulls again.
                let file_end = ((offset as usize / 16 + 1) * 16).min(recs.len());
                let expected: Vec<&&Rec> = recs[offset as usize..file_end.max(offset as usize)]
                    .iter()
                    .filter(|r| tag.is_none() || r.tag == tag)
                    .take(max.min(32))
                    .collect();
                if recs.is_empty() {
                    prop_assert!(matches!(
                        got.status,
                        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue
                    ));
                } else if offset as usize == recs.len() {
                    prop_assert_eq!(got.status, GetStatus::OffsetOverflowOne);
                } else if expected.is_empty() {
                    prop_assert_eq!(got.status, GetStatus::NoMatchedMessage);
                    prop_assert_eq!(got.next_begin_offset, file_end as i64);
                } else {
                    prop_assert_eq!(got.status, GetStatus::Found);
                    prop_assert_eq!(got.messages.len(), expected.len());
                    for (m, r) in got.messages.iter().zip(expected) {
                        prop_assert_eq!(m.commit_log_offset, r.phy);
                        let ext = decode(&m.record);
                        prop_assert_eq!(ext.message.body.as_ref(), r.body.as_slice());
                    }
                }
            }
            Op::Restart { clean, power_loss } => {
                if clean {
                    store.shutdown().unwrap();
                } else {
                    store.crash();
                }
                drop(store);
                if power_loss {
                    storage.power_loss();
                }
                let (s, report) = Store::open(config(&storage, &clock)).unwrap();
                prop_assert_eq!(report.abnormal, !clean);
                prop_assert!(report.truncation.is_none(), "{:?}", report);
                store = s;
                check_all(&store, &model)?;
            }
            Op::TearTail { records, garbage } => {
                let k = records.min(model.log.len());
                if k == 0 {
                    continue;
                }
                store.crash();
                drop(store);
                storage.power_loss();
                // Overwrite the first `k`-th-from-last record's first bytes: recovery must cut
                // there, dropping it and everything after it.
                let victim = model.log[model.log.len() - k].clone();
                let seg = 8 * 1024;
                let start = victim.phy as u64 / seg * seg;
                let path = std::path::PathBuf::from(format!("/mem/model/commitlog/{start:020}"));
                let junk = vec![garbage | 0x80; 12];
                write_file(&storage, &path, victim.phy as u64 - start, &junk);
                model.log.truncate(model.log.len() - k);
                let (s, report) = Store::open(config(&storage, &clock)).unwrap();
                let t = report.truncation.clone();
                prop_assert!(t.is_some(), "{:?}", report);
                prop_assert_eq!(t.map(|t| t.offset), Some(victim.phy));
                store = s;
                check_all(&store, &model)?;
            }
        }
    }
    check_all(&store, &model)?;
    store.shutdown().unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
