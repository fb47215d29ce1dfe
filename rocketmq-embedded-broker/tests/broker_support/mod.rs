//! Helpers shared by the broker integration tests: raw requests built from
//! `rocketmq_sdk::protocol`, sent over loopback with `rocketmq_sdk::remoting::Connection`.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use rocketmq_sdk::protocol::body::heartbeat::{ConsumeFromWhere, ConsumeType};
use rocketmq_sdk::protocol::body::{
    ConsumerData, HeartbeatData, JsonBody, MessageModel, ProducerData, SubscriptionData,
};
use rocketmq_sdk::protocol::header::pull::pull_sys_flag;
use rocketmq_sdk::protocol::header::{
    PullMessageRequestHeader, PullMessageResponseHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
};
use rocketmq_sdk::protocol::message::batch::encode_batch;
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties, decode_all, keys};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions, ServerRequestHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;

/// Generous per-request timeout: a test that needs it is broken, not slow.
pub const T: Duration = Duration::from_secs(10);

pub async fn connect(addr: &str) -> Connection {
    Connection::connect(addr, ConnectionOptions::default())
        .await
        .expect("connect")
}

/// Broker→client requests seen by a connection.
#[derive(Clone, Default)]
pub struct Inbox(pub Arc<Mutex<Vec<RemotingCommand>>>);

impl Inbox {
    pub fn codes(&self) -> Vec<i32> {
        self.0.lock().unwrap().iter().map(|c| c.code).collect()
    }

    pub fn all(&self) -> Vec<RemotingCommand> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, code: RequestCode) -> usize {
        self.codes().iter().filter(|c| **c == code.value()).count()
    }
}

impl ServerRequestHandler for Inbox {
    fn handle(
        &self,
        _connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        self.0.lock().unwrap().push(request);
        Box::pin(async { None })
    }
}

/// A connection that records what the broker asks it.
pub async fn connect_with_inbox(addr: &str) -> (Connection, Inbox) {
    let inbox = Inbox::default();
    let mut options = ConnectionOptions::default();
    options.handler = Some(Arc::new(inbox.clone()));
    let conn = Connection::connect(addr, options).await.expect("connect");
    (conn, inbox)
}

pub async fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + T;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    condition()
}

pub async fn wait_until_async<F: Future<Output = bool>>(mut condition: impl FnMut() -> F) -> bool {
    let deadline = tokio::time::Instant::now() + T;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    condition().await
}

pub fn send_header(topic: &str, queue_id: i32) -> SendMessageRequestHeaderV2 {
    SendMessageRequestHeaderV2 {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        ..Default::default()
    }
}

pub fn props(tags: Option<&str>, key: Option<&str>) -> String {
    let mut p = Properties::default();
    p.insert(keys::WAIT, "true");
    if let Some(t) = tags {
        p.insert(keys::TAGS, t);
    }
    if let Some(k) = key {
        p.insert(keys::KEYS, k);
    }
    p.to_wire_string().unwrap()
}

pub fn send_request(
    topic: &str,
    queue_id: i32,
    body: &[u8],
    tags: Option<&str>,
) -> RemotingCommand {
    let mut h = send_header(topic, queue_id);
    h.properties = Some(props(tags, None));
    RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&h)
        .with_body(Bytes::copy_from_slice(body))
}

pub async fn send(conn: &Connection, topic: &str, queue_id: i32, body: &[u8]) -> RemotingCommand {
    conn.request(send_request(topic, queue_id, body, None), T)
        .await
        .expect("send")
}

pub async fn send_tagged(
    conn: &Connection,
    topic: &str,
    queue_id: i32,
    body: &[u8],
    tags: &str,
) -> RemotingCommand {
    conn.request(send_request(topic, queue_id, body, Some(tags)), T)
        .await
        .expect("send")
}

pub async fn send_ok(
    conn: &Connection,
    topic: &str,
    queue_id: i32,
    body: &[u8],
) -> SendMessageResponseHeader {
    let r = send(conn, topic, queue_id, body).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    r.decode_header().unwrap()
}

pub fn batch_request(topic: &str, queue_id: i32, bodies: &[&[u8]]) -> RemotingCommand {
    let msgs: Vec<Message> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut m = Message::new(topic, Bytes::copy_from_slice(b));
            m.set_uniq_key(format!("UNIQ{i:028}"));
            m
        })
        .collect();
    let mut body = BytesMut::new();
    encode_batch(&msgs, &mut body).unwrap();
    let mut h = send_header(topic, queue_id);
    h.batch = Some(true);
    h.properties = Some(props(None, None));
    RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE)
        .with_header(&h)
        .with_body(body.freeze())
}

pub fn pull_header(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: pull_sys_flag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        ..Default::default()
    }
}

pub fn pull_request(h: &PullMessageRequestHeader) -> RemotingCommand {
    RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(h)
}

pub async fn pull(
    conn: &Connection,
    h: &PullMessageRequestHeader,
) -> (RemotingCommand, PullMessageResponseHeader) {
    let r = conn.request(pull_request(h), T).await.expect("pull");
    let header = r
        .decode_header()
        .unwrap_or_else(|e| panic!("pull response header {e}: {r:?}"));
    (r, header)
}

pub fn bodies(r: &RemotingCommand) -> Vec<Vec<u8>> {
    decode_all(r.body.clone())
        .unwrap()
        .into_iter()
        .map(|m| m.message.body.to_vec())
        .collect()
}

pub fn messages(r: &RemotingCommand) -> Vec<MessageExt> {
    decode_all(r.body.clone()).unwrap()
}

pub fn subscription(topic: &str, expr: &str) -> SubscriptionData {
    SubscriptionData::build(topic, expr, None).unwrap()
}

pub fn heartbeat_body(client_id: &str, group: &str, topic: &str, expr: &str) -> HeartbeatData {
    HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: Some(ConsumeFromWhere::ConsumeFromFirstOffset),
            consume_type: Some(ConsumeType::ConsumePassively),
            group_name: group.into(),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![subscription(topic, expr)],
            unit_mode: false,
        }],
        producer_data_set: vec![ProducerData {
            group_name: "CLIENT_INNER_PRODUCER".into(),
        }],
        ..Default::default()
    }
}

pub async fn heartbeat(
    conn: &Connection,
    client_id: &str,
    group: &str,
    topic: &str,
    expr: &str,
) -> RemotingCommand {
    let body = heartbeat_body(client_id, group, topic, expr)
        .encode()
        .unwrap();
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body),
            T,
        )
        .await
        .expect("heartbeat");
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    r
}

/// Writes raw bytes on a fresh socket and reads the first response frame.
pub async fn raw_exchange(addr: &str, frame: &[u8]) -> RemotingCommand {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(frame).await.unwrap();
    let mut codec = RemotingCodec::new();
    let mut buf = BytesMut::new();
    loop {
        // Skip requests the broker sends on its own (e.g. NOTIFY_CONSUMER_IDS_CHANGED).
        while let Some(c) = codec.decode(&mut buf).unwrap() {
            if c.is_response() {
                return c;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(T, s.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "connection closed without a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A JSON-header frame written by hand.
pub fn json_frame(header_json: &str, body: &[u8]) -> Vec<u8> {
    let h = header_json.as_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + h.len() + body.len()) as i32).to_be_bytes());
    out.extend_from_slice(&(h.len() as i32).to_be_bytes());
    out.extend_from_slice(h);
    out.extend_from_slice(body);
    out
}
