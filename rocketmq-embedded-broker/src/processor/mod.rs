//! The broker's request processors, one module per concern: [`send`], [`pull`] (with long
//! polling), [`offset`], [`client`] (heartbeats and membership), [`query`], [`lock`],
//! [`admin`] (with [`stats`] and [`groups_admin`]), [`send_back`] (retries and dead letters), [`transaction`] (END_TRANSACTION);
//! [`reply`] holds the response helpers they share with the name server.

mod admin;
mod client;
mod groups_admin;
mod lock;
mod offset;
mod pull;
mod query;
pub(crate) mod reply;
mod request_reply;
mod send;
mod send_back;
mod stats;
mod transaction;

use std::sync::Arc;

use rocketmq_sdk::protocol::RequestCode;

use crate::broker::BrokerCore;
use crate::server::Dispatcher;

/// Routes every request code the broker serves to its processor.
pub(crate) fn register_all(dispatcher: &mut Dispatcher, core: &Arc<BrokerCore>) {
    dispatcher.register(
        &[
            RequestCode::SEND_MESSAGE,
            RequestCode::SEND_MESSAGE_V2,
            RequestCode::SEND_BATCH_MESSAGE,
        ],
        Arc::new(send::SendProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[RequestCode::END_TRANSACTION],
        Arc::new(transaction::EndTransactionProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[
            RequestCode::SEND_REPLY_MESSAGE,
            RequestCode::SEND_REPLY_MESSAGE_V2,
        ],
        Arc::new(request_reply::ReplyProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[RequestCode::PULL_MESSAGE, RequestCode::LITE_PULL_MESSAGE],
        Arc::new(pull::PullProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[
            RequestCode::QUERY_CONSUMER_OFFSET,
            RequestCode::UPDATE_CONSUMER_OFFSET,
            RequestCode::GET_MAX_OFFSET,
            RequestCode::GET_MIN_OFFSET,
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
            RequestCode::GET_EARLIEST_MSG_STORETIME,
        ],
        Arc::new(offset::OffsetProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[
            RequestCode::HEART_BEAT,
            RequestCode::UNREGISTER_CLIENT,
            RequestCode::GET_CONSUMER_LIST_BY_GROUP,
            RequestCode::CHECK_CLIENT_CONFIG,
        ],
        Arc::new(client::ClientProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[RequestCode::QUERY_MESSAGE, RequestCode::VIEW_MESSAGE_BY_ID],
        Arc::new(query::QueryProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[RequestCode::CONSUMER_SEND_MSG_BACK],
        Arc::new(send_back::SendBackProcessor::new(core.clone())),
    );
    dispatcher.register(
        &[RequestCode::LOCK_BATCH_MQ, RequestCode::UNLOCK_BATCH_MQ],
        Arc::new(lock::LockProcessor::new(core.clone())),
    );
    dispatcher.register(
        &admin::CODES,
        Arc::new(admin::AdminProcessor::new(core.clone())),
    );
}
