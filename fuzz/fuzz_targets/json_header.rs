//! Arbitrary bytes as a JSON command header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::frame::decode_json_header;

fuzz_target!(|data: &[u8]| {
    let _ = decode_json_header(data);
});
