//! Property-based round trips of every encoder in `protocol::message`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rocketmq_sdk::protocol::message::batch::{decode_batch, encode_batch};
use rocketmq_sdk::protocol::message::id::{
    UniqIdGenerator, canonical_addr, decode_offset_msg_id, offset_msg_id, parse_uniq_id,
};
use rocketmq_sdk::protocol::message::record::{
    DecodeOptions, MagicVersion, RecordView, decode_message_ext, encode_record, encoded_len,
    sys_flag_for_hosts,
};
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties};

/// Keys and values: no separators, never empty (Java drops empty ones), non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ #:é😀\u{7f}-]{1,16}"
}

fn properties() -> impl Strategy<Value = Properties> {
    proptest::collection::btree_map(text(), text(), 0..12).prop_shuffle_entries()
}

trait ShuffleEntries {
    fn prop_shuffle_entries(self) -> BoxedStrategy<Properties>;
}

impl<S> ShuffleEntries for S
where
    S: Strategy<Value = std::collections::BTreeMap<String, String>> + 'static,
{
    fn prop_shuffle_entries(self) -> BoxedStrategy<Properties> {
        self.prop_map(|m| m.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
            .prop_map(|v| v.into_iter().collect())
            .boxed()
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p)),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        // Up to 300 bytes so both magic versions occur.
        "[a-zA-Z0-9_%|-]{0,300}",
        any::<i32>(),
        properties(),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(topic, flag, properties, body)| Message {
            topic,
            flag,
            properties,
            body: Bytes::from(body),
            transaction_id: None,
        })
}

fn message_ext() -> impl Strategy<Value = MessageExt> {
    (
        message(),
        (
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            socket_addr(),
        ),
        (
            any::<i64>(),
            socket_addr(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(message, (queue_id, queue_offset, sys_flag, born_timestamp, born_host), rest)| {
                let (store_timestamp, store_host, commit_log_offset, reconsume_times, prep) = rest;
                MessageExt {
                    message,
                    store_size: 0,
                    queue_id,
                    queue_offset,
                    sys_flag,
                    born_timestamp,
                    born_host,
                    store_timestamp,
                    store_host,
                    commit_log_offset,
                    body_crc: 0,
                    reconsume_times,
                    prepared_transaction_offset: prep,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn properties_round_trip(p in properties()) {
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), p.encoded_len().unwrap());
        prop_assert_eq!(Properties::decode(&bytes), p.clone());
        prop_assert_eq!(p.to_wire_string().unwrap().into_bytes(), bytes);
    }

    #[test]
    fn record_round_trip(ext in message_ext()) {
        let mut out = BytesMut::new();
        encode_record(&ext, &mut out).unwrap();
        prop_assert_eq!(out.len(), encoded_len(&ext).unwrap());
        let out = out.freeze();

        let v = RecordView::parse(&out).unwrap();
        let expect_version = if ext.topic.len() > 127 { MagicVersion::V2 } else { MagicVersion::V1 };
        prop_assert_eq!(v.version(), expect_version);
        prop_assert!(v.verify_crc());
        prop_assert_eq!(v.len(), out.len());
        prop_assert_eq!(v.body(), &ext.body[..]);
        prop_assert_eq!(v.topic(), ext.topic.as_str());

        let opts = DecodeOptions::default().with_decompress_body(false).with_check_crc(true);
        let d = decode_message_ext(&out, &opts).unwrap();
        let mut expect = ext.clone();
        expect.store_size = out.len() as i32;
        expect.body_crc = v.body_crc();
        expect.sys_flag = sys_flag_for_hosts(ext.sys_flag, ext.born_host, ext.store_host);
        expect.born_host = canonical_addr(ext.born_host);
        expect.store_host = canonical_addr(ext.store_host);
        prop_assert_eq!(d, expect);
    }

    #[test]
    fn batch_round_trip(msgs in proptest::collection::vec(message(), 0..8)) {
        let mut out = BytesMut::new();
        encode_batch(&msgs, &mut out).unwrap();
        let back = decode_batch(&out.freeze()).unwrap();
        prop_assert_eq!(back.len(), msgs.len());
        for (b, m) in back.iter().zip(&msgs) {
            prop_assert_eq!(b.flag, m.flag);
            prop_assert_eq!(&b.body, &m.body);
            prop_assert_eq!(&b.properties, &m.properties);
        }
    }

    #[test]
    fn offset_id_round_trip(addr in socket_addr(), offset in any::<i64>()) {
        let id = offset_msg_id(addr, offset);
        let addr = canonical_addr(addr);
        prop_assert_eq!(id.len(), if addr.is_ipv4() { 32 } else { 56 });
        let d = decode_offset_msg_id(&id).unwrap();
        prop_assert_eq!(d.store_host, addr);
        prop_assert_eq!(d.commit_log_offset, offset);
    }

    #[test]
    fn uniq_id_round_trip(
        addr in socket_addr(),
        pid in any::<u16>(),
        seed in any::<i32>(),
        now in 0i64..4_102_444_800_000,
    ) {
        // Made when it stamps (the window only moves forward, as Java's).
        let g = UniqIdGenerator::with_parts(addr.ip(), pid, seed).made_at(now);
        let id = g.next_id_at(now);
        let info = parse_uniq_id(&id).unwrap();
        prop_assert_eq!(info.ip, canonical_addr(addr).ip());
        prop_assert_eq!((info.pid, info.seed, info.counter), (pid, seed, 0));
        // Read back a second later, the approximate time is exact.
        prop_assert_eq!(info.nearly_time_ms(now + 1000), now);
        prop_assert_eq!(parse_uniq_id(&g.next_id_at(now)).unwrap().counter, 1);
    }
}

/// Java `string2messageProperties`, transcribed step by step as a reference model:
/// `indexOf` the 0x02 from `index`, `indexOf` the first 0x01 from `index` (which may lie
/// beyond the segment), keep when `kv > index && kv < end - 1`, last put wins.
fn java_model(s: &[u8]) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let index_of = |b: u8, from: usize| s[from..].iter().position(|&c| c == b).map(|p| p + from);
    let mut map = std::collections::BTreeMap::new();
    let mut index = 0;
    while index < s.len() {
        let end = index_of(2, index).unwrap_or(s.len());
        if end - index >= 3
            && let Some(kv) = index_of(1, index)
            && kv > index
            && kv < end - 1
        {
            map.insert(s[index..kv].to_vec(), s[kv + 1..end].to_vec());
        }
        index = end + 1;
    }
    map
}

proptest! {
    #[test]
    fn parse_matches_java_model(raw in proptest::collection::vec(prop_oneof![Just(1u8), Just(2u8), Just(b'a'), Just(b'b')], 0..40)) {
        let ours: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Properties::decode(&raw)
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        prop_assert_eq!(ours, java_model(&raw));
    }
}
