//! The ACL 1.0 configuration (`plain_acl.yml`): accounts, their permissions, whitelists.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_yaml::Value;
use thiserror::Error;
use tracing::warn;

/// A permission on a topic or a group (upstream `Permission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Perm {
    /// Nothing; beats any default.
    Deny,
    /// Publish (send) only.
    Pub,
    /// Subscribe (pull, offsets, heartbeats) only.
    Sub,
    /// Both.
    PubSub,
}

impl Perm {
    /// Upstream's spelling: `DENY`, `PUB`, `SUB`, `PUB|SUB`.
    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Deny => "DENY",
            Perm::Pub => "PUB",
            Perm::Sub => "SUB",
            Perm::PubSub => "PUB|SUB",
        }
    }

    /// Whether holding `self` grants `needed` (`Permission.checkPermission`): `DENY` grants
    /// nothing, `PUB|SUB` grants both.
    pub fn grants(self, needed: Perm) -> bool {
        match (self, needed) {
            (Perm::Deny, _) | (_, Perm::Deny) => false,
            (Perm::PubSub, _) => true,
            (have, Perm::PubSub) => have == Perm::PubSub,
            (have, need) => have == need,
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Perm {
    type Err = AclConfigError;

    /// `DENY`, `PUB`, `SUB`, `PUB|SUB` or `SUB|PUB`, surrounding spaces ignored. Upstream
    /// reads anything else as `DENY`; here it is an error, so a typo cannot go unnoticed.
    fn from_str(s: &str) -> Result<Perm, AclConfigError> {
        match s.trim() {
            "DENY" => Ok(Perm::Deny),
            "PUB" => Ok(Perm::Pub),
            "SUB" => Ok(Perm::Sub),
            "PUB|SUB" | "SUB|PUB" => Ok(Perm::PubSub),
            other => Err(AclConfigError::Invalid(format!(
                "{other:?} is not a permission (DENY, PUB, SUB or PUB|SUB)"
            ))),
        }
    }
}

/// Why an ACL configuration cannot be used. Messages never contain secret keys.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AclConfigError {
    /// The file could not be read.
    #[error("cannot read ACL file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML (or JSON) of the expected shape.
    #[error("ACL configuration does not parse: {0}")]
    Parse(String),
    /// A value is invalid; the message says which.
    #[error("invalid ACL configuration: {0}")]
    Invalid(String),
}

/// Shortest access and secret key upstream accepts is 7 characters
/// (`AclConstants.ACCESS_KEY_MIN_LENGTH`/`SECRET_KEY_MIN_LENGTH` = 6, lengths must exceed it).
pub const MIN_KEY_LENGTH: usize = 7;

/// One account (`PlainAccessConfig`).
///
/// Defaults ([`Account::new`]): not admin, no address whitelist, `DENY` as default topic and
/// group permission (upstream reads a missing default as `DENY`), no per-resource
/// permissions. `Debug` redacts the secret key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// The access key clients send as `AccessKey`. At least 7 characters.
    pub access_key: String,
    /// The secret key signatures are made with. At least 7 characters.
    pub secret_key: String,
    /// Clients from a matching address need no signature for this account (they still
    /// send its `AccessKey`) and skip the permission checks, as upstream. See
    /// [`AclConfig`] for the pattern forms.
    pub white_remote_address: Option<String>,
    /// Admin accounts may send the admin request codes (topic and group creation and
    /// deletion, broker config updates); an admin without any per-resource permission may
    /// do everything.
    pub admin: bool,
    /// Permission on topics not in `topic_perms`.
    pub default_topic_perm: Perm,
    /// Permission on groups not in `group_perms`.
    pub default_group_perm: Perm,
    /// Per-topic permissions; an entry here is final (a `DENY` beats the default).
    pub topic_perms: Vec<(String, Perm)>,
    /// Per-group permissions; an entry here is final.
    pub group_perms: Vec<(String, Perm)>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("white_remote_address", &self.white_remote_address)
            .field("admin", &self.admin)
            .field("default_topic_perm", &self.default_topic_perm)
            .field("default_group_perm", &self.default_group_perm)
            .field("topic_perms", &self.topic_perms)
            .field("group_perms", &self.group_perms)
            .finish()
    }
}

