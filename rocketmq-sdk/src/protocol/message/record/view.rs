//! Zero-copy parsing of stored records.
//!
//! [`read_record`] tells apart everything a commit-log reader can meet at a position: a
//! record, the end-of-file blank marker, never-written (zeroed) space, and the ways a
//! record can be damaged. [`RecordView`] then reads every field in place.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Range;

use super::layout::{
    BLANK_MAGIC, BODY_CRC_POS, BORN_HOST_POS, BORN_TIMESTAMP_POS, FLAG_POS, MAGIC_POS,
    MIN_RECORD_LEN, MagicVersion, PHYSICAL_OFFSET_POS, QUEUE_ID_POS, QUEUE_OFFSET_POS,
    RecordLayout, SYS_FLAG_POS, TOTAL_SIZE_POS,
};
use crate::protocol::error::ProtocolError;
use crate::protocol::message::hash::crc32_masked;
use crate::protocol::message::id::{self, socket_addr_from};
use crate::protocol::message::properties::{NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, Properties};

const WHAT: &str = "stored record";

pub(crate) fn be_i32(b: &[u8], pos: usize) -> i32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(pos..pos + 4) {
        a.copy_from_slice(s);
    }
    i32::from_be_bytes(a)
}

pub(crate) fn be_i64(b: &[u8], pos: usize) -> i64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(pos..pos + 8) {
        a.copy_from_slice(s);
    }
    i64::from_be_bytes(a)
}

fn be_i16(b: &[u8], pos: usize) -> i16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(pos..pos + 2) {
        a.copy_from_slice(s);
    }
    i16::from_be_bytes(a)
}

fn inconsistent(detail: String) -> ProtocolError {
    ProtocolError::BadLength { what: WHAT, detail }
}

/// What [`read_record`] found at the start of a buffer.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RecordRead<'a> {
    /// A well-formed record (its CRC is not checked; see [`RecordView::verify_crc`]).
    Record(RecordView<'a>),
    /// The end-of-file blank marker: the rest of the file, `remaining` bytes counted from
    /// the marker, is padding and the log continues in the next file.
    Blank {
        /// The TOTALSIZE the broker wrote into the marker.
        remaining: i32,
    },
    /// Eight zero bytes: space that was never written (commit-log files are
    /// preallocated), i.e. the clean end of the log.
    Unwritten,
}

/// Reads what starts at `buf[0]`.
///
/// Errors, so that recovery can stop at a torn tail and say why:
/// * [`ProtocolError::Truncated`]: the buffer ends before the record (or before its
///   8-byte head) does;
/// * [`ProtocolError::BadMagic`]: neither a record nor a blank marker;
/// * [`ProtocolError::BadLength`]: TOTALSIZE disagrees with the lengths inside the record;
/// * [`ProtocolError::Utf8`]: the topic is not UTF-8;
/// * [`ProtocolError::InvalidField`]: a host port outside 0..=65535.
///
/// A V1 topic length byte is read unsigned (0..=255); Java reads it signed and so rejects
/// 128..=255, which no encoder writes.
///
/// # Errors
/// [`ProtocolError`] for a record that is truncated or
/// inconsistent (lengths that lie).
pub fn read_record(buf: &[u8]) -> Result<RecordRead<'_>, ProtocolError> {
    if buf.len() < 8 {
        return Err(ProtocolError::Truncated {
            what: WHAT,
            needed: 8 - buf.len(),
        });
    }
    let total = be_i32(buf, TOTAL_SIZE_POS);
    let magic = be_i32(buf, MAGIC_POS);
    if magic == BLANK_MAGIC {
        return Ok(RecordRead::Blank { remaining: total });
    }
    if magic == 0 && total == 0 {
        return Ok(RecordRead::Unwritten);
    }
    let version = MagicVersion::from_magic(magic).ok_or(ProtocolError::BadMagic(magic as u32))?;
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t >= MIN_RECORD_LEN)
        .ok_or_else(|| {
            inconsistent(format!(
                "total size {total} is below the minimum {MIN_RECORD_LEN}"
            ))
        })?;
    if buf.len() < total {
        return Err(ProtocolError::Truncated {
            what: WHAT,
            needed: total - buf.len(),
        });
    }
    RecordView::parse_fields(&buf[..total], version).map(RecordRead::Record)
}

/// A borrowed view of one stored record, validated on construction so every accessor is
/// infallible and cheap.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    buf: &'a [u8],
    version: MagicVersion,
    layout: RecordLayout,
    body: (usize, usize),
    topic: &'a str,
    properties: (usize, usize),
    born_host: SocketAddr,
    store_host: SocketAddr,
}

