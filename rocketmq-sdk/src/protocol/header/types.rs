//! Enum-valued header fields and the RPC base fields shared by most requests.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::HeaderValue;
use super::macros::{command_header, java_enum};

command_header! {
    /// The fields of Java's `RpcRequestHeader` (`ns`, `nsd`, `bname`, `oway`) and
    /// `TopicRequestHeader` (`lo`), embedded in most request headers.
    ///
    /// Only `bname` is set by Java clients in practice; it matters for static topics and
    /// the proxy, and a broker may ignore all of them. `lo` is only declared by
    /// topic-scoped headers upstream; it is harmless elsewhere because `None` is not
    /// written.
    pub struct RpcBase {
        /// Namespace.
        ns: Option<String> = optional "ns",
        /// Whether the namespace is already applied to the resource names.
        nsd: Option<bool> = optional "nsd",
        /// Target broker name (`setBrokerName` upstream).
        bname: Option<String> = optional "bname",
        /// Whether the request is oneway.
        oway: Option<bool> = optional "oway",
        /// "Logic": whether static-topic logical queue ids are used.
        lo: Option<bool> = optional "lo",
    }
}

impl RpcBase {
    /// A base that only names the target broker, which is what the Java client sends.
    pub fn broker(name: impl Into<String>) -> Self {
        RpcBase {
            bname: Some(name.into()),
            ..RpcBase::default()
        }
    }
}

/// The filter language of a subscription (`ExpressionType`, a plain string upstream).
///
/// Unknown names are kept so that they survive a round trip to the broker, which
/// decides what it supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum ExpressionType {
    /// Tag matching (`TAG`), the default.
    #[default]
    Tag,
    /// SQL92 over message properties (`SQL92`); needs `enablePropertyFilter` on the broker.
    Sql92,
    /// Any other name, kept verbatim.
    Other(String),
}

impl ExpressionType {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ExpressionType::Tag => "TAG",
            ExpressionType::Sql92 => "SQL92",
            ExpressionType::Other(s) => s,
        }
    }

    /// Parses a wire name; comparison is exact, as upstream (`ExpressionType.TAG.equals`).
    pub fn from_name(s: &str) -> Self {
        match s {
            "TAG" => ExpressionType::Tag,
            "SQL92" => ExpressionType::Sql92,
            other => ExpressionType::Other(other.to_owned()),
        }
    }

    /// Whether the broker treats this as tag filtering (`ExpressionType.isTagType`: empty
    /// counts as TAG).
    pub fn is_tag(&self) -> bool {
        match self {
            ExpressionType::Tag => true,
            ExpressionType::Other(s) => s.is_empty(),
            ExpressionType::Sql92 => false,
        }
    }
}

impl fmt::Display for ExpressionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HeaderValue for ExpressionType {
    fn to_header_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }

    fn parse_header_value(s: &str) -> Option<Self> {
        Some(ExpressionType::from_name(s))
    }
}

impl Serialize for ExpressionType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ExpressionType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Ok(ExpressionType::from_name(&s))
    }
}

/// Which end of a run of equal timestamps SEARCH_OFFSET_BY_TIMESTAMP returns
/// (`BoundaryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BoundaryType {
    /// The first matching offset (the default).
    #[default]
    Lower,
    /// The last matching offset.
    Upper,
}

impl BoundaryType {
    /// The enum name, which is what `toString()` puts on the wire.
    pub fn name(self) -> &'static str {
        match self {
            BoundaryType::Lower => "LOWER",
            BoundaryType::Upper => "UPPER",
        }
    }
}

/// Parsed like `BoundaryType.getType`: `upper` in any case is [`BoundaryType::Upper`],
/// anything else is [`BoundaryType::Lower`]; it never fails.
impl HeaderValue for BoundaryType {
    fn to_header_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.name())
    }

    fn parse_header_value(s: &str) -> Option<Self> {
        Some(if s.trim().eq_ignore_ascii_case("upper") {
            BoundaryType::Upper
        } else {
            BoundaryType::Lower
        })
    }
}

/// The `commitOrRollback` value of END_TRANSACTION: the transaction bits of
/// `MessageSysFlag`. Unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TransactionCommitType {
    /// `TRANSACTION_NOT_TYPE` (0): state unknown, the broker does nothing and checks later.
    #[default]
    Unknown,
    /// `TRANSACTION_COMMIT_TYPE` (8).
    Commit,
    /// `TRANSACTION_ROLLBACK_TYPE` (12).
    Rollback,
    /// Any other value, kept verbatim.
    Other(i32),
}

impl TransactionCommitType {
    /// The numeric wire value.
    pub fn value(self) -> i32 {
        match self {
            TransactionCommitType::Unknown => 0,
            TransactionCommitType::Commit => 8,
            TransactionCommitType::Rollback => 12,
            TransactionCommitType::Other(v) => v,
        }
    }

    /// Maps a wire value; 0, 8 and 12 become the named variants.
    pub fn from_value(v: i32) -> Self {
        match v {
            0 => TransactionCommitType::Unknown,
            8 => TransactionCommitType::Commit,
            12 => TransactionCommitType::Rollback,
            other => TransactionCommitType::Other(other),
        }
    }
}

impl HeaderValue for TransactionCommitType {
    fn to_header_value(&self) -> Cow<'_, str> {
        Cow::Owned(self.value().to_string())
    }

    fn parse_header_value(s: &str) -> Option<Self> {
        i32::parse_header_value(s).map(TransactionCommitType::from_value)
    }
}

java_enum! {
    /// `TopicFilterType`: how a topic's tags are indexed (only `SINGLE_TAG` is used).
    pub enum TopicFilterType {
        /// One tag per message (the default).
        SingleTag = "SINGLE_TAG",
        /// Several tags per message (never implemented upstream).
        MultiTag = "MULTI_TAG",
    }
}

// `java_enum!` cannot derive `Default`.
#[allow(clippy::derivable_impls)]
impl Default for TopicFilterType {
    fn default() -> Self {
        TopicFilterType::SingleTag
    }
}
