//! Every accepted listener signature compiles and registers.
use rocketmq_sdk::consumer::Listener;
use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "orders", tag = "created")]
pub struct Order {
    #[rocketmq(key)]
    id: String,
    #[rocketmq(shard)]
    customer: u64,
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure")
    }
}

#[listener(topic = "orders", group = "a")]
async fn typed(_o: Order) {}

#[listener(topic = "orders", group = "b", tag = "created || paid", max_reconsume_times = 3, concurrency = 4)]
async fn typed_ctx(_o: Order, _ctx: ConsumeContext) -> Result<(), Failure> {
    Ok(())
}

#[listener(topic = "orders", group = "c", orderly, consume_from = first_offset)]
pub async fn orderly(_o: Order, _ctx: OrderlyContext) -> Outcome {
    Outcome::Suspend(std::time::Duration::from_millis(10))
}

#[listener(topic = "orders", group = "d", broadcast, on_decode_error = skip)]
pub(crate) async fn broadcast(_m: MessageExt) -> Result<Outcome, Failure> {
    Ok(Outcome::Ack)
}

#[listener(topic = "orders", group = "e", batch_size = 16, consume_from = "timestamp")]
async fn batch(_o: Vec<Order>, _ctx: ConsumeContext) {}

#[listener(topic = "orders", group = "f", sql = "amount > 10", dedupe(key = keys), on_decode_error = retry)]
async fn deduped(_o: Order) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[listener(topic = "orders", group = "g", consume_from = 1700000000000)]
async fn raw_batch(_m: Vec<MessageExt>) {}

fn main() {
    let specs = [
        typed.spec(),
        typed_ctx.spec(),
        orderly.spec(),
        broadcast.spec(),
        batch.spec(),
        deduped.spec(),
        raw_batch.spec(),
    ];
    assert_eq!(specs.len(), 7);
    // Still callable: the call returns a future.
    let _future = typed(Order { id: "1".into(), customer: 2 });
    let _ = deduped.dedupe(MemoryGuard::new());
}
