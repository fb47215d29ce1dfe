//! serde helpers for reading bodies written by peers that differ in what they omit or
//! null out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::MessageQueue;

/// Reads `null` as the type's default (Go and C++ clients write nulls that fastjson
/// would have omitted).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string map whose values may arrive as any JSON scalar (`java.util.Properties`
/// serialized by fastjson keeps the Java value types).
pub(crate) fn string_map<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of scalars")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A scalar read the way fastjson 1.2.69 reads it into a Java field of that type
/// (`TypeUtils.castToLong`/`castToInt`/`castToBoolean`/`castToString`): Java peers and
/// other clients write the same field as a number, a string of digits or a boolean, and
/// the Java broker accepts them all, so a strict reading would drop their heartbeats.
pub(crate) trait Lenient: Sized + Default {
    /// What the field holds, for errors.
    const EXPECTING: &'static str;

    /// The value read from `v`; `None` when fastjson would refuse it too. `null` never
    /// reaches this (it is the type's default, as for a Java primitive left unset).
    fn coerce(v: &serde_json::Value) -> Option<Self>;
}

/// An integer from a JSON number, a string of digits or a boolean (fastjson truncates
/// decimals and reads booleans as 1/0); `""` and `"null"` are Java's `null`.
fn coerce_i64(v: &serde_json::Value) -> Option<i64> {
    fn from_f64(f: f64) -> Option<i64> {
        // `as` saturates; the range check keeps out-of-range values errors, not clamps.
        (f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64).then(|| f.trunc() as i64)
    }
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(from_f64)),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || s == "null" || s == "NULL" {
                return Some(0);
            }
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(from_f64))
        }
        serde_json::Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

impl Lenient for i64 {
    const EXPECTING: &'static str = "an integer (number or string of digits)";

    fn coerce(v: &serde_json::Value) -> Option<Self> {
        coerce_i64(v)
    }
}

impl Lenient for i32 {
    const EXPECTING: &'static str = "a 32-bit integer (number or string of digits)";

    fn coerce(v: &serde_json::Value) -> Option<Self> {
        coerce_i64(v).and_then(|n| i32::try_from(n).ok())
    }
}

impl Lenient for bool {
    const EXPECTING: &'static str = "a boolean (true/false, 1/0, \"true\"/\"false\", \"1\"/\"0\")";

    fn coerce(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Bool(b) => Some(*b),
            // castToBoolean: `intValue() == 1`.
            serde_json::Value::Number(n) => Some(n.as_i64() == Some(1)),
            serde_json::Value::String(s) => {
                let s = s.trim();
                if s.is_empty() || s.eq_ignore_ascii_case("null") {
                    Some(false)
                } else if s.eq_ignore_ascii_case("true") || s == "1" || s == "Y" || s == "T" {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") || s == "0" || s == "N" || s == "F" {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

impl Lenient for String {
    const EXPECTING: &'static str = "a string (or a number or boolean)";

    fn coerce(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

fn unexpected(v: &serde_json::Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match v {
        serde_json::Value::Null => Unexpected::Unit,
        serde_json::Value::Bool(b) => Unexpected::Bool(*b),
        serde_json::Value::Number(_) => Unexpected::Other("number"),
        serde_json::Value::String(s) => Unexpected::Str(s),
        serde_json::Value::Array(_) => Unexpected::Seq,
        serde_json::Value::Object(_) => Unexpected::Map,
    }
}

struct Expecting(&'static str);

impl serde::de::Expected for Expecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn coerce_value<T: Lenient, E: serde::de::Error>(v: &serde_json::Value) -> Result<T, E> {
    if v.is_null() {
        return Ok(T::default());
    }
    T::coerce(v).ok_or_else(|| E::invalid_type(unexpected(v), &Expecting(T::EXPECTING)))
}

/// A [`Lenient`] scalar; `null` is the default.
pub(crate) fn scalar<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient,
{
    let v = serde_json::Value::deserialize(d)?;
    coerce_value(&v)
}

/// An optional [`Lenient`] scalar (a nullable Java object field); `null` is `None`.
pub(crate) fn scalar_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient,
{
    let v = serde_json::Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    coerce_value(&v).map(Some)
}

/// A set of [`Lenient`] scalars (`Set<Integer>`, `Set<String>`); `null` is empty, and so
/// is a `null` element skipped (a Java `HashSet` may hold one, our set cannot).
pub(crate) fn scalar_set<'de, D, T>(d: D) -> Result<BTreeSet<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient + Ord,
{
    let v = serde_json::Value::deserialize(d)?;
    match v {
        serde_json::Value::Null => Ok(BTreeSet::new()),
        serde_json::Value::Array(items) => items
            .iter()
            .filter(|i| !i.is_null())
            .map(coerce_value)
            .collect(),
        other => Err(serde::de::Error::invalid_type(
            unexpected(&other),
            &Expecting("an array"),
        )),
    }
}

/// A Java enum by name (`"CLUSTERING"`), by ordinal (`1`) or by ordinal as a string
/// (`"1"`); `null` and `""` are `None` (fastjson reads an empty string as `null`).
pub(crate) fn enum_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = serde_json::Value::deserialize(d)?;
    let v = match v {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            match t.parse::<u64>() {
                Ok(n) => serde_json::Value::from(n),
                Err(_) => serde_json::Value::String(s),
            }
        }
        other => other,
    };
    T::deserialize(v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A queue whose fields are read leniently (`queueId` as `"0"`), for the bodies that
/// carry queue sets; [`MessageQueue`] itself stays strict because it is also a map key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LenientQueue {
    #[serde(default, deserialize_with = "scalar")]
    topic: String,
    #[serde(default, deserialize_with = "scalar")]
    broker_name: String,
    #[serde(default, deserialize_with = "scalar")]
    queue_id: i32,
}

/// A set of queues with lenient fields; `null` is empty.
pub(crate) fn queue_set<'de, D>(d: D) -> Result<BTreeSet<MessageQueue>, D::Error>
where
    D: Deserializer<'de>,
{
    let items = Option::<Vec<Option<LenientQueue>>>::deserialize(d)?.unwrap_or_default();
    Ok(items
        .into_iter()
        .flatten()
        .map(|q| MessageQueue::new(q.topic, q.broker_name, q.queue_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_in_every_fastjson_form() {
        for (v, want) in [
            (json!(17), Some(17)),
            (json!("17"), Some(17)),
            (json!(" -3 "), Some(-3)),
            (json!(2.9), Some(2)),
            (json!("2.9"), Some(2)),
            (json!(true), Some(1)),
            (json!(""), Some(0)),
            (json!("x"), None),
            (json!([1]), None),
            (json!(1e300), None),
        ] {
            assert_eq!(i64::coerce(&v), want, "{v}");
        }
        assert_eq!(i32::coerce(&json!("2147483648")), None, "out of range");
        assert_eq!(i32::coerce(&json!("-2147483648")), Some(i32::MIN));
    }

    #[test]
    fn booleans_and_strings_in_every_fastjson_form() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(1), Some(true)),
            (json!(0), Some(false)),
            (json!("1"), Some(true)),
            (json!("0"), Some(false)),
            (json!("TRUE"), Some(true)),
            (json!("false"), Some(false)),
            (json!("yes"), None),
        ] {
            assert_eq!(bool::coerce(&v), want, "{v}");
        }
        assert_eq!(String::coerce(&json!(12)).as_deref(), Some("12"));
        assert_eq!(String::coerce(&json!(false)).as_deref(), Some("false"));
        assert_eq!(String::coerce(&json!({})), None);
    }
}
