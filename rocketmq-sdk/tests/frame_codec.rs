//! The remoting frame codec: golden vectors in both header forms, leniency, round trips
//! and hostile input.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use rocketmq_sdk::protocol::command::{FLAG_ONEWAY, FLAG_RESPONSE};
use rocketmq_sdk::protocol::frame::{DEFAULT_MAX_FRAME, decode_frame_payload};
use rocketmq_sdk::protocol::{
    ExtFields, LanguageCode, ProtocolError, RemotingCodec, RemotingCommand, SerializeType,
};
use tokio_util::codec::{Decoder, Encoder};

fn sample(serialize_type: SerializeType) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("a", "g");
    RemotingCommand {
        code: 310,
        language: LanguageCode::JAVA,
        version: 479,
        opaque: 1,
        flag: 0,
        remark: None,
        ext_fields: ext,
        body: Bytes::from_static(b"hi"),
        serialize_type,
    }
}

fn encode(cmd: &RemotingCommand) -> BytesMut {
    let mut buf = BytesMut::new();
    RemotingCodec::new().encode(cmd, &mut buf).unwrap();
    buf
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn golden_json_frame() {
    let header = br#"{"code":310,"extFields":{"a":"g"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}"#;
    // length = 4 + 119 + 2 = 125 (0x7d); header word = type 0, length 119 (0x77).
    let mut expected = vec![0x00, 0x00, 0x00, 0x7d, 0x00, 0x00, 0x00, 0x77];
    expected.extend_from_slice(header);
    expected.extend_from_slice(b"hi");
    let got = encode(&sample(SerializeType::Json));
    assert_eq!(hex(&got), hex(&expected));
    let back = RemotingCodec::new()
        .decode(&mut BytesMut::from(&expected[..]))
        .unwrap()
        .unwrap();
    assert_eq!(back, sample(SerializeType::Json));
}

#[test]
fn golden_binary_frame() {
    let expected = concat!(
        "00000023", // length = 4 + 29 + 2
        "0100001d", // serialize type 1, header length 29
        "0136",     // code 310
        "00",       // language JAVA
        "01df",     // version 479
        "00000001", // opaque
        "00000000", // flag
        "00000000", // remark: null
        "00000008", // ext length
        "0001", "61", "00000001", "67",   // "a" -> "g"
        "6869"  // body "hi"
    );
    let got = encode(&sample(SerializeType::RocketMq));
    assert_eq!(hex(&got), expected);
    let bytes: Vec<u8> = (0..expected.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&expected[i..i + 2], 16).unwrap())
        .collect();
    let back = RemotingCodec::new()
        .decode(&mut BytesMut::from(&bytes[..]))
        .unwrap()
        .unwrap();
    assert_eq!(back, sample(SerializeType::RocketMq));
}

fn frame_of(header: &[u8], type_byte: u8, body: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32((4 + header.len() + body.len()) as u32);
    b.put_u32(((type_byte as u32) << 24) | header.len() as u32);
    b.put_slice(header);
    b.put_slice(body);
    b
}

#[test]
fn lenient_json_as_older_clients_write_it() {
    // No serializeTypeCurrentRPC, language as an ordinal, ext values as numbers, booleans
    // and null, an unknown top-level key (as the Go client and fastjson tolerate).
    let header = br#"{"code":11,"language":9,"version":317,"opaque":42,"flag":2,"remark":null,
        "extFields":{"queueId":3,"suspend":true,"x":null,"topic":"T"},"futureField":[1,2]}"#;
    let cmd = RemotingCodec::new()
        .decode(&mut frame_of(header, 0, b""))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.code, 11);
    assert_eq!(cmd.language, LanguageCode::GO);
    assert_eq!(cmd.version, 317);
    assert_eq!(cmd.opaque, 42);
    assert!(cmd.is_oneway());
    assert_eq!(cmd.ext_fields.get("queueId"), Some("3"));
    assert_eq!(cmd.ext_fields.get("suspend"), Some("true"));
    assert_eq!(cmd.ext_fields.get("topic"), Some("T"));
    assert!(!cmd.ext_fields.contains_key("x"));
}

