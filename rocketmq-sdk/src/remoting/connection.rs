//! One multiplexed connection: a cheap-to-clone handle, one writer task and one reader
//! task owning the socket, requests correlated to responses by `opaque`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tracing::{debug, trace, warn};

use super::RemotingError;
use crate::protocol::frame::encode_frame;
use crate::protocol::{RemotingCodec, RemotingCommand};

/// Handles requests the peer initiates over our connection (a broker asking a producer to
/// check a transaction, telling a consumer its group changed...).
///
/// Returning `Some` sends that response (for non-oneway requests); `None` sends nothing.
pub trait ServerRequestHandler: Send + Sync + 'static {
    /// Handles one request. Runs on its own task, so it may await.
    fn handle(
        &self,
        connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;
}

/// Called on every request this side initiates (not on responses), in the connection's
/// writer task just before the command is encoded, after its opaque is set. Nothing is
/// added to the command after the hook ran, so a hook may sign it
/// ([`AclSigner`](crate::acl::AclSigner) does).
pub trait RequestHook: Send + Sync + 'static {
    /// Adjusts `request`, about to be sent to `addr`. Must not block.
    fn before_request(&self, addr: &str, request: &mut RemotingCommand);
}

/// Options for [`Connection::connect`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// TCP connect timeout. Default 3 s (the Java client's `connectTimeoutMillis`).
    pub connect_timeout: Duration,
    /// Largest frame accepted or sent. Default 16 MiB, as upstream.
    pub max_frame: usize,
    /// Handler for peer-initiated requests; without one they get no answer.
    pub handler: Option<Arc<dyn ServerRequestHandler>>,
    /// Applied to every outgoing request just before encoding (e.g. the ACL signer).
    /// Default none.
    pub request_hook: Option<Arc<dyn RequestHook>>,
    /// TLS for the connection (crate feature `tls`). Default none: plaintext.
    #[cfg(feature = "tls")]
    pub tls: Option<super::TlsConnector>,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            connect_timeout: Duration::from_secs(3),
            max_frame: crate::protocol::frame::DEFAULT_MAX_FRAME,
            handler: None,
            request_hook: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl fmt::Debug for ConnectionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_frame", &self.max_frame)
            .field("handler", &self.handler.is_some())
            .field("request_hook", &self.request_hook.is_some())
            .field("tls", &self.tls_enabled())
            .finish()
    }
}

impl ConnectionOptions {
    fn tls_enabled(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }
}

type Pending = Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>;

struct Shared {
    addr: String,
    pending: Pending,
    next_opaque: AtomicI32,
    closed: AtomicBool,
    closed_notify: Notify,
    max_frame: usize,
    request_hook: Option<Arc<dyn RequestHook>>,
}

impl Shared {
    fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            // Dropping the senders wakes every waiter with "closed".
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.closed_notify.notify_waiters();
        }
    }
}

/// A handle to one remoting connection. Clones share the socket.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<RemotingCommand>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`) and starts the connection's tasks. With
    /// `ConnectionOptions::tls` set (feature `tls`), the TLS handshake is part of connecting and of its
    /// timeout.
    ///
    /// # Errors
    /// [`RemotingError::Connect`], [`RemotingError::ConnectTimeout`], or
    /// [`RemotingError::Tls`] when the TLS handshake fails.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future before it completes leaves no task behind.
    pub async fn connect(
        addr: &str,
        options: ConnectionOptions,
    ) -> Result<Connection, RemotingError> {
        let started = tokio::time::Instant::now();
        let stream = tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RemotingError::ConnectTimeout {
                addr: addr.to_owned(),
                timeout: options.connect_timeout,
            })?
            .map_err(|source| RemotingError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        #[cfg(feature = "tls")]
        if let Some(tls) = options.tls.clone() {
            let left = options.connect_timeout.saturating_sub(started.elapsed());
            let stream = tokio::time::timeout(left, tls.handshake(addr, stream))
                .await
                .map_err(|_| RemotingError::ConnectTimeout {
                    addr: addr.to_owned(),
                    timeout: options.connect_timeout,
                })?
                .map_err(|source| RemotingError::Tls {
                    addr: addr.to_owned(),
                    source,
                })?;
            let (read, write) = tokio::io::split(stream);
            return Ok(Self::from_halves(addr.to_owned(), read, write, options));
        }
        let _ = started;
        let (read, write) = stream.into_split();
        Ok(Self::from_halves(addr.to_owned(), read, write, options))
    }

    /// Starts the writer and reader tasks over the two halves of any byte stream.
    fn from_halves<R, W>(addr: String, read: R, write: W, options: ConnectionOptions) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            addr,
            pending: Mutex::new(HashMap::new()),
            // Start away from zero so opaques never collide with a peer's default.
            next_opaque: AtomicI32::new(1),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            max_frame: options.max_frame,
            request_hook: options.request_hook.clone(),
        });
        let conn = Connection {
            shared: shared.clone(),
            tx,
        };
        tokio::spawn(write_loop(shared.clone(), write, rx));
        tokio::spawn(read_loop(conn.clone(), read, options.handler));
        conn
    }

    /// The peer address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Whether the connection is closed (it never reopens; the pool makes a new one).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Waits until the connection closes.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Closes the connection; pending requests fail with `ConnectionClosed`.
    pub fn close(&self) {
        self.shared.close();
    }

    fn next_opaque(&self) -> i32 {
        self.shared.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX
    }

    /// Sends `request` and waits for its response, at most `timeout`.
    ///
    /// The command's opaque is assigned here. A response with a non-success code is still
    /// `Ok`: interpreting codes is the caller's business.
    ///
    /// # Errors
    /// [`RemotingError::Timeout`] (the request may have been applied),
    /// [`RemotingError::ConnectionClosed`].
    ///
    /// # Cancel safety
    /// If the future is dropped after the request was queued, the request is still sent
    /// and its response discarded.
    pub async fn request(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let opaque = self.next_opaque();
        request.opaque = opaque;
        let code = request.code;
        let (done_tx, done_rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(opaque, done_tx);
        let guard = PendingGuard {
            shared: &self.shared,
            opaque,
        };
        if self.is_closed() || self.tx.send(request).is_err() {
            return Err(self.closed_error());
        }
        match tokio::time::timeout(timeout, done_rx).await {
            Ok(Ok(response)) => {
                std::mem::forget(guard);
                Ok(response)
            }
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => {
                drop(guard);
                Err(RemotingError::Timeout {
                    addr: self.shared.addr.clone(),
                    code,
                    timeout,
                })
            }
        }
    }

    /// Sends a oneway request (no response is expected). Only local errors are reported.
    ///
    /// # Errors
    /// [`RemotingError::ConnectionClosed`].
    pub fn send_oneway(&self, request: RemotingCommand) -> Result<(), RemotingError> {
        let mut request = request.oneway();
        request.opaque = self.next_opaque();
        self.send_raw(request)
    }

    /// Queues a command exactly as given (used to answer peer-initiated requests).
    ///
    /// # Errors
    /// [`RemotingError::ConnectionClosed`].
    pub fn send_raw(&self, command: RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        self.tx.send(command).map_err(|_| self.closed_error())
    }

    fn closed_error(&self) -> RemotingError {
        RemotingError::ConnectionClosed {
            addr: self.shared.addr.clone(),
        }
    }
}

