use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(tag = "created")]
struct Order {
    #[rocketmq(key, shard, primary)]
    id: String,
}

fn main() {}
