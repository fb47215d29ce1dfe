//! fastjson compatibility: a tolerant reader that turns what fastjson writes into
//! standard JSON, and a writer that produces fastjson's shape.
//!
//! What fastjson (Java's `JSON.toJSONString` without features) does that standard JSON
//! does not:
//! * non-string map keys are written bare: `{0:"addr"}` for a `Map<Long, String>`, and
//!   `{{"brokerName":"b","queueId":0,"topic":"T"}:11110}` for a `Map<MessageQueue, Long>`;
//! * bean properties come out in alphabetical order and nulls are omitted.
//!
//! Reading: [`parse`] is a small tokenizer (strings and escapes are respected, nesting is
//! capped at [`MAX_DEPTH`], it never panics) that produces a [`serde_json::Value`]:
//! bare numeric or identifier keys become strings, and an object with object (or array)
//! keys becomes an array of `[key, value]` pairs — the legacy gson form, which
//! [`object_key_map`] reads into a map. [`from_slice`] tries standard JSON first and
//! falls back to [`parse`].
//!
//! Writing: [`to_vec`] writes any `Serialize` value the way fastjson would (bare integer
//! and object keys, struct fields sorted, nulls omitted); [`to_standard_vec`] writes the
//! same shape with every key quoted, which is what the name server sends to clients
//! that accept standard JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::{self, Serialize};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

use crate::protocol::ProtocolError;

/// Maximum nesting of objects and arrays (object keys included) that [`parse`] accepts;
/// the same as `serde_json`'s recursion limit.
pub const MAX_DEPTH: usize = 128;

const WHAT: &str = "fastjson body";

fn syntax(msg: impl fmt::Display, pos: usize) -> ProtocolError {
    ProtocolError::json(
        WHAT,
        <serde_json::Error as serde::de::Error>::custom(format_args!("{msg} at byte {pos}")),
    )
}

/// Parses fastjson (or standard) JSON into a standard [`Value`].
///
/// Bare map keys (`{0:"a"}`, `{abc:1}`) become string keys; an object with any object or
/// array key becomes `[[key, value], ...]`. Nesting deeper than [`MAX_DEPTH`], trailing
/// garbage and invalid UTF-8 are errors.
///
/// # Errors
/// [`ProtocolError`] for invalid UTF-8, malformed input,
/// nesting deeper than `MAX_DEPTH` or trailing garbage.
pub fn parse(input: &[u8]) -> Result<Value, ProtocolError> {
    let text = std::str::from_utf8(input).map_err(|_| ProtocolError::Utf8(WHAT))?;
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        pos: 0,
    };
    // A leading BOM is tolerated, as by fastjson.
    if text.starts_with('\u{feff}') {
        p.pos = 3;
    }
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.b.len() {
        return Err(syntax("trailing characters", p.pos));
    }
    Ok(v)
}

/// Rewrites fastjson output as standard JSON text (see [`parse`]).
///
/// # Errors
/// As [`parse`].
pub fn normalize(input: &[u8]) -> Result<String, ProtocolError> {
    let v = parse(input)?;
    serde_json::to_string(&v).map_err(|e| ProtocolError::json(WHAT, e))
}