/// Removes a pending entry when a request gives up (timeout or cancellation).
struct PendingGuard<'a> {
    shared: &'a Shared,
    opaque: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.opaque);
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut write: W,
    mut rx: mpsc::UnboundedReceiver<RemotingCommand>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            cmd = rx.recv() => match cmd { Some(c) => c, None => break },
            _ = closed(&shared) => break,
        };
        // Coalesce whatever else is queued into one write: pipelined sends then cost one
        // syscall per batch instead of one per message.
        let mut next = Some(first);
        while let Some(mut cmd) = next {
            if !cmd.is_response()
                && let Some(hook) = &shared.request_hook
            {
                hook.before_request(&shared.addr, &mut cmd);
            }
            if let Err(e) = encode_frame(&cmd, &mut buf, shared.max_frame) {
                warn!(addr = %shared.addr, code = cmd.code, error = %e, "dropping a command that cannot be encoded");
                if !cmd.is_response() {
                    // Fail the waiter at once rather than let it time out.
                    shared
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&cmd.opaque);
                }
            }
            next = if buf.len() < 256 * 1024 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if buf.is_empty() {
            continue;
        }
        if let Err(e) = write.write_all(&buf).await {
            debug!(addr = %shared.addr, error = %e, "write failed; closing");
            break;
        }
        buf.clear();
    }
    shared.close();
    let _ = write.shutdown().await;
}

async fn closed(shared: &Shared) {
    loop {
        let notified = shared.closed_notify.notified();
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    conn: Connection,
    read: R,
    handler: Option<Arc<dyn ServerRequestHandler>>,
) {
    let shared = conn.shared.clone();
    let mut frames = FramedRead::new(read, RemotingCodec::with_max_frame(shared.max_frame));
    loop {
        let next = tokio::select! {
            f = frames.next() => f,
            _ = closed(&shared) => break,
        };
        let cmd = match next {
            Some(Ok(cmd)) => cmd,
            Some(Err(e)) => {
                warn!(addr = %shared.addr, error = %e, "undecodable frame from peer; closing");
                break;
            }
            None => break,
        };
        if cmd.is_response() {
            let waiter = shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&cmd.opaque);
            match waiter {
                Some(w) => {
                    let _ = w.send(cmd);
                }
                None => {
                    trace!(addr = %shared.addr, opaque = cmd.opaque, "late or unknown response dropped")
                }
            }
        } else if let Some(handler) = &handler {
            let fut = handler.handle(conn.clone(), cmd.clone());
            let conn = conn.clone();
            tokio::spawn(async move {
                if let Some(mut response) = fut.await
                    && !cmd.is_oneway()
                {
                    response.opaque = cmd.opaque;
                    response.flag |= crate::protocol::command::FLAG_RESPONSE;
                    let _ = conn.send_raw(response);
                }
            });
        } else {
            debug!(addr = %shared.addr, code = cmd.code, "peer request ignored: no handler");
        }
    }
    shared.close();
}
