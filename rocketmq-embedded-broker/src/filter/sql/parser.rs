//! Recursive descent over upstream's selector grammar, with the checks upstream's
//! expression factories make while parsing (`ComparisonExpression.checkLessThanOperand`,
//! `checkEqualOperand`, the BETWEEN bounds, IN on a property only, boolean operands for
//! AND/OR/NOT).
//!
//! Precedence, loosest first: `OR`; `AND`; `=`, `<>`, `IS [NOT] NULL`; `>`, `>=`, `<`,
//! `<=`, `[NOT] BETWEEN`, `[NOT] IN`, `[NOT] CONTAINS|STARTSWITH|ENDSWITH`; unary `+`, `-`,
//! `NOT`; literals, properties and parentheses.
//!
//! Two bounds keep hostile input from exhausting the stack: the parser's own nesting
//! (parentheses and unary operators) and the depth of the tree it builds (chains such as
//! `a = b = c = ...` nest without parentheses) are both capped at [`super::MAX_DEPTH`].
//! `AND`/`OR` chains are kept flat, so long conjunctions cost width, not depth.

use super::lexer::{Spanned, Token};
use super::{MAX_DEPTH, SqlError};

/// A literal value (upstream `ConstantExpression` / `BooleanConstantExpression`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    /// A decimal literal within Java `int` range (upstream narrows those to `Integer`,
    /// which decides how a property compared with it is parsed).
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

/// The comparison behind `=`, `>`, `>=`, `<`, `<=` (`<>` is `NOT =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The string predicates of 4.9/5.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// A compiled expression node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Literal),
    Property(String),
    /// A property used where a boolean is expected (upstream `createBooleanCast`).
    BoolCast(String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>),
    In {
        property: String,
        values: Vec<String>,
        negated: bool,
    },
    /// `[NOT] CONTAINS|STARTSWITH|ENDSWITH 'pattern'`: upstream gives these two-valued
    /// logic (a missing property or an empty pattern is FALSE, negated or not).
    Str {
        op: StrOp,
        value: Box<Expr>,
        pattern: String,
        negated: bool,
    },
    /// `value >= low AND value <= high`, or when negated `value < low OR value > high`;
    /// one node so that `value` is not copied.
    Between {
        value: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
}

impl Expr {
    /// Whether upstream types this as a `BooleanExpression`.
    fn is_boolean(&self) -> bool {
        match self {
            Expr::Literal(l) => matches!(l, Literal::Null | Literal::Bool(_)),
            Expr::BoolCast(_)
            | Expr::Not(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Compare(..)
            | Expr::IsNull(_)
            | Expr::In { .. }
            | Expr::Str { .. }
            | Expr::Between { .. } => true,
            Expr::Property(_) | Expr::Neg(_) => false,
        }
    }
}

/// An expression and the depth of its tree.
struct Node {
    expr: Expr,
    depth: usize,
}

impl Node {
    fn leaf(expr: Expr) -> Node {
        Node { expr, depth: 1 }
    }
}

pub(crate) struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    /// Current recursion through parentheses and unary operators.
    nesting: usize,
}

/// Parses a whole expression into a boolean tree.
pub(crate) fn parse(tokens: Vec<Spanned>) -> Result<Expr, SqlError> {
    let mut p = Parser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    if p.peek() == &Token::Eof {
        return Err(SqlError::Empty);
    }
    let start = p.offset();
    let node = p.or_expr()?;
    if p.peek() != &Token::Eof {
        return Err(p.unexpected("an operator or the end of the expression"));
    }
    as_boolean(node, start).map(|n| n.expr)
}

/// Upstream `asBooleanExpression`: a property becomes a boolean cast; any other
/// non-boolean is an error.
fn as_boolean(node: Node, offset: usize) -> Result<Node, SqlError> {
    match node.expr {
        Expr::Property(name) => Ok(Node {
            expr: Expr::BoolCast(name),
            depth: node.depth,
        }),
        e if e.is_boolean() => Ok(Node {
            expr: e,
            depth: node.depth,
        }),
        _ => Err(SqlError::Invalid {
            message: "expression will not result in a boolean value".to_owned(),
            position: offset,
        }),
    }
}

