use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g")]
fn handler(_m: MessageExt) {}

fn main() {}
