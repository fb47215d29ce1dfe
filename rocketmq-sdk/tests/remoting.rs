//! The client transport against a scripted loopback peer.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{
    Backoff, Connection, ConnectionOptions, ConnectionPool, RemotingError, ServerRequestHandler,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

/// A peer that answers every request after `delay_ms` taken from the `delay` ext field,
/// echoing the body; code 9999 makes it ask the client something first.
async fn scripted_peer() -> (String, mpsc::UnboundedReceiver<RemotingCommand>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let seen_tx = seen_tx.clone();
            tokio::spawn(async move {
                let (mut sink, mut stream) = Framed::new(sock, RemotingCodec::new()).split();
                let (out_tx, mut out_rx) = mpsc::unbounded_channel::<RemotingCommand>();
                tokio::spawn(async move {
                    while let Some(c) = out_rx.recv().await {
                        if sink.send(c).await.is_err() {
                            break;
                        }
                    }
                });
                while let Some(Ok(cmd)) = stream.next().await {
                    let _ = seen_tx.send(cmd.clone());
                    if cmd.is_response() || cmd.is_oneway() {
                        continue;
                    }
                    if cmd.code == 9999 {
                        let ask = RemotingCommand::request(RequestCode::CHECK_TRANSACTION_STATE)
                            .with_opaque(777)
                            .with_body(cmd.body.clone());
                        let _ = out_tx.send(ask);
                    }
                    let delay: u64 = cmd
                        .ext_fields
                        .get("delay")
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(0);
                    let out_tx = out_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        let resp = RemotingCommand::response_to(&cmd, ResponseCode::SUCCESS)
                            .with_body(cmd.body.clone());
                        let _ = out_tx.send(resp);
                    });
                }
            });
        }
    });
    (addr, seen_rx)
}

fn req(body: &str, delay_ms: u64) -> RemotingCommand {
    let mut r = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.to_owned());
    r.ext_fields.insert("delay", delay_ms.to_string());
    r
}

#[tokio::test]
async fn concurrent_requests_are_correlated_by_opaque() {
    let (addr, _seen) = scripted_peer().await;
    let conn = Connection::connect(&addr, ConnectionOptions::default())
        .await
        .unwrap();
    // Later requests answer first: correlation must not depend on order.
    let futs = (0..50u64).map(|i| {
        let conn = conn.clone();
        async move {
            let resp = conn
                .request(req(&format!("m{i}"), 50 - i), Duration::from_secs(5))
                .await;
            (i, resp.unwrap())
        }
    });
    for (i, resp) in futures::future::join_all(futs).await {
        assert!(resp.is_response());
        assert_eq!(&resp.body[..], format!("m{i}").as_bytes());
    }
}

#[tokio::test]
async fn timeout_is_typed_and_late_response_is_dropped() {
    let (addr, _seen) = scripted_peer().await;
    let conn = Connection::connect(&addr, ConnectionOptions::default())
        .await
        .unwrap();
    let err = conn
        .request(req("slow", 300), Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, RemotingError::Timeout { .. }));
    // The connection stays usable and is not confused by the late answer.
    let ok = conn
        .request(req("fast", 0), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(&ok.body[..], b"fast");
}

#[tokio::test]
async fn closed_connection_fails_pending_requests() {
    let (addr, _seen) = scripted_peer().await;
    let conn = Connection::connect(&addr, ConnectionOptions::default())
        .await
        .unwrap();
    let c2 = conn.clone();
    let pending = tokio::spawn(async move {
        c2.request(req("never", 10_000), Duration::from_secs(30))
            .await
    });
    // Wait until the request is on the wire, then close.
    tokio::task::yield_now().await;
    conn.close();
    let err = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert!(conn.send_oneway(req("x", 0)).is_err());
}

struct Answer(mpsc::UnboundedSender<RemotingCommand>);

impl ServerRequestHandler for Answer {
    fn handle(
        &self,
        _c: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let tx = self.0.clone();
        Box::pin(async move {
            let _ = tx.send(request.clone());
            Some(RemotingCommand::response_to(
                &request,
                ResponseCode::SUCCESS,
            ))
        })
    }
}

#[tokio::test]
async fn peer_initiated_requests_reach_the_handler_and_get_answers() {
    let (addr, mut seen) = scripted_peer().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut options = ConnectionOptions::default();
    options.handler = Some(Arc::new(Answer(tx)));
    let conn = Connection::connect(&addr, options).await.unwrap();
    let mut r = req("check-me", 0);
    r.code = 9999;
    conn.request(r, Duration::from_secs(5)).await.unwrap();
    let asked = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(asked.request_code(), RequestCode::CHECK_TRANSACTION_STATE);
    assert_eq!(&asked.body[..], b"check-me");
    // The handler's answer reaches the peer with the peer's opaque and the response flag.
    let answer = loop {
        let c = tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .unwrap()
            .unwrap();
        if c.is_response() {
            break c;
        }
    };
    assert_eq!(answer.opaque, 777);
}

#[tokio::test]
async fn pool_backs_off_then_reconnects_and_replaces_closed_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap().to_string();
    drop(listener);
    let pool = ConnectionPool::new(
        ConnectionOptions::default(),
        Backoff::new(Duration::from_secs(60), Duration::from_secs(60)),
    );
    let err = pool
        .request(&dead, req("a", 0), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.is_not_sent(), "{err:?}");
    // Within the backoff window the pool fails fast without dialing again.
    let err = pool.get(&dead).await.unwrap_err();
    assert!(err.to_string().contains("in backoff"), "{err}");

    let (peer, _seen) = scripted_peer().await;
    let resp = pool
        .request(&peer, req("b", 0), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"b");
    let first = pool.get(&peer).await.unwrap();
    first.close();
    let resp = pool
        .request(&peer, req("c", 0), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"c");
    assert!(first.is_closed());
    assert!(!pool.get(&peer).await.unwrap().is_closed());
}
