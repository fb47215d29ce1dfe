//! Requests a broker sends to us over our own connection, routed to the group they
//! concern (`ClientRemotingProcessor`).

use std::sync::Weak;

use futures::future::BoxFuture;
use tracing::debug;

use super::ClientInner;
use crate::protocol::header::{
    GetConsumerRunningInfoRequestHeader, NotifyConsumerIdsChangedRequestHeader,
    ResetOffsetRequestHeader,
};
use crate::protocol::message::{DecodeOptions, decode_message_ext, keys};
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::{Connection, ServerRequestHandler};

pub(crate) struct Handler {
    pub(crate) client: Weak<ClientInner>,
}

impl ServerRequestHandler for Handler {
    fn handle(
        &self,
        connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let client = self.client.clone();
        Box::pin(async move {
            let client = client.upgrade()?;
            route(&client, connection, request).await
        })
    }
}

async fn route(
    client: &ClientInner,
    connection: Connection,
    request: RemotingCommand,
) -> Option<RemotingCommand> {
    match request.request_code() {
        RequestCode::CHECK_TRANSACTION_STATE => {
            let options = DecodeOptions {
                read_body: false,
                ..DecodeOptions::default()
            };
            let group = decode_message_ext(&request.body, &options)
                .ok()
                .and_then(|m| m.property(keys::PGROUP).map(String::from));
            let hooks = group
                .as_deref()
                .and_then(|g| client.registry.producer(g))
                .or_else(|| client.registry.any_transactional_producer());
            match hooks {
                Some(h) => h.check_transaction(connection, request).await,
                None => debug!(
                    ?group,
                    "transaction check for a group without a transaction listener here"
                ),
            }
            None
        }
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED => {
            if let Ok(h) = request.decode_header::<NotifyConsumerIdsChangedRequestHeader>()
                && let Some(c) = client.registry.consumer(&h.consumer_group)
            {
                c.on_ids_changed();
            }
            None
        }
        RequestCode::RESET_CONSUMER_CLIENT_OFFSET => {
            if let Ok(h) = request.decode_header::<ResetOffsetRequestHeader>()
                && let Some(c) = client.registry.consumer(&h.group)
            {
                c.on_reset_offset(request);
            }
            None
        }
        RequestCode::GET_CONSUMER_RUNNING_INFO | RequestCode::CONSUME_MESSAGE_DIRECTLY => {
            let group = request
                .decode_header::<GetConsumerRunningInfoRequestHeader>()
                .map(|h| h.consumer_group)
                .ok()
                .or_else(|| request.ext_fields.get("consumerGroup").map(String::from));
            match group.and_then(|g| client.registry.consumer(&g)) {
                Some(c) => c.on_request(request).await,
                None => Some(
                    RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR)
                        .with_remark("the consumer group is not running in this client"),
                ),
            }
        }
        RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT => {
            Some(crate::producer::receive_reply(client, &request))
        }
        other => Some(
            RemotingCommand::new_response(ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
                .with_remark(format!(" request type {} not supported", other.value())),
        ),
    }
}