#[test]
fn binary_empty_strings_read_as_null_and_duplicates_keep_the_last() {
    let mut h = BytesMut::new();
    h.put_i16(10);
    h.put_u8(0);
    h.put_i16(401);
    h.put_i32(7);
    h.put_i32(0);
    h.put_i32(0); // remark null
    let mut ext = BytesMut::new();
    for (k, v) in [("k", "1"), ("empty", ""), ("k", "2")] {
        ext.put_i16(k.len() as i16);
        ext.put_slice(k.as_bytes());
        ext.put_i32(v.len() as i32);
        ext.put_slice(v.as_bytes());
    }
    h.put_i32(ext.len() as i32);
    h.put_slice(&ext);
    let cmd = RemotingCodec::new()
        .decode(&mut frame_of(&h, 1, b"body"))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.ext_fields.get("k"), Some("2"));
    assert!(!cmd.ext_fields.contains_key("empty"));
    assert_eq!(cmd.remark, None);
    assert_eq!(&cmd.body[..], b"body");
}

#[test]
fn invalid_utf8_and_trailing_header_bytes_are_read_as_java_reads_them() {
    // JSON: Java builds a String from the bytes first, so a bad byte becomes U+FFFD.
    let cmd = RemotingCodec::new()
        .decode(&mut frame_of(b"{\"code\":1,\"remark\":\"a\xffb\"}", 0, b""))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.remark.as_deref(), Some("a\u{FFFD}b"));
    // Binary: the same for remark and extFields, and bytes after extFields are ignored
    // (`rocketMQProtocolDecode` stops reading there).
    let mut h = BytesMut::new();
    h.put_i16(34);
    h.put_u8(0);
    h.put_i16(401);
    h.put_i32(9);
    h.put_i32(0);
    h.put_i32(2);
    h.put_slice(b"r\xfe");
    let mut ext = BytesMut::new();
    ext.put_i16(1);
    ext.put_slice(b"k");
    ext.put_i32(2);
    ext.put_slice(b"v\xff");
    h.put_i32(ext.len() as i32);
    h.put_slice(&ext);
    h.put_slice(b"trailing");
    let cmd = RemotingCodec::new()
        .decode(&mut frame_of(&h, 1, b"body"))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.code, 34);
    assert_eq!(cmd.opaque, 9);
    assert_eq!(cmd.remark.as_deref(), Some("r\u{FFFD}"));
    assert_eq!(cmd.ext_fields.get("k"), Some("v\u{FFFD}"));
    assert_eq!(&cmd.body[..], b"body");
}

#[test]
fn response_and_oneway_flags() {
    let req = RemotingCommand::request(rocketmq_sdk::protocol::RequestCode::HEART_BEAT)
        .with_opaque(9)
        .oneway();
    assert!(req.is_oneway() && !req.is_response());
    assert_eq!(req.flag, FLAG_ONEWAY);
    let resp = RemotingCommand::response_to(&req, rocketmq_sdk::protocol::ResponseCode::SUCCESS);
    assert!(resp.is_response());
    assert_eq!(resp.flag, FLAG_RESPONSE);
    assert_eq!(resp.opaque, 9);
}

#[test]
fn partial_input_waits_for_more() {
    let full = encode(&sample(SerializeType::Json));
    let mut codec = RemotingCodec::new();
    let mut buf = BytesMut::new();
    for (i, b) in full.iter().enumerate() {
        buf.put_u8(*b);
        let out = codec.decode(&mut buf).unwrap();
        if i + 1 < full.len() {
            assert!(out.is_none(), "decoded early at byte {i}");
        } else {
            assert_eq!(out.unwrap(), sample(SerializeType::Json));
        }
    }
}

