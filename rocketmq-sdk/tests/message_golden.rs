//! Golden vectors and Java-compatibility values, with expected bytes written out.

use bytes::{Bytes, BytesMut};
use rocketmq_sdk::protocol::message::batch::encode_batch;
use rocketmq_sdk::protocol::message::hash::{
    crc32_masked, index_key_hash, java_string_hash, tags_code,
};
use rocketmq_sdk::protocol::message::id::{
    UniqIdGenerator, decode_offset_msg_id, from_hex, offset_msg_id, parse_uniq_id,
};
use rocketmq_sdk::protocol::message::record::{
    DecodeOptions, RecordView, decode_all, encode_record, store_timestamp_pos,
};
use rocketmq_sdk::protocol::message::{Message, MessageExt, MessageQueue, keys, sysflag};

fn hex(s: &str) -> Vec<u8> {
    from_hex(&s.split_whitespace().collect::<String>()).unwrap()
}

/// A record built from fixed values. BODYCRC = crc32("hello") = 0x3610A686 (computed
/// independently with Python's zlib.crc32; the top bit is clear, so the mask keeps it).
#[test]
fn stored_record_golden() {
    let mut m = Message {
        topic: "T".into(),
        body: Bytes::from_static(b"hello"),
        ..Message::default()
    };
    m.put_property(keys::TAGS, "a");
    let ext = MessageExt {
        message: m,
        queue_id: 1,
        queue_offset: 2,
        commit_log_offset: 3,
        born_timestamp: 1_700_000_000_000,
        born_host: "127.0.0.1:1234".parse().unwrap(),
        store_timestamp: 1_700_000_000_001,
        store_host: "10.0.0.1:10911".parse().unwrap(),
        ..MessageExt::default()
    };
    let mut out = BytesMut::new();
    encode_record(&ext, &mut out).unwrap();
    let expected = hex(
        "00000068 DAA320A7 3610A686 00000001 00000000 0000000000000002 0000000000000003
         00000000 0000018BCFE56800 7F000001 000004D2 0000018BCFE56801 0A000001 00002A9F
         00000000 0000000000000000 00000005 68656C6C6F 01 54 0007 54414753 01 61 02",
    );
    assert_eq!(out.to_vec(), expected);
    assert_eq!(store_timestamp_pos(0), 56);
    let v = RecordView::parse(&expected).unwrap();
    assert_eq!(v.body_crc(), 0x3610_A686);
    let all = decode_all(Bytes::from(expected)).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].msg_id(), "0A00000100002A9F0000000000000003");
    assert_eq!(all[0].tags(), Some("a"));
    let opts = DecodeOptions::default().with_check_crc(true);
    assert!(rocketmq_sdk::protocol::message::record::decode_all_with(out.freeze(), &opts).is_ok());
}

#[test]
fn batch_body_golden() {
    let mut a = Message {
        topic: "T".into(),
        flag: 7,
        body: Bytes::from_static(b"abc"),
        ..Message::default()
    };
    a.put_property(keys::WAIT, "true");
    let mut out = BytesMut::new();
    encode_batch(&[a], &mut out).unwrap();
    // 22 + 3 + 10 ("WAIT\x01true\x02") = 35 = 0x23.
    let expected =
        hex("00000023 00000000 00000000 00000007 00000003 616263 000A 57414954 01 74727565 02");
    assert_eq!(out.to_vec(), expected);
}

#[test]
fn offset_msg_id_golden() {
    let id = offset_msg_id("192.168.0.1:10911".parse().unwrap(), 0x0000_0001_0000_0000);
    assert_eq!(id, "C0A8000100002A9F0000000100000000");
    let d = decode_offset_msg_id("c0a8000100002a9f0000000100000000").unwrap();
    assert_eq!(d.store_host, "192.168.0.1:10911".parse().unwrap());
    assert_eq!(d.commit_log_offset, 1 << 32);
}

#[test]
fn uniq_key_layout() {
    // ip 10.1.2.3 | pid 0x0102 | seed 0x7F000001 | ms since month start | counter.
    // Months counted in UTC, the generator made in March 2024.
    let g = UniqIdGenerator::with_parts("10.1.2.3".parse().unwrap(), 0x0102, 0x7F00_0001)
        .with_zone(chrono::FixedOffset::east_opt(0).unwrap())
        .made_at(1_709_251_201_000);
    // 2024-03-01T00:00:01.500Z: 1500 ms = 0x5DC into the month (UTC).
    let id = g.next_id_at(1_709_251_201_500);
    assert_eq!(id, "0A010203010 27F000001 000005DC 0000".replace(' ', ""));
    let id2 = g.next_id_at(1_709_251_201_500);
    assert!(id2.ends_with("0001"));
    let info = parse_uniq_id(&id).unwrap();
    assert_eq!(info.millis_in_month, 1500);
    assert_eq!(info.pid, 0x0102);
}

#[test]
fn java_compat_values() {
    assert_eq!(java_string_hash("hello"), 99_162_322);
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_string_hash("TagA"), 2_598_919);
    // "😀" is the surrogate pair 0xD83D 0xDE00: 31 * 0xD83D + 0xDE00 = 1_772_899.
    assert_eq!(java_string_hash("😀"), 31 * 0xD83D + 0xDE00);
    assert_eq!(java_string_hash("😀"), 1_772_899);
    // Negative hash, sign-extended into the tags code.
    assert_eq!(
        java_string_hash("The quick brown fox jumps over the lazy dog"),
        -609_428_141
    );
    assert_eq!(
        tags_code("The quick brown fox jumps over the lazy dog"),
        -609_428_141
    );
    // "polygenelubricants".hashCode() == Integer.MIN_VALUE: abs overflows, index maps to 0.
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    assert_eq!(index_key_hash("T", "k"), java_string_hash("T#k").abs());
    // crc32("123456789") = 0xCBF43926 (the CRC-32 check value), masked to 0x4BF43926.
    assert_eq!(crc32_masked(b"123456789"), 0x4BF4_3926);
    assert_eq!(crc32_masked(b"hello"), 0x3610_A686);
    assert_eq!(sysflag::pull::build(false, true, true, false, true), 0x16);
    assert_eq!(
        MessageQueue::new("TopicTest", "broker-a", 3).to_string(),
        "MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=3]"
    );
}
