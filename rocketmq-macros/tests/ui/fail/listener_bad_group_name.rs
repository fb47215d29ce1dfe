use rocketmq_sdk::prelude::*;

#[listener(topic = "orders", group = "billing team")]
async fn handler(_m: MessageExt) {}

fn main() {}
