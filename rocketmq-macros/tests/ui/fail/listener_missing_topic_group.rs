use rocketmq_sdk::prelude::*;

#[listener(tag = "a")]
async fn handler(_m: MessageExt) {}

fn main() {}
