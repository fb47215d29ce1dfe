use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", orderly)]
async fn handler(_m: MessageExt, _ctx: ConsumeContext) {}

fn main() {}
