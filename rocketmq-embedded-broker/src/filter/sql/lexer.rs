//! Tokens of upstream's selector grammar (`SelectorParser.jj`): case-insensitive keywords,
//! `'...'` strings with `''` for a quote, decimal and floating literals, identifiers of
//! `[A-Za-z_$][A-Za-z0-9_$]*`, and `--` / `/* */` comments, which upstream skips too.

use super::SqlError;

/// One token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub(crate) token: Token,
    pub(crate) offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    /// A decimal literal (an `L` suffix dropped), already range-checked as a Java `long`.
    Int(i64),
    Float(f64),
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Eof,
}

impl Token {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Ident(s) => format!("identifier `{s}`"),
            Token::Str(s) => format!("string '{s}'"),
            Token::Int(v) => format!("number {v}"),
            Token::Float(v) => format!("number {v}"),
            Token::Eof => "end of expression".to_owned(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Token::Not => "NOT",
            Token::And => "AND",
            Token::Or => "OR",
            Token::Between => "BETWEEN",
            Token::In => "IN",
            Token::True => "TRUE",
            Token::False => "FALSE",
            Token::Null => "NULL",
            Token::Is => "IS",
            Token::Contains => "CONTAINS",
            Token::StartsWith => "STARTSWITH",
            Token::EndsWith => "ENDSWITH",
            Token::Eq => "=",
            Token::Ne => "<>",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::Comma => ",",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Ident(_) | Token::Str(_) | Token::Int(_) | Token::Float(_) | Token::Eof => "",
        }
    }
}

fn keyword(word: &str) -> Option<Token> {
    const KEYWORDS: [(&str, Token); 12] = [
        ("NOT", Token::Not),
        ("AND", Token::And),
        ("OR", Token::Or),
        ("BETWEEN", Token::Between),
        ("IN", Token::In),
        ("TRUE", Token::True),
        ("FALSE", Token::False),
        ("NULL", Token::Null),
        ("IS", Token::Is),
        ("CONTAINS", Token::Contains),
        ("STARTSWITH", Token::StartsWith),
        ("ENDSWITH", Token::EndsWith),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, t)| t.clone())
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_part(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

/// Splits `src` into tokens, ending with [`Token::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Spanned>, SqlError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let single = |token| Spanned {
            token,
            offset: start,
        };
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some(end) = src[i + 2..].find("*/") else {
                    return Err(SqlError::UnterminatedComment { position: start });
                };
                i += 2 + end + 2;
            }
            b'\'' => {
                let (value, next) = string_literal(src, i)?;
                out.push(single(Token::Str(value)));
                i = next;
            }
            b'0'..=b'9' | b'.' => {
                let (token, next) = number(src, i)?;
                out.push(single(token));
                i = next;
            }
            b if is_ident_start(b) => {
                while i < bytes.len() && is_ident_part(bytes[i]) {
                    i += 1;
                }
                let word = &src[start..i];
                let token = keyword(word).unwrap_or_else(|| Token::Ident(word.to_owned()));
                out.push(single(token));
            }
            _ => {
                let two = bytes.get(i + 1).copied();
                let (token, len) = match (b, two) {
                    (b'<', Some(b'>')) => (Token::Ne, 2),
                    (b'<', Some(b'=')) => (Token::Le, 2),
                    (b'>', Some(b'=')) => (Token::Ge, 2),
                    (b'<', _) => (Token::Lt, 1),
                    (b'>', _) => (Token::Gt, 1),
                    (b'=', _) => (Token::Eq, 1),
                    (b'(', _) => (Token::LParen, 1),
                    (b')', _) => (Token::RParen, 1),
                    (b',', _) => (Token::Comma, 1),
                    (b'+', _) => (Token::Plus, 1),
                    (b'-', _) => (Token::Minus, 1),
                    _ => {
                        let found = src[i..].chars().next().unwrap_or('\u{fffd}');
                        return Err(SqlError::UnexpectedChar {
                            found,
                            position: start,
                        });
                    }
                };
                out.push(single(token));
                i += len;
            }
        }
    }
    out.push(Spanned {
        token: Token::Eof,
        offset: src.len(),
    });
    Ok(out)
}

