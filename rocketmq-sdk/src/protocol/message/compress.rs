//! Body compression, the three types of upstream's `CompressionType`: zlib (RFC 1950, what
//! Java's `Deflater` writes; the only one before 5.x), LZ4 in the LZ4 *frame* format
//! (lz4-java's `LZ4FrameOutputStream`, magic `04 22 4D 18`), and Zstandard frames
//! (zstd-jni's `Zstd.compress`, magic `28 B5 2F FD`). Pure-Rust codecs: `lz4_flex`
//! (frame feature) and `ruzstd`.
//!
//! Inflation is always bounded: a small hostile body can expand enormously, so the caller
//! states the largest output it accepts.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::sysflag::CompressionType;
use crate::protocol::error::ProtocolError;

/// Java's default compression level (`rocketmq.message.compressLevel`).
pub const DEFAULT_LEVEL: u32 = 5;
/// The default producer threshold (`compressMsgBodyOverHowmuch`): bodies of at least this
/// many bytes are compressed.
pub const DEFAULT_COMPRESS_THRESHOLD: usize = 4096;
/// The default cap on an inflated body: the broker's default `maxMessageSize`.
pub const DEFAULT_MAX_INFLATED_LEN: usize = 4 * 1024 * 1024;

/// Compresses `data` as a zlib stream at `level` (0..=9; larger values are clamped).
pub fn zlib_compress(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(level.min(9)),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Inflates a zlib stream, failing with [`ProtocolError::Decompress`] if it is corrupt,
/// truncated, or would produce more than `max_len` bytes.
///
/// # Errors
/// [`ProtocolError`] (`Decompress`) for a corrupt or
/// truncated stream, or output over `max_len`.
pub fn zlib_decompress(data: &[u8], max_len: usize) -> Result<Vec<u8>, ProtocolError> {
    read_bounded(ZlibDecoder::new(data), data.len(), max_len)
}

/// Reads `reader` to its end, failing once it would produce more than `max_len` bytes.
fn read_bounded(
    mut reader: impl Read,
    hint: usize,
    max_len: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(hint.saturating_mul(2).min(max_len).min(1 << 20));
    // One byte past the cap tells "exactly max_len" from "too large".
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    (&mut reader)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ProtocolError::Decompress(e.to_string()))?;
    if out.len() > max_len {
        return Err(ProtocolError::Decompress(format!(
            "inflated body exceeds {max_len} bytes"
        )));
    }
    Ok(out)
}

/// Compresses `data` as one LZ4 frame shaped as lz4-java's `LZ4FrameOutputStream(out)`
/// writes it (what upstream's `Lz4Compressor` uses): 4 MiB independent blocks, no
/// checksums, no content size, so the header is `04 22 4D 18 60 70` and its check byte.
pub fn lz4_compress(data: &[u8]) -> Vec<u8> {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    let info = FrameInfo::new()
        .block_size(BlockSize::Max4MB)
        .block_mode(BlockMode::Independent)
        .block_checksums(false)
        .content_checksum(false);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 64));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Decodes an LZ4 frame (or several concatenated, as lz4-java reads them), failing
/// with [`ProtocolError::Decompress`] if it is corrupt, truncated, or over `max_len`.
///
/// # Errors
/// [`ProtocolError`] (`Decompress`) as above.
pub fn lz4_decompress(data: &[u8], max_len: usize) -> Result<Vec<u8>, ProtocolError> {
    if data.is_empty() {
        return Err(ProtocolError::Decompress("empty LZ4 frame".into()));
    }
    read_bounded(
        lz4_flex::frame::FrameDecoder::new(data),
        data.len(),
        max_len,
    )
}

