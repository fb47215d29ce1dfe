//! Subscriptions as the consumer builders collect them (one expression per topic) and their
//! validation into the `SubscriptionData` announced in heartbeats.

use crate::client::config_error;
use crate::error::Result;
use crate::protocol::body::SubscriptionData;
use crate::protocol::header::ExpressionType;
use crate::protocol::topic::validate_topic;

/// Requested subscriptions: topic, expression, language. A later request for a topic
/// replaces the earlier one.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionList(Vec<(String, String, ExpressionType)>);

impl SubscriptionList {
    pub(crate) fn set(&mut self, topic: String, expression: String, kind: ExpressionType) {
        self.0.retain(|(t, _, _)| *t != topic);
        self.0.push((topic, expression, kind));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<(String, String, ExpressionType)> {
        self.0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(String, String, ExpressionType)> {
        self.0.iter()
    }
}

/// Validates `topic` and builds its subscription; errors name the topic.
pub(crate) fn build(
    topic: &str,
    expression: &str,
    kind: ExpressionType,
) -> Result<SubscriptionData> {
    validate_topic(topic).map_err(|e| config_error("subscribe", e.to_string()))?;
    SubscriptionData::build(topic.to_owned(), expression, Some(kind))
        .map_err(|e| config_error("subscribe", format!("{topic}: {e}")))
}
