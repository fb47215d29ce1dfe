//! Arbitrary bytes as a properties string; whatever parses must re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::message::Properties;

fuzz_target!(|data: &[u8]| {
    let props = Properties::decode(data);
    let _ = props.to_wire_string();
});
