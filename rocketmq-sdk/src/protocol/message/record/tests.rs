use bytes::{Bytes, BytesMut};

use super::*;
use crate::protocol::error::ProtocolError;
use crate::protocol::message::compress::zlib_compress;
use crate::protocol::message::model::{Message, MessageExt};
use crate::protocol::message::sysflag;

fn hex(s: &str) -> Vec<u8> {
    crate::protocol::message::id::from_hex(&s.replace([' ', '\n'], "")).unwrap()
}

fn golden_ext() -> MessageExt {
    let mut message = Message {
        topic: "T".into(),
        body: Bytes::from_static(b"hello"),
        ..Message::default()
    };
    message.set_tags("a");
    MessageExt {
        message,
        queue_id: 1,
        queue_offset: 2,
        commit_log_offset: 3,
        born_timestamp: 1_700_000_000_000,
        born_host: "127.0.0.1:1234".parse().unwrap(),
        store_timestamp: 1_700_000_000_001,
        store_host: "10.0.0.1:10911".parse().unwrap(),
        ..MessageExt::default()
    }
}

// Independently computed: crc32("hello") = 0x3610A686 (top bit clear, so masked the same);
// total = 91 + 5 (body) + 1 (topic) + 7 (properties) = 104 = 0x68.
const GOLDEN: &str =
    "00000068 DAA320A7 3610A686 00000001 00000000 0000000000000002 0000000000000003
    00000000 0000018BCFE56800 7F000001 000004D2 0000018BCFE56801 0A000001 00002A9F 00000000
    0000000000000000 00000005 68656C6C6F 01 54 0007 54414753 01 61 02";

#[test]
fn golden_record_v4() {
    let ext = golden_ext();
    let mut out = BytesMut::new();
    encode_record(&ext, &mut out).unwrap();
    assert_eq!(out.to_vec(), hex(GOLDEN));
    assert_eq!(encoded_len(&ext).unwrap(), 104);
    assert_eq!(record_len(0, 5, 1, 7), 104);

    let v = RecordView::parse(&out).unwrap();
    assert_eq!(v.total_size(), 104);
    assert_eq!(v.magic(), MAGIC_V1);
    assert_eq!(v.body_crc(), 0x3610_A686);
    assert!(v.verify_crc());
    assert_eq!(
        (
            v.queue_id(),
            v.flag(),
            v.queue_offset(),
            v.physical_offset()
        ),
        (1, 0, 2, 3)
    );
    assert_eq!(v.sys_flag(), 0);
    assert_eq!(v.born_timestamp(), 1_700_000_000_000);
    assert_eq!(v.born_host(), ext.born_host);
    assert_eq!(v.store_timestamp(), 1_700_000_000_001);
    assert_eq!(v.store_host(), ext.store_host);
    assert_eq!(v.reconsume_times(), 0);
    assert_eq!(v.prepared_transaction_offset(), 0);
    assert_eq!(v.body(), b"hello");
    assert_eq!(v.topic(), "T");
    assert_eq!(v.properties_bytes(), b"TAGS\x01a\x02");
    assert_eq!(v.property("TAGS").as_deref(), Some("a"));
    assert_eq!(v.offset_msg_id(), "0A00000100002A9F0000000000000003");

    let d = decode_message_ext(
        &out.freeze(),
        &DecodeOptions::default().with_check_crc(true),
    )
    .unwrap();
    let mut expect = ext.clone();
    expect.store_size = 104;
    expect.body_crc = 0x3610_A686;
    assert_eq!(d, expect);
}

#[test]
fn v6_hosts_and_v2_magic() {
    let mut ext = golden_ext();
    ext.born_host = "[2001:db8::1]:1".parse().unwrap();
    ext.store_host = "[::1]:10911".parse().unwrap();
    ext.message.topic = "t".repeat(200);
    ext.sys_flag = sysflag::TRANSACTION_COMMIT_TYPE;
    let mut out = BytesMut::new();
    encode_record(&ext, &mut out).unwrap();
    let v = RecordView::parse(&out).unwrap();
    assert_eq!(v.magic(), MAGIC_V2);
    assert_eq!(v.version(), MagicVersion::V2);
    assert_eq!(
        v.sys_flag(),
        sysflag::TRANSACTION_COMMIT_TYPE | sysflag::BORNHOST_V6 | sysflag::STOREHOST_V6
    );
    assert_eq!(v.len(), 91 + 24 + 1 + 5 + 200 + 7);
    assert_eq!(v.born_host(), ext.born_host);
    assert_eq!(v.store_host(), ext.store_host);
    assert_eq!(v.store_timestamp(), 1_700_000_000_001);
    assert_eq!(&out[68..76], &1_700_000_000_001_i64.to_be_bytes());
    assert_eq!(v.topic(), "t".repeat(200));
    // 127 bytes still fits V1.
    ext.message.topic = "t".repeat(127);
    let v1 = encode_record_to_vec(&ext).unwrap();
    assert_eq!(RecordView::parse(&v1).unwrap().version(), MagicVersion::V1);
}

