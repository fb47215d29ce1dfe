//! The ACL 1.0 check run on every broker request before dispatch
//! (`PlainAccessResource.parse` + `PlainPermissionManager.validate`).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use rocketmq_sdk::acl::{self as sig, ACCESS_KEY, SIGNATURE};
use rocketmq_sdk::protocol::body::{HeartbeatData, JsonBody};
use rocketmq_sdk::protocol::topic::RETRY_GROUP_TOPIC_PREFIX;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode};
use thiserror::Error;

use super::addr::AddressPattern;
use super::config::{AclConfig, AclConfigError, MIN_KEY_LENGTH, Perm};

/// Upstream's message-trace topic: a PUB on it is never checked further.
const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// Request codes only admin accounts may send (`Permission.ADMIN_CODE`).
const ADMIN_CODES: [RequestCode; 5] = [
    RequestCode::UPDATE_AND_CREATE_TOPIC,
    RequestCode::UPDATE_BROKER_CONFIG,
    RequestCode(215), // DELETE_TOPIC_IN_BROKER
    RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    RequestCode(207), // DELETE_SUBSCRIPTIONGROUP
];

/// A topic or a consumer group, as a permission applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// A topic (not a retry topic).
    Topic(String),
    /// A consumer group (its retry topic `%RETRY%group` counts as the group).
    Group(String),
}

impl Resource {
    /// A topic name as a resource: `%RETRY%g` is group `g`.
    fn of_topic(topic: &str) -> Resource {
        match topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) {
            Some(group) => Resource::Group(group.to_owned()),
            None => Resource::Topic(topic.to_owned()),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Topic(t) => write!(f, "topic:{t}"),
            Resource::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// Why a request was refused. Its `Display` starts with upstream's `AclException` message
/// (so code matching on it behaves as against a Java broker) and never contains a secret;
/// the broker answers SYSTEM_ERROR (1) with it, see [`AclDenied::remark`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AclDenied {
    /// No `AccessKey`, and the client's address is not globally whitelisted.
    #[error("No accessKey is configured: the request is not signed and {peer} is not whitelisted")]
    Unsigned {
        /// The client's address.
        peer: IpAddr,
    },
    /// The access key is not in the configuration.
    #[error("No acl config for {access_key}: unknown access key")]
    UnknownAccessKey {
        /// What the client sent.
        access_key: String,
    },
    /// A known access key without a `Signature`.
    #[error("Check signature failed for accessKey={access_key}: the request has no Signature")]
    SignatureMissing {
        /// The account.
        access_key: String,
    },
    /// The signature does not match (wrong secret key, or the request changed after
    /// signing).
    #[error(
        "Check signature failed for accessKey={access_key}: signature mismatch (wrong secret key, or the request was changed after signing)"
    )]
    SignatureMismatch {
        /// The account.
        access_key: String,
    },
    /// An admin request code from a non-admin account.
    #[error("Need admin permission for request code={code}, but accessKey={access_key} is not")]
    NotAdmin {
        /// The account.
        access_key: String,
        /// The request code.
        code: i32,
    },
    /// The account lacks a permission the request needs.
    #[error("No default permission for {resource}: accessKey={access_key} lacks {needed} ({why})")]
    NoPermission {
        /// The account.
        access_key: String,
        /// The topic or group.
        resource: Resource,
        /// `PUB` or `SUB`.
        needed: Perm,
        /// Which rule refused it (an explicit entry, or the default).
        why: String,
    },
    /// The request could not be read far enough to know what it needs.
    #[error("ACL check cannot read request code {code}: {reason}")]
    Unreadable {
        /// The request code.
        code: i32,
        /// What could not be read.
        reason: String,
    },
}

impl AclDenied {
    /// The response remark: what a Java broker's `RemotingHelper.exceptionSimpleDesc` makes
    /// of the `AclException` its request hook throws (the exception's `toString()`; the
    /// Java stack frame it appends is left out).
    pub fn remark(&self) -> String {
        format!("{ACL_EXCEPTION}: {self}")
    }
}

/// The Java class name clients see at the start of an ACL refusal's remark.
pub const ACL_EXCEPTION: &str = "org.apache.rocketmq.acl.common.AclException";

