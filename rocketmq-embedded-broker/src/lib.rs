//! # rocketmq-embedded-broker
//!
//! An in-process Apache RocketMQ name server and broker for tests and development.
//! Under construction: see the README's status table.
#![deny(missing_docs)]

pub mod server;
pub mod store;
