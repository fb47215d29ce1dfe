//! Hostile input: every decoder in `protocol::message` must return (Ok or a typed error)
//! on arbitrary bytes, never panic or allocate without bound.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rocketmq_sdk::protocol::ProtocolError;
use rocketmq_sdk::protocol::message::batch::{BatchIter, count_inner, decode_batch};
use rocketmq_sdk::protocol::message::compress::zlib_decompress;
use rocketmq_sdk::protocol::message::id::{decode_offset_msg_id, parse_uniq_id};
use rocketmq_sdk::protocol::message::record::{
    DecodeOptions, RecordIter, RecordRead, RecordView, decode_all, decode_message_ext,
    encode_record, read_record,
};
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties};

fn valid_record() -> Vec<u8> {
    let mut m = Message::new("TopicTest", Bytes::from_static(b"payload bytes"));
    m.set_tags("TagA");
    m.set_keys(["k1", "k2"]);
    let ext = MessageExt {
        message: m,
        store_host: "[::1]:10911".parse().unwrap(),
        ..MessageExt::default()
    };
    let mut out = BytesMut::new();
    encode_record(&ext, &mut out).unwrap();
    encode_record(&ext, &mut out).unwrap();
    out.to_vec()
}

fn exercise(data: &[u8]) {
    let _ = Properties::decode(data);
    if let Ok(v) = RecordView::parse(data) {
        assert!(v.len() <= data.len());
        let _ = (
            v.verify_crc(),
            v.properties(),
            v.property("TAGS"),
            v.offset_msg_id(),
        );
    }
    if let Ok(RecordRead::Record(v)) = read_record(data) {
        assert_eq!(v.total_size() as usize, v.len());
    }
    let bytes = Bytes::copy_from_slice(data);
    for opts in [
        DecodeOptions::default(),
        DecodeOptions::default()
            .with_check_crc(true)
            .with_read_body(false),
    ] {
        let _ = decode_message_ext(&bytes, &opts);
    }
    let _ = decode_all(bytes.clone());
    let _ = RecordIter::new(data).count();
    let _ = decode_batch(&bytes);
    let _ = count_inner(data);
    let _ = BatchIter::new(data).count();
    let _ = zlib_decompress(data, 64 * 1024);
    let s = String::from_utf8_lossy(data);
    let _ = decode_offset_msg_id(&s);
    let _ = parse_uniq_id(&s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&data);
    }

    #[test]
    fn mutated_records(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                       cut in any::<prop::sample::Index>()) {
        let mut rec = valid_record();
        for (i, b) in flips {
            let i = i.index(rec.len());
            rec[i] = b;
        }
        exercise(&rec);
        exercise(&rec[..cut.index(rec.len())]);
    }

    #[test]
    fn arbitrary_strings(s in "\\PC{0,60}", hex in "[0-9A-Fa-f]{0,60}") {
        let _ = decode_offset_msg_id(&s);
        let _ = parse_uniq_id(&s);
        let _ = decode_offset_msg_id(&hex);
        let _ = parse_uniq_id(&hex);
    }
}

#[test]
fn lying_total_size_is_typed() {
    let rec = valid_record();
    let one = RecordView::parse(&rec).unwrap().len();
    // Claims far more than present: a torn tail.
    let mut huge = rec[..one].to_vec();
    huge[..4].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        read_record(&huge),
        Err(ProtocolError::Truncated { .. })
    ));
    // Claims one byte more than its fields, with the byte present.
    let mut plus = rec.clone();
    plus[..4].copy_from_slice(&((one + 1) as i32).to_be_bytes());
    assert!(matches!(
        read_record(&plus),
        Err(ProtocolError::BadLength { .. })
    ));
    // A batch entry claiming a huge body.
    let mut batch = vec![0u8; 22];
    batch[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        decode_batch(&Bytes::from(batch)),
        Err(ProtocolError::Truncated { .. })
    ));
    // A zlib bomb is capped.
    let bomb = rocketmq_sdk::protocol::message::compress::zlib_compress(&vec![0u8; 8 << 20], 9);
    assert!(bomb.len() < 64 * 1024);
    assert!(matches!(
        zlib_decompress(&bomb, 4 << 20),
        Err(ProtocolError::Decompress(_))
    ));
}
