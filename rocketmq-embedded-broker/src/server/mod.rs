//! The remoting server: accept loop, one task pair per connection, dispatch by request
//! code. Shared by the name server and the broker roles.

mod channel;
mod dispatch;
#[cfg(feature = "tls")]
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use rocketmq_sdk::protocol::RemotingCodec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;
use tracing::{Instrument, debug, info_span, warn};

pub use channel::{ChannelId, ClientChannel};
pub use dispatch::{ConnectionListener, Dispatcher, RequestContext, RequestProcessor};
#[cfg(feature = "tls")]
pub use tls::{TlsServerConfig, TlsSetupError};

/// How accepted connections are spoken to: plaintext, or TLS (feature `tls`).
#[derive(Clone, Default)]
pub(crate) enum Transport {
    /// Plain TCP.
    #[default]
    Plain,
    /// TLS on every connection.
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

impl Transport {
    /// TLS when `tls` is set, else plaintext.
    #[cfg(feature = "tls")]
    pub(crate) fn from_tls(tls: Option<&TlsServerConfig>) -> Transport {
        tls.map_or(Transport::Plain, |t| Transport::Tls(t.acceptor()))
    }
}

/// Longest a client may take to complete the TLS handshake.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server. Dropping it stops accepting and closes every connection.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` and serves `dispatcher` until [`Server::shutdown`] or drop.
    ///
    /// # Errors
    /// The bind error.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing serves until it returns.
    pub async fn bind(addr: &str, dispatcher: Arc<Dispatcher>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(listener, dispatcher))
    }

    /// Like [`bind`](Self::bind), speaking TLS when `tls` is set (crate feature `tls`).
    ///
    /// # Errors
    /// The bind error.
    ///
    /// # Cancel safety
    /// Cancel safe: dropped before it completes, nothing is bound or served.
    #[cfg(feature = "tls")]
    pub async fn bind_tls(
        addr: &str,
        dispatcher: Arc<Dispatcher>,
        tls: Option<TlsServerConfig>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener_tls(listener, dispatcher, tls))
    }

    /// Like [`from_listener`](Self::from_listener), speaking TLS when `tls` is set (crate
    /// feature `tls`): each accepted connection first completes a TLS handshake (within
    /// 10 s) on its own task; one that fails is closed and logged, nothing else happens.
    #[cfg(feature = "tls")]
    pub fn from_listener_tls(
        listener: TcpListener,
        dispatcher: Arc<Dispatcher>,
        tls: Option<TlsServerConfig>,
    ) -> Server {
        Self::serve(listener, dispatcher, Transport::from_tls(tls.as_ref()))
    }

    /// Serves `dispatcher` on an already bound listener (when the address must be known
    /// before the dispatcher can be built, e.g. a broker's store host).
    ///
    /// A listener whose local address cannot be read reports `0.0.0.0:0`.
    pub fn from_listener(listener: TcpListener, dispatcher: Arc<Dispatcher>) -> Server {
        Self::serve(listener, dispatcher, Transport::Plain)
    }

    pub(crate) fn serve(
        listener: TcpListener,
        dispatcher: Arc<Dispatcher>,
        transport: Transport,
    ) -> Server {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, dispatcher, transport, rx));
        Server {
            local_addr,
            shutdown,
            task,
        }
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection and waits for the connection tasks.
    ///
    /// # Cancel safety
    /// Not cancel safe: connection tasks may still be running.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    transport: Transport,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(
                        stream,
                        peer,
                        dispatcher.clone(),
                        transport.clone(),
                        stop.clone(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: keep serving existing clients.
                    warn!(error = %e, "accept failed");
                    tokio::task::yield_now().await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    dispatcher: Arc<Dispatcher>,
    transport: Transport,
    stop: watch::Receiver<bool>,
) {
    match transport {
        Transport::Plain => {
            let (read, write) = stream.into_split();
            serve_halves(read, write, peer, dispatcher, stop).await;
        }
        #[cfg(feature = "tls")]
        Transport::Tls(acceptor) => {
            let mut stop_wait = stop.clone();
            let handshake = tokio::select! {
                r = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => r,
                _ = stop_wait.changed() => return,
            };
            match handshake {
                Ok(Ok(tls)) => {
                    let (read, write) = tokio::io::split(tls);
                    serve_halves(read, write, peer, dispatcher, stop).await;
                }
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "TLS handshake failed; connection closed");
                }
                Err(_) => debug!(%peer, "TLS handshake timed out; connection closed"),
            }
        }
    }
}

async fn serve_halves<R, W>(
    read: R,
    write: W,
    peer: SocketAddr,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let channel = ClientChannel::start(peer, write, dispatcher.max_frame());
    let span = info_span!("conn", peer = %peer, id = channel.id().0);
    async {
        dispatcher.on_connect(&channel);
        let mut frames =
            FramedRead::new(read, RemotingCodec::with_max_frame(dispatcher.max_frame()));
        loop {
            let next = tokio::select! {
                f = frames.next() => f,
                _ = stop.changed() => break,
                _ = channel.closed() => break,
            };
            match next {
                Some(Ok(cmd)) if cmd.is_response() => channel.complete(cmd),
                Some(Ok(cmd)) => {
                    let dispatcher = dispatcher.clone();
                    let channel = channel.clone();
                    tokio::spawn(async move { dispatcher.dispatch(&channel, cmd).await });
                }
                Some(Err(e)) => {
                    // Garbage from one peer closes that peer only.
                    warn!(error = %e, "undecodable frame; closing the connection");
                    break;
                }
                None => break,
            }
        }
        debug!("connection closed");
        channel.close();
        dispatcher.on_disconnect(&channel);
    }
    .instrument(span)
    .await
}
