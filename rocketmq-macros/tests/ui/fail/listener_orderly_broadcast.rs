use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", orderly, broadcast)]
async fn handler(_m: MessageExt) {}

fn main() {}
