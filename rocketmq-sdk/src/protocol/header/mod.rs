//! Typed custom headers: each request or response header of the remoting protocol as a
//! Rust struct, converted to and from a command's `extFields` with the exact Java field
//! names (`R/protocol/header/*`).
//!
//! Rules (as `RemotingCommand.makeCustomHeaderToNet`/`decodeCommandCustomHeader`):
//! keys are the Java field names, superclass fields included ([`RpcBase`]); values are
//! strings; `None` is omitted while Java primitives are always written; a missing
//! required key is [`ProtocolError::MissingField`], an unparsable value
//! [`ProtocolError::InvalidField`]; unknown keys are ignored. Reading is lenient where
//! peers vary (booleans `1`/`0` or any case, numbers with surrounding whitespace);
//! writing is strict.
//!
//! Headers are grouped by concern: [`send`], [`pull`], [`offset`], [`query`],
//! [`client`], [`transaction`], [`namesrv`], [`lock`], [`admin`], [`stats`], [`kv`]; everything is also
//! re-exported here.

use super::{ExtFields, ProtocolError};

pub(crate) mod macros;
mod types;
pub(crate) mod value;

pub mod admin;
pub mod client;
pub mod kv;
pub mod lock;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;
pub mod stats;
pub mod transaction;

pub use admin::CreateTopicRequestHeader;
pub use client::{
    ConsumeMessageDirectlyResultRequestHeader, ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader, GetConsumerRunningInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
pub use kv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
};
pub use lock::{LockBatchMqRequestHeader, ResetOffsetRequestHeader, UnlockBatchMqRequestHeader};
pub use namesrv::{
    GetRouteInfoRequestHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
};
pub use offset::{
    GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
pub use pull::{PullMessageRequestHeader, PullMessageResponseHeader};
pub use query::{QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader};
pub use send::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
pub use stats::{
    CloneGroupOffsetRequestHeader, DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader, GetBrokerConfigResponseHeader,
    GetConsumeStatsInBrokerHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetConsumerStatusRequestHeader,
    GetProducerConnectionListRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    GetTopicConfigRequestHeader, GetTopicStatsInfoRequestHeader, GetTopicsByClusterRequestHeader,
    QueryTopicConsumeByWhoRequestHeader,
};
pub use transaction::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
pub use types::{BoundaryType, ExpressionType, RpcBase, TopicFilterType, TransactionCommitType};
pub use value::HeaderValue;

/// A typed custom header.
pub trait CommandHeader {
    /// Writes every non-null field into `ext` under its Java name.
    fn write_to(&self, ext: &mut ExtFields);

    /// Reads the header from `ext`; a missing required field or an unparsable value is
    /// an error, unknown keys are ignored.
    ///
    /// # Errors
    /// [`ProtocolError`] for a missing required field or an
    /// unparsable value.
    fn read_from(ext: &ExtFields) -> Result<Self, ProtocolError>
    where
        Self: Sized;
}

/// The extFields of a header on its own, e.g. to inspect or sign them.
pub fn to_ext_fields<H: CommandHeader + ?Sized>(header: &H) -> ExtFields {
    let mut ext = ExtFields::new();
    header.write_to(&mut ext);
    ext
}