#[test]
fn mapped_ipv4_is_written_as_ipv4() {
    let mut ext = golden_ext();
    ext.born_host = "[::ffff:127.0.0.1]:1234".parse().unwrap();
    ext.sys_flag = sysflag::BORNHOST_V6; // stale bit is corrected
    assert_eq!(encode_record_to_vec(&ext).unwrap(), hex(GOLDEN));
}

#[test]
fn patches_in_place() {
    let mut ext = golden_ext();
    ext.born_host = "[2001:db8::1]:1".parse().unwrap();
    let mut rec = encode_record_to_vec(&ext).unwrap();
    patch_queue_offset(&mut rec, 77).unwrap();
    patch_physical_offset(&mut rec, 1 << 40).unwrap();
    patch_store_timestamp(&mut rec, 42).unwrap();
    patch_store_host(&mut rec, "192.168.0.9:10912".parse().unwrap()).unwrap();
    patch_reconsume_times(&mut rec, 3).unwrap();
    patch_prepared_transaction_offset(&mut rec, 9).unwrap();
    let v = RecordView::parse(&rec).unwrap();
    assert_eq!(v.queue_offset(), 77);
    assert_eq!(v.physical_offset(), 1 << 40);
    assert_eq!(v.store_timestamp(), 42);
    assert_eq!(v.store_host(), "192.168.0.9:10912".parse().unwrap());
    assert_eq!(v.reconsume_times(), 3);
    assert_eq!(v.prepared_transaction_offset(), 9);
    assert!(v.verify_crc());
    assert!(matches!(
        patch_store_host(&mut rec, "[::2]:1".parse().unwrap()),
        Err(ProtocolError::InvalidField { .. })
    ));
    assert!(matches!(
        patch_store_timestamp(&mut rec[..40], 1),
        Err(ProtocolError::Truncated { .. })
    ));
    assert!(matches!(
        patch_queue_offset(&mut [0u8; 10], 1),
        Err(ProtocolError::Truncated { .. })
    ));
}