/// Decodes a body that may be standard JSON or fastjson output.
///
/// Standard JSON is decoded directly; anything else goes through [`parse`] first.
///
/// # Errors
/// [`ProtocolError`] when the input is neither standard
/// JSON nor fastjson output, or does not have `T`'s shape.
pub fn from_slice<T: DeserializeOwned>(
    input: &[u8],
    what: &'static str,
) -> Result<T, ProtocolError> {
    if let Ok(v) = serde_json::from_slice::<T>(input) {
        return Ok(v);
    }
    let value = parse(input).map_err(|e| match e {
        ProtocolError::Json { source, .. } => ProtocolError::json(what, source),
        ProtocolError::Utf8(_) => ProtocolError::Utf8(what),
        other => other,
    })?;
    serde_json::from_value(value).map_err(|e| ProtocolError::json(what, e))
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

enum Key {
    Str(String),
    Complex(Value),
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), ProtocolError> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(syntax(format_args!("expected `{}`", c as char), self.pos))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        self.ws();
        match self.peek() {
            None => Err(syntax("unexpected end of input", self.pos)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(c) if is_ident_start(c) => {
                let start = self.pos;
                let word = self.ident();
                match word {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "null" => Ok(Value::Null),
                    _ => Err(syntax("unexpected identifier", start)),
                }
            }
            Some(_) => Err(syntax("unexpected character", self.pos)),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), ProtocolError> {
        if depth > MAX_DEPTH {
            Err(syntax(
                format_args!("nesting deeper than {MAX_DEPTH}"),
                self.pos,
            ))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(syntax("expected `,` or `]`", self.pos)),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut entries: Vec<(Key, Value)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Map::new()));
        }
        loop {
            self.ws();
            let key = match self.peek() {
                Some(b'"') => Key::Str(self.string()?),
                Some(b'{' | b'[') => Key::Complex(self.value(depth)?),
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    self.scan_number()?;
                    Key::Str(self.s[start..self.pos].to_owned())
                }
                Some(c) if is_ident_start(c) => Key::Str(self.ident().to_owned()),
                _ => return Err(syntax("expected an object key", self.pos)),
            };
            self.expect(b':')?;
            let value = self.value(depth)?;
            entries.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(syntax("expected `,` or `}`", self.pos)),
            }
        }
        if entries.iter().any(|(k, _)| matches!(k, Key::Complex(_))) {
            let pairs = entries
                .into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::Str(s) => Value::String(s),
                        Key::Complex(v) => v,
                    };
                    Value::Array(vec![k, v])
                })
                .collect();
            Ok(Value::Array(pairs))
        } else {
            let mut map = Map::new();
            for (k, v) in entries {
                if let Key::Str(k) = k {
                    map.insert(k, v);
                }
            }
            Ok(Value::Object(map))
        }
    }

    fn ident(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_ident_start(c) || c.is_ascii_digit() {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    fn string(&mut self) -> Result<String, ProtocolError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        loop {
            match self.peek() {
                None => return Err(syntax("unterminated string", start)),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        // The slice is bounded by ASCII quotes, so it lies on char boundaries.
        let raw = self
            .s
            .get(start..self.pos)
            .ok_or_else(|| syntax("unterminated string", start))?;
        serde_json::from_str::<String>(raw).map_err(|e| ProtocolError::json(WHAT, e))
    }

    fn scan_number(&mut self) -> Result<(), ProtocolError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > s
        };
        if !digits(self) {
            return Err(syntax("invalid number", start));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(syntax("invalid number", start));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(syntax("invalid number", start));
            }
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Value, ProtocolError> {
        let start = self.pos;
        self.scan_number()?;
        let text = &self.s[start..self.pos];
        serde_json::from_str::<Number>(text)
            .map(Value::Number)
            .map_err(|e| ProtocolError::json(WHAT, e))
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$'
}

// ---------------------------------------------------------------------------------------
// Reading maps whose keys are objects.

/// `#[serde(deserialize_with = "object_key_map::deserialize")]` for a map whose keys are
/// objects (e.g. `Map<MessageQueue, Long>`).
///
/// Accepts the forms such a map arrives in: `[[key, value], ...]` (what [`parse`] makes
/// of fastjson object keys, and the legacy gson form), and an object whose string keys
/// hold the key's JSON (`{"{\"brokerName\":...}":1}`). Duplicate keys: the last wins.
pub mod object_key_map {
    use super::*;

    /// Deserializes the map; see the module docs for the accepted forms.
    ///
    /// # Errors
    /// The deserializer's error when the map has none of the accepted forms.
    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: DeserializeOwned + Ord,
        V: Deserialize<'de>,
    {
        d.deserialize_any(MapVisitor(PhantomData))
    }

    struct MapVisitor<K, V>(PhantomData<(K, V)>);

    impl<'de, K, V> serde::de::Visitor<'de> for MapVisitor<K, V>
    where
        K: DeserializeOwned + Ord,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map with object keys, or an array of [key, value] pairs")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = seq.next_element::<(K, V)>()? {
                out.insert(k, v);
            }
            Ok(out)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                let k: K = serde_json::from_str(&key).map_err(A::Error::custom)?;
                let v: V = map.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writing.

/// Writes `value` as fastjson would: integer, boolean and object map keys bare, struct
/// fields sorted by name, null fields and null map values omitted.
///
/// # Errors
/// [`ProtocolError`] when `value` cannot be serialized (a
/// serializer error).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(128);
    value
        .serialize(Writer {
            out: &mut out,
            standard: false,
        })
        .map_err(|e| ProtocolError::json(WHAT, e))?;
    Ok(out)
}

/// Writes `value` in the same shape as [`to_vec`] but as standard JSON: every map key is
/// quoted. Maps with object keys cannot be written this way and are an error.
///
/// # Errors
/// [`ProtocolError`] for maps with object keys (they only
/// have the fastjson form) or a serializer error.
pub fn to_standard_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(128);
    value
        .serialize(Writer {
            out: &mut out,
            standard: true,
        })
        .map_err(|e| ProtocolError::json("standard JSON body", e))?;
    Ok(out)
}

