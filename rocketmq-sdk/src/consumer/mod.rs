//! Consumers: the push consumer (concurrent and orderly listeners), the lite pull
//! consumer, rebalance with allocation strategies, offset stores, retries through the
//! group's retry topic, and offset rewind.
//!
//! ```no_run
//! # async fn demo() -> rocketmq_sdk::Result<()> {
//! use rocketmq_sdk::Client;
//! use rocketmq_sdk::consumer::ConsumeContext;
//! use rocketmq_sdk::protocol::message::MessageExt;
//!
//! let client = Client::builder().name_server("127.0.0.1:9876").build().await?;
//! let consumer = client
//!     .push_consumer("billing")
//!     .subscribe("orders", "created || paid")
//!     .start(|msgs: Vec<MessageExt>, _ctx: ConsumeContext| async move {
//!         for m in &msgs {
//!             tracing::info!(id = %m.msg_id(), "billing");
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .await?;
//! // ...
//! consumer.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
pub(crate) mod api;
pub mod app;
mod config;
mod listener;
mod offset_store;
mod outcome;
mod process_queue;
mod pull;
mod push;
pub mod rebalance;
mod subscription;

pub use crate::protocol::body::MessageModel;
pub use app::{
    Consumers, ConsumersBuilder, DedupeKeyKind, Filter, Handler, Listener, ListenerExt,
    ListenerSpec, WithOptions,
};
pub use config::{ConsumeFrom, PullConsumerConfig, PushConsumerConfig};
pub use listener::{
    ConsumeContext, ConsumeResult, IntoConsumeResult, IntoOrderlyResult, MessageListener,
    OrderlyContext, OrderlyListener, OrderlyResult,
};
pub use outcome::{IntoOutcome, Outcome};
pub use pull::{PullConsumer, PullConsumerBuilder};
pub use push::{PushConsumer, PushConsumerBuilder};
pub use rebalance::allocate::{
    AllocateStrategy, Averagely, AveragelyByCircle, ByConfig, ConsistentHash,
};
