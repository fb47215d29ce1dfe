#[rocketmq_sdk::test]
fn not_async() {}

fn main() {}