/// Writes a map with object keys in fastjson's exact form, e.g.
/// `{{"brokerName":"b","queueId":0,"topic":"T"}:11110}` for a `MessageQueue`-keyed
/// offset table, which is what Java clients expect to receive.
///
/// # Errors
/// [`ProtocolError`] when a key or value cannot be
/// serialized.
pub fn to_fastjson_object_keys<K: Serialize, V: Serialize>(
    map: &BTreeMap<K, V>,
) -> Result<String, ProtocolError> {
    let bytes = to_vec(map)?;
    String::from_utf8(bytes).map_err(|_| ProtocolError::Utf8(WHAT))
}

type SerError = serde_json::Error;

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    standard: bool,
}

fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), SerError> {
    serde_json::to_writer(out, s)
}

impl<'a> Writer<'a> {
    fn raw(self, s: &str) -> Result<(), SerError> {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn to_buf<T: Serialize + ?Sized>(value: &T, standard: bool) -> Result<Vec<u8>, SerError> {
    let mut buf = Vec::new();
    value.serialize(Writer {
        out: &mut buf,
        standard,
    })?;
    Ok(buf)
}

macro_rules! write_display {
    ($($m:ident: $t:ty),*) => {$(
        fn $m(self, v: $t) -> Result<(), SerError> {
            self.raw(&v.to_string())
        }
    )*};
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = SeqWriter<'a>;
    type SerializeTupleStruct = SeqWriter<'a>;
    type SerializeTupleVariant = ser::Impossible<(), SerError>;
    type SerializeMap = MapWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = ser::Impossible<(), SerError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.raw(if v { "true" } else { "false" })
    }

    write_display!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        serde_json::to_writer(self.out, &v)
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        serde_json::to_writer(self.out, &v)
    }

    fn serialize_char(self, v: char) -> Result<(), SerError> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        write_str(self.out, v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), SerError> {
        self.raw("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerError> {
        self.raw("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.raw("null")
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        write_str(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let inner = to_buf(value, self.standard)?;
        self.out.push(b'{');
        write_str(self.out, variant)?;
        self.out.push(b':');
        self.out.extend_from_slice(&inner);
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqWriter<'a>, SerError> {
        self.out.push(b'[');
        Ok(SeqWriter {
            out: self.out,
            standard: self.standard,
            first: true,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqWriter<'a>, SerError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'a>, SerError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(<SerError as ser::Error>::custom(format_args!(
            "tuple variant {variant} has no fastjson form"
        )))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapWriter<'a>, SerError> {
        self.out.push(b'{');
        Ok(MapWriter {
            out: self.out,
            standard: self.standard,
            first: true,
            key: Vec::new(),
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<StructWriter<'a>, SerError> {
        Ok(StructWriter {
            out: self.out,
            standard: self.standard,
            fields: Vec::with_capacity(len),
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(<SerError as ser::Error>::custom(format_args!(
            "struct variant {variant} has no fastjson form"
        )))
    }
}

struct SeqWriter<'a> {
    out: &'a mut Vec<u8>,
    standard: bool,
    first: bool,
}

impl SeqWriter<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: &mut *self.out,
            standard: self.standard,
        })
    }

    fn close(self) -> Result<(), SerError> {
        self.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeSeq for SeqWriter<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        self.close()
    }
}

impl ser::SerializeTuple for SeqWriter<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for SeqWriter<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.element(value)
    }

    fn end(self) -> Result<(), SerError> {
        self.close()
    }
}

struct MapWriter<'a> {
    out: &'a mut Vec<u8>,
    standard: bool,
    first: bool,
    key: Vec<u8>,
}

impl ser::SerializeMap for MapWriter<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key.clear();
        key.serialize(KeyWriter {
            out: &mut self.key,
            standard: self.standard,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let v = to_buf(value, self.standard)?;
        if v == b"null" {
            return Ok(());
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(&self.key);
        self.out.push(b':');
        self.out.extend_from_slice(&v);
        Ok(())
    }

    fn end(self) -> Result<(), SerError> {
        self.out.push(b'}');
        Ok(())
    }
}

struct StructWriter<'a> {
    out: &'a mut Vec<u8>,
    standard: bool,
    fields: Vec<(&'static str, Vec<u8>)>,
}

impl ser::SerializeStruct for StructWriter<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let v = to_buf(value, self.standard)?;
        if v != b"null" {
            self.fields.push((key, v));
        }
        Ok(())
    }

