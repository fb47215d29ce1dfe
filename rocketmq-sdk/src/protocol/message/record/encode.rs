//! Encoding stored records, and patching the fields the broker only knows at append
//! time, in place, so a record can be encoded once outside the commit-log lock.

use std::net::SocketAddr;

use bytes::{BufMut, BytesMut};

use super::layout::{
    BLANK_MAGIC, MAX_PROPERTIES_LEN, MAX_TOPIC_LEN, MagicVersion, PHYSICAL_OFFSET_POS,
    QUEUE_OFFSET_POS, RecordLayout, SYS_FLAG_POS,
};
use super::view::be_i32;
use crate::protocol::error::ProtocolError;
use crate::protocol::message::hash::crc32_masked;
use crate::protocol::message::id::{canonical_addr, ip_octets};
use crate::protocol::message::model::MessageExt;
use crate::protocol::message::sysflag::{BORNHOST_V6, STOREHOST_V6};

const WHAT: &str = "stored record";

/// Checks everything the encoder checks and returns the sizes it will use.
struct Plan {
    sys_flag: i32,
    version: MagicVersion,
    props_len: usize,
    total: usize,
}

fn plan(ext: &MessageExt) -> Result<Plan, ProtocolError> {
    let topic_len = ext.message.topic.len();
    if topic_len > MAX_TOPIC_LEN {
        return Err(ProtocolError::TooLarge {
            what: "topic",
            len: topic_len,
            max: MAX_TOPIC_LEN,
        });
    }
    let props_len = ext.message.properties.encoded_len_filtered(true)?;
    if props_len > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::TooLarge {
            what: "properties",
            len: props_len,
            max: MAX_PROPERTIES_LEN,
        });
    }
    let sys_flag = sys_flag_for_hosts(ext.sys_flag, ext.born_host, ext.store_host);
    let layout = RecordLayout::for_sys_flag(sys_flag);
    let total = layout.record_len(ext.message.body.len(), topic_len, props_len);
    if total > i32::MAX as usize {
        return Err(ProtocolError::TooLarge {
            what: WHAT,
            len: total,
            max: i32::MAX as usize,
        });
    }
    Ok(Plan {
        sys_flag,
        version: MagicVersion::for_topic_len(topic_len),
        props_len,
        total,
    })
}

/// `sys_flag` with its BORNHOST_V6 / STOREHOST_V6 bits set from the address families, as
/// the Java broker does before encoding. IPv4-mapped IPv6 addresses count as IPv4.
pub fn sys_flag_for_hosts(sys_flag: i32, born_host: SocketAddr, store_host: SocketAddr) -> i32 {
    let mut f = sys_flag & !(BORNHOST_V6 | STOREHOST_V6);
    if canonical_addr(born_host).is_ipv6() {
        f |= BORNHOST_V6;
    }
    if canonical_addr(store_host).is_ipv6() {
        f |= STOREHOST_V6;
    }
    f
}

/// The TOTALSIZE [`encode_record`] would produce for `ext`, after the same checks.
///
/// # Errors
/// As [`encode_record`].
pub fn encoded_len(ext: &MessageExt) -> Result<usize, ProtocolError> {
    plan(ext).map(|p| p.total)
}

/// Appends `ext` to `out` as one stored record.
///
/// Written from the struct's fields, except:
/// * TOTALSIZE and BODYCRC are computed (`store_size` and `body_crc` are ignored);
/// * the magic is V1, or V2 when the topic is longer than 127 bytes;
/// * SYSFLAG gets its host bits from the address families (see [`sys_flag_for_hosts`]);
/// * transient (`__RMQ.TRANSIENT.`) properties are left out: they are never stored.
///
/// The body is written as is: compress it and set the COMPRESSED bit beforehand if
/// wanted. Fails, writing nothing, on a topic or properties string over 32767 bytes, a
/// separator byte inside a property, or a record over `i32::MAX` bytes. The body size
/// limit (`maxMessageSize`) is the broker's policy, not checked here.
///
/// # Errors
/// [`ProtocolError`] for an empty topic, a separator byte
/// inside a property, or a record over `i32::MAX` bytes.
pub fn encode_record(ext: &MessageExt, out: &mut BytesMut) -> Result<(), ProtocolError> {
    let p = plan(ext)?;
    let msg = &ext.message;
    out.reserve(p.total);
    let start = out.len();
    out.put_i32(p.total as i32);
    out.put_i32(p.version.magic());
    out.put_u32(crc32_masked(&msg.body));
    out.put_i32(ext.queue_id);
    out.put_i32(msg.flag);
    out.put_i64(ext.queue_offset);
    out.put_i64(ext.commit_log_offset);
    out.put_i32(p.sys_flag);
    out.put_i64(ext.born_timestamp);
    put_host(out, ext.born_host);
    out.put_i64(ext.store_timestamp);
    put_host(out, ext.store_host);
    out.put_i32(ext.reconsume_times);
    out.put_i64(ext.prepared_transaction_offset);
    out.put_i32(msg.body.len() as i32);
    out.put_slice(&msg.body);
    match p.version {
        MagicVersion::V1 => out.put_u8(msg.topic.len() as u8),
        MagicVersion::V2 => out.put_i16(msg.topic.len() as i16),
    }
    out.put_slice(msg.topic.as_bytes());
    out.put_i16(p.props_len as i16);
    msg.properties.write_unchecked(out, true);
    debug_assert_eq!(out.len() - start, p.total);
    Ok(())
}

