//! Frame codec benchmarks: a 1 KiB SEND_MESSAGE_V2 request, encoded and decoded, in both
//! header forms.
//!
//! `cargo bench -p rocketmq-sdk --bench codec`

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, RequestCode, SerializeType};
use tokio_util::codec::{Decoder, Encoder};

fn send_v2_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_opaque(12345)
        .with_body(Bytes::from(vec![b'x'; 1024]));
    cmd.serialize_type = serialize_type;
    // The short keys of SendMessageRequestHeaderV2, with typical values.
    for (k, v) in [
        ("a", "bench-producer-group"),
        ("b", "BenchTopic"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "3"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        (
            "i",
            "UNIQ_KEY\u{1}7F0000010001B4C0A1B2C3D4E5F60001\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}",
        ),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "broker-a"),
    ] {
        cmd.ext_fields.insert(k, v);
    }
    cmd
}

fn bench_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_v2_1KiB");
    group.throughput(Throughput::Elements(1));
    for form in [SerializeType::Json, SerializeType::RocketMq] {
        let cmd = send_v2_request(form);
        let mut codec = RemotingCodec::new();
        let mut buf = BytesMut::with_capacity(4096);
        group.bench_function(format!("encode+decode/{}", form.name()), |b| {
            b.iter(|| {
                codec.encode(black_box(&cmd), &mut buf).unwrap();
                let back = codec.decode(&mut buf).unwrap().unwrap();
                black_box(back);
            })
        });
        group.bench_function(format!("encode/{}", form.name()), |b| {
            b.iter(|| {
                codec.encode(black_box(&cmd), &mut buf).unwrap();
                buf.clear();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_frames);
criterion_main!(benches);
