//! The ROCKETMQ binary header (serialize type 1, `RocketMQSerializable`).
//!
//! ```text
//! int16 code | byte language | int16 version | int32 opaque | int32 flag
//! int32 remarkLen | remark | int32 extLen | (int16 keyLen, key, int32 valLen, val)*
//! ```
//!
//! As in Java, a zero-length string reads as null: an empty remark is `None` and an ext
//! entry with an empty value is dropped.

use bytes::{Buf, BufMut, BytesMut};

use crate::protocol::ProtocolError;
use crate::protocol::command::{ExtFields, LanguageCode, RemotingCommand, SerializeType};

/// Appends the binary header of `cmd` to `dst`. Codes outside `i16` cannot be written in
/// this form (upstream's limitation: POP codes need JSON).
///
/// # Errors
/// [`ProtocolError`] (`TooLarge`) for a code outside
/// `i16`.
pub fn encode_binary_header(
    cmd: &RemotingCommand,
    dst: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let code = i16::try_from(cmd.code).map_err(|_| ProtocolError::TooLarge {
        what: "code for the binary header",
        len: cmd.code as usize,
        max: i16::MAX as usize,
    })?;
    dst.put_i16(code);
    dst.put_u8(cmd.language.0);
    dst.put_i16(cmd.version);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) => {
            dst.put_i32(r.len() as i32);
            dst.put_slice(r.as_bytes());
        }
        None => dst.put_i32(0),
    }
    let ext_len_at = dst.len();
    dst.put_i32(0);
    let ext_start = dst.len();
    for (k, v) in cmd.ext_fields.iter() {
        let key_len = i16::try_from(k.len()).map_err(|_| ProtocolError::TooLarge {
            what: "ext field key",
            len: k.len(),
            max: i16::MAX as usize,
        })?;
        dst.put_i16(key_len);
        dst.put_slice(k.as_bytes());
        dst.put_i32(v.len() as i32);
        dst.put_slice(v.as_bytes());
    }
    let ext_len = (dst.len() - ext_start) as i32;
    dst[ext_len_at..ext_len_at + 4].copy_from_slice(&ext_len.to_be_bytes());
    Ok(())
}

/// Decodes a binary header. The body is left empty.
///
/// # Errors
/// [`ProtocolError`] for a truncated header or a length
/// that lies.
pub fn decode_binary_header(mut buf: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    const FIXED: usize = 2 + 1 + 2 + 4 + 4;
    need(buf, FIXED, "binary header")?;
    let code = buf.get_i16() as i32;
    let language = LanguageCode(buf.get_u8());
    let version = buf.get_i16();
    let opaque = buf.get_i32();
    let flag = buf.get_i32();
    need(buf, 4, "binary header remark length")?;
    let remark_len = read_len(buf.get_i32(), buf.remaining(), "remark")?;
    let remark = if remark_len == 0 {
        None
    } else {
        let s = String::from_utf8_lossy(&buf[..remark_len]).into_owned();
        buf.advance(remark_len);
        Some(s)
    };
    need(buf, 4, "binary header ext length")?;
    let ext_len = read_len(buf.get_i32(), buf.remaining(), "extFields")?;
    let mut ext_bytes = &buf[..ext_len];
    buf.advance(ext_len);
    let mut ext = ExtFields::new();
    while ext_bytes.has_remaining() {
        need(ext_bytes, 2, "ext key length")?;
        let key_len = read_len(ext_bytes.get_i16() as i32, ext_bytes.remaining(), "ext key")?;
        let key = String::from_utf8_lossy(&ext_bytes[..key_len]).into_owned();
        ext_bytes.advance(key_len);
        need(ext_bytes, 4, "ext value length")?;
        let val_len = read_len(ext_bytes.get_i32(), ext_bytes.remaining(), "ext value")?;
        let val = String::from_utf8_lossy(&ext_bytes[..val_len]);
        ext_bytes.advance(val_len);
        if key_len > 0 && val_len > 0 {
            ext.insert(key, val.as_ref());
        }
    }
    // Java's `rocketMQProtocolDecode` stops after extFields and ignores whatever follows,
    // and reads strings with `new String(bytes, UTF_8)` (invalid bytes become U+FFFD):
    // accept what the Java broker accepts.
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields: ext,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

fn need(buf: &[u8], n: usize, what: &'static str) -> Result<(), ProtocolError> {
    if buf.len() < n {
        Err(ProtocolError::Truncated {
            what,
            needed: n - buf.len(),
        })
    } else {
        Ok(())
    }
}

fn read_len(len: i32, remaining: usize, what: &'static str) -> Result<usize, ProtocolError> {
    if len < 0 || len as usize > remaining {
        return Err(ProtocolError::BadLength {
            what,
            detail: format!("length {len} with {remaining} bytes left"),
        });
    }
    Ok(len as usize)
}
