//! The remoting server: accept loop, one task pair per connection, dispatch by request
//! code. Shared by the name server and the broker roles.

mod channel;
mod dispatch;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use rocketmq_sdk::protocol::RemotingCodec;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;
use tracing::{Instrument, debug, info_span, warn};

pub use channel::{ChannelId, ClientChannel};
pub use dispatch::{ConnectionListener, Dispatcher, RequestContext, RequestProcessor};

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
    pub async fn bind(addr: &str, dispatcher: Arc<Dispatcher>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(listener, dispatcher))
    }

    /// Serves `dispatcher` on an already bound listener (when the address must be known
    /// before the dispatcher can be built, e.g. a broker's store host).
    ///
    /// A listener whose local address cannot be read reports `0.0.0.0:0`.
    pub fn from_listener(listener: TcpListener, dispatcher: Arc<Dispatcher>) -> Server {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, dispatcher, rx));
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
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, peer, dispatcher.clone(), stop.clone()));
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
    mut stop: watch::Receiver<bool>,
) {
    let (read, write) = stream.into_split();
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
