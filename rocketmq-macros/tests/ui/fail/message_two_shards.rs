use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "orders", tag = "a || b")]
struct Order {
    #[rocketmq(shard)]
    a: String,
    #[rocketmq(shard)]
    b: String,
}

fn main() {}