#[test]
fn lying_length_is_refused_before_allocating() {
    let mut buf = BytesMut::with_capacity(16);
    buf.put_u32(200 * 1024 * 1024);
    buf.put_u32(0);
    let cap = buf.capacity();
    let err = RemotingCodec::new().decode(&mut buf).unwrap_err();
    assert!(matches!(err, ProtocolError::FrameTooLarge { max, .. } if max == DEFAULT_MAX_FRAME));
    assert_eq!(buf.capacity(), cap, "no buffer growth for a refused frame");

    let mut small = RemotingCodec::with_max_frame(64);
    let mut buf = frame_of(&[b'{'; 100], 0, b"");
    assert!(matches!(
        small.decode(&mut buf),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[test]
fn malformed_frames_give_typed_errors() {
    // Header length beyond the frame.
    let mut b = BytesMut::new();
    b.put_u32(8);
    b.put_u32(100);
    b.put_u32(0);
    assert!(matches!(
        RemotingCodec::new().decode(&mut b),
        Err(ProtocolError::BadLength { .. })
    ));
    // Unknown serialize type.
    assert!(matches!(
        RemotingCodec::new().decode(&mut frame_of(b"{}", 7, b"")),
        Err(ProtocolError::UnknownSerializeType(7))
    ));
    // Invalid JSON.
    assert!(matches!(
        RemotingCodec::new().decode(&mut frame_of(b"{\"code\":", 0, b"")),
        Err(ProtocolError::Json { .. })
    ));
    // Length smaller than the header word.
    let mut b = BytesMut::new();
    b.put_u32(2);
    b.put_u16(0);
    assert!(matches!(
        RemotingCodec::new().decode(&mut b),
        Err(ProtocolError::BadLength { .. })
    ));
    // Binary header whose remark length lies.
    let mut h = BytesMut::new();
    h.put_slice(&[0; 13]);
    h.put_i32(1000);
    assert!(matches!(
        RemotingCodec::new().decode(&mut frame_of(&h, 1, b"")),
        Err(ProtocolError::BadLength { .. })
    ));
}

#[test]
fn oversized_commands_are_not_encoded() {
    let mut cmd = sample(SerializeType::Json);
    cmd.body = Bytes::from(vec![0u8; 200]);
    let mut buf = BytesMut::new();
    let err = RemotingCodec::with_max_frame(128)
        .encode(&cmd, &mut buf)
        .unwrap_err();
    assert!(matches!(err, ProtocolError::TooLarge { .. }));
    assert!(buf.is_empty(), "nothing written on failure");
    // POP codes do not fit the binary header's int16.
    cmd.code = 200050;
    cmd.serialize_type = SerializeType::RocketMq;
    assert!(RemotingCodec::new().encode(&cmd, &mut buf).is_err());
    cmd.serialize_type = SerializeType::Json;
    RemotingCodec::new().encode(&cmd, &mut buf).unwrap();
    assert_eq!(
        RemotingCodec::new().decode(&mut buf).unwrap().unwrap().code,
        200050
    );
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_%|-]{1,12}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

prop_compose! {
    fn arb_command()(
        code in any::<i16>(),
        language in 0u8..14,
        version in any::<i16>(),
        opaque in any::<i32>(),
        flag in 0i32..4,
        remark in proptest::option::of(arb_string()),
        ext in proptest::collection::vec((arb_string(), arb_string()), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        binary in any::<bool>(),
    ) -> RemotingCommand {
        RemotingCommand {
            code: code as i32,
            language: LanguageCode(language),
            version,
            opaque,
            flag,
            remark,
            ext_fields: ext.into_iter().collect(),
            body: Bytes::from(body),
            serialize_type: if binary { SerializeType::RocketMq } else { SerializeType::Json },
        }
    }
}

proptest! {
    #[test]
    fn round_trip_both_forms(cmd in arb_command()) {
        let mut buf = encode(&cmd);
        let back = RemotingCodec::new().decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(back, cmd);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn many_frames_back_to_back(cmds in proptest::collection::vec(arb_command(), 1..6)) {
        let mut buf = BytesMut::new();
        for c in &cmds {
            RemotingCodec::new().encode(c, &mut buf).unwrap();
        }
        let mut codec = RemotingCodec::new();
        for c in &cmds {
            prop_assert_eq!(&codec.decode(&mut buf).unwrap().unwrap(), c);
        }
        prop_assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let mut codec = RemotingCodec::with_max_frame(1024);
        // Decode until the codec wants more input or reports an error.
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        let _ = decode_frame_payload(Bytes::from(bytes));
    }

    #[test]
    fn arbitrary_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 0..256), ty in 0u8..2) {
        let _ = RemotingCodec::new().decode(&mut frame_of(&header, ty, b""));
    }
}
