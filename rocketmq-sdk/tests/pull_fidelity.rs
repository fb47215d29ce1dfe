//! The lite pull consumer against loopback fake brokers that answer like the real Java
//! 4.9.8 and 5.0.0 brokers, replaying frames from the captured transcripts
//! (`tests/vectors/pull/`): the request code each version gets (11 or 361), the fallback
//! on REQUEST_CODE_NOT_SUPPORTED, lasting errors surfacing through `poll`, undecodable
//! records stepped over, inner batches unwrapped, `suggestWhichBrokerId` followed, and
//! `committed` on 4.9's ambiguous answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use rocketmq_sdk::consumer::{ConsumeFrom, PullConsumerConfig};
use rocketmq_sdk::protocol::message::batch::encode_batch;
use rocketmq_sdk::protocol::message::compress::lz4_compress;
use rocketmq_sdk::protocol::message::record::encode_record;
use rocketmq_sdk::protocol::message::sysflag;
use rocketmq_sdk::protocol::message::{Message, MessageExt, MessageQueue};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, ResponseCode};
use rocketmq_sdk::{Client, Error, PullConsumer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;

const V4_9_8: i16 = 409;
const V5_0_0: i16 = 413;
const PULL: i32 = 11;
const LITE_PULL: i32 = 361;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const UPDATE_CONSUMER_OFFSET: i32 = 15;
const GET_MAX_OFFSET: i32 = 30;
const GET_MIN_OFFSET: i32 = 31;
const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
const GET_ALL_CONSUMER_OFFSET: i32 = 43;
const GET_ROUTEINFO_BY_TOPIC: i32 = 105;

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/tests/vectors/pull/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A response to `req` carrying the golden frame's code, ext fields, remark and body.
fn replay(req: &RemotingCommand, frame: &Value) -> RemotingCommand {
    let code = ResponseCode::from(frame["code"].as_i64().unwrap() as i32);
    let mut resp = RemotingCommand::response_to(req, code);
    if let Some(ext) = frame["header"]["extFields"].as_object() {
        for (k, v) in ext {
            resp.ext_fields.insert(k.clone(), v.as_str().unwrap());
        }
    }
    if let Some(r) = frame["header"]["remark"].as_str() {
        resp = resp.with_remark(r);
    }
    resp.with_body(unhex(frame["bodyHex"].as_str().unwrap()))
}

fn pull_answer(
    req: &RemotingCommand,
    code: ResponseCode,
    next: i64,
    suggest: i64,
    body: Bytes,
) -> RemotingCommand {
    let mut resp = RemotingCommand::response_to(req, code);
    for (k, v) in [
        ("suggestWhichBrokerId", suggest),
        ("nextBeginOffset", next),
        ("minOffset", 0),
        ("maxOffset", next),
    ] {
        resp.ext_fields.insert(k, v.to_string());
    }
    resp.with_body(body)
}

/// An empty "nothing new" answer, held a little as a long-polling broker holds it.
fn not_found(req: &RemotingCommand, next: i64) -> (RemotingCommand, Duration) {
    (
        pull_answer(req, ResponseCode::PULL_NOT_FOUND, next, 0, Bytes::new()),
        Duration::from_millis(100),
    )
}

type Handler = dyn Fn(&RemotingCommand) -> Option<(RemotingCommand, Duration)> + Send + Sync;

/// A loopback peer playing name server and broker: it answers the route request with
/// `route`, the rest with `handler` (or a bare SUCCESS), stamps `version` on every
/// response, and records every request.
struct Fake {
    addr: String,
    seen: Arc<Mutex<Vec<RemotingCommand>>>,
    route: Arc<Mutex<String>>,
}

impl Fake {
    async fn start(
        version: i16,
        handler: impl Fn(&RemotingCommand) -> Option<(RemotingCommand, Duration)>
        + Send
        + Sync
        + 'static,
    ) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let route = Arc::new(Mutex::new(route_json(&[(0, &addr)])));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, r) = (seen.clone(), route.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (seen, route, handler) = (s.clone(), r.clone(), handler.clone());
                tokio::spawn(async move {
                    let (mut sink, mut stream) = Framed::new(sock, RemotingCodec::new()).split();
                    let (tx, mut rx) = mpsc::unbounded_channel::<RemotingCommand>();
                    tokio::spawn(async move {
                        while let Some(c) = rx.recv().await {
                            if sink.send(c).await.is_err() {
                                break;
                            }
                        }
                    });
                    while let Some(Ok(cmd)) = stream.next().await {
                        if cmd.is_response() {
                            continue;
                        }
                        seen.lock().unwrap().push(cmd.clone());
                        if cmd.is_oneway() {
                            continue;
                        }
                        let (mut resp, delay) = if cmd.code == GET_ROUTEINFO_BY_TOPIC {
                            let body = route.lock().unwrap().clone();
                            (
                                RemotingCommand::response_to(&cmd, ResponseCode::SUCCESS)
                                    .with_body(body),
                                Duration::ZERO,
                            )
                        } else {
                            handler(&cmd).unwrap_or_else(|| {
                                (
                                    RemotingCommand::response_to(&cmd, ResponseCode::SUCCESS),
                                    Duration::ZERO,
                                )
                            })
                        };
                        resp.version = version;
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let _ = tx.send(resp);
                        });
                    }
                });
            }
        });
        Fake { addr, seen, route }
    }

    fn requests(&self, code: i32) -> Vec<RemotingCommand> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.code == code)
            .cloned()
            .collect()
    }

    fn count(&self, code: i32) -> usize {
        self.requests(code).len()
    }

    fn pulls(&self) -> Vec<RemotingCommand> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.code == PULL || c.code == LITE_PULL)
            .cloned()
            .collect()
    }
}