/// Encodes `ext` into a new buffer.
///
/// # Errors
/// As [`encode_record`].
pub fn encode_record_to_vec(ext: &MessageExt) -> Result<Vec<u8>, ProtocolError> {
    let mut out = BytesMut::with_capacity(encoded_len(ext)?);
    encode_record(ext, &mut out)?;
    Ok(out.to_vec())
}

fn put_host(out: &mut BytesMut, addr: SocketAddr) {
    let (ip, n) = ip_octets(addr.ip());
    out.put_slice(&ip[..n]);
    out.put_i32(i32::from(addr.port()));
}

/// Appends the end-of-file blank marker: int32 `remaining` (the bytes from the marker
/// to the end of the file) and int32 `0xCBD43194`.
pub fn encode_blank_marker(remaining: i32, out: &mut BytesMut) {
    out.put_i32(remaining);
    out.put_i32(BLANK_MAGIC);
}

fn patch(record: &mut [u8], pos: usize, bytes: &[u8]) -> Result<(), ProtocolError> {
    let end = pos + bytes.len();
    match record.get_mut(pos..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(ProtocolError::Truncated {
            what: WHAT,
            needed: end.saturating_sub(record.len()),
        }),
    }
}

fn layout_of(record: &[u8]) -> Result<RecordLayout, ProtocolError> {
    if record.len() < SYS_FLAG_POS + 4 {
        return Err(ProtocolError::Truncated {
            what: WHAT,
            needed: SYS_FLAG_POS + 4 - record.len(),
        });
    }
    Ok(RecordLayout::for_sys_flag(be_i32(record, SYS_FLAG_POS)))
}

/// Overwrites QUEUEOFFSET (at byte 20) of an encoded record.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_queue_offset(record: &mut [u8], queue_offset: i64) -> Result<(), ProtocolError> {
    patch(record, QUEUE_OFFSET_POS, &queue_offset.to_be_bytes())
}

/// Overwrites PHYSICALOFFSET (at byte 28) of an encoded record.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_physical_offset(record: &mut [u8], physical_offset: i64) -> Result<(), ProtocolError> {
    patch(record, PHYSICAL_OFFSET_POS, &physical_offset.to_be_bytes())
}

/// Overwrites STORETIMESTAMP (at 56, or 68 with an IPv6 born host) of an encoded record.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_store_timestamp(record: &mut [u8], store_timestamp: i64) -> Result<(), ProtocolError> {
    let pos = layout_of(record)?.store_timestamp_pos();
    patch(record, pos, &store_timestamp.to_be_bytes())
}

/// Overwrites STOREHOST of an encoded record. The address family must match the
/// record's STOREHOST_V6 bit, since the field cannot change size in place.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_store_host(record: &mut [u8], store_host: SocketAddr) -> Result<(), ProtocolError> {
    let layout = layout_of(record)?;
    let (ip, n) = ip_octets(store_host.ip());
    if n + 4 != layout.store_host_len() {
        return Err(ProtocolError::InvalidField {
            field: "STOREHOST",
            value: format!(
                "{store_host} does not fit a {}-byte field",
                layout.store_host_len()
            ),
        });
    }
    let mut buf = [0u8; 20];
    buf[..n].copy_from_slice(&ip[..n]);
    buf[n..n + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    patch(record, layout.store_host_pos(), &buf[..n + 4])
}

/// Overwrites RECONSUMETIMES of an encoded record.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_reconsume_times(record: &mut [u8], reconsume_times: i32) -> Result<(), ProtocolError> {
    let pos = layout_of(record)?.reconsume_times_pos();
    patch(record, pos, &reconsume_times.to_be_bytes())
}

/// Overwrites PREPARED TRANSACTION OFFSET of an encoded record.
///
/// # Errors
/// [`ProtocolError`] when `record` is too short to hold the
/// field (or, for the store host, the address family does not match).
pub fn patch_prepared_transaction_offset(
    record: &mut [u8],
    offset: i64,
) -> Result<(), ProtocolError> {
    let pos = layout_of(record)?.prepared_transaction_offset_pos();
    patch(record, pos, &offset.to_be_bytes())
}