/// Compresses `data` as one Zstandard frame. The level is not honoured (the pure-Rust
/// encoder has only its fastest level); any Zstandard decoder reads the result.
pub fn zstd_compress(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Decodes a Zstandard frame, failing with [`ProtocolError::Decompress`] if it is
/// corrupt, truncated, or over `max_len`.
///
/// # Errors
/// [`ProtocolError`] (`Decompress`) as above.
pub fn zstd_decompress(data: &[u8], max_len: usize) -> Result<Vec<u8>, ProtocolError> {
    let mut src = data;
    let dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
        .map_err(|e| ProtocolError::Decompress(e.to_string()))?;
    read_bounded(dec, data.len(), max_len)
}

/// Compresses `data` with `ty` at `level` (zlib only; see [`zstd_compress`]).
///
/// # Errors
/// [`ProtocolError`] for a compression type this build
/// cannot write.
pub fn compress(data: &[u8], ty: CompressionType, level: u32) -> Result<Vec<u8>, ProtocolError> {
    match ty {
        CompressionType::Zlib => Ok(zlib_compress(data, level)),
        CompressionType::Lz4 => Ok(lz4_compress(data)),
        CompressionType::Zstd => Ok(zstd_compress(data)),
    }
}

/// Inflates `data` compressed with `ty`, producing at most `max_len` bytes.
///
/// # Errors
/// [`ProtocolError`] for an unsupported type, corrupt data,
/// or output over `max_len`.
pub fn decompress(
    data: &[u8],
    ty: CompressionType,
    max_len: usize,
) -> Result<Vec<u8>, ProtocolError> {
    match ty {
        CompressionType::Zlib => zlib_decompress(data, max_len),
        CompressionType::Lz4 => lz4_decompress(data, max_len),
        CompressionType::Zstd => zstd_decompress(data, max_len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_round_trip_and_header() {
        let data = b"hello hello hello hello hello".repeat(100);
        let z = zlib_compress(&data, DEFAULT_LEVEL);
        // RFC 1950: CM=8 (deflate), and the header is a multiple of 31.
        assert_eq!(z[0] & 0x0F, 8);
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0);
        assert!(z.len() < data.len() / 10);
        assert_eq!(zlib_decompress(&z, data.len()).unwrap(), data);
    }

    #[test]
    fn inflate_cap() {
        let data = vec![0u8; 100_000];
        let z = zlib_compress(&data, 9);
        assert!(zlib_decompress(&z, 100_000).is_ok());
        assert!(matches!(
            zlib_decompress(&z, 99_999),
            Err(ProtocolError::Decompress(_))
        ));
    }

    #[test]
    fn corrupt_and_truncated() {
        let z = zlib_compress(b"some body that is long enough to matter", 5);
        assert!(matches!(
            zlib_decompress(&z[..z.len() - 6], 1 << 20),
            Err(ProtocolError::Decompress(_))
        ));
        assert!(matches!(
            zlib_decompress(b"not zlib", 1 << 20),
            Err(ProtocolError::Decompress(_))
        ));
        assert!(matches!(
            zlib_decompress(b"", 1 << 20),
            Err(ProtocolError::Decompress(_))
        ));
    }

    #[test]
    fn every_type_round_trips_and_is_bounded() {
        let data = b"lz4 and zstd bodies from 5.x producers ".repeat(200);
        for ty in [
            CompressionType::Lz4,
            CompressionType::Zstd,
            CompressionType::Zlib,
        ] {
            let c = compress(&data, ty, DEFAULT_LEVEL).unwrap();
            assert!(c.len() < data.len() / 4, "{ty:?}");
            assert_eq!(decompress(&c, ty, data.len()).unwrap(), data, "{ty:?}");
            assert!(
                matches!(
                    decompress(&c, ty, data.len() - 1),
                    Err(ProtocolError::Decompress(_))
                ),
                "{ty:?}"
            );
            assert!(decompress(b"garbage!", ty, 1 << 20).is_err(), "{ty:?}");
            assert!(decompress(b"", ty, 1 << 20).is_err(), "{ty:?}");
        }
        assert_eq!(
            decompress(
                &compress(b"x", CompressionType::Zlib, 5).unwrap(),
                CompressionType::Zlib,
                10
            )
            .unwrap(),
            b"x"
        );
    }
}
