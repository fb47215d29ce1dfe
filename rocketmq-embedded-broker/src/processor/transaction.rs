//! END_TRANSACTION (37, upstream `EndTransactionProcessor`): the producer's second phase,
//! or its answer to a check. Sent oneway by producers, so the response (kept for clients
//! that ask with a normal request) is usually dropped.

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::RemotingCommand;
use rocketmq_sdk::protocol::header::EndTransactionRequestHeader;
use tracing::{Instrument, info_span};

use super::reply;
use crate::broker::BrokerCore;
use crate::server::{RequestContext, RequestProcessor};

pub(crate) struct EndTransactionProcessor {
    core: Arc<BrokerCore>,
}

impl EndTransactionProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        EndTransactionProcessor { core }
    }
}

#[async_trait]
impl RequestProcessor for EndTransactionProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let header: EndTransactionRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return Some(reply::bad_header(&e)),
        };
        let span = info_span!(
            "end_transaction",
            group = %header.producer_group,
            msg_id = %header.msg_id,
            kind = header.commit_or_rollback.value(),
            from_check = header.from_transaction_check,
            peer = %ctx.channel.peer(),
        );
        crate::transaction::end_transaction(&self.core, &header)
            .instrument(span)
            .await
    }
}
