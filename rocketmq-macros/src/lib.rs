//! Procedural macros for `rocketmq-sdk`.
//!
//! Users never depend on this crate directly: `rocketmq-sdk` re-exports every macro.
//! The macros themselves (`#[derive(Message)]`, `#[listener]`, `#[transaction_listener]`,
//! `#[rocketmq_sdk::test]`) are not implemented yet; see the README's status table.
#![deny(missing_docs)]