/// A node over `children`, refused when it would be deeper than [`MAX_DEPTH`].
fn branch(expr: Expr, child_depth: usize, offset: usize) -> Result<Node, SqlError> {
    let depth = child_depth + 1;
    if depth > MAX_DEPTH {
        return Err(SqlError::TooDeep {
            max: MAX_DEPTH,
            position: offset,
        });
    }
    Ok(Node { expr, depth })
}

fn invalid(message: impl Into<String>, offset: usize) -> SqlError {
    SqlError::Invalid {
        message: message.into(),
        position: offset,
    }
}

/// Upstream `checkLessThanOperand`: only numbers (or expressions that are not boolean)
/// can be ordered.
fn check_orderable(e: &Expr, offset: usize) -> Result<(), SqlError> {
    match e {
        Expr::Literal(Literal::Int(_) | Literal::Long(_) | Literal::Double(_)) => Ok(()),
        Expr::Literal(_) => Err(invalid(
            "only numbers can be compared with >, >=, <, <= or BETWEEN",
            offset,
        )),
        e if e.is_boolean() => Err(invalid(
            "a boolean expression cannot be compared with >, >=, <, <= or BETWEEN",
            offset,
        )),
        _ => Ok(()),
    }
}

/// Upstream `checkEqualOperand` and `checkEqualOperandCompatability`.
fn check_equality(left: &Expr, right: &Expr, offset: usize) -> Result<(), SqlError> {
    if matches!(left, Expr::Literal(Literal::Null)) || matches!(right, Expr::Literal(Literal::Null))
    {
        return Err(invalid("NULL cannot be compared; use IS NULL", offset));
    }
    if let (Expr::Literal(Literal::Bool(_)), Expr::Literal(r)) = (left, right)
        && !matches!(r, Literal::Bool(_))
    {
        return Err(invalid(
            "a boolean literal cannot be compared with a non-boolean literal",
            offset,
        ));
    }
    Ok(())
}

/// Orders two literals as upstream's parse-time BETWEEN check does; `None` when they do
/// not compare.
fn literal_order(a: &Literal, b: &Literal) -> Option<std::cmp::Ordering> {
    let num = |l: &Literal| match l {
        Literal::Int(v) => Some(f64::from(*v)),
        #[allow(clippy::cast_precision_loss)]
        Literal::Long(v) => Some(*v as f64),
        Literal::Double(v) => Some(*v),
        _ => None,
    };
    match (a, b) {
        (Literal::Int(x), Literal::Int(y)) => Some(x.cmp(y)),
        (Literal::Int(_) | Literal::Long(_), Literal::Int(_) | Literal::Long(_)) => {
            Some(long_of(a).cmp(&long_of(b)))
        }
        _ => Some(num(a)?.total_cmp(&num(b)?)),
    }
}