#[test]
fn read_outcomes() {
    let rec = hex(GOLDEN);
    // Blank marker and unwritten space.
    let mut blank = BytesMut::new();
    encode_blank_marker(4096, &mut blank);
    assert_eq!(blank.to_vec(), hex("00001000 CBD43194"));
    assert!(matches!(
        read_record(&blank),
        Ok(RecordRead::Blank { remaining: 4096 })
    ));
    assert!(matches!(
        RecordView::parse(&blank),
        Err(ProtocolError::BadMagic(0xCBD4_3194))
    ));
    assert!(matches!(read_record(&[0u8; 64]), Ok(RecordRead::Unwritten)));
    // Bad magic.
    let mut bad = rec.clone();
    bad[4] = 0;
    assert!(matches!(
        read_record(&bad),
        Err(ProtocolError::BadMagic(0x00A3_20A7))
    ));
    // Torn tail: every proper prefix is Truncated with the exact shortfall.
    for cut in 0..rec.len() {
        match read_record(&rec[..cut]) {
            Err(ProtocolError::Truncated { needed, .. }) => {
                assert_eq!(needed, if cut < 8 { 8 - cut } else { rec.len() - cut });
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // TOTALSIZE larger than the fields (with the bytes present): inconsistent.
    let mut longer = rec.clone();
    longer[3] = 0x69;
    longer.push(0);
    assert!(matches!(
        read_record(&longer),
        Err(ProtocolError::BadLength { .. })
    ));
    // TOTALSIZE smaller than the fields.
    let mut shorter = rec.clone();
    shorter[3] = 0x67;
    assert!(matches!(
        read_record(&shorter),
        Err(ProtocolError::BadLength { .. })
    ));
    // Lying body length.
    let mut lying = rec.clone();
    lying[84..88].copy_from_slice(&1000i32.to_be_bytes());
    assert!(matches!(
        read_record(&lying),
        Err(ProtocolError::BadLength { .. })
    ));
    lying[84..88].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        read_record(&lying),
        Err(ProtocolError::BadLength { .. })
    ));
    // Negative and tiny TOTALSIZE.
    let mut neg = rec.clone();
    neg[0] = 0x80;
    assert!(matches!(
        read_record(&neg),
        Err(ProtocolError::BadLength { .. })
    ));
    // Port out of range.
    let mut port = rec.clone();
    port[52..56].copy_from_slice(&70000i32.to_be_bytes());
    assert!(matches!(
        read_record(&port),
        Err(ProtocolError::InvalidField { .. })
    ));
    // Body CRC mismatch.
    let mut crc = rec.clone();
    crc[88] = b'j';
    let v = RecordView::parse(&crc).unwrap();
    assert!(!v.verify_crc());
    assert!(matches!(
        decode_message_ext_from_slice(&crc, &DecodeOptions::default().with_check_crc(true)),
        Err(ProtocolError::CrcMismatch {
            stored: 0x3610_A686,
            ..
        })
    ));
    assert!(decode_message_ext_from_slice(&crc, &DecodeOptions::default()).is_ok());
}

#[test]
fn encode_limits() {
    let mut ext = golden_ext();
    ext.message.topic = "t".repeat(32768);
    assert!(matches!(
        encode_record_to_vec(&ext),
        Err(ProtocolError::TooLarge { what: "topic", .. })
    ));
    let mut ext = golden_ext();
    ext.message.put_property("K", "v".repeat(32767));
    let mut out = BytesMut::new();
    assert!(matches!(
        encode_record(&ext, &mut out),
        Err(ProtocolError::TooLarge {
            what: "properties",
            ..
        })
    ));
    assert!(out.is_empty());
    let mut ext = golden_ext();
    ext.message.put_property("K", "a\u{1}b");
    assert!(matches!(
        encode_record(&ext, &mut out),
        Err(ProtocolError::ReservedByte { .. })
    ));
    assert!(out.is_empty());
    // Transient properties are not stored.
    let mut ext = golden_ext();
    ext.message.put_property("__RMQ.TRANSIENT.X", "1");
    assert_eq!(encode_record_to_vec(&ext).unwrap(), hex(GOLDEN));
}

#[test]
fn compressed_body_is_inflated_and_flag_cleared() {
    let plain = b"compress me ".repeat(1000);
    let mut ext = golden_ext();
    ext.message.body = Bytes::from(zlib_compress(&plain, 5));
    ext.sys_flag =
        sysflag::COMPRESSED | sysflag::set_compression_type(0, sysflag::CompressionType::Zlib);
    let rec = Bytes::from(encode_record_to_vec(&ext).unwrap());
    let d = decode_message_ext(&rec, &DecodeOptions::default()).unwrap();
    assert_eq!(&d.body[..], &plain[..]);
    assert_eq!(d.sys_flag, 0x300);
    let raw =
        decode_message_ext(&rec, &DecodeOptions::default().with_decompress_body(false)).unwrap();
    assert_eq!(raw.body, ext.message.body);
    assert_eq!(raw.sys_flag, 0x301);
    let capped = DecodeOptions::default().with_max_inflated_len(100);
    assert!(matches!(
        decode_message_ext(&rec, &capped),
        Err(ProtocolError::Decompress(_))
    ));
    let nobody = decode_message_ext(&rec, &DecodeOptions::default().with_read_body(false)).unwrap();
    assert!(nobody.body.is_empty());
    // A zlib body typed LZ4: a decompression error, not misread as zlib.
    ext.sys_flag = sysflag::COMPRESSED | 0x100;
    let rec = Bytes::from(encode_record_to_vec(&ext).unwrap());
    assert!(matches!(
        decode_message_ext(&rec, &DecodeOptions::default()),
        Err(ProtocolError::Decompress(_))
    ));
    // Types 4..=7 do not exist upstream.
    ext.sys_flag = sysflag::COMPRESSED | 0x400;
    let rec = Bytes::from(encode_record_to_vec(&ext).unwrap());
    assert!(matches!(
        decode_message_ext(&rec, &DecodeOptions::default()),
        Err(ProtocolError::UnsupportedCompression(4))
    ));
}

#[test]
fn decode_all_multi() {
    let mut body = BytesMut::new();
    for i in 0..3 {
        let mut ext = golden_ext();
        ext.queue_offset = i;
        ext.message.body = Bytes::from(format!("body-{i}"));
        encode_record(&ext, &mut body).unwrap();
    }
    let body = body.freeze();
    let all = decode_all(body.clone()).unwrap();
    assert_eq!(all.len(), 3);
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.body, format!("body-{i}").as_bytes());
    }
    assert!(decode_all(Bytes::new()).unwrap().is_empty());
    let mut garbage = body.to_vec();
    garbage.extend_from_slice(b"junk");
    assert!(matches!(
        decode_all(Bytes::from(garbage)),
        Err(ProtocolError::Truncated { .. })
    ));
    let views: Vec<_> = RecordIter::new(&body).collect::<Result<_, _>>().unwrap();
    assert_eq!(views.len(), 3);
}
