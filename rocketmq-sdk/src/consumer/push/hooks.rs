//! What the client's heartbeat and broker-request handler ask of a push consumer:
//! its `ConsumerData`, group changes, offset resets, running info, direct consumption.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use futures::future::BoxFuture;
use tracing::{info, warn};

use super::{Listener, PushInner};
use crate::client::ConsumerHooks;
use crate::consumer::listener::{ConsumeContext, ConsumeResult, OrderlyContext, OrderlyResult};
use crate::protocol::body::consumer::running_info_props as props;
use crate::protocol::body::{
    CMResult, ConsumeMessageDirectlyResult, ConsumerData, ConsumerRunningInfo, JsonBody,
    ResetOffsetBody, ResetOffsetBodyForC,
};
use crate::protocol::header::{
    ConsumeMessageDirectlyResultRequestHeader, ResetOffsetRequestHeader,
};
use crate::protocol::message::{DecodeOptions, MessageQueue, decode_message_ext};
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};

pub(crate) struct PushHooks {
    pub(crate) inner: Weak<PushInner>,
}

impl ConsumerHooks for PushHooks {
    fn consumer_data(&self) -> ConsumerData {
        match self.inner.upgrade() {
            Some(inner) => inner.consumer_data(),
            None => ConsumerData::default(),
        }
    }

    fn on_ids_changed(&self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.rebalance_now.notify_one();
        }
    }

    fn on_reset_offset(&self, request: RemotingCommand) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let table = match reset_table(&request) {
                Some(t) => t,
                None => {
                    warn!("undecodable RESET_CONSUMER_CLIENT_OFFSET ignored");
                    return;
                }
            };
            info!(group = %inner.group, queues = table.len(), "offset reset requested by the broker");
            for (mq, offset) in table {
                inner.reset_queue(&mq, offset).await;
            }
        });
    }

    fn on_request(&self, request: RemotingCommand) -> BoxFuture<'static, Option<RemotingCommand>> {
        let inner = self.inner.upgrade();
        Box::pin(async move {
            let inner = inner?;
            Some(match request.request_code() {
                RequestCode::GET_CONSUMER_RUNNING_INFO => running_info(&inner),
                RequestCode::CONSUME_MESSAGE_DIRECTLY => consume_directly(&inner, &request).await,
                _ => RemotingCommand::new_response(ResponseCode::REQUEST_CODE_NOT_SUPPORTED),
            })
        })
    }
}

/// The queue → offset table of a reset, in either body form.
pub(crate) fn reset_table(request: &RemotingCommand) -> Option<BTreeMap<MessageQueue, i64>> {
    let header: ResetOffsetRequestHeader = request.decode_header().ok()?;
    let table = match ResetOffsetBody::decode(&request.body) {
        Ok(b) => b.offset_table,
        Err(_) => ResetOffsetBodyForC::decode(&request.body)
            .ok()?
            .offset_table
            .into_iter()
            .map(|q| {
                (
                    MessageQueue::new(q.topic, q.broker_name, q.queue_id),
                    q.offset,
                )
            })
            .collect(),
    };
    Some(
        table
            .into_iter()
            .filter(|(q, _)| q.topic == header.topic)
            .collect(),
    )
}

fn running_info(inner: &Arc<PushInner>) -> RemotingCommand {
    let mut info = ConsumerRunningInfo::default();
    let orderly = inner.is_orderly();
    info.properties
        .insert(props::PROP_CONSUME_ORDERLY.into(), orderly.to_string());
    info.properties.insert(
        props::PROP_THREADPOOL_CORE_SIZE.into(),
        inner.config.consume_concurrency.to_string(),
    );
    info.properties
        .insert(props::PROP_CONSUME_TYPE.into(), "CONSUME_PASSIVELY".into());
    info.properties.insert(
        props::PROP_CONSUMER_START_TIMESTAMP.into(),
        inner.started_ms.to_string(),
    );
    info.properties.insert(
        props::PROP_NAMESERVER_ADDR.into(),
        inner.client.config().name_servers.join(";"),
    );
    info.subscription_set = inner.subscriptions.values().cloned().collect();
    let slots: Vec<_> = inner
        .queues
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(q, s)| (q.clone(), s.pq.clone()))
        .collect();
    for (q, pq) in slots {
        let commit = inner.offsets.read_memory(&q).unwrap_or(-1);
        info.mq_table.insert(q, pq.info(commit));
    }
    match info.encode() {
        Ok(body) => RemotingCommand::new_response(ResponseCode::SUCCESS).with_body(body),
        Err(e) => {
            RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR).with_remark(e.to_string())
        }
    }
}

async fn consume_directly(inner: &Arc<PushInner>, request: &RemotingCommand) -> RemotingCommand {
    let header: Option<ConsumeMessageDirectlyResultRequestHeader> = request.decode_header().ok();
    let msg = match decode_message_ext(&request.body, &DecodeOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            return RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR)
                .with_remark(e.to_string());
        }
    };
    let mq = MessageQueue::new(
        msg.topic.clone(),
        header.and_then(|h| h.broker_name).unwrap_or_default(),
        msg.queue_id,
    );
    let started = Instant::now();
    let msgs = [msg];
    let (order, result) = match &inner.listener {
        Listener::Concurrent(l) => {
            let ctx = ConsumeContext::new(mq, msgs[0].reconsume_times);
            let r = match l.consume(&msgs, &ctx).await {
                ConsumeResult::Success => CMResult::CrSuccess,
                _ => CMResult::CrLater,
            };
            (false, r)
        }
        Listener::Orderly(l) => {
            let ctx = OrderlyContext::new(mq, msgs[0].reconsume_times);
            let r = match l.consume(&msgs, &ctx).await {
                OrderlyResult::Success => CMResult::CrSuccess,
                _ => CMResult::CrLater,
            };
            (true, r)
        }
    };
    let body = ConsumeMessageDirectlyResult {
        order,
        consume_result: Some(result),
        spent_time_mills: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        ..Default::default()
    };
    match body.encode() {
        Ok(b) => RemotingCommand::new_response(ResponseCode::SUCCESS).with_body(b),
        Err(e) => {
            RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR).with_remark(e.to_string())
        }
    }
}
