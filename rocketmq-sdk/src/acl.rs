//! ACL 1.0: request signatures with an AccessKey/SecretKey pair (`AclClientRPCHook`).
//!
//! Every request the client sends carries three (or four) extra ext fields:
//!
//! * `AccessKey` — who is asking;
//! * `SecurityToken` — only when one is configured (STS-style temporary credentials);
//! * `Signature` — `Base64(HmacSHA1(secretKey, content))`, standard alphabet with padding.
//!
//! The signed `content` is built from the request as it goes on the wire: every ext field
//! except `Signature`, sorted by key in Java `String.compareTo` order (UTF-16 code units, so
//! uppercase sorts before lowercase), their **values only** concatenated as UTF-8 with no
//! separator, then the raw body. The server rebuilds the same content from what it
//! received. A Java server (≤ 5.x, ACL 1.0 or the 5.x `auth` module) also drops
//! `_UNIQUE_KEY_QUERY` from the content when the request's version is ≤ V4_9_3; this crate
//! announces a later version, so it always signs that field like any other.
//!
//! The client signs each request in the connection's writer task, just before encoding,
//! so nothing can be added after the signature is computed (see
//! [`RequestHook`]). Configure it with
//! [`ClientBuilder::credentials`](crate::ClientBuilder::credentials).
//!
//! ```
//! use rocketmq_sdk::acl::{Credentials, sign_request};
//! use rocketmq_sdk::protocol::{RemotingCommand, RequestCode};
//!
//! let creds = Credentials::new("RocketMQ", "12345678");
//! let mut req = RemotingCommand::request(RequestCode::HEART_BEAT);
//! sign_request(&mut req, &creds);
//! assert_eq!(req.ext_fields.get("AccessKey"), Some("RocketMQ"));
//! assert!(req.ext_fields.get("Signature").is_some());
//! ```

use std::cmp::Ordering;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::protocol::command::{SerializeType, version};
use crate::protocol::{ExtFields, RemotingCommand};
use crate::remoting::RequestHook;

/// Ext field carrying the access key (`SessionCredentials.ACCESS_KEY`).
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field carrying the signature (`SessionCredentials.SIGNATURE`).
pub const SIGNATURE: &str = "Signature";
/// Ext field carrying the optional security token (`SessionCredentials.SECURITY_TOKEN`).
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// Ext field a unique-key QUERY_MESSAGE carries (`MixAll.UNIQUE_MSG_QUERY_FLAG`); servers
/// leave it out of the signed content for requests of version ≤ V4_9_3.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// An AccessKey/SecretKey pair, and optionally a security token.
///
/// `Debug` shows the access key only: the secret key and the token are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    security_token: Option<String>,
}

impl Credentials {
    /// Credentials without a security token.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Builder-style: adds a security token (sent as ext field `SecurityToken` and signed).
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The access key.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key. Never log it.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The security token, if any. Never log it.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Compares two keys as Java's `String.compareTo` does: by UTF-16 code units.
///
/// This differs from Rust's `str` order (by UTF-8 bytes, i.e. by code points) only when a
/// supplementary character (U+10000 and up, a surrogate pair in UTF-16) meets a character
/// in U+E000..=U+FFFF.
pub fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The bytes to sign (or verify) for ext fields `fields` and `body`: every field except
/// `Signature` (and, when `drop_unique_key_query`, `_UNIQUE_KEY_QUERY`), sorted by key in
/// Java order, values concatenated as UTF-8, then the body (`AclUtils.combineRequestContent`).
pub fn signing_content(fields: &ExtFields, body: &[u8], drop_unique_key_query: bool) -> Vec<u8> {
    let mut entries: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| *k != SIGNATURE && !(drop_unique_key_query && *k == UNIQUE_KEY_QUERY))
        .collect();
    entries.sort_by(|a, b| java_string_cmp(a.0, b.0));
    let len = entries.iter().map(|(_, v)| v.len()).sum::<usize>() + body.len();
    let mut out = Vec::with_capacity(len);
    for (_, v) in entries {
        out.extend_from_slice(v.as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// The content a server verifies for `request`: [`signing_content`] with
/// `_UNIQUE_KEY_QUERY` left out for requests of version ≤ V4_9_3, as upstream servers do.
pub fn request_content(request: &RemotingCommand) -> Vec<u8> {
    signing_content(
        &request.ext_fields,
        &request.body,
        request.version <= version::V4_9_3,
    )
}

/// `Base64(HmacSHA1(secret_key, content))`, standard alphabet with padding
/// (`AclSigner.calSignature`).
pub fn sign(content: &[u8], secret_key: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable_hmac_key(),
    };
    mac.update(content);
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cold]
fn unreachable_hmac_key() -> ! {
    // Hmac::new_from_slice only fails for fixed-key-size MACs; HMAC is not one.
    panic!("HMAC-SHA1 rejected a key, which it never does")
}

/// Whether `signature` is the signature of `content` under `secret_key`, compared in
/// constant time.
pub fn verify(content: &[u8], secret_key: &str, signature: &str) -> bool {
    let expected = sign(content, secret_key);
    constant_time_eq(expected.as_bytes(), signature.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs `request` in place as `AclClientRPCHook.doBeforeRequest` does: sets `AccessKey`
/// (and `SecurityToken`), then `Signature` over everything else and the body.
///
/// A previous `Signature` is replaced (signing twice gives the same result). With the
/// binary header format (`SerializeType::RocketMq`), empty-valued ext fields are removed
/// first: that format turns them into nulls, which a Java server would sign as `"null"`.
pub fn sign_request(request: &mut RemotingCommand, credentials: &Credentials) {
    request.ext_fields.remove(SIGNATURE);
    if request.serialize_type == SerializeType::RocketMq {
        let empty: Vec<String> = request
            .ext_fields
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| k.to_owned())
            .collect();
        for k in empty {
            request.ext_fields.remove(&k);
        }
    }
    request
        .ext_fields
        .insert(ACCESS_KEY, credentials.access_key.clone());
    if let Some(token) = &credentials.security_token {
        request.ext_fields.insert(SECURITY_TOKEN, token.clone());
    }
    let content = signing_content(&request.ext_fields, &request.body, false);
    let signature = sign(&content, &credentials.secret_key);
    request.ext_fields.insert(SIGNATURE, signature);
}

/// A [`RequestHook`] that signs every request with [`sign_request`] (the
/// `AclClientRPCHook`). Installed by [`ClientBuilder::credentials`](crate::ClientBuilder::credentials).
#[derive(Debug, Clone)]
pub struct AclSigner {
    credentials: Credentials,
}

impl AclSigner {
    /// A signer with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        AclSigner { credentials }
    }

    /// The credentials it signs with.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

impl RequestHook for AclSigner {
    fn before_request(&self, _addr: &str, request: &mut RemotingCommand) {
        sign_request(request, &self.credentials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_order_puts_uppercase_first_and_compares_utf16() {
        assert_eq!(java_string_cmp("Z", "a"), Ordering::Less);
        assert_eq!(java_string_cmp("AccessKey", "a"), Ordering::Less);
        // U+FF21 (one UTF-16 unit 0xFF21) vs U+1F600 (surrogates 0xD83D 0xDE00): Java puts
        // the emoji first, Rust's str order the other way round.
        assert_eq!(java_string_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials::new("ak-visible", "sk-hidden").with_security_token("tok-hidden");
        let s = format!("{c:?}");
        assert!(s.contains("ak-visible"));
        assert!(!s.contains("sk-hidden"));
        assert!(!s.contains("tok-hidden"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
