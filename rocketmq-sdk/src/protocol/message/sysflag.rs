//! Bit flags carried in a message's `sysFlag` (Java `MessageSysFlag`) and in a pull
//! request's `sysFlag` (Java `PullSysFlag`).
//!
//! Flags are `i32` because Java writes them as `int`; every helper here is a pure bit
//! operation, so negative inputs are fine.

use crate::protocol::error::ProtocolError;

/// The body is compressed; the algorithm sits in [`COMPRESSION_TYPE_MASK`].
pub const COMPRESSED: i32 = 0x1;
/// The broker set this for a topic with the MULTI_TAG attribute.
pub const MULTI_TAGS: i32 = 0x1 << 1;
/// Not a transactional message.
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// Half (prepared) transactional message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
/// Committed transactional message.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
/// Rolled-back transactional message; also the mask of the two transaction bits.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
/// The born host in the stored record is IPv6 (16-byte address).
pub const BORNHOST_V6: i32 = 0x1 << 4;
/// The store host in the stored record is IPv6 (16-byte address).
pub const STOREHOST_V6: i32 = 0x1 << 5;
/// The body wraps another message that must be unwrapped (5.x).
pub const NEED_UNWRAP: i32 = 0x1 << 6;
/// The body is a batch stored as one record (5.x inner batch).
pub const INNER_BATCH: i32 = 0x1 << 7;
/// Mask of the compression type bits.
pub const COMPRESSION_TYPE_MASK: i32 = 0x7 << COMPRESSION_TYPE_SHIFT;
/// Shift of the compression type bits.
pub const COMPRESSION_TYPE_SHIFT: u32 = 8;

/// Compression algorithm recorded in the sysFlag bits 8..11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionType {
    /// LZ4 frame format (type 1).
    Lz4,
    /// Zstandard frame (type 2).
    Zstd,
    /// zlib stream, RFC 1950 (type 3; type 0 also reads as zlib).
    Zlib,
}

impl CompressionType {
    /// The 3-bit value Java writes for this type.
    pub const fn value(self) -> u8 {
        match self {
            CompressionType::Lz4 => 1,
            CompressionType::Zstd => 2,
            CompressionType::Zlib => 3,
        }
    }

    /// The type for a 3-bit value. 0 means zlib because flags written before the type bits
    /// existed always used zlib.
    ///
    /// # Errors
    /// [`ProtocolError`] for a compression type this build
    /// does not know (4..=7).
    pub fn from_value(value: u8) -> Result<Self, ProtocolError> {
        match value {
            0 | 3 => Ok(CompressionType::Zlib),
            1 => Ok(CompressionType::Lz4),
            2 => Ok(CompressionType::Zstd),
            other => Err(ProtocolError::UnsupportedCompression(other)),
        }
    }
}

/// The transaction type bits of `flag` (one of the `TRANSACTION_*_TYPE` values).
pub const fn transaction_value(flag: i32) -> i32 {
    flag & TRANSACTION_ROLLBACK_TYPE
}

/// `flag` with its transaction bits replaced by `transaction_type`.
pub const fn reset_transaction_value(flag: i32, transaction_type: i32) -> i32 {
    (flag & !TRANSACTION_ROLLBACK_TYPE) | (transaction_type & TRANSACTION_ROLLBACK_TYPE)
}

/// The raw 3-bit compression type value of `flag`.
pub const fn compression_type_value(flag: i32) -> u8 {
    ((flag & COMPRESSION_TYPE_MASK) >> COMPRESSION_TYPE_SHIFT) as u8
}

/// The compression type of `flag`; 0 reads as zlib, 4..=7 are unsupported.
///
/// # Errors
/// [`ProtocolError`] for a compression type this build does
/// not know (4..=7).
pub fn compression_type(flag: i32) -> Result<CompressionType, ProtocolError> {
    CompressionType::from_value(compression_type_value(flag))
}

/// `flag` with its compression type bits set to `ty` (the COMPRESSED bit is untouched).
pub const fn set_compression_type(flag: i32, ty: CompressionType) -> i32 {
    (flag & !COMPRESSION_TYPE_MASK)
        | (((ty.value() as i32) << COMPRESSION_TYPE_SHIFT) & COMPRESSION_TYPE_MASK)
}

/// Whether the COMPRESSED bit is set.
pub const fn is_compressed(flag: i32) -> bool {
    flag & COMPRESSED != 0
}

/// `flag` without the COMPRESSED bit, as the client leaves it after inflating the body.
pub const fn clear_compressed(flag: i32) -> i32 {
    flag & !COMPRESSED
}

/// Whether any bit of `bits` is set in `flag`.
pub const fn has(flag: i32, bits: i32) -> bool {
    flag & bits != 0
}