impl<'a> RecordView<'a> {
    /// Parses the record at the start of `buf` (which may hold more after it).
    ///
    /// Besides the errors of [`read_record`], a blank marker gives
    /// `BadMagic(0xCBD43194)` and zeroed space gives `BadMagic(0)`; use [`read_record`]
    /// to handle those as outcomes.
    ///
    /// # Errors
    /// [`ProtocolError`] for a bad magic code (end-of-file
    /// blank or zeroed space included), a truncated record or lengths that lie.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ProtocolError> {
        match read_record(buf)? {
            RecordRead::Record(v) => Ok(v),
            RecordRead::Blank { .. } => Err(ProtocolError::BadMagic(BLANK_MAGIC as u32)),
            RecordRead::Unwritten => Err(ProtocolError::BadMagic(0)),
        }
    }

    /// Walks the fields of `rec`, which is exactly TOTALSIZE bytes.
    fn parse_fields(rec: &'a [u8], version: MagicVersion) -> Result<Self, ProtocolError> {
        let total = rec.len();
        let sys_flag = be_i32(rec, SYS_FLAG_POS);
        let layout = RecordLayout::for_sys_flag(sys_flag);
        let need = |pos: usize, n: usize, field: &str| -> Result<(), ProtocolError> {
            if pos.checked_add(n).is_some_and(|end| end <= total) {
                Ok(())
            } else {
                Err(inconsistent(format!(
                    "{field} at {pos}+{n} overruns the total size {total}"
                )))
            }
        };
        need(0, layout.body_pos(), "fixed header")?;
        let body_len = be_i32(rec, layout.body_len_pos());
        let body_len = usize::try_from(body_len)
            .map_err(|_| inconsistent(format!("negative body length {body_len}")))?;
        let body_start = layout.body_pos();
        need(body_start, body_len, "body")?;
        let mut pos = body_start + body_len;
        let topic_len = match version {
            MagicVersion::V1 => {
                need(pos, 1, "topic length")?;
                usize::from(rec[pos])
            }
            MagicVersion::V2 => {
                need(pos, 2, "topic length")?;
                let l = be_i16(rec, pos);
                usize::try_from(l)
                    .map_err(|_| inconsistent(format!("negative topic length {l}")))?
            }
        };
        pos += version.topic_len_size();
        need(pos, topic_len, "topic")?;
        let topic = std::str::from_utf8(&rec[pos..pos + topic_len])
            .map_err(|_| ProtocolError::Utf8("record topic"))?;
        pos += topic_len;
        need(pos, 2, "properties length")?;
        let props_len = be_i16(rec, pos);
        let props_len = usize::try_from(props_len)
            .map_err(|_| inconsistent(format!("negative properties length {props_len}")))?;
        pos += 2;
        need(pos, props_len, "properties")?;
        let properties = pos..pos + props_len;
        if properties.end != total {
            return Err(inconsistent(format!(
                "fields end at {} but the total size is {total}",
                properties.end
            )));
        }
        let host = |at: usize, len: usize, field: &'static str| {
            let ip_len = len - 4;
            let port = be_i32(rec, at + ip_len);
            socket_addr_from(&rec[at..at + ip_len], port).ok_or_else(|| {
                ProtocolError::InvalidField {
                    field,
                    value: port.to_string(),
                }
            })
        };
        let born_host = host(BORN_HOST_POS, layout.born_host_len(), "BORNHOST port")?;
        let store_host = host(
            layout.store_host_pos(),
            layout.store_host_len(),
            "STOREHOST port",
        )?;
        Ok(RecordView {
            buf: rec,
            version,
            layout,
            body: (body_start, body_start + body_len),
            topic,
            properties: (properties.start, properties.end),
            born_host,
            store_host,
        })
    }

    /// The whole record, TOTALSIZE bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// TOTALSIZE.
    pub fn total_size(&self) -> i32 {
        be_i32(self.buf, TOTAL_SIZE_POS)
    }

    /// TOTALSIZE as a length.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Always false: a record has at least [`MIN_RECORD_LEN`] bytes.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// MAGICCODE.
    pub fn magic(&self) -> i32 {
        be_i32(self.buf, MAGIC_POS)
    }

    /// The format version given by the magic code.
    pub fn version(&self) -> MagicVersion {
        self.version
    }

    /// The field positions of this record.
    pub fn layout(&self) -> RecordLayout {
        self.layout
    }

    /// BODYCRC as stored.
    pub fn body_crc(&self) -> u32 {
        be_i32(self.buf, BODY_CRC_POS) as u32
    }

    /// QUEUEID.
    pub fn queue_id(&self) -> i32 {
        be_i32(self.buf, QUEUE_ID_POS)
    }

    /// FLAG.
    pub fn flag(&self) -> i32 {
        be_i32(self.buf, FLAG_POS)
    }

    /// QUEUEOFFSET.
    pub fn queue_offset(&self) -> i64 {
        be_i64(self.buf, QUEUE_OFFSET_POS)
    }

    /// PHYSICALOFFSET (the commit-log offset).
    pub fn physical_offset(&self) -> i64 {
        be_i64(self.buf, PHYSICAL_OFFSET_POS)
    }

    /// SYSFLAG.
    pub fn sys_flag(&self) -> i32 {
        be_i32(self.buf, SYS_FLAG_POS)
    }

    /// BORNTIMESTAMP.
    pub fn born_timestamp(&self) -> i64 {
        be_i64(self.buf, BORN_TIMESTAMP_POS)
    }

    /// BORNHOST.
    pub fn born_host(&self) -> SocketAddr {
        self.born_host
    }

    /// STORETIMESTAMP.
    pub fn store_timestamp(&self) -> i64 {
        be_i64(self.buf, self.layout.store_timestamp_pos())
    }

    /// STOREHOST.
    pub fn store_host(&self) -> SocketAddr {
        self.store_host
    }

    /// RECONSUMETIMES.
    pub fn reconsume_times(&self) -> i32 {
        be_i32(self.buf, self.layout.reconsume_times_pos())
    }

    /// PREPARED TRANSACTION OFFSET.
    pub fn prepared_transaction_offset(&self) -> i64 {
        be_i64(self.buf, self.layout.prepared_transaction_offset_pos())
    }

    /// The body as stored (still compressed if SYSFLAG says so).
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.body.0..self.body.1]
    }

    /// Where the body sits in the record, for slicing a shared buffer without copying.
    pub fn body_range(&self) -> Range<usize> {
        self.body.0..self.body.1
    }

    /// The topic.
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// The raw properties string.
    pub fn properties_bytes(&self) -> &'a [u8] {
        &self.buf[self.properties.0..self.properties.1]
    }

    /// The parsed properties (Java rules; see [`Properties::decode`]).
    pub fn properties(&self) -> Properties {
        Properties::decode(self.properties_bytes())
    }

    /// The value of one property, found without parsing the others; the last duplicate
    /// wins, as with [`Properties::decode`].
    pub fn property_bytes(&self, key: &str) -> Option<&'a [u8]> {
        let key = key.as_bytes();
        let mut found = None;
        for seg in self.properties_bytes().split(|&b| b == PROPERTY_SEPARATOR) {
            let Some(sep) = seg.iter().position(|&b| b == NAME_VALUE_SEPARATOR) else {
                continue;
            };
            if sep > 0 && sep + 1 < seg.len() && &seg[..sep] == key {
                found = Some(&seg[sep + 1..]);
            }
        }
        found
    }

    /// The value of one property as text (invalid UTF-8 replaced, as Java does).
    pub fn property(&self, key: &str) -> Option<Cow<'a, str>> {
        self.property_bytes(key).map(String::from_utf8_lossy)
    }

    /// `crc32(body) & 0x7FFFFFFF` of the body as it is now.
    pub fn computed_body_crc(&self) -> u32 {
        crc32_masked(self.body())
    }

    /// Whether the stored BODYCRC matches the body.
    pub fn verify_crc(&self) -> bool {
        self.computed_body_crc() == self.body_crc()
    }

    /// [`RecordView::verify_crc`] as a `Result` carrying both values.
    ///
    /// # Errors
    /// [`ProtocolError`] (`BodyCrc`) with the stored and
    /// the computed value when they differ.
    pub fn check_crc(&self) -> Result<(), ProtocolError> {
        let computed = self.computed_body_crc();
        let stored = self.body_crc();
        if computed == stored {
            Ok(())
        } else {
            Err(ProtocolError::CrcMismatch { stored, computed })
        }
    }

    /// The offset msgId (store host + physical offset).
    pub fn offset_msg_id(&self) -> String {
        id::offset_msg_id(self.store_host, self.physical_offset())
    }
}

/// Iterates over records laid back to back (a pull, query or view body), yielding an error
/// once and then stopping if something other than a record is found.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> RecordIter<'a> {
    /// Iterates over the records in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        RecordIter {
            rest: buf,
            failed: false,
        }
    }

    /// How many bytes are left unread.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match RecordView::parse(self.rest) {
            Ok(v) => {
                self.rest = &self.rest[v.len()..];
                Some(Ok(v))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
