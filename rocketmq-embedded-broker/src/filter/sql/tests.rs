use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Evaluates `expr` against `pairs`.
fn eval(expr: &str, pairs: &[(&str, &str)]) -> Result<Option<bool>, EvalError> {
    SqlSelector::parse(expr)
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
        .evaluate(&props(pairs))
}

fn matches(expr: &str, pairs: &[(&str, &str)]) -> bool {
    SqlSelector::parse(expr)
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
        .matches(&props(pairs))
}

fn parse_err(expr: &str) -> SqlError {
    match SqlSelector::parse(expr) {
        Ok(s) => panic!("{expr:?} should not parse, got {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn equality_on_strings() {
    assert!(matches("region = 'eu'", &[("region", "eu")]));
    assert!(!matches("region = 'eu'", &[("region", "us")]));
    assert!(!matches("region = 'eu'", &[("region", "EU")]));
    assert!(matches("'eu' = region", &[("region", "eu")]));
    assert!(matches("name = 'it''s'", &[("name", "it's")]));
    assert!(matches("region <> 'eu'", &[("region", "us")]));
    assert!(!matches("region <> 'eu'", &[("region", "eu")]));
}

#[test]
fn missing_property_is_unknown_not_an_error() {
    assert_eq!(eval("region = 'eu'", &[]), Ok(None));
    assert_eq!(eval("region <> 'eu'", &[]), Ok(None));
    assert_eq!(eval("amount > 100", &[]), Ok(None));
    assert_eq!(eval("amount BETWEEN 1 AND 2", &[]), Ok(None));
    assert_eq!(eval("region IN ('eu')", &[]), Ok(None));
    assert_eq!(eval("region NOT IN ('eu')", &[]), Ok(None));
    assert_eq!(eval("NOT (region = 'eu')", &[]), Ok(None));
    assert!(!matches("NOT (region = 'eu')", &[]));
}

#[test]
fn numeric_comparisons_parse_the_property() {
    let p = [("amount", "150")];
    assert!(matches("amount > 100", &p));
    assert!(matches("amount >= 150", &p));
    assert!(!matches("amount < 150", &p));
    assert!(matches("amount <= 150", &p));
    assert!(matches("amount = 150", &p));
    assert!(matches("amount <> 151", &p));
    assert!(matches("amount > 99.5", &p));
    assert!(matches("amount > -5", &p));
    assert!(matches("100 < amount", &p));
    // Beyond int range the literal is a long, and so is the property.
    assert!(matches("big > 2147483648", &[("big", "9999999999")]));
    // Within int range the literal is an int, and so must the property be.
    assert!(!matches("big > 2147483647", &[("big", "9999999999")]));
    // An int literal makes the property an int, as upstream: a decimal value fails...
    assert!(!matches("amount > 100", &[("amount", "150.5")]));
    assert!(matches!(
        eval("amount > 100", &[("amount", "150.5")]),
        Err(EvalError::NotANumber { target: "int", .. })
    ));
    // ... while a decimal literal takes it.
    assert!(matches("amount > 100.0", &[("amount", "150.5")]));
    // Non-numeric values never match and never fail the broker.
    assert!(!matches("amount > 100", &[("amount", "lots")]));
    assert!(!matches("amount = 100", &[("amount", "lots")]));
    // Two properties are ordered as doubles.
    assert!(matches("a < b", &[("a", "1.5"), ("b", "10")]));
    assert!(!matches("a < b", &[("a", "x"), ("b", "10")]));
}

#[test]
fn a_failed_conversion_fails_the_whole_message() {
    // Upstream throws out of the evaluation: the OR does not rescue the message.
    assert!(!matches(
        "amount > 1 OR region = 'eu'",
        &[("amount", "x"), ("region", "eu")]
    ));
    // The short circuit happens before the failing side is reached.
    assert!(matches(
        "region = 'eu' OR amount > 1",
        &[("amount", "x"), ("region", "eu")]
    ));
}

#[test]
fn between() {
    let p = [("n", "5")];
    assert!(matches("n BETWEEN 1 AND 5", &p));
    assert!(matches("n between 5 and 10", &p));
    assert!(!matches("n BETWEEN 6 AND 10", &p));
    assert!(matches("n NOT BETWEEN 6 AND 10", &p));
    assert!(!matches("n NOT BETWEEN 1 AND 10", &p));
    assert!(matches("n BETWEEN 4.5 AND 5.5", &p));
    assert!(matches("n BETWEEN -1 AND 5 AND TRUE", &p));
    assert!(matches!(
        parse_err("n BETWEEN 10 AND 1"),
        SqlError::Invalid { .. }
    ));
    assert!(matches!(
        parse_err("n BETWEEN 'a' AND 'b'"),
        SqlError::Invalid { .. }
    ));
    assert!(matches!(
        parse_err("n BETWEEN 1"),
        SqlError::Unexpected { .. }
    ));
}

#[test]
fn in_lists() {
    let p = [("region", "eu")];
    assert!(matches("region IN ('us', 'eu')", &p));
    assert!(!matches("region IN ('us', 'apac')", &p));
    assert!(matches("region NOT IN ('us', 'apac')", &p));
    assert!(!matches("region NOT IN ('eu')", &p));
    assert!(matches!(
        parse_err("'x' IN ('x')"),
        SqlError::Invalid { .. }
    ));
    assert!(matches!(
        parse_err("region IN (1, 2)"),
        SqlError::Unexpected { .. }
    ));
    assert!(matches!(
        parse_err("region IN ()"),
        SqlError::Unexpected { .. }
    ));
    assert!(matches!(
        parse_err("region IN ('a'"),
        SqlError::Unexpected { .. }
    ));
}

#[test]
fn is_null() {
    assert!(matches("region IS NULL", &[]));
    assert!(!matches("region IS NULL", &[("region", "eu")]));
    assert!(matches("region IS NOT NULL", &[("region", "")]));
    assert!(!matches("region is not null", &[]));
    assert!(matches!(
        parse_err("region = NULL"),
        SqlError::Invalid { .. }
    ));
    assert!(matches!(
        parse_err("region IS 5"),
        SqlError::Unexpected { .. }
    ));
}

#[test]
fn logic_is_three_valued() {
    let p = [("a", "1")];
    assert!(matches("a = 1 AND b IS NULL", &p));
    assert!(matches("a = 1 OR b = 2", &p));
    assert_eq!(eval("a = 2 OR b = 2", &p), Ok(None));
    assert_eq!(eval("a = 2 AND b = 2", &p), Ok(Some(false)));
    assert_eq!(eval("a = 1 AND b = 2", &p), Ok(None));
    assert!(matches("NOT (a = 2)", &p));
    // NOT binds tighter than `=`, as in upstream's grammar: `(NOT a) = 2` compares a
    // boolean with a number, which is never equal.
    assert!(!matches("NOT a = 2", &p));
    assert!(matches("NOT NOT (a = 1)", &p));
    assert!(matches("(a = 2 OR a = 1) AND NOT (a = 3)", &p));
    // AND binds tighter than OR.
    assert!(matches("a = 1 OR a = 2 AND a = 3", &p));
    assert!(!matches("(a = 1 OR a = 2) AND a = 3", &p));
    assert!(matches("TRUE", &[]));
    assert!(!matches("FALSE", &[]));
    assert!(!matches("NULL", &[]));
}

#[test]
fn string_predicates() {
    let p = [("name", "order-created")];
    assert!(matches("name CONTAINS 'der-c'", &p));
    assert!(!matches("name CONTAINS 'x'", &p));
    assert!(matches("name NOT CONTAINS 'x'", &p));
    assert!(matches("name STARTSWITH 'order'", &p));
    assert!(!matches("name STARTSWITH 'created'", &p));
    assert!(matches("name NOT STARTSWITH 'created'", &p));
    assert!(matches("name ENDSWITH 'created'", &p));
    assert!(matches("name NOT ENDSWITH 'order'", &p));
    // Upstream makes these two-valued: a missing property is FALSE, not unknown, so a NOT
    // around them matches; an empty pattern is FALSE either way.
    assert_eq!(eval("name CONTAINS 'x'", &[]), Ok(Some(false)));
    assert_eq!(eval("name NOT CONTAINS 'x'", &[]), Ok(Some(false)));
    assert!(matches("NOT (name STARTSWITH 'x')", &[]));
    assert!(!matches("name CONTAINS ''", &p));
    assert!(!matches("name NOT ENDSWITH ''", &p));
    assert!(!matches("5 CONTAINS '5'", &[]));
    assert!(matches!(
        parse_err("name CONTAINS 5"),
        SqlError::Unexpected { .. }
    ));
}

#[test]
fn keywords_are_case_insensitive() {
    let p = [("a", "1"), ("b", "x")];
    assert!(matches(
        "a = 1 and b in ('x') AND b is not null or FALSE",
        &p
    ));
    assert!(matches("a Between 0 aNd 2 AND b Contains 'x' and true", &p));
}

#[test]
fn tags_and_bools() {
    let p = [("TAGS", "TagA"), ("flag", "TRUE")];
    assert!(matches("TAGS = 'TagA'", &p));
    assert!(matches("TAGS IN ('TagA', 'TagB')", &p));
    assert!(matches("flag = TRUE", &p));
    assert!(matches("flag <> FALSE", &p));
    // Upstream fails on a boolean on the left of a string.
    assert_eq!(eval("TRUE = flag", &p), Err(EvalError::Incomparable));
    // A bare property is a boolean cast: never true, since values are strings.
    assert!(!matches("flag", &p));
    assert_eq!(eval("flag", &[]), Ok(None));
}

#[test]
fn what_upstream_refuses_to_parse() {
    for bad in [
        "a > 'x'",
        "a > TRUE",
        "(a = 1) > 2",
        "a = 1 AND 5",
        "'abc'",
        "5",
        "NOT 5",
        "TRUE = 'x'",
        "NULL = a",
    ] {
        assert!(
            matches!(parse_err(bad), SqlError::Invalid { .. }),
            "{bad:?}: {:?}",
            SqlSelector::parse(bad)
        );
    }
    for bad in [
        "a =", "a b", "(a = 1", "a = 1)", "a NOT b", "a IS NOT", "= 1", "a >> 1",
    ] {
        assert!(
            matches!(parse_err(bad), SqlError::Unexpected { .. }),
            "{bad:?}: {:?}",
            SqlSelector::parse(bad)
        );
    }
    assert_eq!(parse_err(""), SqlError::Empty);
    assert_eq!(parse_err("  -- nothing\n"), SqlError::Empty);
}

#[test]
fn errors_carry_positions() {
    let e = parse_err("region = 'eu' AND amount >");
    assert_eq!(e.position(), Some(26));
    assert!(e.to_string().contains("position 26"), "{e}");
    let e = parse_err("region = 'eu' # x");
    assert_eq!(
        e,
        SqlError::UnexpectedChar {
            found: '#',
            position: 14
        }
    );
}

#[test]
fn limits_are_errors_not_crashes() {
    let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(parse_err(&deep), SqlError::TooDeep { .. }));
    let nots = format!("{}a = 1", "NOT ".repeat(5_000));
    assert!(matches!(parse_err(&nots), SqlError::TooDeep { .. }));
    // Spaced: `--` starts a comment.
    let negs = format!("a = {}1", "- ".repeat(MAX_DEPTH + 1));
    assert!(matches!(parse_err(&negs), SqlError::TooDeep { .. }));
    let chain = format!("a{}", " = a".repeat(1_000));
    assert!(matches!(parse_err(&chain), SqlError::TooDeep { .. }));
    let long = "a = 1 AND ".repeat(MAX_EXPRESSION_LEN / 10 + 1);
    assert!(matches!(parse_err(&long), SqlError::TooLong { .. }));
    // Long flat conjunctions within the length limit are fine: they cost width only.
    let wide = format!("{}TRUE", "a = 1 OR ".repeat(3_000));
    assert!(matches(&wide, &[]));
    // Nesting within the limit is fine.
    let ok = format!(
        "{}a = 1{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(matches(&ok, &[("a", "1")]));
}

#[test]
fn evaluates_against_stored_records() {
    use rocketmq_sdk::protocol::message::record::encode_record_to_vec;
    use rocketmq_sdk::protocol::message::{MessageExt, RecordRead, read_record};

    let mut m = MessageExt::from(rocketmq_sdk::protocol::message::Message::new("T", "body"));
    m.put_property("region", "eu");
    m.put_property("amount", "250");
    m.set_tags("TagA");
    let bytes = encode_record_to_vec(&m).unwrap();
    let Ok(RecordRead::Record(view)) = read_record(&bytes) else {
        panic!("record should decode");
    };
    let s = SqlSelector::parse("region = 'eu' AND amount > 100 AND TAGS = 'TagA'").unwrap();
    assert!(s.matches(&view));
    assert!(s.matches(&m));
    assert!(!SqlSelector::parse("region = 'us'").unwrap().matches(&view));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in "\\PC{0,200}") {
        let _ = SqlSelector::parse(&s);
    }
}

proptest! {
    // Each case builds a 35-way choice per token; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parse_never_panics_on_grammar_soup(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just("b"), Just("TAGS"), Just("'x'"), Just("''''"), Just("1"),
                Just("-"), Just("+"), Just("2.5"), Just("1e3"), Just("9999999999"),
                Just("("), Just(")"), Just(","), Just("="), Just("<>"), Just(">"),
                Just(">="), Just("<"), Just("<="), Just("AND"), Just("OR"), Just("NOT"),
                Just("BETWEEN"), Just("IN"), Just("IS"), Just("NULL"), Just("TRUE"),
                Just("FALSE"), Just("CONTAINS"), Just("STARTSWITH"), Just("ENDSWITH"),
                Just("'"), Just("/*"), Just("--"),
            ],
            0..40,
        ),
        a in "[-+0-9.eEx ]{0,6}",
        b in "[a-z0-9]{0,4}",
    ) {
        let expr = parts.join(" ");
        if let Ok(s) = SqlSelector::parse(&expr) {
            // Whatever compiles evaluates without panicking, and `matches` agrees with
            // `evaluate`.
            let p = props(&[("a", &a), ("b", &b), ("TAGS", "x")]);
            let r = s.evaluate(&p);
            prop_assert_eq!(s.matches(&p), r == Ok(Some(true)));
        }
    }
}

proptest! {

    #[test]
    fn integer_comparisons_agree_with_rust(x in any::<i32>(), y in any::<i32>()) {
        let p = props(&[("x", &x.to_string())]);
        let s = |op: &str| SqlSelector::parse(&format!("x {op} {y}")).map(|s| s.matches(&p));
        // A negative literal is `-` applied to a positive one, which upstream keeps as a
        // negation: i32::MIN is out of the positive int range and becomes a long.
        prop_assert_eq!(s(">"), Ok(x > y));
        prop_assert_eq!(s(">="), Ok(x >= y));
        prop_assert_eq!(s("<"), Ok(x < y));
        prop_assert_eq!(s("<="), Ok(x <= y));
        prop_assert_eq!(s("="), Ok(x == y));
        prop_assert_eq!(s("<>"), Ok(x != y));
    }
}
