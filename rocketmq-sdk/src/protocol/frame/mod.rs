//! The remoting frame and its `tokio_util` codec (`RemotingCommand.encode/decode`,
//! `NettyDecoder`).
//!
//! ```text
//! int32 length            = 4 + H + B  (does not count itself)
//! int32 headerLenAndType  = (serializeType << 24) | H
//! byte[H] header          JSON (type 0) or ROCKETMQ binary (type 1)
//! byte[B] body
//! ```
//!
//! Both header forms are accepted on every frame; the encoder writes the form recorded in
//! the command's [`SerializeType`].

mod binary;
mod json;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{ProtocolError, RemotingCommand, SerializeType};

pub use binary::{decode_binary_header, encode_binary_header};
pub use json::{decode_json_header, encode_json_header};

/// Upstream's default maximum frame (`com.rocketmq.remoting.frameMaxLength`): 16 MiB,
/// counted like Netty's `LengthFieldBasedFrameDecoder`, i.e. including the 4-byte length.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Encodes and decodes whole frames. Cheap to create; holds only its limit.
#[derive(Debug, Clone, Copy)]
pub struct RemotingCodec {
    max_frame: usize,
}

impl Default for RemotingCodec {
    fn default() -> Self {
        RemotingCodec {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl RemotingCodec {
    /// A codec with the upstream default limit ([`DEFAULT_MAX_FRAME`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec that refuses frames larger than `max_frame` bytes (length prefix included),
    /// before buffering them.
    pub fn with_max_frame(max_frame: usize) -> Self {
        RemotingCodec {
            max_frame: max_frame.max(8),
        }
    }

    /// The configured limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

/// Decodes one complete frame *without* its 4-byte length prefix (`headerLenAndType`,
/// header and body).
///
/// # Errors
/// [`ProtocolError`] for a header length beyond the
/// payload, an unknown serialize type or an undecodable header.
pub fn decode_frame_payload(mut payload: Bytes) -> Result<RemotingCommand, ProtocolError> {
    if payload.len() < 4 {
        return Err(ProtocolError::Truncated {
            what: "frame header length",
            needed: 4 - payload.len(),
        });
    }
    let word = payload.get_u32();
    let type_byte = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    let serialize_type = SerializeType::from_byte(type_byte)
        .ok_or(ProtocolError::UnknownSerializeType(type_byte))?;
    if header_len > payload.len() {
        return Err(ProtocolError::BadLength {
            what: "frame",
            detail: format!(
                "header length {header_len} exceeds the {} bytes left in the frame",
                payload.len()
            ),
        });
    }
    let header = payload.split_to(header_len);
    let mut cmd = match serialize_type {
        SerializeType::Json => decode_json_header(&header)?,
        SerializeType::RocketMq => decode_binary_header(&header)?,
    };
    cmd.serialize_type = serialize_type;
    cmd.body = payload;
    Ok(cmd)
}

/// Appends the whole frame of `cmd` (length prefix included) to `dst`.
///
/// # Errors
/// [`ProtocolError`] when the header cannot be encoded or
/// the frame would be over `max_frame` bytes (`dst` is then left as it was).
pub fn encode_frame(
    cmd: &RemotingCommand,
    dst: &mut BytesMut,
    max_frame: usize,
) -> Result<(), ProtocolError> {
    let start = dst.len();
    dst.put_u32(0); // length, patched below
    dst.put_u32(0); // header length and type, patched below
    let header_start = dst.len();
    let res = match cmd.serialize_type {
        SerializeType::Json => encode_json_header(cmd, dst),
        SerializeType::RocketMq => encode_binary_header(cmd, dst),
    };
    if let Err(e) = res {
        dst.truncate(start);
        return Err(e);
    }
    let header_len = dst.len() - header_start;
    let total = 4 + 4 + header_len + cmd.body.len();
    if header_len > 0x00FF_FFFF || total > max_frame {
        dst.truncate(start);
        return Err(ProtocolError::TooLarge {
            what: "frame",
            len: total,
            max: max_frame,
        });
    }
    dst.extend_from_slice(&cmd.body);
    let length = (total - 4) as u32;
    let word = ((cmd.serialize_type.to_byte() as u32) << 24) | header_len as u32;
    dst[start..start + 4].copy_from_slice(&length.to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    Ok(())
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, ProtocolError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        let total = length.saturating_add(4);
        if total > self.max_frame {
            return Err(ProtocolError::FrameTooLarge {
                len: total,
                max: self.max_frame,
            });
        }
        if length < 4 {
            return Err(ProtocolError::BadLength {
                what: "frame",
                detail: format!("length {length} is smaller than the header length word"),
            });
        }
        if src.len() < total {
            // The limit was checked above, so this reservation is bounded.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(4);
        let payload = src.split_to(length).freeze();
        decode_frame_payload(payload).map(Some)
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: RemotingCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        encode_frame(&item, dst, self.max_frame)
    }
}

impl Encoder<&RemotingCommand> for RemotingCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: &RemotingCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        encode_frame(item, dst, self.max_frame)
    }
}