fn long_of(l: &Literal) -> i64 {
    match l {
        Literal::Int(v) => i64::from(*v),
        Literal::Long(v) => *v,
        _ => 0,
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].token
    }

    fn peek2(&self) -> &Token {
        &self.tokens[(self.pos + 1).min(self.tokens.len() - 1)].token
    }

    fn offset(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].offset
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == t {
            self.bump();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expected: &str) -> SqlError {
        SqlError::Unexpected {
            expected: expected.to_owned(),
            found: self.peek().describe(),
            position: self.offset(),
        }
    }

    fn expect(&mut self, t: &Token, expected: &str) -> Result<(), SqlError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&mut self) -> Result<(), SqlError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(SqlError::TooDeep {
                max: MAX_DEPTH,
                position: self.offset(),
            });
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Node, SqlError> {
        let start = self.offset();
        let first = self.and_expr()?;
        if self.peek() != &Token::Or {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut terms = vec![as_boolean(first, start)?.expr];
        while self.peek() == &Token::Or {
            self.bump();
            let at = self.offset();
            let term = as_boolean(self.and_expr()?, at)?;
            depth = depth.max(term.depth);
            terms.push(term.expr);
        }
        branch(Expr::Or(terms), depth, start)
    }

    fn and_expr(&mut self) -> Result<Node, SqlError> {
        let start = self.offset();
        let first = self.equality_expr()?;
        if self.peek() != &Token::And {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut terms = vec![as_boolean(first, start)?.expr];
        while self.peek() == &Token::And {
            self.bump();
            let at = self.offset();
            let term = as_boolean(self.equality_expr()?, at)?;
            depth = depth.max(term.depth);
            terms.push(term.expr);
        }
        branch(Expr::And(terms), depth, start)
    }

    fn equality_expr(&mut self) -> Result<Node, SqlError> {
        let start = self.offset();
        let mut left = self.comparison_expr()?;
        loop {
            let at = self.offset();
            match self.peek() {
                Token::Eq | Token::Ne => {
                    let negate = self.bump() == Token::Ne;
                    let right = self.comparison_expr()?;
                    check_equality(&left.expr, &right.expr, at)?;
                    let depth = left.depth.max(right.depth);
                    let cmp = Expr::Compare(CmpOp::Eq, Box::new(left.expr), Box::new(right.expr));
                    left = branch(cmp, depth, start)?;
                    if negate {
                        left = branch(Expr::Not(Box::new(left.expr)), left.depth, start)?;
                    }
                }
                Token::Is => {
                    self.bump();
                    let negate = self.eat(&Token::Not);
                    self.expect(&Token::Null, "NULL after IS")?;
                    left = branch(Expr::IsNull(Box::new(left.expr)), left.depth, start)?;
                    if negate {
                        left = branch(Expr::Not(Box::new(left.expr)), left.depth, start)?;
                    }
                }
                _ => return Ok(left),
            }
        }
    }

    fn comparison_expr(&mut self) -> Result<Node, SqlError> {
        let start = self.offset();
        let mut left = self.unary_expr()?;
        loop {
            let at = self.offset();
            let negate = self.peek() == &Token::Not
                && matches!(
                    self.peek2(),
                    Token::Between
                        | Token::In
                        | Token::Contains
                        | Token::StartsWith
                        | Token::EndsWith
                );
            if negate {
                self.bump();
            }
            let op = match self.peek() {
                Token::Gt => Some(CmpOp::Gt),
                Token::Ge => Some(CmpOp::Ge),
                Token::Lt => Some(CmpOp::Lt),
                Token::Le => Some(CmpOp::Le),
                _ => None,
            };
            let next = if let Some(op) = op {
                self.bump();
                let right = self.unary_expr()?;
                check_orderable(&left.expr, at)?;
                check_orderable(&right.expr, at)?;
                let depth = left.depth.max(right.depth);
                branch(
                    Expr::Compare(op, Box::new(left.expr), Box::new(right.expr)),
                    depth,
                    start,
                )?
            } else {
                match self.peek().clone() {
                    Token::Between => {
                        self.bump();
                        let low = self.unary_expr()?;
                        self.expect(&Token::And, "AND between the bounds of BETWEEN")?;
                        let high = self.unary_expr()?;
                        self.between(left, low, high, negate, start, at)?
                    }
                    Token::In => {
                        self.bump();
                        let Expr::Property(property) = left.expr else {
                            return Err(invalid("IN applies to a property only", at));
                        };
                        let values = self.string_list()?;
                        branch(
                            Expr::In {
                                property,
                                values,
                                negated: negate,
                            },
                            left.depth,
                            start,
                        )?
                    }
                    t @ (Token::Contains | Token::StartsWith | Token::EndsWith) => {
                        self.bump();
                        let op = match t {
                            Token::Contains => StrOp::Contains,
                            Token::StartsWith => StrOp::StartsWith,
                            _ => StrOp::EndsWith,
                        };
                        let pattern = self.string_literal()?;
                        let expr = Expr::Str {
                            op,
                            value: Box::new(left.expr),
                            pattern,
                            negated: negate,
                        };
                        branch(expr, left.depth, start)?
                    }
                    _ => return Ok(left),
                }
            };
            left = next;
        }
    }

    /// Upstream `createBetween` / `createNotBetween`: `v >= low AND v <= high`, or
    /// `v < low OR v > high`; literal bounds must not be NULL and must be in order.
    fn between(
        &mut self,
        value: Node,
        low: Node,
        high: Node,
        negate: bool,
        start: usize,
        at: usize,
    ) -> Result<Node, SqlError> {
        if !negate && let (Expr::Literal(l), Expr::Literal(h)) = (&low.expr, &high.expr) {
            if matches!(l, Literal::Null) || matches!(h, Literal::Null) {
                return Err(invalid("the bounds of BETWEEN cannot be NULL", at));
            }
            if literal_order(h, l) == Some(std::cmp::Ordering::Less) {
                return Err(invalid(
                    "the low bound of BETWEEN must be less than or equal to the high bound",
                    at,
                ));
            }
        }
        for e in [&value.expr, &low.expr, &high.expr] {
            check_orderable(e, at)?;
        }
        let depth = value.depth.max(low.depth).max(high.depth);
        let expr = Expr::Between {
            value: Box::new(value.expr),
            low: Box::new(low.expr),
            high: Box::new(high.expr),
            negated: negate,
        };
        branch(expr, depth, start)
    }

    fn string_literal(&mut self) -> Result<String, SqlError> {
        match self.peek().clone() {
            Token::Str(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("a string literal")),
        }
    }

    fn string_list(&mut self) -> Result<Vec<String>, SqlError> {
        self.expect(&Token::LParen, "`(` after IN")?;
        let mut values = vec![self.string_literal()?];
        while self.eat(&Token::Comma) {
            values.push(self.string_literal()?);
        }
        self.expect(&Token::RParen, "`,` or `)` in the IN list")?;
        Ok(values)
    }

    fn unary_expr(&mut self) -> Result<Node, SqlError> {
        let start = self.offset();
        match self.peek() {
            Token::Plus => {
                self.bump();
                self.enter()?;
                let n = self.unary_expr();
                self.nesting -= 1;
                n
            }
            Token::Minus => {
                self.bump();
                self.enter()?;
                let n = self.unary_expr();
                self.nesting -= 1;
                let n = n?;
                branch(Expr::Neg(Box::new(n.expr)), n.depth, start)
            }
            Token::Not => {
                self.bump();
                self.enter()?;
                let at = self.offset();
                let n = self.unary_expr();
                self.nesting -= 1;
                let n = as_boolean(n?, at)?;
                branch(Expr::Not(Box::new(n.expr)), n.depth, start)
            }
            _ => self.primary_expr(),
        }
    }

    fn primary_expr(&mut self) -> Result<Node, SqlError> {
        let literal = match self.peek().clone() {
            Token::Str(s) => Literal::Str(s),
            Token::Int(v) => match i32::try_from(v) {
                Ok(i) => Literal::Int(i),
                Err(_) => Literal::Long(v),
            },
            Token::Float(v) => Literal::Double(v),
            Token::True => Literal::Bool(true),
            Token::False => Literal::Bool(false),
            Token::Null => Literal::Null,
            Token::Ident(name) => {
                self.bump();
                return Ok(Node::leaf(Expr::Property(name)));
            }
            Token::LParen => {
                self.bump();
                self.enter()?;
                let n = self.or_expr();
                self.nesting -= 1;
                let n = n?;
                self.expect(&Token::RParen, "`)`")?;
                return Ok(n);
            }
            _ => return Err(self.unexpected("a literal, a property or `(`")),
        };
        self.bump();
        Ok(Node::leaf(Expr::Literal(literal)))
    }
}
