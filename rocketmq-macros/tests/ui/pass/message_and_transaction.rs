//! Derives on generic and tuple types, a transaction listener with every accepted shape.
use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "pairs", crate = "::rocketmq_sdk")]
struct Pair<T> {
    #[rocketmq(key)]
    id: u32,
    value: T,
}

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "tuples")]
struct Tuple(#[rocketmq(key)] String, #[rocketmq(shard)] i64);

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "events", tag = "any")]
enum Event {
    Created { id: u32 },
    Deleted(u32),
}

struct Tx;

#[transaction_listener]
impl Tx {
    async fn execute(&self, _t: &Tuple, _message: &Message) -> Result<TransactionState, String> {
        Ok(TransactionState::Commit)
    }

    async fn check(&self, _t: &Tuple, _message: &MessageExt) -> TransactionState {
        TransactionState::Unknown
    }
}

fn needs_listener<L: rocketmq_sdk::producer::TransactionListener<Arg = Tuple>>(_l: L) {}

fn main() {
    let p = Pair { id: 1, value: "x".to_string() };
    assert_eq!(p.keys(), vec!["1".to_string()]);
    let t = Tuple("k".into(), 5);
    assert_eq!(t.shard_hash(), Some(5));
    assert_eq!(Event::TOPIC, "events");
    let _ = Event::Deleted(1).to_message();
    let _ = Event::Created { id: 1 };
    needs_listener(Tx);
}
