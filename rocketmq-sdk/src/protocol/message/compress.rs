//! Body compression. Only zlib (RFC 1950, what Java's `Deflater` writes) is implemented;
//! LZ4 and ZSTD bodies are recognised by their sysFlag type but report
//! [`ProtocolError::UnsupportedCompression`].
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
    let mut out = Vec::with_capacity(data.len().saturating_mul(2).min(max_len).min(1 << 20));
    // Reading one byte past the cap tells "exactly max_len" from "too large" without
    // ever holding more than max_len + 1 bytes.
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(data)
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

/// Compresses `data` with `ty` at `level`.
///
/// # Errors
/// [`ProtocolError`] for a compression type this build
/// cannot write.
pub fn compress(data: &[u8], ty: CompressionType, level: u32) -> Result<Vec<u8>, ProtocolError> {
    match ty {
        CompressionType::Zlib => Ok(zlib_compress(data, level)),
        other => Err(ProtocolError::UnsupportedCompression(other.value())),
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
        other => Err(ProtocolError::UnsupportedCompression(other.value())),
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
    fn other_types_unsupported() {
        assert!(matches!(
            decompress(b"x", CompressionType::Lz4, 10),
            Err(ProtocolError::UnsupportedCompression(1))
        ));
        assert!(matches!(
            compress(b"x", CompressionType::Zstd, 5),
            Err(ProtocolError::UnsupportedCompression(2))
        ));
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
