//! Hashes that must match the Java implementation bit for bit: `String.hashCode`, the
//! consume-queue tags code, the index-file key hash and the masked body CRC.

/// Java `String.hashCode()`: `h = 31*h + c` over UTF-16 code units, wrapping at 32 bits.
///
/// Iterating UTF-16 rather than bytes or chars matters for anything outside ASCII: a
/// non-BMP character contributes its two surrogates.
pub fn java_string_hash(s: &str) -> i32 {
    java_string_hash_continue(0, s)
}

/// Continues a Java string hash `h` over `s`, as if `s` were appended to the string
/// whose hash is `h`; lets callers hash a concatenation without allocating it.
pub fn java_string_hash_continue(h: i32, s: &str) -> i32 {
    if s.is_ascii() {
        // ASCII bytes are their own UTF-16 units; this is the common case for tags.
        s.bytes()
            .fold(h, |h, b| h.wrapping_mul(31).wrapping_add(i32::from(b)))
    } else {
        s.encode_utf16()
            .fold(h, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }
}

/// The consume-queue tags code of a TAGS value: its Java hash sign-extended to `i64`.
///
/// For MULTI_TAG topics Java hashes the whole TAGS string too, so this covers both.
pub fn tags_code(tags: &str) -> i64 {
    i64::from(java_string_hash(tags))
}

/// The tags code a message stores: 0 without tags (or with empty tags), else [`tags_code`].
pub fn tags_code_opt(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => tags_code(t),
        _ => 0,
    }
}

/// The index-file hash of `key` for `topic`: `abs(hashCode(topic + "#" + key))`, with
/// `i32::MIN` (whose absolute value overflows in Java) mapped to 0.
pub fn index_key_hash(topic: &str, key: &str) -> i32 {
    let h = java_string_hash_continue(java_string_hash_continue(java_string_hash(topic), "#"), key);
    if h == i32::MIN { 0 } else { h.abs() }
}

/// Java `UtilAll.crc32`: the standard CRC-32 (IEEE) masked to 31 bits so it fits a
/// non-negative Java `int`.
pub fn crc32_masked(data: &[u8]) -> u32 {
    crc32fast::hash(data) & 0x7FFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_values() {
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        // U+1F600 is the surrogate pair 0xD83D 0xDE00: 31 * 55_357 + 56_832 = 1_772_899.
        assert_eq!(java_string_hash("😀"), 31 * 0xD83D + 0xDE00);
        assert_eq!(java_string_hash("😀"), 1_772_899);
        // "é" is one UTF-16 unit 0xE9 (two UTF-8 bytes).
        assert_eq!(java_string_hash("é"), 0xE9);
        // Known Java value: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert!(java_string_hash("The quick brown fox jumps over the lazy dog") < 0);
        assert_eq!(
            java_string_hash("The quick brown fox jumps over the lazy dog"),
            -609_428_141
        );
    }

    #[test]
    fn tags_and_index() {
        assert_eq!(tags_code("TagA"), 2_598_919);
        assert_eq!(
            tags_code("The quick brown fox jumps over the lazy dog"),
            -609_428_141_i64
        );
        assert_eq!(tags_code_opt(None), 0);
        assert_eq!(tags_code_opt(Some("")), 0);
        assert_eq!(index_key_hash("T", "k"), java_string_hash("T#k").abs());
        assert_eq!(
            index_key_hash("The quick brown fox", "jumps over the lazy dog"),
            java_string_hash("The quick brown fox#jumps over the lazy dog").wrapping_abs()
        );
        assert!(index_key_hash("The quick brown fox", "jumps over the lazy dog") >= 0);
    }

    #[test]
    fn crc_values() {
        // crc32("hello") = 0x3610A686; the top bit is already clear.
        assert_eq!(crc32_masked(b"hello"), 0x3610_A686);
        // crc32("123456789") = 0xCBF43926, masked to 0x4BF43926.
        assert_eq!(crc32_masked(b"123456789"), 0x4BF4_3926);
        assert_eq!(crc32_masked(b""), 0);
    }
}
