//! The message properties string: `key 0x01 value 0x02` repeated, UTF-8.
//!
//! Parsing follows Java `MessageDecoder.string2messageProperties`: split on 0x02, keep a
//! segment only when its first 0x01 sits after at least one key character and before its
//! last character (so empty keys and empty values are dropped), and let the last
//! duplicate win. Encoding writes every entry, in insertion order, but refuses separator
//! bytes inside keys or values because they would silently change the parse.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::protocol::error::ProtocolError;

pub use super::keys;

/// Separates a key from its value.
pub const NAME_VALUE_SEPARATOR: u8 = 0x01;
/// Ends each key/value pair.
pub const PROPERTY_SEPARATOR: u8 = 0x02;
/// The largest properties string a stored record can carry (its length is an `int16`).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// An insertion-ordered string map for message properties.
///
/// A message has about ten properties, so a vector with linear lookup beats a hash map
/// both in speed and in memory, and it keeps the wire order stable across a round trip.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Properties {
    /// An empty map.
    pub const fn new() -> Self {
        Properties {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Properties {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Sets `key` to `value`, keeping the key's position if it exists; returns the old value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value; the other entries keep their order.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// Keeps only the entries for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&str, &str) -> bool) {
        self.entries.retain(|(k, v)| f(k, v));
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Removes the transient (`__RMQ.TRANSIENT.`) entries, which are never stored.
    pub fn remove_transient(&mut self) {
        self.entries.retain(|(k, _)| !keys::is_transient(k));
    }

    /// Parses a properties string with Java's rules. Invalid UTF-8 is replaced with
    /// U+FFFD, as Java's `new String(bytes, UTF_8)` does, so this never fails.
    pub fn decode(bytes: &[u8]) -> Properties {
        let mut props = Properties::with_capacity(
            bytes
                .iter()
                .filter(|&&b| b == PROPERTY_SEPARATOR)
                .count()
                .max(1),
        );
        for segment in bytes.split(|&b| b == PROPERTY_SEPARATOR) {
            // The first 0x01 separates; later ones belong to the value, as in Java.
            let Some(sep) = segment.iter().position(|&b| b == NAME_VALUE_SEPARATOR) else {
                continue;
            };
            if sep == 0 || sep + 1 >= segment.len() {
                continue;
            }
            let key = String::from_utf8_lossy(&segment[..sep]).into_owned();
            let value = String::from_utf8_lossy(&segment[sep + 1..]).into_owned();
            props.insert(key, value);
        }
        props
    }

    /// Parses a properties string held as `&str` (see [`Properties::decode`]).
    pub fn decode_str(s: &str) -> Properties {
        Properties::decode(s.as_bytes())
    }

    /// The encoded length, after checking that no key or value holds a separator byte.
    ///
    /// # Errors
    /// [`ProtocolError`] when a key or value holds a
    /// separator byte (`\u{1}` or `\u{2}`).
    pub fn encoded_len(&self) -> Result<usize, ProtocolError> {
        self.encoded_len_filtered(false)
    }

    /// Like [`Properties::encoded_len`], optionally leaving out transient keys.
    pub(crate) fn encoded_len_filtered(
        &self,
        skip_transient: bool,
    ) -> Result<usize, ProtocolError> {
        let mut len = 0usize;
        for (k, v) in &self.entries {
            if skip_transient && keys::is_transient(k) {
                continue;
            }
            check_reserved(k, "property key")?;
            check_reserved(v, "property value")?;
            len += k.len() + v.len() + 2;
        }
        Ok(len)
    }

    /// Appends the encoded string to `out`; on error nothing is written.
    ///
    /// # Errors
    /// [`ProtocolError`] when a key or value holds a
    /// separator byte (`\u{1}` or `\u{2}`).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        let len = self.encoded_len()?;
        out.reserve(len);
        self.write_unchecked(out, false);
        Ok(())
    }

    /// The encoded string as a new vector.
    ///
    /// # Errors
    /// [`ProtocolError`] when a key or value holds a
    /// separator byte (`\u{1}` or `\u{2}`).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = BytesMut::with_capacity(self.encoded_len()?);
        self.write_unchecked(&mut out, false);
        Ok(out.to_vec())
    }

    /// The encoded string as a `String` (what Java calls `messageProperties2String`),
    /// as used in the send header's `properties` field.
    ///
    /// # Errors
    /// [`ProtocolError`] when a key or value holds a
    /// separator byte (`\u{1}` or `\u{2}`).
    pub fn to_wire_string(&self) -> Result<String, ProtocolError> {
        let mut s = String::with_capacity(self.encoded_len()?);
        for (k, v) in &self.entries {
            s.push_str(k);
            s.push(char::from(NAME_VALUE_SEPARATOR));
            s.push_str(v);
            s.push(char::from(PROPERTY_SEPARATOR));
        }
        Ok(s)
    }

    /// Writes entries that were already validated by `encoded_len_filtered`.
    pub(crate) fn write_unchecked(&self, out: &mut impl BufMut, skip_transient: bool) {
        for (k, v) in &self.entries {
            if skip_transient && keys::is_transient(k) {
                continue;
            }
            out.put_slice(k.as_bytes());
            out.put_u8(NAME_VALUE_SEPARATOR);
            out.put_slice(v.as_bytes());
            out.put_u8(PROPERTY_SEPARATOR);
        }
    }
}

