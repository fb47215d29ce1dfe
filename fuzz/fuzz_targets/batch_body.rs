//! Arbitrary bytes as a SEND_BATCH_MESSAGE body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::message::batch::{count_inner, decode_batch};

fuzz_target!(|data: &[u8]| {
    let _ = count_inner(data);
    let _ = decode_batch(&Bytes::copy_from_slice(data));
});
