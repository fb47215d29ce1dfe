//! Messages: the model, the properties string, the stored record, batch bodies, message
//! ids, Java-compatible hashes and body compression.
//!
//! * [`model`] — [`Message`], [`MessageExt`], [`MessageQueue`];
//! * [`properties`] — [`Properties`] and its wire codec; [`keys`] — property names;
//! * [`sysflag`] — message and pull sysFlag bits;
//! * [`record`] — the stored record (encode, zero-copy view, decode, in-place patching);
//! * [`batch`] — SEND_BATCH_MESSAGE bodies and the client's batch rules;
//! * [`id`] — offset msgIds and UNIQ_KEY generation;
//! * [`hash`] — Java `String.hashCode`, tags codes, index hashes, masked CRC;
//! * [`compress`] — bounded zlib.

pub mod batch;
pub mod compress;
pub mod hash;
pub mod id;
pub mod keys;
pub mod model;
pub mod properties;
pub mod record;
pub mod sysflag;

pub use model::{Message, MessageExt, MessageQueue};
pub use properties::Properties;
pub use record::{
    DecodeOptions, RecordRead, RecordView, decode_all, decode_message_ext, encode_record,
    read_record,
};
