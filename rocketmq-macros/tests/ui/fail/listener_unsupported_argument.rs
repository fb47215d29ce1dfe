use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g")]
async fn handler(_m: &MessageExt) {}

fn main() {}
