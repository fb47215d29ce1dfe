//! LZ4 and Zstandard bodies as 5.x Java producers store them (upstream `Lz4Compressor`:
//! lz4-java's `LZ4FrameOutputStream`; `ZstdCompressor`: zstd-jni frames), decoded from
//! whole stored records the way a pull delivers them.

use bytes::{Bytes, BytesMut};
use rocketmq_sdk::protocol::ProtocolError;
use rocketmq_sdk::protocol::message::compress::{
    decompress, lz4_compress, lz4_decompress, zstd_compress, zstd_decompress,
};
use rocketmq_sdk::protocol::message::record::{decode_all, encode_record};
use rocketmq_sdk::protocol::message::sysflag::{self, CompressionType};
use rocketmq_sdk::protocol::message::{Message, MessageExt};

/// lz4-java's frame header for its defaults: magic 0x184D2204 little-endian, FLG 0x60
/// (version 01, block independence; no checksum or content size: `DEFAULT_FEATURES`),
/// BD 0x70 (`BLOCKSIZE.SIZE_4MB`).
const JAVA_LZ4_HEADER: [u8; 6] = [0x04, 0x22, 0x4D, 0x18, 0x60, 0x70];

#[test]
fn lz4_frames_have_lz4_javas_header() {
    let data = b"hello lz4 frame ".repeat(64);
    let frame = lz4_compress(&data);
    assert_eq!(frame[..6], JAVA_LZ4_HEADER);
    // Header, 7 bytes with the check byte; EndMark: a zero block size.
    assert_eq!(frame[frame.len() - 4..], [0, 0, 0, 0]);
    assert_eq!(lz4_decompress(&frame, data.len()).unwrap(), data);
}

#[test]
fn lz4_frame_with_an_uncompressed_block_as_java_writes_incompressible_data() {
    // lz4-java stores a block raw (high bit of its size set) when compressing does not
    // shrink it. Built by hand around the header check byte for FLG 0x60 / BD 0x70.
    let check = lz4_compress(b"x")[6];
    let data: Vec<u8> = (0..=255u8).collect();
    let mut frame = JAVA_LZ4_HEADER.to_vec();
    frame.push(check);
    frame.extend_from_slice(&(data.len() as u32 | 0x8000_0000).to_le_bytes());
    frame.extend_from_slice(&data);
    frame.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(lz4_decompress(&frame, 1024).unwrap(), data);
    // A wrong check byte is corruption.
    frame[6] ^= 0xFF;
    assert!(matches!(
        lz4_decompress(&frame, 1024),
        Err(ProtocolError::Decompress(_))
    ));
}

#[test]
fn zstd_frames_from_another_encoder_decode() {
    // A single-segment frame with one raw block, what zstd writes for tiny incompressible
    // input: magic FD2FB528 LE, FHD 0x20 (single segment, 1-byte content size), size,
    // block header (last, raw, size << 3).
    let data = b"zstd raw block";
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x20, data.len() as u8];
    let bh = 1u32 | ((data.len() as u32) << 3);
    frame.extend_from_slice(&bh.to_le_bytes()[..3]);
    frame.extend_from_slice(data);
    assert_eq!(zstd_decompress(&frame, 100).unwrap(), data);
    let ours = zstd_compress(&b"zstd ".repeat(100));
    assert_eq!(ours[..4], [0x28, 0xB5, 0x2F, 0xFD]);
    assert_eq!(zstd_decompress(&ours, 500).unwrap(), b"zstd ".repeat(100));
    assert!(matches!(
        zstd_decompress(&ours, 499),
        Err(ProtocolError::Decompress(_))
    ));
}

fn stored(body: Vec<u8>, ty: CompressionType, queue_offset: i64, out: &mut BytesMut) {
    let mut m = MessageExt::from(Message::new("T", Bytes::from(body)));
    m.queue_offset = queue_offset;
    m.sys_flag = sysflag::set_compression_type(sysflag::COMPRESSED, ty);
    m.store_host = "127.0.0.1:10911".parse().unwrap();
    m.born_host = "127.0.0.1:40000".parse().unwrap();
    encode_record(&m, out).unwrap();
}

#[test]
fn records_of_every_compression_type_inflate() {
    let plain = b"a body worth compressing, ".repeat(300);
    let mut body = BytesMut::new();
    stored(lz4_compress(&plain), CompressionType::Lz4, 0, &mut body);
    stored(zstd_compress(&plain), CompressionType::Zstd, 1, &mut body);
    stored(
        rocketmq_sdk::protocol::message::compress::zlib_compress(&plain, 5),
        CompressionType::Zlib,
        2,
        &mut body,
    );
    let msgs = decode_all(body.freeze()).unwrap();
    assert_eq!(msgs.len(), 3);
    for (m, ty) in msgs.iter().zip([
        CompressionType::Lz4,
        CompressionType::Zstd,
        CompressionType::Zlib,
    ]) {
        assert_eq!(&m.body[..], &plain[..], "{ty:?}");
        assert!(!sysflag::is_compressed(m.sys_flag), "{ty:?}");
        assert_eq!(sysflag::compression_type(m.sys_flag).unwrap(), ty);
    }
    // The cap holds for every type.
    for ty in [CompressionType::Lz4, CompressionType::Zstd] {
        let c = match ty {
            CompressionType::Lz4 => lz4_compress(&plain),
            _ => zstd_compress(&plain),
        };
        assert!(decompress(&c, ty, plain.len()).is_ok());
        assert!(matches!(
            decompress(&c, ty, plain.len() - 1),
            Err(ProtocolError::Decompress(_))
        ));
    }
}
