//! The stored record: the commit-log format, which is also the body of pull, query and
//! view replies.
//!
//! * [`layout`] — magic codes, field positions, sizes;
//! * [`encode_record`] and the `patch_*` functions — writing records, and fixing the
//!   append-time fields (queue offset, physical offset, store timestamp, store host) in
//!   place;
//! * [`read_record`] / [`RecordView`] — zero-copy parsing that tells a record, the blank
//!   end-of-file marker, unwritten space, and torn or damaged data apart;
//! * [`decode_message_ext`] / [`decode_all`] — owned [`MessageExt`](super::MessageExt)
//!   values as the client sees them.
//!
//! Encoding once and patching at append time, then scanning the log as recovery does:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use rocketmq_sdk::protocol::ProtocolError;
//! use rocketmq_sdk::protocol::message::record::{self, RecordRead};
//! use rocketmq_sdk::protocol::message::{Message, MessageExt};
//!
//! let ext = MessageExt {
//!     message: Message::new("TopicTest", Bytes::from_static(b"hi")),
//!     store_host: "10.0.0.1:10911".parse().unwrap(),
//!     ..MessageExt::default()
//! };
//! let mut file = BytesMut::new();
//! record::encode_record(&ext, &mut file)?;
//! // Under the append lock: the fields only known now.
//! record::patch_queue_offset(&mut file[..], 0)?;
//! record::patch_physical_offset(&mut file[..], 0)?;
//! record::patch_store_timestamp(&mut file[..], 1_700_000_000_000)?;
//! record::encode_blank_marker(64, &mut file);
//!
//! let mut pos = 0;
//! let mut records = 0;
//! loop {
//!     match record::read_record(&file[pos..]) {
//!         Ok(RecordRead::Record(v)) if v.verify_crc() => {
//!             records += 1;
//!             pos += v.len();
//!         }
//!         Ok(RecordRead::Blank { .. }) => break, // continue with the next file
//!         Ok(_) => break,                        // unwritten space, or a bad CRC
//!         Err(ProtocolError::Truncated { .. }) => break, // torn tail
//!         Err(_) => break,                       // bad magic or inconsistent sizes
//!     }
//! }
//! assert_eq!(records, 1);
//! # Ok::<(), ProtocolError>(())
//! ```

mod decode;
mod encode;
pub mod layout;
mod pulled;
mod view;

pub use decode::{
    DecodeOptions, decode_all, decode_all_with, decode_message_ext, decode_message_ext_from_slice,
};
pub use encode::{
    encode_blank_marker, encode_record, encode_record_to_vec, encoded_len, patch_physical_offset,
    patch_prepared_transaction_offset, patch_queue_offset, patch_reconsume_times, patch_store_host,
    patch_store_timestamp, sys_flag_for_hosts,
};
pub use layout::{
    BLANK_MAGIC, BLANK_MARKER_LEN, DEFAULT_MAX_BODY_LEN, MAGIC_V1, MAGIC_V2, MagicVersion,
    RecordLayout, check_body_len, record_len, store_host_pos, store_timestamp_pos,
};
pub use pulled::{
    PulledRecords, UndecodableRecord, decode_pulled, needs_unwrap, unwrap_inner_batch,
};
pub use view::{RecordIter, RecordRead, RecordView, read_record};

#[cfg(test)]
mod tests;
