use rocketmq_sdk::prelude::*;

#[listener(topic = "t", group = "g", batch_size = 8, on_decode_error = drop)]
async fn handler(_m: MessageExt) {}

fn main() {}
