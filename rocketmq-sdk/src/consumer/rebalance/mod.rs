//! Rebalance (`RebalanceImpl`): which queues of each subscribed topic this consumer owns,
//! recomputed every `rebalance_interval` and whenever the broker says the group changed;
//! and where a newly owned queue starts (`computePullFromWhere`).

pub mod allocate;

use std::collections::BTreeSet;

use tracing::debug;

use super::config::{ConsumeFrom, DEFAULT_TIMESTAMP_LOOKBACK};
use super::offset_store::OffsetStore;
use crate::client::Client;
use crate::error::Result;
use crate::protocol::body::MessageModel;
use crate::protocol::message::MessageQueue;
use allocate::AllocateStrategy;

/// The queues of `topic` this consumer should own: every readable queue when
/// broadcasting; its share of the sorted queues among the sorted group members when
/// clustering.
///
/// # Errors
/// No route for the topic, or no broker answered the membership query.
pub(crate) async fn target_queues(
    client: &Client,
    group: &str,
    topic: &str,
    model: MessageModel,
    strategy: &dyn AllocateStrategy,
) -> Result<BTreeSet<MessageQueue>> {
    let route = client.topic_route(topic).await?;
    let mut mq_all = route.subscribe_queues.clone();
    mq_all.sort();
    if model == MessageModel::Broadcasting {
        return Ok(mq_all.into_iter().collect());
    }
    if mq_all.is_empty() {
        return Ok(BTreeSet::new());
    }
    let me = client.client_id();
    let cid_all = match client.consumer_ids(topic, group).await {
        Ok(ids) if ids.iter().any(|c| c == me) => ids,
        _ => {
            // The broker has not heard of us yet (e.g. the topic's route was unknown at
            // the last heartbeat): announce ourselves and ask again.
            client.inner.send_heartbeat_to_all().await;
            client.consumer_ids(topic, group).await?
        }
    };
    let mine = strategy.allocate(group, me, &mq_all, &cid_all);
    debug!(
        group,
        topic,
        strategy = strategy.name(),
        consumers = cid_all.len(),
        queues = mq_all.len(),
        mine = mine.len(),
        "allocated"
    );
    Ok(mine.into_iter().filter(|q| q.topic == topic).collect())
}

/// What changes for one topic: queues to give up and queues to take.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) removed: Vec<MessageQueue>,
    pub(crate) added: Vec<MessageQueue>,
}

/// Compares the owned queues of `topic` with the target set.
pub(crate) fn diff<'a>(
    topic: &str,
    owned: impl IntoIterator<Item = &'a MessageQueue>,
    target: &BTreeSet<MessageQueue>,
) -> Diff {
    let owned: BTreeSet<&MessageQueue> = owned.into_iter().filter(|q| q.topic == topic).collect();
    Diff {
        removed: owned
            .iter()
            .filter(|q| !target.contains(**q))
            .map(|q| (*q).clone())
            .collect(),
        added: target
            .iter()
            .filter(|q| !owned.contains(q))
            .cloned()
            .collect(),
    }
}

/// Where to start a newly owned queue (`computePullFromWhereWithException`): the stored
/// offset when there is one, else as `consume_from` says.
///
/// # Errors
/// The stored offset could not be read (the queue is retried at the next rebalance), or
/// the queue's bounds could not be queried.
pub(crate) async fn start_offset(
    client: &Client,
    store: &OffsetStore,
    mq: &MessageQueue,
    consume_from: ConsumeFrom,
    started_ms: i64,
) -> Result<i64> {
    if let Some(o) = store.read_stored(mq).await? {
        return Ok(o);
    }
    let retry = super::api::is_retry_topic(&mq.topic);
    let offset = match consume_from {
        ConsumeFrom::LastOffset if retry => 0,
        ConsumeFrom::LastOffset => client.max_offset(mq).await?,
        ConsumeFrom::FirstOffset => 0,
        ConsumeFrom::Timestamp(_) if retry => client.max_offset(mq).await?,
        ConsumeFrom::Timestamp(ts) => {
            let lookback = i64::try_from(DEFAULT_TIMESTAMP_LOOKBACK.as_millis()).unwrap_or(0);
            let ts = ts.unwrap_or(started_ms - lookback);
            client.search_offset(mq, ts).await?
        }
    };
    debug!(queue = %mq, offset, ?consume_from, "no stored offset");
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_only_looks_at_the_topic() {
        let q = |t: &str, i| MessageQueue::new(t, "b", i);
        let owned = [q("T", 0), q("T", 1), q("U", 0)];
        let target: BTreeSet<_> = [q("T", 1), q("T", 2)].into_iter().collect();
        let d = diff("T", owned.iter(), &target);
        assert_eq!(d.removed, [q("T", 0)]);
        assert_eq!(d.added, [q("T", 2)]);
        assert_eq!(
            diff("T", owned.iter(), &owned[..2].iter().cloned().collect()),
            Diff::default()
        );
    }
}
