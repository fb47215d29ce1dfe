//! Arbitrary text as an SQL92 subscription (the broker compiles what any client sends),
//! and whatever compiles evaluated against a few property sets.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use rocketmq_embedded_broker::filter::sql::SqlSelector;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selector) = SqlSelector::parse(text) else {
        return;
    };
    let empty: HashMap<String, String> = HashMap::new();
    let numbers: HashMap<String, String> = [("a", "1"), ("b", "-2.5"), ("TAGS", "x")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let words: HashMap<String, String> = [("a", "eu"), ("b", ""), ("c", "NaN")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for props in [&empty, &numbers, &words] {
        let result = selector.evaluate(props);
        assert_eq!(selector.matches(props), result == Ok(Some(true)));
    }
});
