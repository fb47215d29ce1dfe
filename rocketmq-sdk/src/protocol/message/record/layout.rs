//! Byte layout of the stored record: magic codes, field positions and sizes.
//!
//! ```text
//! off  size   field
//!   0  4      TOTALSIZE
//!   4  4      MAGICCODE                 V1 0xDAA320A7 / V2 0xDAA320AB
//!   8  4      BODYCRC                   crc32(body) & 0x7FFFFFFF
//!  12  4      QUEUEID
//!  16  4      FLAG
//!  20  8      QUEUEOFFSET               patched by the broker on append
//!  28  8      PHYSICALOFFSET            patched by the broker on append
//!  36  4      SYSFLAG                   bits 0x10 / 0x20 make the hosts IPv6
//!  40  8      BORNTIMESTAMP
//!  48  8|20   BORNHOST                  ip(4|16) + int32 port
//!   .  8      STORETIMESTAMP            56 (IPv4 born host) or 68 (IPv6)
//!   .  8|20   STOREHOST
//!   .  4      RECONSUMETIMES
//!   .  8      PREPARED TRANSACTION OFFSET
//!   .  4+N    BODYLEN + BODY
//!   .  1+T    TOPICLEN (V1, int8) + TOPIC   or 2+T with V2 (int16)
//!   .  2+P    PROPLEN (int16) + PROPERTIES
//! ```
//! All integers are big-endian.

use super::super::sysflag;
use crate::protocol::error::ProtocolError;

/// Magic code of a V1 record (1-byte topic length), as Java's signed `int`.
pub const MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of a V2 record (2-byte topic length).
pub const MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the blank marker that pads the end of a commit-log file.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;
/// Size of the blank marker: int32 remaining length + int32 [`BLANK_MAGIC`].
pub const BLANK_MARKER_LEN: usize = 8;

/// Position of TOTALSIZE.
pub const TOTAL_SIZE_POS: usize = 0;
/// Position of MAGICCODE.
pub const MAGIC_POS: usize = 4;
/// Position of BODYCRC.
pub const BODY_CRC_POS: usize = 8;
/// Position of QUEUEID.
pub const QUEUE_ID_POS: usize = 12;
/// Position of FLAG.
pub const FLAG_POS: usize = 16;
/// Position of QUEUEOFFSET.
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET.
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Position of SYSFLAG.
pub const SYS_FLAG_POS: usize = 36;
/// Position of BORNTIMESTAMP.
pub const BORN_TIMESTAMP_POS: usize = 40;
/// Position of BORNHOST.
pub const BORN_HOST_POS: usize = 48;

/// Longest topic (in UTF-8 bytes) a V1 record can hold; longer topics use V2.
pub const MAX_V1_TOPIC_LEN: usize = 127;
/// Longest topic a V2 record can hold (int16 length).
pub const MAX_TOPIC_LEN: usize = i16::MAX as usize;
/// Longest properties string (int16 length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;
/// The broker's default `maxMessageSize`: the largest body it accepts.
pub const DEFAULT_MAX_BODY_LEN: usize = 4 * 1024 * 1024;
/// The smallest possible record: IPv4 hosts, V1, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = 91;

/// Checks a body length against a `maxMessageSize` policy (e.g. [`DEFAULT_MAX_BODY_LEN`]),
/// as the broker does before storing and the producer before sending.
///
/// # Errors
/// [`ProtocolError`] when `len` is over `max`.
pub fn check_body_len(len: usize, max: usize) -> Result<(), ProtocolError> {
    if len > max {
        Err(ProtocolError::TooLarge {
            what: "message body",
            len,
            max,
        })
    } else {
        Ok(())
    }
}

/// The record format version, chosen by the magic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MagicVersion {
    /// `0xDAA320A7`: 1-byte topic length.
    V1,
    /// `0xDAA320AB`: 2-byte topic length.
    V2,
}

impl MagicVersion {
    /// The magic code.
    pub const fn magic(self) -> i32 {
        match self {
            MagicVersion::V1 => MAGIC_V1,
            MagicVersion::V2 => MAGIC_V2,
        }
    }

    /// The version of a magic code, if it is a record magic.
    pub const fn from_magic(magic: i32) -> Option<Self> {
        match magic {
            MAGIC_V1 => Some(MagicVersion::V1),
            MAGIC_V2 => Some(MagicVersion::V2),
            _ => None,
        }
    }

    /// Size of the topic length field (1 or 2).
    pub const fn topic_len_size(self) -> usize {
        match self {
            MagicVersion::V1 => 1,
            MagicVersion::V2 => 2,
        }
    }

    /// The version the encoder uses for a topic of `topic_len` bytes: V2 only when V1
    /// cannot hold it, as Java does with `autoMessageVersionOnTopicLen`.
    pub const fn for_topic_len(topic_len: usize) -> Self {
        if topic_len > MAX_V1_TOPIC_LEN {
            MagicVersion::V2
        } else {
            MagicVersion::V1
        }
    }
}

/// Size of a host field: 4-byte address + port, or 16-byte address + port.
pub const fn host_field_len(v6: bool) -> usize {
    if v6 { 20 } else { 8 }
}

/// Positions of the fields that follow the born host, which move with the host sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordLayout {
    born_host_len: usize,
    store_host_len: usize,
}

