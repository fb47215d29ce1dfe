//! ACL 1.0 on the broker: AccessKey/SecretKey signatures, per-account topic and group
//! permissions, address whitelists — upstream's `plain_acl.yml` model
//! (`PlainPermissionManager`).
//!
//! Turn it on with [`EmbeddedBrokerBuilder::acl`](crate::EmbeddedBrokerBuilder::acl) (or
//! `--acl-file` on the binary). Every request a broker receives is then checked before it
//! is dispatched; a refused request gets `SYSTEM_ERROR` (1) with the remark
//! `org.apache.rocketmq.acl.common.AclException: <reason>` (see [`AclDenied::remark`]), as
//! Java 4.9.x and 5.x brokers answer: their ACL hook throws and the remoting layer turns the
//! exception into SYSTEM_ERROR. The reasons start with upstream's messages (`No accessKey is
//! configured`, `No acl config for …`, `Check signature failed for accessKey=…`, `Need admin
//! permission …`, `No default permission for topic:…`). A refused oneway request is dropped.
//!
//! The checks, in upstream's order:
//! 1. the client's address matches `globalWhiteRemoteAddresses` → allowed, unsigned;
//! 2. no `AccessKey` → refused; an unknown one → refused;
//! 3. the address matches the account's `whiteRemoteAddress` → allowed without signature
//!    or permission checks;
//! 4. the `Signature` must match (see [`rocketmq_sdk::acl`] for the algorithm; for requests
//!    of version ≤ V4_9_3, `_UNIQUE_KEY_QUERY` is left out of the content);
//! 5. admin request codes (17 UPDATE_AND_CREATE_TOPIC, 25 UPDATE_BROKER_CONFIG,
//!    215 DELETE_TOPIC_IN_BROKER, 200 UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
//!    207 DELETE_SUBSCRIPTIONGROUP) need an admin account;
//! 6. a PUB on `RMQ_SYS_TRACE_TOPIC` is allowed; an admin account without any
//!    per-resource permission may do everything;
//! 7. each topic and group the request touches needs its permission: sends (10, 310,
//!    320) PUB on the topic; pulls (11, 361), consumer offsets (14, 15) SUB on the topic
//!    and the group; QUERY_MESSAGE (12) SUB on the topic; HEART_BEAT (34) SUB on every
//!    consumer group and subscribed topic in its body; UNREGISTER_CLIENT (35) and
//!    GET_CONSUMER_LIST_BY_GROUP (38) SUB on the group; CONSUMER_SEND_MSG_BACK (36) SUB
//!    on the group and PUB on the original topic. A retry topic `%RETRY%g` counts as
//!    group `g` (a send to it needs SUB on `g`). An entry in `topicPerms`/`groupPerms` is
//!    final — a `DENY` there beats the default — and anything else falls back to
//!    `defaultTopicPerm`/`defaultGroupPerm`. Other codes need only a valid signature.
//!
//! Differences from upstream 4.x, all on the strict side: SEND_BATCH_MESSAGE,
//! LITE_PULL_MESSAGE and QUERY_CONSUMER_OFFSET are checked like their siblings (4.x let
//! them through on a valid signature); a retry-topic send checks the group named by the
//! topic rather than the producer group; unknown permission strings and bad address
//! patterns are configuration errors instead of `DENY`/ignored; namespaces are not
//! supported. The configuration is fixed at start (no file watching).
//!
//! The embedded **name server does not enforce ACL**, like upstream's name server: route
//! lookups carry no data, and signed clients sign their name-server requests anyway.
//!
//! ```
//! use rocketmq_embedded_broker::acl::{Account, AclConfig, Perm};
//!
//! let acl = AclConfig::new()
//!     .global_white_remote_address("10.10.103.*")
//!     .account(
//!         Account::new("RocketMQ", "12345678")
//!             .default_topic_perm(Perm::Deny)
//!             .default_group_perm(Perm::Sub)
//!             .topic_perm("orders", Perm::PubSub),
//!     );
//! # let _ = acl;
//! ```

mod addr;
mod checker;
mod config;

pub use checker::{ACL_EXCEPTION, AclChecker, AclDenied, Resource};
pub use config::{Account, AclConfig, AclConfigError, MIN_KEY_LENGTH, Perm};
