use rocketmq_sdk::prelude::*;

#[selector]
async fn pick(queues: &[MessageQueue], _m: &Message) -> usize {
    queues.len()
}

fn main() {}