/// Pull request sysFlag bits (Java `PullSysFlag`).
pub mod pull {
    /// The broker should store the `commitOffset` carried by the request.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling allowed: the broker may hold the request.
    pub const SUSPEND: i32 = 0x1 << 1;
    /// Use the subscription expression in the request rather than the heartbeat's.
    pub const SUBSCRIPTION: i32 = 0x1 << 2;
    /// Legacy class filter mode.
    pub const CLASS_FILTER: i32 = 0x1 << 3;
    /// Sent by lite pull consumers (request code 361).
    pub const LITE_PULL: i32 = 0x1 << 4;

    /// Builds a pull sysFlag from its parts, in Java `PullSysFlag.buildSysFlag` order.
    pub const fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= COMMIT_OFFSET;
        }
        if suspend {
            flag |= SUSPEND;
        }
        if subscription {
            flag |= SUBSCRIPTION;
        }
        if class_filter {
            flag |= CLASS_FILTER;
        }
        if lite_pull {
            flag |= LITE_PULL;
        }
        flag
    }

    /// `flag` without COMMIT_OFFSET, as the client sends it to a slave.
    pub const fn clear_commit_offset(flag: i32) -> i32 {
        flag & !COMMIT_OFFSET
    }

    /// Whether COMMIT_OFFSET is set.
    pub const fn has_commit_offset(flag: i32) -> bool {
        flag & COMMIT_OFFSET != 0
    }

    /// Whether SUSPEND is set.
    pub const fn has_suspend(flag: i32) -> bool {
        flag & SUSPEND != 0
    }

    /// Whether SUBSCRIPTION is set.
    pub const fn has_subscription(flag: i32) -> bool {
        flag & SUBSCRIPTION != 0
    }

    /// Whether CLASS_FILTER is set.
    pub const fn has_class_filter(flag: i32) -> bool {
        flag & CLASS_FILTER != 0
    }

    /// Whether LITE_PULL is set.
    pub const fn has_lite_pull(flag: i32) -> bool {
        flag & LITE_PULL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_bits() {
        assert_eq!(TRANSACTION_PREPARED_TYPE, 0x4);
        assert_eq!(TRANSACTION_COMMIT_TYPE, 0x8);
        assert_eq!(TRANSACTION_ROLLBACK_TYPE, 0xC);
        let flag = COMPRESSED | BORNHOST_V6 | TRANSACTION_PREPARED_TYPE;
        assert_eq!(transaction_value(flag), TRANSACTION_PREPARED_TYPE);
        let reset = reset_transaction_value(flag, TRANSACTION_COMMIT_TYPE);
        assert_eq!(reset, COMPRESSED | BORNHOST_V6 | TRANSACTION_COMMIT_TYPE);
        assert_eq!(
            reset_transaction_value(reset, TRANSACTION_NOT_TYPE),
            COMPRESSED | BORNHOST_V6
        );
    }

    #[test]
    fn compression_bits() {
        assert_eq!(compression_type(0).unwrap(), CompressionType::Zlib);
        assert_eq!(compression_type(0x100).unwrap(), CompressionType::Lz4);
        assert_eq!(compression_type(0x200).unwrap(), CompressionType::Zstd);
        assert_eq!(compression_type(0x300).unwrap(), CompressionType::Zlib);
        assert!(matches!(
            compression_type(0x400),
            Err(ProtocolError::UnsupportedCompression(4))
        ));
        let f = set_compression_type(COMPRESSED | 0x700, CompressionType::Zstd);
        assert_eq!(f, COMPRESSED | 0x200);
        assert!(is_compressed(f));
        assert_eq!(clear_compressed(f), 0x200);
        assert_eq!(COMPRESSION_TYPE_MASK, 0x700);
        assert_eq!(
            (
                BORNHOST_V6,
                STOREHOST_V6,
                NEED_UNWRAP,
                INNER_BATCH,
                MULTI_TAGS
            ),
            (0x10, 0x20, 0x40, 0x80, 0x2)
        );
    }

    #[test]
    fn pull_flags() {
        assert_eq!(pull::build(true, true, true, true, true), 0x1F);
        assert_eq!(pull::build(false, true, true, false, true), 0x16);
        assert_eq!(pull::build(true, false, false, false, false), 0x1);
        let f = pull::build(true, true, false, false, false);
        assert!(pull::has_commit_offset(f) && pull::has_suspend(f));
        assert!(
            !pull::has_subscription(f) && !pull::has_class_filter(f) && !pull::has_lite_pull(f)
        );
        assert_eq!(pull::clear_commit_offset(f), pull::SUSPEND);
    }
}
