//! Queue locks for orderly consumers (upstream `AdminBrokerProcessor.lockBatchMQ` /
//! `unlockBatchMQ`): LOCK_BATCH_MQ (41), UNLOCK_BATCH_MQ (42).

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::{
    JsonBody, LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use super::reply;
use crate::broker::BrokerCore;
use crate::server::{RequestContext, RequestProcessor};

pub(crate) struct LockProcessor {
    core: Arc<BrokerCore>,
}

impl LockProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        LockProcessor { core }
    }
}

fn missing(what: &str) -> RemotingCommand {
    reply::error(
        ResponseCode::INVALID_PARAMETER,
        format!("the lock request body has no {what}"),
    )
}

#[async_trait]
impl RequestProcessor for LockProcessor {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let locks = &self.core.locks;
        Some(if request.request_code() == RequestCode::LOCK_BATCH_MQ {
            let body = match LockBatchRequestBody::decode(&request.body) {
                Ok(b) => b,
                Err(e) => return Some(reply::bad_body("LockBatchRequestBody", &e)),
            };
            let (Some(group), Some(client)) = (&body.consumer_group, &body.client_id) else {
                return Some(missing("consumerGroup or clientId"));
            };
            let locked = locks.try_lock_batch(group, &body.mq_set, client);
            debug!(
                group,
                client,
                asked = body.mq_set.len(),
                locked = locked.len(),
                "LOCK_BATCH_MQ"
            );
            reply::json_body(
                &LockBatchResponseBody {
                    lock_ok_mq_set: locked,
                },
                false,
            )
        } else {
            let body = match UnlockBatchRequestBody::decode(&request.body) {
                Ok(b) => b,
                Err(e) => return Some(reply::bad_body("UnlockBatchRequestBody", &e)),
            };
            let (Some(group), Some(client)) = (&body.consumer_group, &body.client_id) else {
                return Some(missing("consumerGroup or clientId"));
            };
            locks.unlock_batch(group, &body.mq_set, client);
            debug!(group, client, "UNLOCK_BATCH_MQ");
            reply::success()
        })
    }
}
