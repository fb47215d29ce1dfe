//! Evaluation with upstream's semantics: SQL three-valued logic (a missing property is
//! NULL, comparisons with NULL are unknown, unknown never matches), Java's type promotion
//! between `Integer`, `Long`, `Double` and the property strings (`ComparisonExpression
//! .__compare` with string conversion on), and conversion failures as evaluation errors,
//! which upstream's broker logs and treats as "does not match" for the whole message.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::parser::{CmpOp, Expr, Literal, StrOp};
use super::{EvalError, PropertySource};

/// A runtime value: what a Java `Expression.evaluate` returns.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Cow<'a, str>),
}

impl Value<'_> {
    fn truth(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

fn from_truth<'a>(t: Option<bool>) -> Value<'a> {
    t.map_or(Value::Null, Value::Bool)
}

/// Evaluates `expr`; `Ok(None)` is SQL's unknown.
pub(crate) fn evaluate(expr: &Expr, props: &dyn PropertySource) -> Result<Option<bool>, EvalError> {
    Ok(eval(expr, props)?.truth())
}

fn eval<'a>(expr: &Expr, props: &'a dyn PropertySource) -> Result<Value<'a>, EvalError> {
    Ok(match expr {
        Expr::Literal(l) => match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(v) => Value::Int(*v),
            Literal::Long(v) => Value::Long(*v),
            Literal::Double(v) => Value::Double(*v),
            Literal::Str(s) => Value::Str(Cow::Owned(s.clone())),
        },
        Expr::Property(name) => props.property(name).map_or(Value::Null, Value::Str),
        // Property values are strings, never booleans: a bare property is FALSE when
        // present (upstream `createBooleanCast`).
        Expr::BoolCast(name) => match props.property(name) {
            None => Value::Null,
            Some(_) => Value::Bool(false),
        },
        Expr::Neg(e) => match eval(e, props)? {
            Value::Int(v) => Value::Int(v.wrapping_neg()),
            Value::Long(v) => Value::Long(v.wrapping_neg()),
            Value::Double(v) => Value::Double(-v),
            _ => Value::Null,
        },
        Expr::Not(e) => from_truth(eval(e, props)?.truth().map(|b| !b)),
        Expr::And(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, props)?.truth() {
                    Some(false) => return Ok(Value::Bool(false)),
                    Some(true) => {}
                    None => unknown = true,
                }
            }
            from_truth((!unknown).then_some(true))
        }
        Expr::Or(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, props)?.truth() {
                    Some(true) => return Ok(Value::Bool(true)),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            from_truth((!unknown).then_some(false))
        }
        Expr::Compare(op, l, r) => {
            let lv = eval(l, props)?;
            let rv = eval(r, props)?;
            from_truth(compare_op(*op, &lv, &rv)?)
        }
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => {
            let v = eval(value, props)?;
            let lo = eval(low, props)?;
            let (lo_op, hi_op) = if *negated {
                (CmpOp::Lt, CmpOp::Gt)
            } else {
                (CmpOp::Ge, CmpOp::Le)
            };
            let first = compare_op(lo_op, &v, &lo)?;
            // The same short circuit as upstream's AND / OR of the two comparisons.
            if first == Some(*negated) {
                return Ok(Value::Bool(*negated));
            }
            let hi = eval(high, props)?;
            let second = compare_op(hi_op, &v, &hi)?;
            if second == Some(*negated) {
                return Ok(Value::Bool(*negated));
            }
            match (first, second) {
                (Some(_), Some(_)) => Value::Bool(!*negated),
                _ => Value::Null,
            }
        }
        Expr::IsNull(e) => Value::Bool(eval(e, props)? == Value::Null),
        Expr::In {
            property,
            values,
            negated,
        } => match props.property(property) {
            None => Value::Null,
            Some(v) => Value::Bool(values.iter().any(|x| *x == *v) ^ negated),
        },
        Expr::Str {
            op,
            value,
            pattern,
            negated,
        } => {
            if pattern.is_empty() {
                return Ok(Value::Bool(false));
            }
            match eval(value, props)? {
                Value::Str(s) => Value::Bool(
                    match op {
                        StrOp::Contains => s.contains(pattern.as_str()),
                        StrOp::StartsWith => s.starts_with(pattern.as_str()),
                        StrOp::EndsWith => s.ends_with(pattern.as_str()),
                    } ^ negated,
                ),
                _ => Value::Bool(false),
            }
        }
    })
}

