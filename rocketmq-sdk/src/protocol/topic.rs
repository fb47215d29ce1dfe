//! Topic names: validation rules and the system topics (`TopicValidator`, `MixAll`).

/// Template topic for auto-created topics (`createTopicKey`).
pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
/// Delay-level schedule topic.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Half (prepared) transaction messages.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Transaction op records.
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages that exhausted their checks.
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// 5.x timer wheel topic.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Prefix of a group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Longest ordinary topic name.
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest retry/DLQ topic name.
pub const MAX_RETRY_TOPIC_LEN: usize = 255;

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// Topics no client may send to (`TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`, the same in
/// 4.9.x and 5.x); Java's producer refuses them before sending and its broker answers
/// NO_PERMISSION. Other system topics (`TBW102`, `RMQ_SYS_TRACE_TOPIC`, `rmq_sys_*`) are
/// accepted, as there.
pub const NOT_ALLOWED_SEND_TOPICS: [&str; 6] = [
    SCHEDULE_TOPIC,
    TRANS_HALF_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

/// Whether a client may not send to `topic` (see [`NOT_ALLOWED_SEND_TOPICS`]).
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
}

/// Whether `topic` is a broker-internal topic (`TopicValidator.isSystemTopic` and the
/// `rmq_sys_`/`RMQ_SYS_` prefixes).
pub fn is_system_topic(topic: &str) -> bool {
    matches!(
        topic,
        AUTO_CREATE_TOPIC_KEY
            | SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | TIMER_TOPIC
            | "BenchmarkTest"
            | "OFFSET_MOVED_EVENT"
            | "SELF_TEST_TOPIC"
            | "RMQ_SYS_TRACE_TOPIC"
    ) || topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
}

/// Why a topic name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Empty or blank.
    #[error("the topic name is empty")]
    Empty,
    /// Longer than allowed.
    #[error("the topic name is {len} characters, more than the {max} allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A character outside `[%|a-zA-Z0-9_-]`.
    #[error("the topic name {0:?} contains characters other than letters, digits and %|_-")]
    IllegalCharacter(String),
}

/// Checks `topic` against `^[%|a-zA-Z0-9_-]+$` and the length limit (255 for retry and
/// DLQ topics, 127 otherwise).
///
/// # Errors
/// [`TopicError`] saying which rule the name breaks.
pub fn validate_topic(topic: &str) -> Result<(), TopicError> {
    if topic.trim().is_empty() {
        return Err(TopicError::Empty);
    }
    let max = if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
        || topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
    {
        MAX_RETRY_TOPIC_LEN
    } else {
        MAX_TOPIC_LEN
    };
    if topic.len() > max {
        return Err(TopicError::TooLong {
            len: topic.len(),
            max,
        });
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"%|_-".contains(&b))
    {
        return Err(TopicError::IllegalCharacter(topic.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(validate_topic("Orders_2024-x|%").is_ok());
        assert_eq!(validate_topic(" "), Err(TopicError::Empty));
        assert!(matches!(
            validate_topic("a.b"),
            Err(TopicError::IllegalCharacter(_))
        ));
        assert!(matches!(
            validate_topic(&"a".repeat(128)),
            Err(TopicError::TooLong { max: 127, .. })
        ));
        assert!(validate_topic(&format!("%RETRY%{}", "g".repeat(200))).is_ok());
        assert!(is_system_topic("TBW102") && is_system_topic("RMQ_SYS_TRANS_HALF_TOPIC"));
        assert!(!is_system_topic("orders"));
        assert!(is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(is_not_allowed_send_topic("OFFSET_MOVED_EVENT"));
        for allowed in [
            "TBW102",
            "RMQ_SYS_TRACE_TOPIC",
            "rmq_sys_wheel_timer",
            "orders",
        ] {
            assert!(!is_not_allowed_send_topic(allowed), "{allowed}");
        }
        assert_eq!(retry_topic("g"), "%RETRY%g");
        assert_eq!(dlq_topic("g"), "%DLQ%g");
    }
}
