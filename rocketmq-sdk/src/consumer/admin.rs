//! Rewind: INVOKE_BROKER_TO_RESET_OFFSET (`MQAdminExt.resetOffsetByTimestamp`), and the
//! direct per-queue write Java's mqadmin falls back to when no consumer of the group is
//! online (`resetOffsetByTimestampOld`).

use std::collections::BTreeMap;

use tracing::info;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::protocol::body::{JsonBody, ResetOffsetBody};
use crate::protocol::header::{ResetOffsetRequestHeader, RpcBase};
use crate::protocol::message::MessageQueue;
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};

impl Client {
    /// Rewinds (or advances) `group`'s offsets of `topic` to the first message stored at
    /// or after `timestamp_ms`, on every broker of the topic (`isForce` = true). Returns
    /// the new offset of each queue.
    ///
    /// Running consumers of the group pick the new offsets up by themselves: a broker
    /// that stores the reset answers their next pull with PULL_OFFSET_MOVED (5.x), a
    /// legacy broker sends them RESET_CONSUMER_CLIENT_OFFSET; either way the queue
    /// restarts at the new offset, dropping what was cached.
    ///
    /// A broker that answers CONSUMER_NOT_ONLINE (Java 4.9.x and 5.0 brokers do when no
    /// consumer of the group is connected) gets what Java's mqadmin then does: each of the
    /// topic's queues on it is searched by time (SEARCH_OFFSET_BY_TIMESTAMP) and the offset
    /// written directly (UPDATE_CONSUMER_OFFSET).
    ///
    /// # Errors
    /// [`Error::NoRoute`] for an unknown topic; [`Error::Broker`] when a broker refused;
    /// transport errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may have applied the reset.
    pub async fn reset_offset_by_timestamp(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
    ) -> Result<BTreeMap<MessageQueue, i64>> {
        let route = self.refresh_route(topic).await?;
        let mut addrs: Vec<(String, String)> = route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| {
                b.master_addr()
                    .map(|a| (b.broker_name.clone(), a.to_owned()))
            })
            .collect();
        addrs.sort();
        if addrs.is_empty() {
            return Err(Error::NoRoute(topic.to_owned()));
        }
        let mut out = BTreeMap::new();
        for (broker, addr) in addrs {
            let header = ResetOffsetRequestHeader {
                group: group.to_owned(),
                topic: topic.to_owned(),
                queue_id: -1,
                offset: None,
                timestamp: timestamp_ms,
                is_force: true,
                rpc: RpcBase::broker(broker.clone()),
            };
            let req = RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET)
                .with_header(&header);
            let resp = self
                .inner
                .pool
                .request(&addr, req, self.inner.config.request_timeout)
                .await?;
            if resp.response_code() == ResponseCode::CONSUMER_NOT_ONLINE {
                let queues = route
                    .data
                    .queue_datas
                    .iter()
                    .filter(|q| q.broker_name == broker)
                    .flat_map(|q| 0..q.read_queue_nums)
                    .map(|i| MessageQueue::new(topic, broker.clone(), i));
                for mq in queues {
                    let offset = self.search_offset(&mq, timestamp_ms).await?;
                    self.update_consumer_offset(group, &mq, offset, false)
                        .await?;
                    out.insert(mq, offset);
                }
                info!(group, topic, broker = %broker, "no consumer online: offsets written directly");
                continue;
            }
            if resp.response_code() != ResponseCode::SUCCESS {
                return Err(Error::Broker {
                    addr,
                    code: resp.response_code(),
                    remark: resp.remark.unwrap_or_default(),
                });
            }
            if !resp.body.is_empty() {
                out.extend(ResetOffsetBody::decode(&resp.body)?.offset_table);
            }
        }
        info!(
            group,
            topic,
            timestamp_ms,
            queues = out.len(),
            "offsets reset"
        );
        Ok(out)
    }
}
