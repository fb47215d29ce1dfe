//! SQL92 selectors over message properties (upstream's `filter` module, used by
//! `MessageSelector.bySql` subscriptions when the broker has `enablePropertyFilter=true`).
//!
//! ```
//! use std::collections::HashMap;
//! use rocketmq_embedded_broker::filter::sql::SqlSelector;
//!
//! let selector = SqlSelector::parse("region = 'eu' AND amount > 100")?;
//! let props = HashMap::from([
//!     ("region".to_owned(), "eu".to_owned()),
//!     ("amount".to_owned(), "250".to_owned()),
//! ]);
//! assert!(selector.matches(&props));
//! assert!(!selector.matches(&HashMap::<String, String>::new())); // missing: no match
//! # Ok::<(), rocketmq_embedded_broker::filter::sql::SqlError>(())
//! ```
//!
//! The language is upstream's (`SelectorParser.jj`): identifiers name message properties
//! (`TAGS` is the tag, `KEYS` the keys, anything set with `put_property` a user property);
//! literals are `'strings'` (a quote doubled inside), decimal integers (an `L` suffix
//! allowed), decimals with an optional exponent, `TRUE`, `FALSE` and `NULL`; operators are
//! `=`, `<>`, `>`, `>=`, `<`, `<=`, `[NOT] BETWEEN a AND b`, `[NOT] IN ('a', ...)`,
//! `IS [NOT] NULL`, `[NOT] CONTAINS 's'`, `[NOT] STARTSWITH 's'`, `[NOT] ENDSWITH 's'`,
//! `AND`, `OR`, `NOT`, unary `+`/`-` and parentheses; `--` and `/* */` comments are skipped.
//! Keywords are case-insensitive, property names are not. Precedence is upstream's: `OR`,
//! then `AND`, then `=`/`<>`/`IS`, then the other comparisons, then the unary operators —
//! so `NOT a = 'x'` reads `(NOT a) = 'x'`; write `NOT (a = 'x')`.
//!
//! Semantics, as upstream:
//! * a missing property is NULL; a comparison with NULL is unknown, and an unknown result
//!   does not match (so `NOT (a = 'x')` does not match a message without `a`); the string
//!   predicates are the exception: on a missing property, or with an empty pattern, they
//!   are FALSE (negated or not);
//! * property values are strings; compared with a number literal they are parsed as that
//!   literal's Java type (`Integer` for literals within `int` range, else `Long`; `Double`
//!   for decimals), so `amount > 100` needs an integral `amount`, `amount > 100.0` takes
//!   `"99.5"` too; ordering two properties parses both as doubles;
//! * a value that does not parse makes the whole message not match (upstream logs the
//!   exception and drops the message), it is never a broker error;
//! * what upstream rejects while parsing is rejected here: ordering with a string or
//!   boolean literal (`a > 'x'`), `= NULL`, IN on anything but a property, a literal where
//!   a condition belongs (`a = 1 AND 5`), BETWEEN with literal bounds out of order.
//!
//! Expressions longer than [`MAX_EXPRESSION_LEN`] bytes or nested deeper than
//! [`MAX_DEPTH`] are refused, so a hostile subscription cannot exhaust the broker's stack
//! or memory; upstream has no such limits, but no real selector comes near them.

mod eval;
mod lexer;
mod parser;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties, RecordView};

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 32 * 1024;

/// Deepest nesting accepted: parentheses and unary operators, and the depth of the
/// compiled tree (chained comparisons count too; `AND`/`OR` chains do not).
pub const MAX_DEPTH: usize = 64;

