//! Who is connected (upstream `ConsumerManager` + `ProducerManager`): producer and consumer
//! groups per connection, as heartbeats declare them, with the subscriptions pulls filter
//! by. Membership changes notify the group's consumers (NOTIFY_CONSUMER_IDS_CHANGED) so
//! they rebalance at once; a closed connection unregisters everything it registered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use rocketmq_sdk::protocol::body::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use rocketmq_sdk::protocol::header::NotifyConsumerIdsChangedRequestHeader;
use rocketmq_sdk::protocol::{LanguageCode, RequestCode};
use tracing::{debug, info};

use crate::processor::reply;
use crate::server::{ChannelId, ClientChannel, ConnectionListener};

/// One client connection as a group member.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    pub(crate) channel: ClientChannel,
    pub(crate) client_id: String,
    /// What the heartbeat's header said, for the connection lists admins ask for.
    pub(crate) language: LanguageCode,
    pub(crate) version: i16,
}

/// A consumer group as GET_CONSUMER_CONNECTION_LIST reports it.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerGroupView {
    pub(crate) members: Vec<ClientInfo>,
    pub(crate) subscriptions: BTreeMap<String, SubscriptionData>,
    pub(crate) consume_type: Option<ConsumeType>,
    pub(crate) message_model: Option<MessageModel>,
    pub(crate) consume_from_where: Option<ConsumeFromWhere>,
}

#[derive(Debug, Default)]
struct ConsumerGroup {
    channels: HashMap<ChannelId, ClientInfo>,
    subscriptions: HashMap<String, SubscriptionData>,
    consume_type: Option<ConsumeType>,
    message_model: Option<MessageModel>,
    consume_from_where: Option<ConsumeFromWhere>,
}

impl ConsumerGroup {
    /// Upstream `updateSubscription`: new topics and removed topics are changes; a newer
    /// version of a known topic replaces it quietly.
    fn update_subscriptions(&mut self, subs: &[SubscriptionData]) -> bool {
        let mut changed = false;
        for sub in subs {
            match self.subscriptions.get(&sub.topic) {
                None => {
                    self.subscriptions.insert(sub.topic.clone(), sub.clone());
                    changed = true;
                }
                Some(old) if sub.sub_version > old.sub_version => {
                    self.subscriptions.insert(sub.topic.clone(), sub.clone());
                }
                Some(_) => {}
            }
        }
        let before = self.subscriptions.len();
        self.subscriptions
            .retain(|topic, _| subs.iter().any(|s| &s.topic == topic));
        changed || self.subscriptions.len() != before
    }
}

/// What a consumer heartbeat registers.
#[derive(Debug)]
pub(crate) struct ConsumerRegistration<'a> {
    pub(crate) group: &'a str,
    pub(crate) consume_type: Option<ConsumeType>,
    pub(crate) message_model: Option<MessageModel>,
    pub(crate) consume_from_where: Option<ConsumeFromWhere>,
    /// `None` for a V2 heartbeat without subscriptions (they are unchanged).
    pub(crate) subscriptions: Option<&'a [SubscriptionData]>,
    pub(crate) notify_enabled: bool,
}

