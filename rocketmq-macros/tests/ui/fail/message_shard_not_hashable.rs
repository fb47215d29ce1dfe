use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "orders")]
struct Order {
    #[rocketmq(shard)]
    weight: f64,
}

fn main() {}
