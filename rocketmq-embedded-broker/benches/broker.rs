//! Embedded broker benchmarks: how fast a memory-store broker is ready, and how many 1 KiB
//! SEND_MESSAGE_V2 requests one pipelined connection gets through (async flush, memory
//! store). Run with `cargo bench -p rocketmq-embedded-broker --bench broker`.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::protocol::header::SendMessageRequestHeaderV2;
use rocketmq_sdk::protocol::message::{Properties, keys};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, RequestCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn start_to_ready(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("start_to_ready_memory_store", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let broker = EmbeddedBroker::start().await.expect("start");
                    total += t.elapsed();
                    broker.shutdown().await.expect("shutdown");
                }
                total
            })
        })
    });
}

/// `n` SEND_MESSAGE_V2 frames with 1 KiB bodies, encoded back to back.
fn frames(n: usize) -> Bytes {
    let mut props = Properties::default();
    props.insert(keys::WAIT, "true");
    props.insert(keys::UNIQ_KEY, "7F0000010000000000000000000000000");
    let header = SendMessageRequestHeaderV2 {
        producer_group: "bench".into(),
        topic: "Bench".into(),
        queue_id: 0,
        born_timestamp: 1_700_000_000_000,
        properties: Some(props.to_wire_string().expect("properties")),
        ..Default::default()
    };
    let body = Bytes::from(vec![b'x'; 1024]);
    let mut codec = RemotingCodec::new();
    let mut out = BytesMut::new();
    for i in 0..n {
        let cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&header)
            .with_body(body.clone())
            .with_opaque(i as i32);
        codec.encode(cmd, &mut out).expect("encode");
    }
    out.freeze()
}

fn pipelined_sends(c: &mut Criterion) {
    const N: usize = 2000;
    let rt = runtime();
    let broker = rt.block_on(async {
        let b = EmbeddedBroker::start().await.expect("start");
        b.create_topic("Bench", 1).await.expect("topic");
        b
    });
    let addr = broker.broker_addrs()[0].clone();
    let batch = frames(N);
    let mut group = c.benchmark_group("pipelined_send_v2_1KiB");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("one_connection_async_flush_memory", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let stream = tokio::net::TcpStream::connect(&addr)
                        .await
                        .expect("connect");
                    stream.set_nodelay(true).expect("nodelay");
                    let (mut rd, mut wr) = stream.into_split();
                    let t = Instant::now();
                    let data = batch.clone();
                    let writer = tokio::spawn(async move {
                        wr.write_all(&data).await.expect("write");
                        wr
                    });
                    let mut codec = RemotingCodec::new();
                    let mut buf = BytesMut::with_capacity(1 << 20);
                    let mut seen = 0;
                    while seen < N {
                        while let Some(resp) = codec.decode(&mut buf).expect("decode") {
                            assert_eq!(resp.code, 0, "{resp:?}");
                            seen += 1;
                        }
                        if seen < N && rd.read_buf(&mut buf).await.expect("read") == 0 {
                            panic!("broker closed the connection");
                        }
                    }
                    total += t.elapsed();
                    drop(writer.await);
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(async { broker.shutdown().await.expect("shutdown") });
}

criterion_group!(benches, start_to_ready, pipelined_sends);
criterion_main!(benches);