struct CheckedAccount {
    secret_key: String,
    white: Option<AddressPattern>,
    admin: bool,
    default_topic: Perm,
    default_group: Perm,
    topics: HashMap<String, Perm>,
    groups: HashMap<String, Perm>,
}

/// A validated ACL configuration that checks requests. Cheap to share behind an `Arc`.
pub struct AclChecker {
    global_white: Vec<AddressPattern>,
    accounts: HashMap<String, CheckedAccount>,
}

impl fmt::Debug for AclChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.accounts.keys().collect();
        keys.sort();
        f.debug_struct("AclChecker")
            .field("global_white", &self.global_white)
            .field("accounts", &keys)
            .finish()
    }
}

impl AclChecker {
    /// Validates `config`.
    ///
    /// # Errors
    /// [`AclConfigError::Invalid`]: a key shorter than 7 characters (upstream's minimum), a
    /// repeated access key, an address pattern that does not parse.
    pub fn new(config: &AclConfig) -> Result<AclChecker, AclConfigError> {
        let global_white = config
            .global_white_remote_addresses
            .iter()
            .map(|p| AddressPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AclConfigError::Invalid(format!("globalWhiteRemoteAddresses: {e}")))?;
        let mut accounts = HashMap::new();
        for a in &config.accounts {
            let who = &a.access_key;
            if a.access_key.chars().count() < MIN_KEY_LENGTH {
                return Err(AclConfigError::Invalid(format!(
                    "access key {who:?} is shorter than {MIN_KEY_LENGTH} characters"
                )));
            }
            if a.secret_key.chars().count() < MIN_KEY_LENGTH {
                return Err(AclConfigError::Invalid(format!(
                    "the secret key of {who:?} is shorter than {MIN_KEY_LENGTH} characters"
                )));
            }
            let white = match &a.white_remote_address {
                Some(p) => Some(AddressPattern::parse(p).map_err(|e| {
                    AclConfigError::Invalid(format!("{who:?} whiteRemoteAddress: {e}"))
                })?),
                None => None,
            };
            let checked = CheckedAccount {
                secret_key: a.secret_key.clone(),
                white,
                admin: a.admin,
                default_topic: a.default_topic_perm,
                default_group: a.default_group_perm,
                topics: a.topic_perms.iter().cloned().collect(),
                groups: a.group_perms.iter().cloned().collect(),
            };
            if accounts.insert(a.access_key.clone(), checked).is_some() {
                return Err(AclConfigError::Invalid(format!(
                    "access key {who:?} is defined twice"
                )));
            }
        }
        Ok(AclChecker {
            global_white,
            accounts,
        })
    }

    /// Checks one request from `peer`, in upstream's order: global whitelist (pass), access
    /// key present and known, the account's own whitelist (pass without signature or
    /// permission checks), signature, admin codes, then the permission on every topic and
    /// group the request touches.
    ///
    /// # Errors
    /// The [`AclDenied`] reason.
    pub fn check(&self, peer: IpAddr, request: &RemotingCommand) -> Result<(), AclDenied> {
        if self.global_white.iter().any(|p| p.matches(peer)) {
            return Ok(());
        }
        let Some(access_key) = request.ext_fields.get(ACCESS_KEY) else {
            return Err(AclDenied::Unsigned { peer });
        };
        let Some(account) = self.accounts.get(access_key) else {
            return Err(AclDenied::UnknownAccessKey {
                access_key: access_key.to_owned(),
            });
        };
        if account.white.as_ref().is_some_and(|p| p.matches(peer)) {
            return Ok(());
        }
        let Some(signature) = request.ext_fields.get(SIGNATURE) else {
            return Err(AclDenied::SignatureMissing {
                access_key: access_key.to_owned(),
            });
        };
        let content = sig::request_content(request);
        if !sig::verify(&content, &account.secret_key, signature) {
            return Err(AclDenied::SignatureMismatch {
                access_key: access_key.to_owned(),
            });
        }
        let code = RequestCode(request.code);
        if ADMIN_CODES.contains(&code) && !account.admin {
            return Err(AclDenied::NotAdmin {
                access_key: access_key.to_owned(),
                code: request.code,
            });
        }
        let needed = needed_resources(request)?;
        if needed
            .iter()
            .any(|(r, p)| *p == Perm::Pub && *r == Resource::Topic(TRACE_TOPIC.to_owned()))
        {
            return Ok(());
        }
        if account.admin && account.topics.is_empty() && account.groups.is_empty() {
            return Ok(());
        }
        for (resource, perm) in needed {
            let (explicit, default, kind) = match &resource {
                Resource::Topic(t) => (account.topics.get(t), account.default_topic, "topic"),
                Resource::Group(g) => (account.groups.get(g), account.default_group, "group"),
            };
            let name = match &resource {
                Resource::Topic(n) | Resource::Group(n) => n,
            };
            let (granted, why) = match explicit {
                Some(have) => (have.grants(perm), format!("{kind}Perms has {name}={have}")),
                None => (
                    default.grants(perm),
                    format!(
                        "{name} is not in {kind}Perms and default{}Perm is {default}",
                        if kind == "topic" { "Topic" } else { "Group" }
                    ),
                ),
            };
            if !granted {
                return Err(AclDenied::NoPermission {
                    access_key: access_key.to_owned(),
                    resource,
                    needed: perm,
                    why,
                });
            }
        }
        Ok(())
    }
}

