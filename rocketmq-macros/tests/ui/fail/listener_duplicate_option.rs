use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", topic = "u")]
async fn handler(_m: MessageExt) {}

fn main() {}
