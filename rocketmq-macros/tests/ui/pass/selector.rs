//! A selector is a `MessageQueueSelector` and still a function.
use rocketmq_sdk::prelude::*;
use rocketmq_sdk::producer::MessageQueueSelector;

/// By region.
#[selector]
pub fn by_region(queues: &[MessageQueue], _message: &Message, region: &String) -> usize {
    region.len() % queues.len()
}

fn takes<S: MessageQueueSelector<String>>(_s: &S) {}

fn main() {
    takes(&by_region);
    let queues = vec![MessageQueue::new("t", "b", 0), MessageQueue::new("t", "b", 1)];
    assert_eq!(by_region(&queues, &Message::new("t", "x"), &"eu".to_string()), 0);
}
