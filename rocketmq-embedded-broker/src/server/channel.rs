//! A connected client as the server sees it: where to write, and how to ask it something
//! (transaction checks, group-change notices, offset resets go over the client's own
//! connection).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rocketmq_sdk::protocol::RemotingCommand;
use rocketmq_sdk::protocol::frame::encode_frame;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, warn};

/// A process-unique connection id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Inner {
    id: ChannelId,
    peer: SocketAddr,
    tx: mpsc::UnboundedSender<RemotingCommand>,
    closed: AtomicBool,
    closed_notify: Notify,
    next_opaque: AtomicI32,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
}

/// Handle to one client connection. Cheap to clone.
#[derive(Clone)]
pub struct ClientChannel {
    inner: Arc<Inner>,
}

impl fmt::Debug for ClientChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientChannel")
            .field("id", &self.inner.id)
            .field("peer", &self.inner.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PartialEq for ClientChannel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}

impl Eq for ClientChannel {}

impl ClientChannel {
    pub(crate) fn start<W: AsyncWrite + Unpin + Send + 'static>(
        peer: SocketAddr,
        write: W,
        max_frame: usize,
    ) -> ClientChannel {
        let (tx, rx) = mpsc::unbounded_channel();
        let channel = ClientChannel {
            inner: Arc::new(Inner {
                id: ChannelId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
                peer,
                tx,
                closed: AtomicBool::new(false),
                closed_notify: Notify::new(),
                next_opaque: AtomicI32::new(1),
                pending: Mutex::new(HashMap::new()),
            }),
        };
        tokio::spawn(write_loop(channel.clone(), write, rx, max_frame));
        channel
    }

    /// The connection's id.
    pub fn id(&self) -> ChannelId {
        self.inner.id
    }

    /// The client's socket address as seen by the server (the born host of its messages).
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Closes the connection.
    pub fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::SeqCst) {
            self.inner
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.inner.closed_notify.notify_waiters();
        }
    }

    /// Waits until the connection is closed.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn closed(&self) {
        loop {
            let notified = self.inner.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Queues a command to the client. Returns `false` if the connection is closed.
    pub fn send(&self, command: RemotingCommand) -> bool {
        !self.is_closed() && self.inner.tx.send(command).is_ok()
    }

    /// Sends a oneway request to the client.
    pub fn send_oneway(&self, request: RemotingCommand) -> bool {
        let mut request = request.oneway();
        request.opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        self.send(request)
    }

    /// Sends a request to the client and waits for its answer; `None` on timeout or close.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping it forgets the answer; the request may have been sent.
    pub async fn request(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Option<RemotingCommand> {
        let opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        request.opaque = opaque;
        let (tx, rx) = oneshot::channel();
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(opaque, tx);
        if !self.send(request) {
            self.inner
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&opaque);
            return None;
        }
        let out = tokio::time::timeout(timeout, rx)
            .await
            .ok()
            .and_then(|r| r.ok());
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&opaque);
        out
    }

    pub(crate) fn complete(&self, response: RemotingCommand) {
        let waiter = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&response.opaque);
        if let Some(w) = waiter {
            let _ = w.send(response);
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    channel: ClientChannel,
    mut write: W,
    mut rx: mpsc::UnboundedReceiver<RemotingCommand>,
    max_frame: usize,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            c = rx.recv() => match c { Some(c) => c, None => break },
            _ = channel.closed() => break,
        };
        let mut next = Some(first);
        while let Some(cmd) = next {
            if let Err(e) = encode_frame(&cmd, &mut buf, max_frame) {
                warn!(peer = %channel.peer(), code = cmd.code, error = %e, "response cannot be encoded; dropped");
            }
            next = if buf.len() < 256 * 1024 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !buf.is_empty() {
            if let Err(e) = write.write_all(&buf).await {
                debug!(peer = %channel.peer(), error = %e, "write failed");
                break;
            }
            buf.clear();
        }
    }
    channel.close();
    let _ = write.shutdown().await;
}
