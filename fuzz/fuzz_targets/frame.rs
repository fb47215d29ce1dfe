//! Arbitrary bytes into the streaming frame decoder, with a small frame limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::RemotingCodec;
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut codec = RemotingCodec::with_max_frame(64 * 1024);
    while let Ok(Some(cmd)) = codec.decode(&mut buf) {
        // Whatever decodes must encode again and decode to the same command.
        let mut out = BytesMut::new();
        if codec.encode(&cmd, &mut out).is_ok() {
            let again = codec.decode(&mut out).expect("re-decode").expect("complete");
            assert_eq!(again.code, cmd.code);
            assert_eq!(again.body, cmd.body);
        }
    }
});
