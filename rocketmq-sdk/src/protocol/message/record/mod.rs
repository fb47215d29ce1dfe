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

mod decode;
mod encode;
pub mod layout;
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
    BLANK_MAGIC, BLANK_MARKER_LEN, MAGIC_V1, MAGIC_V2, MagicVersion, RecordLayout, record_len,
    store_host_pos, store_timestamp_pos,
};
pub use view::{RecordIter, RecordRead, RecordView, read_record};

#[cfg(test)]
mod tests;
