//! Arbitrary bytes as a ROCKETMQ binary command header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::frame::decode_binary_header;

fuzz_target!(|data: &[u8]| {
    let _ = decode_binary_header(data);
});