fn check_reserved(s: &str, what: &'static str) -> Result<(), ProtocolError> {
    if s.bytes()
        .any(|b| b == NAME_VALUE_SEPARATOR || b == PROPERTY_SEPARATOR)
    {
        Err(ProtocolError::ReservedByte { what })
    } else {
        Ok(())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut p = Properties::new();
        p.extend(iter);
        p
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Properties {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;

    fn into_iter(self) -> Self::IntoIter {
        fn pair(e: &(String, String)) -> (&str, &str) {
            (e.0.as_str(), e.1.as_str())
        }
        self.entries
            .iter()
            .map(pair as fn(&'a (String, String)) -> (&'a str, &'a str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_java_rules() {
        // Empty segments, a key-only segment, an empty key, an empty value, a value with
        // a second 0x01, a trailing segment without 0x02, and a duplicate.
        let raw = b"\x02\x02A\x01\x02\x01v\x02K\x011\x02ab\x02X\x01a\x01b\x02K\x012\x02T\x01t";
        let p = Properties::decode(raw);
        let got: Vec<_> = p.iter().collect();
        assert_eq!(got, vec![("K", "2"), ("X", "a\u{1}b"), ("T", "t")]);
    }

    #[test]
    fn encode_order_and_reserved() {
        let mut p = Properties::new();
        p.insert("TAGS", "a");
        p.insert("KEYS", "k1 k2");
        assert_eq!(p.insert("TAGS", "b"), Some("a".into()));
        assert_eq!(
            p.to_bytes().unwrap(),
            b"TAGS\x01b\x02KEYS\x01k1 k2\x02".to_vec()
        );
        assert_eq!(p.encoded_len().unwrap(), 18);
        assert_eq!(
            p.to_wire_string().unwrap().as_bytes(),
            p.to_bytes().unwrap().as_slice()
        );
        p.insert("bad", "x\u{2}y");
        assert!(matches!(
            p.to_bytes(),
            Err(ProtocolError::ReservedByte {
                what: "property value"
            })
        ));
        let mut out = BytesMut::new();
        assert!(p.encode(&mut out).is_err());
        assert!(out.is_empty());
        let mut q = Properties::new();
        q.insert("a\u{1}", "x");
        assert!(matches!(
            q.encoded_len(),
            Err(ProtocolError::ReservedByte {
                what: "property key"
            })
        ));
    }

    #[test]
    fn transient_and_remove() {
        let mut p: Properties = [("A", "1"), ("__RMQ.TRANSIENT.X", "2"), ("B", "3")]
            .into_iter()
            .collect();
        assert_eq!(p.encoded_len_filtered(true).unwrap(), 8);
        let mut out = BytesMut::new();
        p.write_unchecked(&mut out, true);
        assert_eq!(&out[..], b"A\x011\x02B\x013\x02");
        p.remove_transient();
        assert_eq!(p.len(), 2);
        assert_eq!(p.remove("A"), Some("1".into()));
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["B"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let p = Properties::decode(b"K\x01\xff\x02");
        assert_eq!(p.get("K"), Some("\u{FFFD}"));
    }
}
