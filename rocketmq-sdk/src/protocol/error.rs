//! The one error type of the sans-IO protocol layer.

use thiserror::Error;

/// Everything that can be wrong with bytes received from a peer, or with a value that
/// cannot be put on the wire.
///
/// Decoders never panic and never allocate beyond the configured frame limit; they
/// return one of these instead.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announces a length larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A length field is inconsistent with the bytes around it.
    #[error("bad length in {what}: {detail}")]
    BadLength {
        /// Which structure carried the length.
        what: &'static str,
        /// What was inconsistent.
        detail: String,
    },
    /// Input ended before a structure was complete.
    #[error("truncated {what}: need {needed} more bytes")]
    Truncated {
        /// Which structure was cut short.
        what: &'static str,
        /// How many bytes were missing.
        needed: usize,
    },
    /// The serialize type byte of a frame is neither JSON (0) nor ROCKETMQ (1).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// A JSON header or body could not be parsed.
    #[error("invalid JSON in {what}: {source}")]
    Json {
        /// Which structure was being parsed.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8 in {0}")]
    Utf8(&'static str),
    /// A magic code did not match any known value.
    #[error("bad magic code {0:#010x}")]
    BadMagic(u32),
    /// A stored record's body CRC does not match its body.
    #[error("body CRC mismatch: stored {stored}, computed {computed}")]
    CrcMismatch {
        /// CRC written in the record.
        stored: u32,
        /// CRC of the body as read.
        computed: u32,
    },
    /// A required custom-header field is missing.
    #[error("missing required header field `{0}`")]
    MissingField(&'static str),
    /// A custom-header field has a value that does not parse as its type.
    #[error("invalid value {value:?} for header field `{field}`")]
    InvalidField {
        /// The field's wire name.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A value contains a byte that the wire format reserves (e.g. 0x01/0x02 in properties).
    #[error("{what} contains a reserved separator byte")]
    ReservedByte {
        /// What contained the byte.
        what: &'static str,
    },
    /// A value is too large for its wire representation.
    #[error("{what} is too large: {len} > {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The maximum the format allows.
        max: usize,
    },
    /// A message id string is malformed.
    #[error("invalid message id {0:?}")]
    InvalidMessageId(String),
    /// A compressed body could not be inflated, or inflates beyond the allowed size.
    #[error("decompression failed: {0}")]
    Decompress(String),
    /// The code does not support this compression type.
    #[error("unsupported compression type {0}")]
    UnsupportedCompression(u8),
    /// An I/O error from the underlying transport (only from the tokio codec adapters).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// A JSON error tagged with the structure being parsed.
    pub fn json(what: &'static str, source: serde_json::Error) -> Self {
        ProtocolError::Json { what, source }
    }
}
