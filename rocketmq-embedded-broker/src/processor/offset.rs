//! Offsets: a group's committed offsets (QUERY_CONSUMER_OFFSET 14, UPDATE_CONSUMER_OFFSET
//! 15, upstream `ConsumerManageProcessor`) and a queue's own offsets (GET_MAX_OFFSET 30,
//! GET_MIN_OFFSET 31, SEARCH_OFFSET_BY_TIMESTAMP 29, GET_EARLIEST_MSG_STORETIME 32,
//! upstream `AdminBrokerProcessor`).

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::header::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use super::reply;
use crate::broker::BrokerCore;
use crate::server::{RequestContext, RequestProcessor};

pub(crate) struct OffsetProcessor {
    core: Arc<BrokerCore>,
}

impl OffsetProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        OffsetProcessor { core }
    }
}

macro_rules! header {
    ($request:expr) => {
        match $request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        }
    };
}

#[async_trait]
impl RequestProcessor for OffsetProcessor {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match request.request_code() {
            RequestCode::QUERY_CONSUMER_OFFSET => self.query_consumer_offset(&request),
            RequestCode::UPDATE_CONSUMER_OFFSET => self.update_consumer_offset(&request),
            RequestCode::GET_MAX_OFFSET => self.max_offset(&request),
            RequestCode::GET_MIN_OFFSET => self.min_offset(&request),
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => self.search_offset(&request),
            _ => self.earliest_store_time(&request),
        })
    }
}

impl OffsetProcessor {
    /// Upstream's rule: a stored offset; else QUERY_NOT_FOUND when told not to default to
    /// zero (5.x clients); else 0 when the queue's min offset is 0 and message 0 is not
    /// "in disk" (`checkInDiskByConsumeOffset`: an empty queue counts as not in disk); else
    /// QUERY_NOT_FOUND. This store serves every message as in memory (as the pull path
    /// does, like Java while the commit log is under `accessMessageInMemoryMaxRatio` = 40 %
    /// of RAM), so the middle case is "min offset 0": a 4.9.x client's new group starts at
    /// 0 then, whatever its CONSUME_FROM_* setting, exactly as against a Java broker of
    /// that size.
    fn query_consumer_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: QueryConsumerOffsetRequestHeader = header!(request);
        let core = &self.core;
        let offset = core.offsets.query(&h.consumer_group, &h.topic, h.queue_id);
        let found =
            |offset| reply::success().with_header(&QueryConsumerOffsetResponseHeader { offset });
        if offset >= 0 {
            return found(offset);
        }
        if h.set_zero_if_not_found == Some(false) {
            return reply::error(
                ResponseCode::QUERY_NOT_FOUND,
                "Not found, do not set to zero, maybe this group boot first",
            );
        }
        if core.store.min_offset(&h.topic, h.queue_id) <= 0 {
            return found(0);
        }
        reply::error(
            ResponseCode::QUERY_NOT_FOUND,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        )
    }

    fn update_consumer_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: UpdateConsumerOffsetRequestHeader = header!(request);
        let core = &self.core;
        if !core.groups.contains(&h.consumer_group) {
            return reply::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("Group {} not exist!", h.consumer_group),
            );
        }
        if !core.topics.contains(&h.topic) {
            return reply::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!("Topic {} not exist!", h.topic),
            );
        }
        if core
            .offsets
            .has_reset(&h.consumer_group, &h.topic, h.queue_id)
        {
            // The consumer has not seen the reset yet; its old position must not undo it.
            return reply::success().with_remark("Offset has been previously reset");
        }
        debug!(group = %h.consumer_group, topic = %h.topic, queue_id = h.queue_id,
            offset = h.commit_offset, "offset committed");
        core.offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        reply::success()
    }

    fn max_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetMaxOffsetRequestHeader = header!(request);
        let offset = self.core.store.max_offset(&h.topic, h.queue_id);
        reply::success().with_header(&GetMaxOffsetResponseHeader { offset })
    }

    fn min_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetMinOffsetRequestHeader = header!(request);
        let offset = self.core.store.min_offset(&h.topic, h.queue_id);
        reply::success().with_header(&GetMinOffsetResponseHeader { offset })
    }

    /// LOWER: the first offset stored at or after the timestamp; UPPER: the last one
    /// stored at or before it (clamped to the queue's range).
    fn search_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: SearchOffsetRequestHeader = header!(request);
        let store = &self.core.store;
        let result = match h.boundary_type.unwrap_or_default() {
            BoundaryType::Upper => store
                .offset_by_time(&h.topic, h.queue_id, h.timestamp.saturating_add(1))
                .map(|after| (after - 1).max(store.min_offset(&h.topic, h.queue_id))),
            _ => store.offset_by_time(&h.topic, h.queue_id, h.timestamp),
        };
        match result {
            Ok(offset) => reply::success().with_header(&SearchOffsetResponseHeader { offset }),
            Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }

    fn earliest_store_time(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetEarliestMsgStoretimeRequestHeader = header!(request);
        let store = &self.core.store;
        let min = store.min_offset(&h.topic, h.queue_id);
        match store.message_store_timestamp(&h.topic, h.queue_id, min) {
            Ok(ts) => reply::success().with_header(&GetEarliestMsgStoretimeResponseHeader {
                timestamp: ts.unwrap_or(-1),
            }),
            Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }
}