#[derive(Debug)]
pub(crate) struct ClientManager {
    consumers: Mutex<HashMap<String, ConsumerGroup>>,
    producers: Mutex<HashMap<String, HashMap<ChannelId, ClientInfo>>>,
    fingerprints: Mutex<HashMap<String, i32>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientManager {
    pub(crate) fn new() -> Self {
        ClientManager {
            consumers: Mutex::new(HashMap::new()),
            producers: Mutex::new(HashMap::new()),
            fingerprints: Mutex::new(HashMap::new()),
        }
    }

    /// Records a V2 heartbeat fingerprint; returns whether it differs from a known one.
    pub(crate) fn swap_fingerprint(&self, group: &str, fingerprint: i32) -> bool {
        lock(&self.fingerprints)
            .insert(group.to_owned(), fingerprint)
            .is_some_and(|old| old != fingerprint)
    }

    /// Upstream `registerConsumer`; returns whether membership or subscriptions changed.
    pub(crate) fn register_consumer(
        &self,
        reg: ConsumerRegistration<'_>,
        info: ClientInfo,
    ) -> bool {
        let (changed, notify) = {
            let mut consumers = lock(&self.consumers);
            let group = consumers.entry(reg.group.to_owned()).or_default();
            group.consume_type = reg.consume_type.or(group.consume_type);
            group.message_model = reg.message_model.or(group.message_model);
            group.consume_from_where = reg.consume_from_where.or(group.consume_from_where);
            let id = info.channel.id();
            let new_member = match group.channels.get(&id) {
                None => true,
                Some(old) => old.client_id != info.client_id,
            };
            group.channels.insert(id, info);
            let subs_changed = reg
                .subscriptions
                .is_some_and(|subs| group.update_subscriptions(subs));
            let changed = new_member || subs_changed;
            // Upstream notifies broadcasting groups too (`ConsumerManager.registerConsumer` has
            // no model check); their clients just ignore it.
            let notify = if changed && reg.notify_enabled {
                group.channels.values().map(|c| c.channel.clone()).collect()
            } else {
                Vec::new()
            };
            if new_member {
                info!(
                    group = reg.group,
                    members = group.channels.len(),
                    "consumer joined"
                );
            }
            (changed, notify)
        };
        notify_ids_changed(reg.group, &notify);
        changed
    }

    /// Upstream `unregisterConsumer`.
    pub(crate) fn unregister_consumer(
        &self,
        group: &str,
        channel: ChannelId,
        notify_enabled: bool,
    ) {
        let notify = {
            let mut consumers = lock(&self.consumers);
            let Some(g) = consumers.get_mut(group) else {
                return;
            };
            if g.channels.remove(&channel).is_none() {
                return;
            }
            info!(group, members = g.channels.len(), "consumer left");
            if g.channels.is_empty() {
                consumers.remove(group);
                Vec::new()
            } else if notify_enabled {
                g.channels.values().map(|c| c.channel.clone()).collect()
            } else {
                Vec::new()
            }
        };
        notify_ids_changed(group, &notify);
    }

    pub(crate) fn register_producer(&self, group: &str, info: ClientInfo) {
        lock(&self.producers)
            .entry(group.to_owned())
            .or_default()
            .insert(info.channel.id(), info);
    }

    pub(crate) fn unregister_producer(&self, group: &str, channel: ChannelId) {
        let mut producers = lock(&self.producers);
        if let Some(g) = producers.get_mut(group) {
            g.remove(&channel);
            if g.is_empty() {
                producers.remove(group);
            }
        }
    }

    /// Client ids of a consumer group, or `None` when nobody is in it.
    pub(crate) fn consumer_ids(&self, group: &str) -> Option<Vec<String>> {
        let consumers = lock(&self.consumers);
        let g = consumers.get(group)?;
        let mut ids: Vec<String> = g.channels.values().map(|c| c.client_id.clone()).collect();
        ids.sort();
        ids.dedup();
        (!ids.is_empty()).then_some(ids)
    }

    /// The connections of a consumer group.
    pub(crate) fn consumer_channels(&self, group: &str) -> Vec<ClientChannel> {
        lock(&self.consumers)
            .get(group)
            .map(|g| g.channels.values().map(|c| c.channel.clone()).collect())
            .unwrap_or_default()
    }

    /// The connections of a producer group.
    #[allow(dead_code)]
    pub(crate) fn producer_channels(&self, group: &str) -> Vec<ClientChannel> {
        lock(&self.producers)
            .get(group)
            .map(|g| g.values().map(|c| c.channel.clone()).collect())
            .unwrap_or_default()
    }

    /// The open connection of the client with `client_id` (upstream
    /// `ProducerManager.findChannel`): any connection it registered a producer group on,
    /// the `CLIENT_INNER_PRODUCER` every client announces included.
    pub(crate) fn find_channel(&self, client_id: &str) -> Option<ClientChannel> {
        lock(&self.producers)
            .values()
            .flat_map(|g| g.values())
            .find(|c| c.client_id == client_id && !c.channel.is_closed())
            .map(|c| c.channel.clone())
    }

    /// A consumer group's members and declared settings, or `None` when nobody is in it.
    pub(crate) fn consumer_group(&self, group: &str) -> Option<ConsumerGroupView> {
        let consumers = lock(&self.consumers);
        let g = consumers.get(group)?;
        let mut members: Vec<ClientInfo> = g.channels.values().cloned().collect();
        members.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Some(ConsumerGroupView {
            members,
            subscriptions: g
                .subscriptions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            consume_type: g.consume_type,
            message_model: g.message_model,
            consume_from_where: g.consume_from_where,
        })
    }

    /// A producer group's members, or `None` when the group is unknown.
    pub(crate) fn producer_members(&self, group: &str) -> Option<Vec<ClientInfo>> {
        let producers = lock(&self.producers);
        let mut members: Vec<ClientInfo> = producers.get(group)?.values().cloned().collect();
        members.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Some(members)
    }

    /// Online groups subscribing to `topic` (upstream `queryTopicConsumeByWho`).
    pub(crate) fn groups_subscribing(&self, topic: &str) -> BTreeSet<String> {
        lock(&self.consumers)
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// How many topics an online group subscribes to (upstream
    /// `findSubscriptionDataCount`); 0 when the group is offline.
    pub(crate) fn subscription_count(&self, group: &str) -> usize {
        lock(&self.consumers)
            .get(group)
            .map_or(0, |g| g.subscriptions.len())
    }

    /// Whether the group has registered consumers, and whether they broadcast.
    pub(crate) fn group_model(&self, group: &str) -> Option<Option<MessageModel>> {
        lock(&self.consumers).get(group).map(|g| g.message_model)
    }

    /// The subscription a consumer group declared for `topic`.
    pub(crate) fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        lock(&self.consumers)
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// Upstream `compensateSubscribeData`: a pull with its own subscription registers it
    /// for groups that do not have one for the topic.
    pub(crate) fn compensate_subscription(&self, group: &str, sub: &SubscriptionData) {
        if let Some(g) = lock(&self.consumers).get_mut(group) {
            g.subscriptions
                .entry(sub.topic.clone())
                .or_insert_with(|| sub.clone());
        }
    }
}

/// Tells each of `channels` that `group` changed (oneway, upstream
/// `Broker2Client.notifyConsumerIdsChanged`).
fn notify_ids_changed(group: &str, channels: &[ClientChannel]) {
    for c in channels {
        let request = reply::broker_request(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).with_header(
            &NotifyConsumerIdsChangedRequestHeader {
                consumer_group: group.to_owned(),
                ..Default::default()
            },
        );
        if !c.send_oneway(request) {
            debug!(group, peer = %c.peer(), "NOTIFY_CONSUMER_IDS_CHANGED not sent: connection closed");
        }
    }
}

impl ConnectionListener for ClientManager {
    fn on_disconnect(&self, channel: &ClientChannel) {
        let id = channel.id();
        let mut notices = Vec::new();
        {
            let mut consumers = lock(&self.consumers);
            let mut emptied = Vec::new();
            for (name, g) in consumers.iter_mut() {
                if g.channels.remove(&id).is_some() {
                    info!(group = %name, members = g.channels.len(), "consumer connection closed");
                    if g.channels.is_empty() {
                        emptied.push(name.clone());
                    } else {
                        notices.push((
                            name.clone(),
                            g.channels
                                .values()
                                .map(|c| c.channel.clone())
                                .collect::<Vec<_>>(),
                        ));
                    }
                }
            }
            for name in emptied {
                consumers.remove(&name);
            }
        }
        {
            let mut producers = lock(&self.producers);
            producers.retain(|_, g| {
                g.remove(&id);
                !g.is_empty()
            });
        }
        for (group, channels) in notices {
            notify_ids_changed(&group, &channels);
        }
    }
}