impl RecordLayout {
    /// The layout for a record whose SYSFLAG is `sys_flag`.
    pub const fn for_sys_flag(sys_flag: i32) -> Self {
        RecordLayout {
            born_host_len: host_field_len(sys_flag & sysflag::BORNHOST_V6 != 0),
            store_host_len: host_field_len(sys_flag & sysflag::STOREHOST_V6 != 0),
        }
    }

    /// Size of the BORNHOST field (8 or 20).
    pub const fn born_host_len(&self) -> usize {
        self.born_host_len
    }

    /// Size of the STOREHOST field (8 or 20).
    pub const fn store_host_len(&self) -> usize {
        self.store_host_len
    }

    /// Position of STORETIMESTAMP (56 with an IPv4 born host, 68 with IPv6).
    pub const fn store_timestamp_pos(&self) -> usize {
        BORN_HOST_POS + self.born_host_len
    }

    /// Position of STOREHOST.
    pub const fn store_host_pos(&self) -> usize {
        self.store_timestamp_pos() + 8
    }

    /// Position of RECONSUMETIMES.
    pub const fn reconsume_times_pos(&self) -> usize {
        self.store_host_pos() + self.store_host_len
    }

    /// Position of PREPARED TRANSACTION OFFSET.
    pub const fn prepared_transaction_offset_pos(&self) -> usize {
        self.reconsume_times_pos() + 4
    }

    /// Position of BODYLEN.
    pub const fn body_len_pos(&self) -> usize {
        self.prepared_transaction_offset_pos() + 8
    }

    /// Position of the first body byte: the size of everything before the body.
    pub const fn body_pos(&self) -> usize {
        self.body_len_pos() + 4
    }

    /// TOTALSIZE of a record with these hosts and the given lengths (the topic length
    /// also picks the magic version).
    pub const fn record_len(
        &self,
        body_len: usize,
        topic_len: usize,
        properties_len: usize,
    ) -> usize {
        self.body_pos()
            + body_len
            + MagicVersion::for_topic_len(topic_len).topic_len_size()
            + topic_len
            + 2
            + properties_len
    }
}

/// Position of STORETIMESTAMP in a record with SYSFLAG `sys_flag`.
pub const fn store_timestamp_pos(sys_flag: i32) -> usize {
    RecordLayout::for_sys_flag(sys_flag).store_timestamp_pos()
}

/// Position of STOREHOST in a record with SYSFLAG `sys_flag`.
pub const fn store_host_pos(sys_flag: i32) -> usize {
    RecordLayout::for_sys_flag(sys_flag).store_host_pos()
}

/// TOTALSIZE of a record with SYSFLAG `sys_flag` and the given lengths in bytes.
pub const fn record_len(
    sys_flag: i32,
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
) -> usize {
    RecordLayout::for_sys_flag(sys_flag).record_len(body_len, topic_len, properties_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let v4 = RecordLayout::for_sys_flag(0);
        assert_eq!(v4.store_timestamp_pos(), 56);
        assert_eq!(v4.store_host_pos(), 64);
        assert_eq!(v4.reconsume_times_pos(), 72);
        assert_eq!(v4.prepared_transaction_offset_pos(), 76);
        assert_eq!(v4.body_len_pos(), 84);
        let born6 = RecordLayout::for_sys_flag(sysflag::BORNHOST_V6);
        assert_eq!(born6.store_timestamp_pos(), 68);
        assert_eq!(born6.store_host_pos(), 76);
        let both6 = RecordLayout::for_sys_flag(sysflag::BORNHOST_V6 | sysflag::STOREHOST_V6);
        assert_eq!(both6.body_len_pos(), 108);
        assert_eq!(store_timestamp_pos(sysflag::STOREHOST_V6), 56);
        assert_eq!(store_host_pos(sysflag::STOREHOST_V6), 64);
    }

    #[test]
    fn sizes() {
        // PROTOCOL.md: IPv4/V1 total = 91 + N + T + P.
        assert_eq!(record_len(0, 10, 5, 7), 91 + 10 + 5 + 7);
        assert_eq!(record_len(0, 0, 0, 0), MIN_RECORD_LEN);
        assert_eq!(record_len(0, 0, 128, 0), 92 + 128);
        assert_eq!(
            record_len(sysflag::BORNHOST_V6 | sysflag::STOREHOST_V6, 0, 1, 0),
            91 + 24 + 1
        );
        assert_eq!(MAGIC_V1, -626_843_481);
        assert_eq!(MAGIC_V2, -626_843_477);
        assert_eq!(BLANK_MAGIC as u32, 0xCBD4_3194);
        assert_eq!(MagicVersion::for_topic_len(127), MagicVersion::V1);
        assert_eq!(MagicVersion::for_topic_len(128), MagicVersion::V2);
        assert!(check_body_len(DEFAULT_MAX_BODY_LEN, DEFAULT_MAX_BODY_LEN).is_ok());
        assert!(matches!(
            check_body_len(DEFAULT_MAX_BODY_LEN + 1, DEFAULT_MAX_BODY_LEN),
            Err(ProtocolError::TooLarge {
                what: "message body",
                ..
            })
        ));
    }
}
