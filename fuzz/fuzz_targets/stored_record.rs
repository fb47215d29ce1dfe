//! Arbitrary bytes as stored records: the zero-copy reader, the owned decoder and the
//! multi-record pull-body decoder.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::message::{DecodeOptions, decode_all, decode_message_ext, read_record};

fuzz_target!(|data: &[u8]| {
    let _ = read_record(data);
    let bytes = Bytes::copy_from_slice(data);
    let _ = decode_message_ext(&bytes, &DecodeOptions::default());
    let _ = decode_all(bytes);
});
