//! How one header field is written to and read from its string form in `extFields`.

use std::borrow::Cow;

use crate::protocol::{ExtFields, ProtocolError};

/// A type that can be the value of a custom-header field.
///
/// Writing is strict (what the Java and Rust brokers both accept: decimal numbers,
/// `"true"`/`"false"`, enum names); reading is lenient where Java peers or older
/// clients are known to vary (see the implementations).
pub trait HeaderValue: Sized {
    /// The string put into `extFields`.
    fn to_header_value(&self) -> Cow<'_, str>;

    /// Parses a received string; `None` means "not a valid value of this type".
    fn parse_header_value(s: &str) -> Option<Self>;

    /// Appends the string form to `out` (what [`to_header_value`](Self::to_header_value)
    /// returns); numbers override it to skip a temporary `String`.
    fn write_header_value(&self, out: &mut String) {
        out.push_str(&self.to_header_value());
    }
}

impl HeaderValue for String {
    fn to_header_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }

    fn parse_header_value(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

/// Booleans: Java's `Boolean.toString` on write; on read any case of `true`/`false`
/// and also `1`/`0`, which some non-Java clients send.
impl HeaderValue for bool {
    fn to_header_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }

    fn parse_header_value(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("true") || s == "1" {
            Some(true)
        } else if s.eq_ignore_ascii_case("false") || s == "0" {
            Some(false)
        } else {
            None
        }
    }
}

macro_rules! int_header_value {
    ($($t:ty),*) => {$(
        /// Decimal on write; surrounding whitespace is tolerated on read.
        impl HeaderValue for $t {
            fn to_header_value(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }

            fn parse_header_value(s: &str) -> Option<Self> {
                s.trim().parse().ok()
            }

            fn write_header_value(&self, out: &mut String) {
                push_decimal(out, i64::from(*self));
            }
        }
    )*};
}

int_header_value!(i32, i64);

/// Appends `v` in decimal. `write!` goes through the formatting machinery, which cost
/// more than the rest of writing a send header.
pub(crate) fn push_decimal(out: &mut String, v: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Writes a present value.
pub(crate) fn write_value<T: HeaderValue>(ext: &mut ExtFields, key: &'static str, value: &T) {
    ext.insert_with(key, |out| value.write_header_value(out));
}

/// Writes an optional value; `None` is omitted, as Java omits null fields.
pub(crate) fn write_optional<T: HeaderValue>(
    ext: &mut ExtFields,
    key: &'static str,
    value: &Option<T>,
) {
    if let Some(v) = value {
        write_value(ext, key, v);
    }
}

fn parse<T: HeaderValue>(key: &'static str, raw: &str) -> Result<T, ProtocolError> {
    T::parse_header_value(raw).ok_or_else(|| ProtocolError::InvalidField {
        field: key,
        value: raw.to_owned(),
    })
}

/// Reads a `@CFNotNull` field.
pub(crate) fn read_required<T: HeaderValue>(
    ext: &ExtFields,
    key: &'static str,
) -> Result<T, ProtocolError> {
    match ext.get(key) {
        Some(raw) => parse(key, raw),
        None => Err(ProtocolError::MissingField(key)),
    }
}

/// Reads a nullable field.
pub(crate) fn read_optional<T: HeaderValue>(
    ext: &ExtFields,
    key: &'static str,
) -> Result<Option<T>, ProtocolError> {
    ext.get(key).map(|raw| parse(key, raw)).transpose()
}

/// Reads a Java primitive (or defaulted) field: absent means the Java default.
pub(crate) fn read_or<T: HeaderValue>(
    ext: &ExtFields,
    key: &'static str,
    default: T,
) -> Result<T, ProtocolError> {
    match ext.get(key) {
        Some(raw) => parse(key, raw),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_like_display() {
        for v in [0, 1, -1, 9, 10, -10, 1_700_000_000_000, i64::MAX, i64::MIN] {
            let mut s = String::from("x");
            super::push_decimal(&mut s, v);
            assert_eq!(s, format!("x{v}"));
        }
    }
}
