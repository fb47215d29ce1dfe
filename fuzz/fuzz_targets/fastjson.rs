//! Arbitrary bytes through the fastjson reader and the bodies that use it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocketmq_sdk::protocol::body::{fastjson, HeartbeatData, JsonBody, ResetOffsetBody, TopicRouteData};

fuzz_target!(|data: &[u8]| {
    let _ = fastjson::normalize(data);
    let _ = TopicRouteData::decode(data);
    let _ = HeartbeatData::decode(data);
    let _ = ResetOffsetBody::decode(data);
});