impl Account {
    /// An account with the defaults listed on [`Account`].
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Account {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            white_remote_address: None,
            admin: false,
            default_topic_perm: Perm::Deny,
            default_group_perm: Perm::Deny,
            topic_perms: Vec::new(),
            group_perms: Vec::new(),
        }
    }

    /// Makes it an admin account (default no).
    pub fn admin(mut self, admin: bool) -> Self {
        self.admin = admin;
        self
    }

    /// Address pattern whose clients skip the signature check (default none).
    pub fn white_remote_address(mut self, pattern: impl Into<String>) -> Self {
        self.white_remote_address = Some(pattern.into());
        self
    }

    /// Permission on topics without their own entry (default `DENY`).
    pub fn default_topic_perm(mut self, perm: Perm) -> Self {
        self.default_topic_perm = perm;
        self
    }

    /// Permission on groups without their own entry (default `DENY`).
    pub fn default_group_perm(mut self, perm: Perm) -> Self {
        self.default_group_perm = perm;
        self
    }

    /// Sets the permission on one topic (`topicPerms: ["topic=PERM"]`).
    pub fn topic_perm(mut self, topic: impl Into<String>, perm: Perm) -> Self {
        let topic = topic.into();
        self.topic_perms.retain(|(t, _)| *t != topic);
        self.topic_perms.push((topic, perm));
        self
    }

    /// Sets the permission on one consumer group (`groupPerms: ["group=PERM"]`).
    pub fn group_perm(mut self, group: impl Into<String>, perm: Perm) -> Self {
        let group = group.into();
        self.group_perms.retain(|(g, _)| *g != group);
        self.group_perms.push((group, perm));
        self
    }
}

/// An ACL 1.0 configuration: the content of upstream's `plain_acl.yml`.
///
/// ```yaml
/// globalWhiteRemoteAddresses:     # clients from here need no signature at all
///   - 10.10.103.*
///   - 192.168.0.*
/// accounts:
///   - accessKey: RocketMQ
///     secretKey: 12345678
///     whiteRemoteAddress:         # clients from here need no signature for this account
///     admin: false
///     defaultTopicPerm: DENY      # DENY | PUB | SUB | PUB|SUB (missing: DENY)
///     defaultGroupPerm: SUB
///     topicPerms:
///       - topicA=DENY
///       - topicB=PUB|SUB
///       - topicC=SUB
///     groupPerms:
///       - groupA=DENY
///       - groupB=PUB|SUB
///   - accessKey: rocketmq2
///     secretKey: 12345678
///     admin: true
/// ```
///
/// The same keys in JSON work too (JSON is read as YAML). Keys other than these (such as
/// `dataVersion`) are ignored. Address patterns: `*`; an exact IPv4 or IPv6 address;
/// comma-separated exact addresses; `a.b.c.{x,y}`; `a.b.c.*`, `a.b.*.*`; `a.b.c.10-20`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclConfig {
    /// Address patterns whose clients pass every check without signing
    /// (`globalWhiteRemoteAddresses`). Default none.
    pub global_white_remote_addresses: Vec<String>,
    /// The accounts. Default none (then only globally whitelisted clients get in).
    pub accounts: Vec<Account>,
}

impl AclConfig {
    /// An empty configuration: nobody gets in until accounts or whitelists are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an account (replacing one with the same access key).
    pub fn account(mut self, account: Account) -> Self {
        self.accounts.retain(|a| a.access_key != account.access_key);
        self.accounts.push(account);
        self
    }

    /// Adds a global whitelist pattern.
    pub fn global_white_remote_address(mut self, pattern: impl Into<String>) -> Self {
        self.global_white_remote_addresses.push(pattern.into());
        self
    }

    /// Reads a `plain_acl.yml` (or the same structure in JSON) from `path`.
    ///
    /// # Errors
    /// [`AclConfigError::Io`], [`AclConfigError::Parse`], [`AclConfigError::Invalid`].
    pub fn load(path: impl AsRef<Path>) -> Result<AclConfig, AclConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| AclConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Parses a `plain_acl.yml` document (JSON is accepted as well). Scalars are read
    /// leniently, as upstream's loader does: `secretKey: 12345678` is the string
    /// `"12345678"`, `admin: "true"` is `true`.
    ///
    /// # Errors
    /// [`AclConfigError::Parse`] for malformed text, [`AclConfigError::Invalid`] for bad
    /// values (e.g. an unknown permission, a `topicPerms` entry without `=`).
    pub fn from_yaml(text: &str) -> Result<AclConfig, AclConfigError> {
        let doc: Value =
            serde_yaml::from_str(text).map_err(|e| AclConfigError::Parse(e.to_string()))?;
        let mut config = AclConfig::new();
        let map = match doc {
            Value::Null => return Ok(config),
            Value::Mapping(m) => m,
            _ => {
                return Err(AclConfigError::Parse(
                    "the document must be a mapping with `accounts` and/or \
                     `globalWhiteRemoteAddresses`"
                        .into(),
                ));
            }
        };
        for (k, v) in &map {
            match k.as_str() {
                Some("globalWhiteRemoteAddresses") => {
                    config.global_white_remote_addresses =
                        strings(v, "globalWhiteRemoteAddresses")?;
                }
                Some("accounts") => {
                    let list = match v {
                        Value::Null => Vec::new(),
                        Value::Sequence(s) => s.clone(),
                        _ => return Err(invalid("`accounts` must be a list")),
                    };
                    for (i, a) in list.iter().enumerate() {
                        config.accounts.push(account(a, i)?);
                    }
                }
                Some(other) => {
                    if other != "dataVersion" {
                        warn!(key = other, "unknown top-level key in the ACL file ignored");
                    }
                }
                None => return Err(invalid("top-level keys must be strings")),
            }
        }
        Ok(config)
    }
}

