use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", tag = "a", sql = "x > 1")]
async fn handler(_m: MessageExt) {}

fn main() {}
