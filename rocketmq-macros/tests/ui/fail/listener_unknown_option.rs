use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", retries = 3)]
async fn handler(_m: MessageExt) {}

fn main() {}