fn route_json(addrs: &[(i64, &str)]) -> String {
    let addrs: BTreeMap<String, &str> = addrs.iter().map(|(id, a)| (id.to_string(), *a)).collect();
    serde_json::json!({
        "brokerDatas": [{"brokerAddrs": addrs, "brokerName": "broker-a", "cluster": "DefaultCluster"}],
        "queueDatas": [{"brokerName": "broker-a", "perm": 6, "readQueueNums": 4,
                        "topicSysFlag": 0, "writeQueueNums": 4}],
        "filterServerTable": {}
    })
    .to_string()
}

fn not_supported(req: &RemotingCommand) -> Option<(RemotingCommand, Duration)> {
    // What 4.9.8's NettyRemotingAbstract answers for a code without a processor.
    Some((
        RemotingCommand::response_to(req, ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
            .with_remark(format!(" request type {} not supported", req.code)),
        Duration::ZERO,
    ))
}

fn queue_offset(req: &RemotingCommand) -> i64 {
    req.ext_fields.get("queueOffset").unwrap().parse().unwrap()
}

async fn new_client(ns: &str) -> Client {
    Client::builder()
        .name_server(ns)
        .request_timeout(Duration::from_secs(3))
        .build()
        .await
        .unwrap()
}

async fn consumer(client: &Client, group: &str, delay_on_error: Duration) -> PullConsumer {
    let mut cfg = PullConsumerConfig::default();
    cfg.consume_from = ConsumeFrom::FirstOffset;
    cfg.auto_commit = false;
    cfg.pull_delay_on_error = delay_on_error;
    client
        .pull_consumer(group)
        .config(cfg)
        .start()
        .await
        .unwrap()
}

/// Polls until `want` messages arrived (or the deadline passes).
async fn poll_n(c: &PullConsumer, want: usize) -> Vec<MessageExt> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    got
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The golden lite pull answer for offset 0, "nothing new" after.
fn golden_pull(found: Value) -> impl Fn(&RemotingCommand) -> Option<(RemotingCommand, Duration)> {
    move |req| match req.code {
        PULL | LITE_PULL if queue_offset(req) == 0 => Some((replay(req, &found), Duration::ZERO)),
        PULL | LITE_PULL => Some(not_found(req, queue_offset(req))),
        _ => None,
    }
}

/// The fields the Java lite pull consumer sets, compared with what the SDK sent.
fn assert_like_java(sent: &RemotingCommand, golden: &Value) {
    let ext = golden["header"]["extFields"].as_object().unwrap();
    for key in [
        "maxMsgNums",
        "sysFlag",
        "commitOffset",
        "subscription",
        "suspendTimeoutMillis",
        "expressionType",
        "maxMsgBytes",
        "bname",
        "queueOffset",
        "subVersion",
    ] {
        assert_eq!(
            sent.ext_fields.get(key),
            ext.get(key).and_then(Value::as_str),
            "{key} of {:?}",
            sent.ext_fields
        );
    }
    assert_eq!(sent.code, golden["code"].as_i64().unwrap() as i32);
}

#[tokio::test]
async fn lite_pull_on_a_4_9_8_broker_uses_pull_message() {
    let found = vector("498-lite-pull-found");
    let offset_answer = vector("498-query-offset-response");
    let fake = Fake::start(V4_9_8, move |req| match req.code {
        LITE_PULL => not_supported(req),
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        _ => golden_pull(found.clone())(req),
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "G09L_498_173616", Duration::from_millis(100)).await;
    let q = MessageQueue::new("G09T_498_173616", "broker-a", 0);
    c.assign([q.clone()]).await.unwrap();

    let got = poll_n(&c, 1).await;
    assert_eq!(got.len(), 1, "the golden record is polled");
    assert_eq!(
        (got[0].topic.as_str(), got[0].queue_id, got[0].queue_offset),
        ("G09T_498_173616", 0, 0)
    );
    // The broker's version was known before the first pull (from the offset query's
    // answer): no request ever carried 361.
    assert_eq!(fake.count(LITE_PULL), 0);
    let pulls = fake.requests(PULL);
    assert!(!pulls.is_empty());
    assert_like_java(&pulls[0], &vector("498-lite-pull-request"));

    c.commit().await.unwrap();
    let commits = fake.requests(UPDATE_CONSUMER_OFFSET);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].ext_fields.get("commitOffset"), Some("1"));
    c.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn lite_pull_on_a_5_0_0_broker_uses_lite_pull_message() {
    let found = vector("500-lite-pull-found");
    let offset_answer = vector("500-query-offset-response");
    let fake = Fake::start(V5_0_0, move |req| match req.code {
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        _ => golden_pull(found.clone())(req),
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "G09L_500_173637", Duration::from_millis(100)).await;
    let q = MessageQueue::new("G09T_500_173637", "broker-a", 1);
    c.assign([q]).await.unwrap();

    let got = poll_n(&c, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].queue_id, got[0].queue_offset), (1, 0));
    wait_until("a second pull", || fake.pulls().len() >= 2).await;
    assert_eq!(
        fake.count(PULL),
        0,
        "a 5.x broker gets LITE_PULL_MESSAGE only"
    );
    let pulls = fake.requests(LITE_PULL);
    assert_like_java(&pulls[0], &vector("500-lite-pull-request"));
    assert_eq!(pulls[1].ext_fields.get("queueOffset"), Some("1"));
    c.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_refused_lite_pull_is_resent_as_pull_message_and_remembered() {
    // Claims 5.0.0 but refuses 361 (a proxy, say): the refusal alone must do.
    let found = vector("498-lite-pull-found");
    let offset_answer = vector("500-query-offset-response");
    let fake = Fake::start(V5_0_0, move |req| match req.code {
        LITE_PULL => not_supported(req),
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        _ => golden_pull(found.clone())(req),
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "G09L_498_173616", Duration::from_millis(100)).await;
    c.assign([MessageQueue::new("G09T_498_173616", "broker-a", 0)])
        .await
        .unwrap();
    let got = poll_n(&c, 1).await;
    assert_eq!(got.len(), 1);
    wait_until("pulls after the fallback", || fake.count(PULL) >= 3).await;
    let pulls = fake.pulls();
    let codes: Vec<(i32, i64)> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.code,
                c.ext_fields
                    .get("queueOffset")
                    .map_or(-1, |o| o.parse().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        fake.count(LITE_PULL),
        1,
        "361 is tried once per broker {codes:?}"
    );
    assert_eq!(pulls[0].code, LITE_PULL);
    assert_eq!(pulls[1].code, PULL, "resent at once as 11");
    assert_eq!(queue_offset(&pulls[1]), 0);
    // The 4.9 form: same sysFlag (lite bit kept, as 4.9.8's lite consumer sends it),
    // no maxMsgBytes.
    assert_eq!(pulls[1].ext_fields.get("sysFlag"), Some("22"));
    assert_eq!(pulls[1].ext_fields.get("maxMsgBytes"), None);
    c.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_lasting_pull_error_surfaces_through_poll_after_three_attempts() {
    let offset_answer = vector("498-query-offset-response");
    let fake = Fake::start(V4_9_8, move |req| match req.code {
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        PULL | LITE_PULL => Some((
            RemotingCommand::response_to(req, ResponseCode::NO_PERMISSION)
                .with_remark("the consumer group[G] pulling message is forbidden"),
            Duration::ZERO,
        )),
        _ => None,
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "G_forbidden", Duration::from_millis(300)).await;
    c.assign([MessageQueue::new("T_forbidden", "broker-a", 0)])
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    let err = loop {
        let codes: Vec<i32> = fake.seen.lock().unwrap().iter().map(|c| c.code).collect();
        assert!(Instant::now() < deadline, "no error surfaced {codes:?}");
        match c.poll(Duration::from_millis(100)).await {
            Ok(batch) => assert!(batch.is_empty()),
            Err(e) => break e,
        }
    };
    assert_eq!(
        fake.pulls().len(),
        3,
        "surfaced on the third failed attempt"
    );
    assert!(
        matches!(&err, Error::Broker { code, .. } if *code == ResponseCode::NO_PERMISSION),
        "{err:?}"
    );
    // Nothing was fetched: nothing is committed, and commit says why.
    let commit = c.commit().await;
    assert!(
        matches!(&commit, Err(Error::Broker { code, .. }) if *code == ResponseCode::NO_PERMISSION),
        "{commit:?}"
    );
    assert_eq!(fake.count(UPDATE_CONSUMER_OFFSET), 0);
    c.shutdown().await;
    assert_eq!(fake.count(UPDATE_CONSUMER_OFFSET), 0);
    client.shutdown().await;
}

fn record(queue_offset: i64, body: Bytes, sys_flag: i32, out: &mut BytesMut) {
    let mut m = MessageExt::from(Message::new("T_mixed", body));
    m.queue_id = 0;
    m.queue_offset = queue_offset;
    m.sys_flag = sys_flag;
    m.store_host = "127.0.0.1:10911".parse().unwrap();
    m.born_host = "127.0.0.1:50000".parse().unwrap();
    encode_record(&m, out).unwrap();
}

#[tokio::test]
async fn bad_records_are_skipped_and_inner_batches_unwrapped() {
    let plain = b"lz4 body of a 5.x producer ".repeat(20);
    let mut body = BytesMut::new();
    record(0, Bytes::from_static(b"first"), 0, &mut body);
    // Compression type 4 does not exist: this record can never be read.
    record(
        1,
        Bytes::from_static(b"???"),
        sysflag::COMPRESSED | 0x400,
        &mut body,
    );
    record(
        2,
        Bytes::from(lz4_compress(&plain)),
        sysflag::COMPRESSED | 0x100,
        &mut body,
    );
    let mut inner = BytesMut::new();
    encode_batch(
        &[
            Message::new("T_mixed", Bytes::from_static(b"inner-a")),
            Message::new("T_mixed", Bytes::from_static(b"inner-b")),
        ],
        &mut inner,
    )
    .unwrap();
    record(
        3,
        inner.freeze(),
        sysflag::INNER_BATCH | sysflag::NEED_UNWRAP,
        &mut body,
    );
    let body = body.freeze();
    let fake = Fake::start(V5_0_0, move |req| match req.code {
        LITE_PULL if queue_offset(req) == 0 => Some((
            pull_answer(req, ResponseCode::SUCCESS, 5, 0, body.clone()),
            Duration::ZERO,
        )),
        LITE_PULL => Some(not_found(req, queue_offset(req))),
        QUERY_CONSUMER_OFFSET => Some((
            RemotingCommand::response_to(req, ResponseCode::QUERY_NOT_FOUND),
            Duration::ZERO,
        )),
        _ => None,
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "G_mixed", Duration::from_millis(100)).await;
    c.assign([MessageQueue::new("T_mixed", "broker-a", 0)])
        .await
        .unwrap();
    let got = poll_n(&c, 4).await;
    let offsets: Vec<i64> = got.iter().map(|m| m.queue_offset).collect();
    assert_eq!(offsets, [0, 2, 3, 4], "the bad record 1 alone is missing");
    assert_eq!(&got[0].body[..], b"first");
    assert_eq!(&got[1].body[..], &plain[..], "LZ4 frame inflated");
    assert!(!sysflag::is_compressed(got[1].sys_flag));
    assert_eq!(&got[2].body[..], b"inner-a");
    assert_eq!(&got[3].body[..], b"inner-b");
    // The queue moves on past the bad record.
    wait_until("the next pull", || fake.pulls().len() >= 2).await;
    assert_eq!(queue_offset(&fake.pulls()[1]), 5);
    c.commit().await.unwrap();
    let commits = fake.requests(UPDATE_CONSUMER_OFFSET);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].ext_fields.get("commitOffset"), Some("5"));
    c.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn the_suggested_broker_serves_the_next_pull() {
    let slave = Fake::start(V4_9_8, |req| match req.code {
        PULL | LITE_PULL => Some(not_found(req, queue_offset(req))),
        _ => None,
    })
    .await;
    let found = vector("498-lite-pull-found");
    let offset_answer = vector("498-query-offset-response");
    let master = Fake::start(V4_9_8, move |req| match req.code {
        PULL | LITE_PULL if queue_offset(req) == 0 => {
            let mut resp = replay(req, &found);
            // The master asks for the next pulls to go to broker 1 (it reads from disk).
            resp.ext_fields.insert("suggestWhichBrokerId", "1");
            Some((resp, Duration::ZERO))
        }
        PULL | LITE_PULL => Some(not_found(req, queue_offset(req))),
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        _ => None,
    })
    .await;
    *master.route.lock().unwrap() = route_json(&[(0, &master.addr), (1, &slave.addr)]);
    let client = new_client(&master.addr).await;
    let c = consumer(&client, "G09L_498_173616", Duration::from_millis(100)).await;
    c.assign([MessageQueue::new("G09T_498_173616", "broker-a", 0)])
        .await
        .unwrap();
    assert_eq!(poll_n(&c, 1).await.len(), 1);
    wait_until("a pull on the slave", || !slave.pulls().is_empty()).await;
    assert_eq!(
        master.pulls().len(),
        1,
        "only the first pull went to the master"
    );
    let on_slave = &slave.pulls()[0];
    assert_eq!(queue_offset(on_slave), 1);
    let flag: i32 = on_slave.ext_fields.get("sysFlag").unwrap().parse().unwrap();
    assert_eq!(flag & 0x1, 0, "no commit-offset flag to a slave");
    c.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn committed_is_none_for_a_group_that_never_committed_on_4_9_8() {
    let offset_answer = vector("498-query-offset-response");
    let table = r#"{"offsetTable":{"G09T_498_173616@other":{0:7},"G09T_498_173616@done":{0:0}}}"#;
    let fake = Fake::start(V4_9_8, move |req| match req.code {
        // 4.9.8 answers 0 for every group here: the queue's first message is in memory.
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        GET_ALL_CONSUMER_OFFSET => Some((
            RemotingCommand::response_to(req, ResponseCode::SUCCESS).with_body(table),
            Duration::ZERO,
        )),
        _ => None,
    })
    .await;
    let client = new_client(&fake.addr).await;
    let q = MessageQueue::new("G09T_498_173616", "broker-a", 0);
    let never = consumer(&client, "never", Duration::from_millis(100)).await;
    assert_eq!(never.committed(&q).await.unwrap(), None);
    let done = consumer(&client, "done", Duration::from_millis(100)).await;
    assert_eq!(done.committed(&q).await.unwrap(), Some(0));
    assert_eq!(fake.count(GET_ALL_CONSUMER_OFFSET), 2);
    never.shutdown().await;
    done.shutdown().await;
    client.shutdown().await;

    // 5.0.0 says "not found" itself: no second request.
    let offset_answer = vector("500-query-offset-response");
    let fake = Fake::start(V5_0_0, move |req| match req.code {
        QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
        _ => None,
    })
    .await;
    let client = new_client(&fake.addr).await;
    let c = consumer(&client, "never", Duration::from_millis(100)).await;
    let q = MessageQueue::new("G09T_500_173637", "broker-a", 1);
    assert_eq!(c.committed(&q).await.unwrap(), None);
    assert_eq!(fake.count(GET_ALL_CONSUMER_OFFSET), 0);
    let sent = fake.requests(QUERY_CONSUMER_OFFSET);
    assert_eq!(sent[0].ext_fields.get("setZeroIfNotFound"), Some("false"));
    c.shutdown().await;
    client.shutdown().await;
}

/// The push consumer's PULL_MESSAGE as each version's client sends it: 5.0.0 adds
/// `maxMsgBytes` (`pullBatchSizeInBytes`, 256 KiB); 4.9.8 knows no such field.
#[tokio::test]
async fn push_pulls_carry_max_msg_bytes_only_to_5_x() {
    for (version, golden, expected) in [
        (V5_0_0, "500-query-offset-response", Some("262144")),
        (V4_9_8, "498-query-offset-response", None),
    ] {
        let client_id = Arc::new(Mutex::new(String::new()));
        let id = client_id.clone();
        let offset_answer = vector(golden);
        let fake = Fake::start(version, move |req| match req.code {
            PULL | LITE_PULL => Some(not_found(req, queue_offset(req))),
            QUERY_CONSUMER_OFFSET => Some((replay(req, &offset_answer), Duration::ZERO)),
            GET_MAX_OFFSET | GET_MIN_OFFSET => {
                let mut r = RemotingCommand::response_to(req, ResponseCode::SUCCESS);
                r.ext_fields.insert("offset", "0");
                Some((r, Duration::ZERO))
            }
            GET_CONSUMER_LIST_BY_GROUP => {
                let body = serde_json::json!({ "consumerIdList": [id.lock().unwrap().clone()] });
                Some((
                    RemotingCommand::response_to(req, ResponseCode::SUCCESS)
                        .with_body(body.to_string()),
                    Duration::ZERO,
                ))
            }
            _ => None,
        })
        .await;
        let client = new_client(&fake.addr).await;
        *client_id.lock().unwrap() = client.client_id().to_owned();
        let push = client
            .push_consumer(format!("G_push_{version}"))
            .subscribe("T_push", "*")
            .start(
                |_msgs: Vec<MessageExt>, _ctx: rocketmq_sdk::consumer::ConsumeContext| async {
                    Ok::<(), std::io::Error>(())
                },
            )
            .await
            .unwrap();
        wait_until("push pulls", || {
            fake.requests(PULL)
                .iter()
                .any(|p| p.ext_fields.get("topic") == Some("T_push"))
        })
        .await;
        assert_eq!(fake.count(LITE_PULL), 0, "push pulls are PULL_MESSAGE");
        for p in fake.requests(PULL) {
            assert_eq!(
                p.ext_fields.get("maxMsgBytes"),
                expected,
                "version {version}"
            );
            assert_eq!(p.ext_fields.get("suspendTimeoutMillis"), Some("15000"));
        }
        push.shutdown().await;
        client.shutdown().await;
    }
}

/// A send answer as a Java broker gives it (queue 0, offset 0).
fn send_ok(req: &RemotingCommand) -> Option<(RemotingCommand, Duration)> {
    if req.code != 310 {
        return None;
    }
    let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS);
    resp.ext_fields
        .insert("msgId".to_owned(), "7F00000100002A9F0000000000000000");
    resp.ext_fields.insert("queueId".to_owned(), "0");
    resp.ext_fields.insert("queueOffset".to_owned(), "0");
    Some((resp, Duration::ZERO))
}

fn timer_message() -> Message {
    let mut m = Message::new("T", Bytes::from_static(b"later"));
    m.set_deliver_time_ms(rocketmq_sdk::protocol::message::id::now_ms() + 60_000);
    m
}

/// Finding 4: a 4.9.x broker ignores `TIMER_DELIVER_MS` and delivers at once. Once the SDK
/// has heard the broker's version (here the route answer came from the same address; in a
/// cluster the heartbeat or a first send tells it), a timer send to it is refused with a
/// typed error instead of being delivered early; other sends go on. A 5.x broker gets every
/// timer send.
#[tokio::test]
async fn timer_messages_are_refused_for_a_broker_known_to_be_4_9() {
    let old = Fake::start(V4_9_8, send_ok).await;
    let client = new_client(&old.addr).await;
    let producer = client.producer("p-timer-49").start().await.unwrap();
    let err = producer.send(timer_message()).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidMessage(m) if m.contains("before 5.0")),
        "{err:?}"
    );
    producer
        .send(Message::new("T", Bytes::from_static(b"now")))
        .await
        .unwrap();
    assert_eq!(old.count(310), 1, "the refused timer send never left");

    let new = Fake::start(V5_0_0, send_ok).await;
    let client5 = new_client(&new.addr).await;
    let producer5 = client5.producer("p-timer-50").start().await.unwrap();
    for _ in 0..2 {
        producer5.send(timer_message()).await.unwrap();
    }
    assert_eq!(new.count(310), 2);
    let sent = &new.requests(310)[1];
    assert!(
        sent.ext_fields
            .get("i")
            .is_some_and(|p| p.contains("TIMER_DELIVER_MS")),
        "{sent:?}"
    );
}