    fn end(mut self) -> Result<(), SerError> {
        self.fields.sort_by(|a, b| a.0.cmp(b.0));
        self.out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(self.out, k)?;
            self.out.push(b':');
            self.out.extend_from_slice(v);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// Writes a map key: strings quoted; numbers and booleans bare (fastjson) or quoted
/// (standard); objects and arrays bare (fastjson only).
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
    standard: bool,
}

impl<'a> KeyWriter<'a> {
    fn scalar(self, text: &str) -> Result<(), SerError> {
        if self.standard {
            write_str(self.out, text)
        } else {
            self.out.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }

    fn complex(self) -> Result<Writer<'a>, SerError> {
        if self.standard {
            Err(<SerError as ser::Error>::custom(
                "standard JSON cannot have object keys; use the fastjson form",
            ))
        } else {
            Ok(Writer {
                out: self.out,
                standard: false,
            })
        }
    }
}

macro_rules! key_display {
    ($($m:ident: $t:ty),*) => {$(
        fn $m(self, v: $t) -> Result<(), SerError> {
            self.scalar(&v.to_string())
        }
    )*};
}

impl<'a> ser::Serializer for KeyWriter<'a> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = SeqWriter<'a>;
    type SerializeTupleStruct = SeqWriter<'a>;
    type SerializeTupleVariant = ser::Impossible<(), SerError>;
    type SerializeMap = MapWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = ser::Impossible<(), SerError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        self.scalar(if v { "true" } else { "false" })
    }

    key_display!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        let text = serde_json::to_string(&v)?;
        self.scalar(&text)
    }

    fn serialize_char(self, v: char) -> Result<(), SerError> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        write_str(self.out, v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        self.complex()?.serialize_bytes(v)
    }

    fn serialize_none(self) -> Result<(), SerError> {
        self.scalar("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerError> {
        self.scalar("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.scalar("null")
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        write_str(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.complex()?
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqWriter<'a>, SerError> {
        self.complex()?.serialize_seq(len)
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqWriter<'a>, SerError> {
        self.complex()?.serialize_tuple(len)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'a>, SerError> {
        self.complex()?.serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        self.complex()?
            .serialize_tuple_variant(name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapWriter<'a>, SerError> {
        self.complex()?.serialize_map(len)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<StructWriter<'a>, SerError> {
        self.complex()?.serialize_struct(name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        self.complex()?
            .serialize_struct_variant(name, index, variant, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numeric_keys_become_strings() {
        let v = parse(br#"{"brokerAddrs":{0:"a:1",1:"b:2"},"x":-1}"#).unwrap();
        assert_eq!(v["brokerAddrs"]["0"], "a:1");
        assert_eq!(v["brokerAddrs"]["1"], "b:2");
        assert_eq!(v["x"], -1);
    }

    #[test]
    fn strings_are_never_rewritten() {
        let input = br#"{"k":"{0:\"x\"}, \\\"}{","m":{"{1:2}":3}}"#;
        let v = parse(input).unwrap();
        assert_eq!(v["k"], "{0:\"x\"}, \\\"}{");
        assert_eq!(v["m"]["{1:2}"], 3);
    }

    #[test]
    fn object_keys_become_pairs() {
        let v = parse(br#"{"t":{{"a":1}:2,{"a":3}:4}}"#).unwrap();
        assert_eq!(v["t"], serde_json::json!([[{"a":1},2],[{"a":3},4]]));
    }

    #[test]
    fn depth_is_capped() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let keys = "{".repeat(100_000);
        assert!(parse(keys.as_bytes()).is_err());
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"[1,]",
            b"{1:2,}",
            b"\"abc",
            b"\"\\",
            b"-",
            b"1.",
            b"1e",
            b"{} x",
            b"nul",
            b"{:1}",
            b"\xff",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writer_sorts_fields_and_omits_nulls() {
        #[derive(serde::Serialize)]
        struct S {
            zeta: i32,
            alpha: Option<String>,
            beta: BTreeMap<i64, Option<String>>,
        }
        let mut beta = BTreeMap::new();
        beta.insert(1, Some("x".to_owned()));
        beta.insert(2, None);
        let s = S {
            zeta: 1,
            alpha: None,
            beta,
        };
        assert_eq!(to_vec(&s).unwrap(), br#"{"beta":{1:"x"},"zeta":1}"#);
        assert_eq!(
            to_standard_vec(&s).unwrap(),
            br#"{"beta":{"1":"x"},"zeta":1}"#
        );
    }
}
