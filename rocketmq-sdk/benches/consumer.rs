//! Rebalance cost: how long each allocation strategy takes for a large group (every member
//! computes its share at every rebalance).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rocketmq_sdk::consumer::{AllocateStrategy, Averagely, AveragelyByCircle, ConsistentHash};
use rocketmq_sdk::protocol::message::MessageQueue;

fn inputs(queues: usize, consumers: usize) -> (Vec<MessageQueue>, Vec<String>) {
    let mut mqs: Vec<MessageQueue> = (0..queues)
        .map(|i| MessageQueue::new("TopicTest", format!("broker-{}", i % 4), (i / 4) as i32))
        .collect();
    mqs.sort();
    let mut cids: Vec<String> = (0..consumers)
        .map(|i| format!("10.0.{}.{}@{}", i / 250, i % 250, 1000 + i))
        .collect();
    cids.sort();
    (mqs, cids)
}

fn allocate(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocate");
    for (queues, consumers) in [(64, 8), (1024, 64)] {
        let (mqs, cids) = inputs(queues, consumers);
        let me = cids[consumers / 2].clone();
        let strategies: [(&str, Box<dyn AllocateStrategy>); 3] = [
            ("avg", Box::new(Averagely)),
            ("avg_by_circle", Box::new(AveragelyByCircle)),
            ("consistent_hash", Box::new(ConsistentHash::default())),
        ];
        for (name, s) in &strategies {
            g.bench_with_input(
                BenchmarkId::new(*name, format!("{queues}q/{consumers}c")),
                &(),
                |b, _| b.iter(|| s.allocate("G", &me, &mqs, &cids)),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, allocate);
criterion_main!(benches);
