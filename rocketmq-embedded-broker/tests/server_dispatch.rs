//! The remoting server's generic behaviour, driven over loopback TCP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rocketmq_embedded_broker::server::{Dispatcher, RequestContext, RequestProcessor, Server};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Echo(Arc<AtomicUsize>);

#[async_trait]
impl RequestProcessor for Echo {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if request.body.as_ref() == b"panic" {
            panic!("boom in processor");
        }
        Some(RemotingCommand::new_response(ResponseCode::SUCCESS).with_body(request.body))
    }
}

async fn start() -> (Server, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut d = Dispatcher::new();
    d.register(&[RequestCode::HEART_BEAT], Arc::new(Echo(calls.clone())));
    (
        Server::bind("127.0.0.1:0", Arc::new(d)).await.unwrap(),
        calls,
    )
}

async fn connect(server: &Server) -> Connection {
    Connection::connect(
        &server.local_addr().to_string(),
        ConnectionOptions::default(),
    )
    .await
    .unwrap()
}

fn heartbeat(body: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.to_owned())
}

async fn wait_for(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + T;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    condition()
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn unknown_codes_get_request_code_not_supported_and_responses_carry_a_version() {
    let (server, _) = start().await;
    let conn = connect(&server).await;
    let resp = conn
        .request(RemotingCommand::request(RequestCode(4242)), T)
        .await
        .unwrap();
    assert_eq!(
        resp.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 4242 not supported")
    );
    assert!(resp.is_response());
    assert!(
        resp.version >= 401,
        "a realistic version, got {}",
        resp.version
    );
    let ok = conn.request(heartbeat("x"), T).await.unwrap();
    assert_eq!(ok.response_code(), ResponseCode::SUCCESS);
    assert_eq!(&ok.body[..], b"x");
}

#[tokio::test]
async fn oneway_requests_are_processed_but_not_answered() {
    let (server, calls) = start().await;
    // A raw socket sees exactly what the server writes.
    let mut raw = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let mut frames = bytes::BytesMut::new();
    use tokio_util::codec::Encoder;
    let mut codec = rocketmq_sdk::protocol::RemotingCodec::new();
    codec
        .encode(heartbeat("one").with_opaque(1).oneway(), &mut frames)
        .unwrap();
    codec
        .encode(heartbeat("two").with_opaque(2), &mut frames)
        .unwrap();
    raw.write_all(&frames).await.unwrap();
    assert!(wait_for(|| calls.load(Ordering::SeqCst) == 2).await);
    let mut got = bytes::BytesMut::new();
    let reply = loop {
        use tokio_util::codec::Decoder;
        if let Some(c) = codec.decode(&mut got).unwrap() {
            break c;
        }
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(T, raw.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    };
    assert_eq!(reply.opaque, 2, "only the two-way request is answered");
    assert!(got.is_empty());
}

#[tokio::test]
async fn a_panicking_processor_answers_system_error_and_the_server_lives_on() {
    let (server, _) = start().await;
    let conn = connect(&server).await;
    let resp = conn.request(heartbeat("panic"), T).await.unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(resp.remark.unwrap().contains("boom in processor"));
    let ok = conn.request(heartbeat("y"), T).await.unwrap();
    assert_eq!(ok.response_code(), ResponseCode::SUCCESS);
}

#[tokio::test]
async fn garbage_closes_only_the_offending_connection() {
    let (server, _) = start().await;
    let good = connect(&server).await;
    let mut bad = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    // A frame with an unknown serialize type.
    bad.write_all(&[0, 0, 0, 6, 9, 0, 0, 2, b'{', b'}'])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(T, bad.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "the server closed the garbage connection");
    for i in 0..10 {
        let body = format!("still fine {i}");
        let ok = good.request(heartbeat(&body), T).await.unwrap();
        assert_eq!(ok.body, body.as_bytes());
    }
}
