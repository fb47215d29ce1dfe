use rocketmq_sdk::prelude::*;

#[derive(Serialize, Deserialize, Message)]
#[rocketmq(topic = "orders")]
struct Order {
    id: String,
}

struct CreateOrder;

#[transaction_listener]
impl CreateOrder {
    async fn execute(&self, _order: &Order) -> TransactionState {
        TransactionState::Commit
    }
}

fn main() {}