/// Why an expression does not compile. Positions are byte offsets into the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// Nothing but whitespace and comments.
    #[error("empty expression")]
    Empty,
    /// Longer than [`MAX_EXPRESSION_LEN`].
    #[error("expression is {len} bytes long, more than the limit of {max}")]
    TooLong {
        /// The expression's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("expression nests deeper than {max} levels at position {position}")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Where the limit was crossed.
        position: usize,
    },
    /// A character no token starts with.
    #[error("unexpected character {found:?} at position {position}")]
    UnexpectedChar {
        /// The character.
        found: char,
        /// Where it is.
        position: usize,
    },
    /// A string literal without its closing quote.
    #[error("string literal starting at position {position} is not closed")]
    UnterminatedString {
        /// Where the literal starts.
        position: usize,
    },
    /// A `/*` comment without `*/`.
    #[error("comment starting at position {position} is not closed")]
    UnterminatedComment {
        /// Where the comment starts.
        position: usize,
    },
    /// A numeric literal that is malformed or out of range.
    #[error("invalid number {text:?} at position {position}: {reason}")]
    InvalidNumber {
        /// The literal as written.
        text: String,
        /// Where it starts.
        position: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A token where the grammar wants something else.
    #[error("expected {expected} but found {found} at position {position}")]
    Unexpected {
        /// What would have been accepted.
        expected: String,
        /// What was there.
        found: String,
        /// Where.
        position: usize,
    },
    /// Well-formed but refused, as upstream refuses it (`a > 'x'`, `a = NULL`, ...).
    #[error("{message} at position {position}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Where the offending operator or operand is.
        position: usize,
    },
}

impl SqlError {
    /// The byte offset the error points at, if it points at one.
    pub fn position(&self) -> Option<usize> {
        match self {
            SqlError::Empty | SqlError::TooLong { .. } => None,
            SqlError::TooDeep { position, .. }
            | SqlError::UnexpectedChar { position, .. }
            | SqlError::UnterminatedString { position }
            | SqlError::UnterminatedComment { position }
            | SqlError::InvalidNumber { position, .. }
            | SqlError::Unexpected { position, .. }
            | SqlError::Invalid { position, .. } => Some(*position),
        }
    }
}

/// Why evaluating an expression against one message failed; the message then does not
/// match (see [`SqlSelector::matches`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A property compared with a number does not parse as that number's type.
    #[error("property value {value:?} is not a valid {target}")]
    NotANumber {
        /// The value (at most 64 characters of it).
        value: String,
        /// The Java type it had to parse as.
        target: &'static str,
    },
    /// A boolean literal on the left of a property (`TRUE = flag`): upstream fails on it.
    #[error("a boolean cannot be compared with a string")]
    Incomparable,
}

/// Where an expression finds property values.
pub trait PropertySource {
    /// The value of property `name`, if the message has it.
    fn property(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl PropertySource for RecordView<'_> {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        RecordView::property(self, name)
    }
}

impl PropertySource for Properties {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(Cow::Borrowed)
    }
}

impl PropertySource for Message {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        Message::property(self, name).map(Cow::Borrowed)
    }
}

impl PropertySource for MessageExt {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        Message::property(self, name).map(Cow::Borrowed)
    }
}

impl<S: std::hash::BuildHasher> PropertySource for HashMap<String, String, S> {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl PropertySource for BTreeMap<String, String> {
    fn property(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// A compiled SQL92 selector.
#[derive(Clone, PartialEq)]
pub struct SqlSelector {
    source: String,
    expr: parser::Expr,
}

impl fmt::Debug for SqlSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SqlSelector").field(&self.source).finish()
    }
}

impl SqlSelector {
    /// Compiles `expression`.
    ///
    /// # Errors
    /// [`SqlError`] with the position of the problem; never panics, whatever the input.
    pub fn parse(expression: &str) -> Result<Self, SqlError> {
        if expression.len() > MAX_EXPRESSION_LEN {
            return Err(SqlError::TooLong {
                len: expression.len(),
                max: MAX_EXPRESSION_LEN,
            });
        }
        let tokens = lexer::tokenize(expression)?;
        let expr = parser::parse(tokens)?;
        Ok(SqlSelector {
            source: expression.to_owned(),
            expr,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.source
    }

    /// Evaluates against one message's properties: `Ok(Some(b))` for true or false,
    /// `Ok(None)` for SQL's unknown (a NULL got in the way).
    ///
    /// # Errors
    /// [`EvalError`] when a property does not convert as a comparison needs.
    pub fn evaluate(&self, props: &dyn PropertySource) -> Result<Option<bool>, EvalError> {
        eval::evaluate(&self.expr, props)
    }

    /// Whether the message matches: the expression is true (not false, not unknown, and
    /// its evaluation did not fail), as upstream's broker decides.
    pub fn matches(&self, props: &dyn PropertySource) -> bool {
        matches!(self.evaluate(props), Ok(Some(true)))
    }
}

#[cfg(test)]
mod tests;
