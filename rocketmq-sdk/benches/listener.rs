//! What `#[listener]` costs: a macro-generated typed (JSON) listener against a hand-written
//! raw listener doing the same decode and work, over the same 1 KiB messages, one message
//! per call as a push consumer delivers them by default.
//!
//! ```sh
//! cargo bench -p rocketmq-sdk --bench listener
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeResult, Listener, MessageListener};
use rocketmq_sdk::prelude::*;

#[derive(Debug, Serialize, Deserialize, Message)]
#[rocketmq(topic = "bench")]
pub struct Order {
    #[rocketmq(key)]
    id: String,
    customer: u64,
    note: String,
}

static TOTAL: AtomicU64 = AtomicU64::new(0);

fn work(order: &Order) {
    TOTAL.fetch_add(order.customer + order.note.len() as u64, Ordering::Relaxed);
}

#[listener(topic = "bench", group = "bench")]
async fn typed(order: Order) -> Result<(), std::convert::Infallible> {
    work(&order);
    Ok(())
}

struct Raw;

#[async_trait]
impl MessageListener for Raw {
    async fn consume(&self, messages: &[MessageExt], _ctx: &ConsumeContext) -> ConsumeResult {
        for m in messages {
            match serde_json::from_slice::<Order>(&m.body) {
                Ok(order) => work(&order),
                Err(_) => return ConsumeResult::ReconsumeLater,
            }
        }
        ConsumeResult::Success
    }
}

fn message() -> MessageExt {
    let order = Order {
        id: "order-000042".into(),
        customer: 42,
        note: "x".repeat(960),
    };
    let body = serde_json::to_vec(&order).unwrap();
    assert!(
        (1000..1100).contains(&body.len()),
        "about 1 KiB: {}",
        body.len()
    );
    let mut m = MessageExt::from(Message::new("bench", body));
    m.set_uniq_key("7F0000010000000000000042");
    m
}

fn listeners(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let msgs = [message()];
    let ctx = ConsumeContext::new(MessageQueue::new("bench", "b", 0), 0);
    let handler = typed.handler();
    let generated = handler.as_concurrent().unwrap();
    let mut g = c.benchmark_group("listener_1KiB");
    g.throughput(Throughput::Elements(1));
    g.bench_function("macro_typed_json", |b| {
        b.iter(|| rt.block_on(generated.consume(black_box(&msgs), &ctx)))
    });
    g.bench_function("hand_written_raw", |b| {
        b.iter(|| rt.block_on(Raw.consume(black_box(&msgs), &ctx)))
    });
    g.finish();
}

criterion_group!(benches, listeners);
criterion_main!(benches);
