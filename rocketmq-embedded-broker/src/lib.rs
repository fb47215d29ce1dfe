//! # rocketmq-embedded-broker
//!
//! An in-process Apache RocketMQ name server and broker for tests and development.
#![deny(missing_docs)]

mod broker;
mod embedded;
mod error;
pub mod faults;
pub mod namesrv;
mod processor;
pub mod server;
pub mod store;

pub use embedded::{BrokerHandle, EmbeddedBroker, EmbeddedBrokerBuilder, FlushMode, StoreLocation};
pub use error::BrokerError;
pub use faults::Faults;