/// What a request touches and needs (`PlainAccessResource.parse`), for the request codes
/// upstream checks plus SEND_BATCH_MESSAGE, LITE_PULL_MESSAGE and QUERY_CONSUMER_OFFSET.
fn needed_resources(request: &RemotingCommand) -> Result<Vec<(Resource, Perm)>, AclDenied> {
    let f = &request.ext_fields;
    let nonempty = |k: &str| f.get(k).filter(|v| !v.is_empty());
    let group = |g: &str| Resource::Group(g.to_owned());
    let mut out = Vec::new();
    let code = RequestCode(request.code);
    let send_to = |topic: Option<&str>, out: &mut Vec<(Resource, Perm)>| {
        if let Some(t) = topic {
            match Resource::of_topic(t) {
                // A send to a retry topic is a consumer sending back: SUB on its group.
                g @ Resource::Group(_) => out.push((g, Perm::Sub)),
                topic => out.push((topic, Perm::Pub)),
            }
        }
    };
    match code {
        RequestCode::SEND_MESSAGE => send_to(nonempty("topic"), &mut out),
        RequestCode::SEND_MESSAGE_V2 | RequestCode::SEND_BATCH_MESSAGE => {
            send_to(nonempty("b"), &mut out)
        }
        RequestCode::CONSUMER_SEND_MSG_BACK => {
            if let Some(g) = nonempty("group") {
                out.push((group(g), Perm::Sub));
            }
            if let Some(t) = nonempty("originTopic") {
                out.push((Resource::of_topic(t), Perm::Pub));
            }
        }
        RequestCode::PULL_MESSAGE
        | RequestCode::LITE_PULL_MESSAGE
        | RequestCode::QUERY_CONSUMER_OFFSET
        | RequestCode::UPDATE_CONSUMER_OFFSET => {
            if let Some(t) = nonempty("topic") {
                out.push((Resource::of_topic(t), Perm::Sub));
            }
            if let Some(g) = nonempty("consumerGroup") {
                out.push((group(g), Perm::Sub));
            }
        }
        RequestCode::QUERY_MESSAGE => {
            if let Some(t) = nonempty("topic") {
                out.push((Resource::of_topic(t), Perm::Sub));
            }
        }
        RequestCode::HEART_BEAT => {
            let data = HeartbeatData::decode(&request.body).map_err(|e| AclDenied::Unreadable {
                code: request.code,
                reason: format!("heartbeat body: {e}"),
            })?;
            for consumer in &data.consumer_data_set {
                if !consumer.group_name.is_empty() {
                    out.push((group(&consumer.group_name), Perm::Sub));
                }
                for sub in &consumer.subscription_data_set {
                    out.push((Resource::of_topic(&sub.topic), Perm::Sub));
                }
            }
        }
        RequestCode::UNREGISTER_CLIENT | RequestCode::GET_CONSUMER_LIST_BY_GROUP => {
            if let Some(g) = nonempty("consumerGroup") {
                out.push((group(g), Perm::Sub));
            }
        }
        _ => {}
    }
    Ok(out)
}
