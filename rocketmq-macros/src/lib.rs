//! Procedural macros for `rocketmq-sdk`. Users never depend on this crate directly:
//! `rocketmq-sdk` re-exports every macro, and documents them there.
//!
//! Each macro parses its input with `syn` into a model, checks the model (every misuse is
//! reported at the offending token, all at once), then expands it with `quote` against
//! the SDK's hidden `__private` module. Every macro takes `crate = "path"` to name the SDK
//! when it is re-exported under another name.
#![deny(missing_docs)]

mod args;
mod listener;
mod message;
mod selector;
mod test_attr;
mod transaction;

use proc_macro::TokenStream;

fn emit(r: syn::Result<proc_macro2::TokenStream>) -> TokenStream {
    r.unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Derives `TypedMessage`: a JSON message type with its topic, tag, keys and shard key.
/// See `rocketmq_sdk::Message`.
#[proc_macro_derive(Message, attributes(rocketmq))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    emit(syn::parse(input).and_then(message::derive))
}

/// Turns an `async fn` into a registrable listener. See `rocketmq_sdk::listener`.
#[proc_macro_attribute]
pub fn listener(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(listener::listener(attr.into(), item.into()))
}

/// Implements a typed transaction listener from an `impl` with `execute` and `check`.
/// See `rocketmq_sdk::transaction_listener`.
#[proc_macro_attribute]
pub fn transaction_listener(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(transaction::transaction_listener(attr.into(), item.into()))
}

/// Turns a function into a message-queue selector. See `rocketmq_sdk::selector`.
#[proc_macro_attribute]
pub fn selector(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(selector::selector(attr.into(), item.into()))
}

/// A test on a fresh embedded broker. See `rocketmq_sdk::test`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(test_attr::test(attr.into(), item.into()))
}