/// One comparison; `None` is unknown.
fn compare_op(op: CmpOp, lv: &Value<'_>, rv: &Value<'_>) -> Result<Option<bool>, EvalError> {
    if op == CmpOp::Eq {
        return match (lv, rv) {
            (Value::Null, Value::Null) => Ok(Some(true)),
            (Value::Null, _) => Ok(None),
            (_, Value::Null) => Ok(Some(false)),
            _ if same_value(lv, rv) => Ok(Some(true)),
            _ => Ok(Some(java_compare(lv, rv)? == Ordering::Equal)),
        };
    }
    if *lv == Value::Null || *rv == Value::Null {
        return Ok(None);
    }
    let ord = match (lv, rv) {
        // Upstream orders two strings only when both read as doubles.
        (Value::Str(a), Value::Str(b)) => java_double(a)?.total_cmp(&java_double(b)?),
        _ => java_compare(lv, rv)?,
    };
    Ok(Some(match op {
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Eq => ord == Ordering::Equal,
    }))
}

/// Java `equals` between two values of the same class.
fn same_value(lv: &Value<'_>, rv: &Value<'_>) -> bool {
    match (lv, rv) {
        (Value::Double(a), Value::Double(b)) => a.total_cmp(b) == Ordering::Equal,
        (Value::Double(_), _) | (_, Value::Double(_)) => false,
        _ => lv == rv,
    }
}

/// Upstream `__compare` with string conversion: values of different classes are brought
/// to a common one (a string is parsed as the other side's number class); pairs with no
/// conversion order as "less" (so they are never equal).
fn java_compare(lv: &Value<'_>, rv: &Value<'_>) -> Result<Ordering, EvalError> {
    use Value::{Bool, Double, Int, Long, Str};
    #[allow(clippy::cast_precision_loss)]
    let as_f64 = |v: i64| v as f64;
    Ok(match (lv, rv) {
        (Bool(a), Bool(b)) => a.cmp(b),
        (Int(a), Int(b)) => a.cmp(b),
        (Long(a), Long(b)) => a.cmp(b),
        (Double(a), Double(b)) => a.total_cmp(b),
        (Str(a), Str(b)) => a.as_ref().cmp(b.as_ref()),

        (Int(a), Long(b)) => i64::from(*a).cmp(b),
        (Long(a), Int(b)) => a.cmp(&i64::from(*b)),
        (Int(a), Double(b)) => f64::from(*a).total_cmp(b),
        (Double(a), Int(b)) => a.total_cmp(&f64::from(*b)),
        (Long(a), Double(b)) => as_f64(*a).total_cmp(b),
        (Double(a), Long(b)) => a.total_cmp(&as_f64(*b)),

        (Int(a), Str(b)) => a.cmp(&java_int(b)?),
        (Long(a), Str(b)) => a.cmp(&java_long(b)?),
        (Double(a), Str(b)) => a.total_cmp(&java_double(b)?),
        (Str(a), Int(b)) => java_int(a)?.cmp(b),
        (Str(a), Long(b)) => java_long(a)?.cmp(b),
        (Str(a), Double(b)) => java_double(a)?.total_cmp(b),
        (Str(a), Bool(b)) => a.eq_ignore_ascii_case("true").cmp(b),
        // Upstream casts the boolean to a string here and fails.
        (Bool(_), Str(_)) => return Err(EvalError::Incomparable),
        _ => Ordering::Less,
    })
}

fn not_a(value: &str, target: &'static str) -> EvalError {
    EvalError::NotANumber {
        value: value.chars().take(64).collect(),
        target,
    }
}

/// Java `Integer.valueOf(String)`: optional sign, decimal digits, nothing else.
fn java_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| not_a(s, "int"))
}

/// Java `Long.valueOf(String)`.
fn java_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| not_a(s, "long"))
}

/// Java `Double.valueOf(String)`, near enough: surrounding whitespace and a `d`/`f`
/// suffix are accepted, `NaN` and `Infinity` only in Java's spelling.
fn java_double(s: &str) -> Result<f64, EvalError> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "NaN" || unsigned == "Infinity" {
        return t.parse().map_err(|_| not_a(s, "double"));
    }
    let t = t
        .strip_suffix(['d', 'D', 'f', 'F'])
        .filter(|rest| rest.ends_with(|c: char| c.is_ascii_digit() || c == '.'))
        .unwrap_or(t);
    if t.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return Err(not_a(s, "double"));
    }
    t.parse().map_err(|_| not_a(s, "double"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_parsing() {
        assert_eq!(java_int("+5").unwrap(), 5);
        assert_eq!(java_int("-007").unwrap(), -7);
        assert!(java_int(" 5").is_err());
        assert!(java_int("2147483648").is_err());
        assert_eq!(java_long("2147483648").unwrap(), 2_147_483_648);
        assert_eq!(java_double(" 1.5 ").unwrap(), 1.5);
        assert_eq!(java_double("2f").unwrap(), 2.0);
        assert_eq!(java_double("1e3").unwrap(), 1000.0);
        assert!(java_double("Infinity").unwrap().is_infinite());
        assert!(java_double("NaN").unwrap().is_nan());
        assert!(java_double("inf").is_err());
        assert!(java_double("nan").is_err());
        assert!(java_double("abc").is_err());
        assert!(java_double("").is_err());
    }
}
