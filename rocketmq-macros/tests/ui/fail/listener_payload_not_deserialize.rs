use rocketmq_sdk::prelude::*;

struct NotJson;

#[listener(topic = "t", group = "g")]
async fn handler(_m: NotJson) {}

fn main() {}
