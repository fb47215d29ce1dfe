//! Message codec benchmarks: decoding a 32-record pull body and encoding one record,
//! 1 KiB bodies each.
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rocketmq_sdk::protocol::message::record::{decode_all, encode_record};
use rocketmq_sdk::protocol::message::{Message, MessageExt};

fn sample(i: i64) -> MessageExt {
    let mut m = Message::new("BenchTopic", Bytes::from(vec![b'x'; 1024]));
    m.set_tags("TagA");
    m.set_keys([format!("order-{i}")]);
    m.set_uniq_key(format!("7F00000100002A9F00000000{i:08X}"));
    m.put_property("CLUSTER", "DefaultCluster");
    m.put_property("MIN_OFFSET", "0");
    m.put_property("MAX_OFFSET", "32");
    MessageExt {
        message: m,
        queue_id: 3,
        queue_offset: i,
        commit_log_offset: i * 1200,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.2:50000".parse().unwrap(),
        store_timestamp: 1_700_000_000_001,
        store_host: "10.0.0.1:10911".parse().unwrap(),
        ..MessageExt::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut body = BytesMut::new();
    for i in 0..32 {
        encode_record(&sample(i), &mut body).unwrap();
    }
    let body = body.freeze();
    let mut g = c.benchmark_group("message");
    g.throughput(Throughput::Elements(32));
    g.bench_function("decode_all_32x1KiB", |b| {
        b.iter(|| decode_all(black_box(body.clone())).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    let one = sample(1);
    let mut out = BytesMut::with_capacity(2048);
    g.bench_function("encode_record_1KiB", |b| {
        b.iter(|| {
            out.clear();
            encode_record(black_box(&one), &mut out).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