fn invalid(msg: impl Into<String>) -> AclConfigError {
    AclConfigError::Invalid(msg.into())
}

/// A scalar as a string (`None` for null); lists and maps are errors.
fn scalar(v: &Value, what: &str) -> Result<Option<String>, AclConfigError> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => return Err(invalid(format!("`{what}` must be a single value"))),
    })
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, AclConfigError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| scalar(i, what).transpose())
            .collect(),
        // A single string, or a comma-less scalar, is one entry.
        other => Ok(scalar(other, what)?.into_iter().collect()),
    }
}

fn resource_perms(v: &Value, what: &str) -> Result<Vec<(String, Perm)>, AclConfigError> {
    strings(v, what)?
        .iter()
        .map(|entry| {
            let parts: Vec<&str> = entry.split('=').filter(|p| !p.is_empty()).collect();
            match parts.as_slice() {
                [name, perm] if !name.trim().is_empty() => {
                    Ok((name.trim().to_owned(), perm.parse::<Perm>()?))
                }
                _ => Err(invalid(format!(
                    "`{what}` entry {entry:?} is not `name=PERM`"
                ))),
            }
        })
        .collect()
}

fn account(v: &Value, index: usize) -> Result<Account, AclConfigError> {
    let Value::Mapping(m) = v else {
        return Err(invalid(format!("accounts[{index}] must be a mapping")));
    };
    let get = |key: &str| m.get(key).unwrap_or(&Value::Null);
    let access_key = scalar(get("accessKey"), "accessKey")?.unwrap_or_default();
    let where_ = if access_key.is_empty() {
        format!("accounts[{index}]")
    } else {
        format!("account {access_key:?}")
    };
    let secret_key = scalar(get("secretKey"), "secretKey")?.unwrap_or_default();
    let admin = match scalar(get("admin"), "admin")?.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(format!(
                "{where_}: admin must be true or false, not {other:?}"
            )));
        }
    };
    let perm = |key: &str| -> Result<Perm, AclConfigError> {
        match scalar(get(key), key)? {
            None => Ok(Perm::Deny),
            Some(s) if s.trim().is_empty() => Ok(Perm::Deny),
            Some(s) => s
                .parse()
                .map_err(|e: AclConfigError| invalid(format!("{where_}: {key}: {e}"))),
        }
    };
    for key in m.keys().filter_map(Value::as_str) {
        if !matches!(
            key,
            "accessKey"
                | "secretKey"
                | "whiteRemoteAddress"
                | "admin"
                | "defaultTopicPerm"
                | "defaultGroupPerm"
                | "topicPerms"
                | "groupPerms"
        ) {
            warn!(account = %access_key, key, "unknown account key in the ACL file ignored");
        }
    }
    Ok(Account {
        white_remote_address: scalar(get("whiteRemoteAddress"), "whiteRemoteAddress")?
            .filter(|s| !s.trim().is_empty()),
        admin,
        default_topic_perm: perm("defaultTopicPerm")?,
        default_group_perm: perm("defaultGroupPerm")?,
        topic_perms: resource_perms(get("topicPerms"), "topicPerms")
            .map_err(|e| invalid(format!("{where_}: {e}")))?,
        group_perms: resource_perms(get("groupPerms"), "groupPerms")
            .map_err(|e| invalid(format!("{where_}: {e}")))?,
        access_key,
        secret_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_semantics() {
        assert!(Perm::PubSub.grants(Perm::Pub));
        assert!(Perm::PubSub.grants(Perm::Sub));
        assert!(Perm::Pub.grants(Perm::Pub));
        assert!(!Perm::Pub.grants(Perm::Sub));
        assert!(!Perm::Deny.grants(Perm::Pub));
        assert_eq!(" SUB|PUB ".parse::<Perm>().unwrap(), Perm::PubSub);
        assert!("PUBLISH".parse::<Perm>().is_err());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let a = Account::new("visible-ak", "hidden-secret");
        assert!(!format!("{a:?}").contains("hidden-secret"));
    }
}
