//! The RocketMQ remoting protocol, sans I/O: shared by the client and the embedded broker.
//!
//! * [`frame`] — the length-prefixed frame and both header serializations, as a
//!   `tokio_util` codec;
//! * [`command`] — [`RemotingCommand`], flags, language and version;
//! * [`code`] — request and response codes as open newtypes;
//! * [`header`] — typed custom headers, converted to and from `extFields`;
//! * [`body`] — typed JSON bodies (routes, heartbeats, locks, offsets...), fastjson quirks included;
//! * [`message`] — messages, properties, the stored record, batches, ids, hashes, compression.
//!
//! All integers are big-endian, as upstream.

pub mod body;
pub mod code;
pub mod command;
pub mod error;
pub mod frame;
pub mod header;
pub mod message;
pub mod topic;

pub use code::{RequestCode, ResponseCode};
pub use command::{ExtFields, LanguageCode, RemotingCommand, SerializeType};
pub use error::ProtocolError;
pub use frame::RemotingCodec;