/// A string literal starting at the quote at `start`; returns the value and the offset
/// after the closing quote.
fn string_literal(src: &str, start: usize) -> Result<(String, usize), SqlError> {
    let bytes = src.as_bytes();
    let mut value = String::new();
    let mut i = start + 1;
    let mut run = i;
    loop {
        match bytes.get(i) {
            None => return Err(SqlError::UnterminatedString { position: start }),
            Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => {
                value.push_str(&src[run..=i]);
                i += 2;
                run = i;
            }
            Some(b'\'') => {
                value.push_str(&src[run..i]);
                return Ok((value, i + 1));
            }
            // Quotes are ASCII, so stepping bytewise never splits a character we keep:
            // runs are copied between quote positions only.
            Some(_) => i += 1,
        }
    }
}

/// A decimal or floating literal at `start` (a digit, or a `.` that must be followed by
/// one).
fn number(src: &str, start: usize) -> Result<(Token, usize), SqlError> {
    let bytes = src.as_bytes();
    let digits = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits(start);
    let mut i = int_end;
    let mut is_float = false;
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1);
        is_float = true;
        if int_end == start && i == start + 1 {
            // A lone `.`: not a number, and no other token starts with it.
            return Err(SqlError::UnexpectedChar {
                found: '.',
                position: start,
            });
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            i = exp_end;
            is_float = true;
        }
    }
    let text = &src[start..i];
    let invalid = |reason| SqlError::InvalidNumber {
        text: text.to_owned(),
        position: start,
        reason,
    };
    if is_float {
        let value: f64 = text.parse().map_err(|_| invalid("not a number"))?;
        if !value.is_finite() {
            return Err(invalid("out of the range of a double"));
        }
        return Ok((Token::Float(value), i));
    }
    if text.len() > 1 && text.starts_with('0') {
        // Upstream's DECIMAL_LITERAL is `0 | [1-9][0-9]*`: no octal, no leading zeros.
        return Err(invalid("leading zeros are not allowed"));
    }
    if matches!(bytes.get(i), Some(b'l' | b'L')) {
        i += 1;
    }
    let value: i64 = text
        .parse()
        .map_err(|_| invalid("out of the range of a long"))?;
    Ok((Token::Int(value), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .map(|s| s.token)
            .collect()
    }

    #[test]
    fn keywords_are_case_insensitive_identifiers_are_not() {
        assert_eq!(
            tokens("a AnD Region between x"),
            [
                Token::Ident("a".into()),
                Token::And,
                Token::Ident("Region".into()),
                Token::Between,
                Token::Ident("x".into()),
                Token::Eof
            ]
        );
    }

    #[test]
    fn strings_unescape_doubled_quotes() {
        assert_eq!(
            tokens("'it''s' 'é'''"),
            [
                Token::Str("it's".into()),
                Token::Str("é'".into()),
                Token::Eof
            ]
        );
        assert!(matches!(
            tokenize("a = 'open"),
            Err(SqlError::UnterminatedString { position: 4 })
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            tokens("0 10 7L 1.5 5. .5 5E2 2.5e-1"),
            [
                Token::Int(0),
                Token::Int(10),
                Token::Int(7),
                Token::Float(1.5),
                Token::Float(5.0),
                Token::Float(0.5),
                Token::Float(500.0),
                Token::Float(0.25),
                Token::Eof
            ]
        );
        assert!(matches!(
            tokenize("99999999999999999999"),
            Err(SqlError::InvalidNumber { .. })
        ));
        assert!(matches!(
            tokenize("007"),
            Err(SqlError::InvalidNumber { .. })
        ));
        assert!(matches!(
            tokenize("1e999"),
            Err(SqlError::InvalidNumber { .. })
        ));
    }

    #[test]
    fn operators_and_comments() {
        assert_eq!(
            tokens("a<>b<=c>=d<e>f=g -- note\n/* block */(,)+-"),
            [
                Token::Ident("a".into()),
                Token::Ne,
                Token::Ident("b".into()),
                Token::Le,
                Token::Ident("c".into()),
                Token::Ge,
                Token::Ident("d".into()),
                Token::Lt,
                Token::Ident("e".into()),
                Token::Gt,
                Token::Ident("f".into()),
                Token::Eq,
                Token::Ident("g".into()),
                Token::LParen,
                Token::Comma,
                Token::RParen,
                Token::Plus,
                Token::Minus,
                Token::Eof
            ]
        );
        assert!(matches!(
            tokenize("a /* open"),
            Err(SqlError::UnterminatedComment { position: 2 })
        ));
        assert!(matches!(
            tokenize("a = \"x\""),
            Err(SqlError::UnexpectedChar {
                found: '"',
                position: 4
            })
        ));
    }
}
