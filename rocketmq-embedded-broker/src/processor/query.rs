//! Looking messages up (upstream `QueryMessageProcessor`): QUERY_MESSAGE (12) by key or
//! unique key through the index, VIEW_MESSAGE_BY_ID (33) by commit-log offset.

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::header::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::reply;
use crate::broker::BrokerCore;
use crate::server::{RequestContext, RequestProcessor};

pub(crate) struct QueryProcessor {
    core: Arc<BrokerCore>,
}

impl QueryProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        QueryProcessor { core }
    }
}

#[async_trait]
impl RequestProcessor for QueryProcessor {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match request.request_code() {
            RequestCode::QUERY_MESSAGE => self.query(&request),
            _ => self.view(&request),
        })
    }
}

impl QueryProcessor {
    fn query(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: QueryMessageRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let mut max = h.max_num;
        if h.unique_key_query == Some(true) {
            max = self.core.config.default_query_max_num;
        }
        let max = usize::try_from(max).unwrap_or(0);
        let result = match self.core.store.query_by_key(
            &h.topic,
            &h.key,
            max,
            h.begin_timestamp,
            h.end_timestamp,
        ) {
            Ok(r) => r,
            Err(e) => return reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        };
        let header = QueryMessageResponseHeader {
            index_last_update_timestamp: result.index_last_update_timestamp,
            index_last_update_phyoffset: result.index_last_update_phy_offset,
        };
        if result.messages.is_empty() {
            return reply::error(
                ResponseCode::QUERY_NOT_FOUND,
                "can not find message, maybe time range not correct",
            )
            .with_header(&header);
        }
        let mut body = Vec::with_capacity(result.messages.iter().map(|m| m.record.len()).sum());
        for m in &result.messages {
            body.extend_from_slice(&m.record);
        }
        reply::success().with_header(&header).with_body(body)
    }

    fn view(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: ViewMessageRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        match self.core.store.message_by_offset(h.offset) {
            Ok(Some(record)) => reply::success().with_body(record),
            Ok(None) => reply::error(
                ResponseCode::SYSTEM_ERROR,
                format!("can not find message by the offset, {}", h.offset),
            ),
            Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }
}
