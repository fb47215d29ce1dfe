#[rocketmq_sdk::test(store = "tape", timeout = 5)]
async fn unknown(broker: rocketmq_sdk::Client, db: String) {}

fn main() {}
