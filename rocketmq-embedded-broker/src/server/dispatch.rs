//! Dispatch by request code, and the generic replies of `NettyRemotingAbstract`:
//! unknown codes, processor panics, oneway requests.

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use rocketmq_sdk::protocol::command::{FLAG_RESPONSE, version};
use rocketmq_sdk::protocol::frame::DEFAULT_MAX_FRAME;
use rocketmq_sdk::protocol::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use tracing::{error, info};

use super::ClientChannel;
use crate::acl::AclChecker;
use crate::faults::Faults;

/// What a processor knows about the request besides the command itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The connection the request came in on (answer it, or ask the client later).
    pub channel: ClientChannel,
}

/// Handles one or more request codes.
#[async_trait]
pub trait RequestProcessor: Send + Sync + 'static {
    /// Processes `request`; the returned command is sent as the response unless the
    /// request was oneway. Opaque, flag and version are filled in by the dispatcher.
    ///
    /// # Cancel safety
    /// Implementations are called to completion by the dispatcher; they need not be cancel
    /// safe.
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand>;
}

/// Called when connections open and close (client registries hang off this).
pub trait ConnectionListener: Send + Sync + 'static {
    /// A connection opened.
    fn on_connect(&self, _channel: &ClientChannel) {}
    /// A connection closed.
    fn on_disconnect(&self, _channel: &ClientChannel) {}
}

/// Routes requests to processors by code.
pub struct Dispatcher {
    processors: HashMap<i32, Arc<dyn RequestProcessor>>,
    listeners: Vec<Arc<dyn ConnectionListener>>,
    faults: Vec<Arc<Faults>>,
    max_frame: usize,
    acl: Option<Arc<AclChecker>>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut codes: Vec<_> = self.processors.keys().map(|c| RequestCode(*c)).collect();
        codes.sort();
        f.debug_struct("Dispatcher")
            .field("codes", &codes)
            .field("max_frame", &self.max_frame)
            .field("acl", &self.acl.is_some())
            .finish()
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher {
            processors: HashMap::new(),
            listeners: Vec::new(),
            faults: Vec::new(),
            max_frame: DEFAULT_MAX_FRAME,
            acl: None,
        }
    }
}

impl Dispatcher {
    /// An empty dispatcher: every code is unsupported.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `codes` to `processor`.
    pub fn register(&mut self, codes: &[RequestCode], processor: Arc<dyn RequestProcessor>) {
        for c in codes {
            self.processors.insert(c.value(), processor.clone());
        }
    }

    /// Adds a connection listener.
    pub fn add_listener(&mut self, listener: Arc<dyn ConnectionListener>) {
        self.listeners.push(listener);
    }

    /// Consults `faults` before every request: a matching rule answers in place of the
    /// processor.
    pub fn add_faults(&mut self, faults: Arc<Faults>) {
        self.faults.push(faults);
    }

    /// Checks every request against `acl` before anything else; a refused request gets
    /// SYSTEM_ERROR with the `AclException` text as remark, as a Java broker answers (see
    /// [`crate::acl`]).
    pub fn set_acl(&mut self, acl: Arc<AclChecker>) {
        self.acl = Some(acl);
    }

    /// Sets the frame limit for connections served with this dispatcher.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame
    }

    pub(crate) fn on_connect(&self, channel: &ClientChannel) {
        for l in &self.listeners {
            l.on_connect(channel);
        }
        for f in &self.faults {
            f.on_connect(channel);
        }
    }

    pub(crate) fn on_disconnect(&self, channel: &ClientChannel) {
        for l in &self.listeners {
            l.on_disconnect(channel);
        }
        for f in &self.faults {
            f.on_disconnect(channel);
        }
    }

    /// Processes one request and sends its response on `channel`.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, the request may have been processed without a
    /// response.
    pub async fn dispatch(&self, channel: &ClientChannel, request: RemotingCommand) {
        let oneway = request.is_oneway();
        let opaque = request.opaque;
        let code = request.code;
        let serialize_type = request.serialize_type;
        for f in &self.faults {
            f.requests().observe(&request);
        }
        let denied = self
            .acl
            .as_ref()
            .and_then(|acl| acl.check(channel.peer().ip(), &request).err());
        let mut injected = None;
        let mut drop_response = false;
        let mut close_connection = false;
        // A refused request is never applied, so faults only see admitted ones.
        if denied.is_none() {
            for f in &self.faults {
                let v = f.intercept(RequestCode(code)).await;
                drop_response |= v.drop_response;
                close_connection |= v.close_connection;
                if v.fail.is_some() {
                    injected = v.fail;
                    break;
                }
            }
        }
        let response = if let Some(denied) = denied {
            info!(peer = %channel.peer(), code, reason = %denied, "request refused by ACL");
            Some(
                // The Java broker's ACL hook throws; its remoting layer turns any exception
                // into SYSTEM_ERROR, so that is what clients match on in production.
                RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR)
                    .with_remark(denied.remark()),
            )
        } else if let Some(injected) = injected {
            Some(RemotingCommand::new_response(injected).with_remark(format!(
                "injected fault: {injected:?} for request code {code}"
            )))
        } else {
            self.process(channel, request).await
        };
        if drop_response && injected.is_none() {
            if close_connection {
                channel.close();
            }
            return;
        }
        if let Some(mut response) = response {
            if oneway {
                return;
            }
            response.opaque = opaque;
            response.flag |= FLAG_RESPONSE;
            response.version = version::CURRENT;
            response.language = LanguageCode::JAVA;
            response.serialize_type = serialize_type;
            channel.send(response);
        }
    }

    async fn process(
        &self,
        channel: &ClientChannel,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let code = request.code;
        match self.processors.get(&code) {
            None => Some(
                RemotingCommand::response_to(&request, ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
                    .with_remark(format!(" request type {code} not supported")),
            ),
            Some(p) => {
                let ctx = RequestContext {
                    channel: channel.clone(),
                };
                match AssertUnwindSafe(p.process(&ctx, request))
                    .catch_unwind()
                    .await
                {
                    Ok(r) => r,
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "processor panicked".into());
                        error!(code, %what, "request processor panicked");
                        Some(
                            RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR)
                                .with_remark(what),
                        )
                    }
                }
            }
        }
    }
}
