//! Request-reply over the embedded broker on loopback: SDK requesters answered by SDK
//! listeners (one, fifty at once, none), the reply stored in `<cluster>_REPLY_TOPIC`, and
//! the broker driven with the Java client's own frames (golden transcripts of 4.9.8 and
//! 5.0.0, `tests/vectors/request_reply/`) through SEND_REPLY_MESSAGE_V2 to the
//! PUSH_REPLY_MESSAGE_TO_CLIENT frame the requester's connection receives.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult, PushConsumer};
use rocketmq_sdk::producer::{Producer, create_reply_message};
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties, keys};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions, ServerRequestHandler};
use rocketmq_sdk::{Client, Error};
use rocketmq_suite::wait_until;
use serde_json::Value;

const T: Duration = Duration::from_secs(20);
const CLUSTER: &str = "DefaultCluster";
const REPLY_TOPIC: &str = "DefaultCluster_REPLY_TOPIC";

async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .cluster_name(CLUSTER)
        .start()
        .await
        .unwrap()
}

async fn client(broker: &EmbeddedBroker, instance: &str) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .instance_name(instance)
        .build()
        .await
        .unwrap()
}

/// A replier on its own client: a push consumer of `topic` that answers every request
/// with `re:<body>` through its own producer, counting the replies it sent.
struct Replier {
    _client: Client,
    _consumer: PushConsumer,
    replies: Arc<AtomicUsize>,
}

async fn replier(broker: &EmbeddedBroker, topic: &str) -> Replier {
    let client = client(broker, "replier").await;
    let producer = client.producer("replier-p").start().await.unwrap();
    let replies = Arc::new(AtomicUsize::new(0));
    let counted = replies.clone();
    let consumer = client
        .push_consumer("replier-c")
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let producer = producer.clone();
            let counted = counted.clone();
            async move {
                for m in msgs {
                    let body = [b"re:".as_slice(), &m.body].concat();
                    if let Err(e) = producer.reply(&m, body).await {
                        tracing::warn!(error = %e, "reply failed");
                        return ConsumeResult::ReconsumeLater;
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    Replier {
        _client: client,
        _consumer: consumer,
        replies,
    }
}

async fn requester(broker: &EmbeddedBroker) -> (Client, Producer) {
    let client = client(broker, "requester").await;
    let producer = client.producer("requester-p").start().await.unwrap();
    (client, producer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_gets_the_listeners_reply_and_the_reply_is_stored() {
    let broker = broker().await;
    broker.create_topic("quotes", 4).await.unwrap();
    let replier = replier(&broker, "quotes").await;
    let (client, producer) = requester(&broker).await;

    let mut asks = Vec::new();
    for i in 0..3 {
        let body = format!("sku-{i}");
        let reply = producer
            .request(Message::new("quotes", body.clone()), T)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            format!("re:{body}"),
            "the body round-trips"
        );
        assert_eq!(reply.topic, REPLY_TOPIC);
        assert_eq!(reply.property(keys::MSG_TYPE), Some("reply"));
        assert_eq!(
            reply.property(keys::REPLY_TO_CLIENT),
            Some(client.client_id())
        );
        assert_eq!(reply.property(keys::TTL), Some("20000"));
        assert!(reply.property(keys::PUSH_REPLY_TIME).is_some());
        asks.push(reply.property(keys::CORRELATION_ID).unwrap().to_owned());
    }
    // The replier's send completes after the push reached us: wait for its count.
    assert!(
        wait_until(T, || async { replier.replies.load(Ordering::SeqCst) == 3 }).await,
        "one reply per request, got {}",
        replier.replies.load(Ordering::SeqCst)
    );
    assert_eq!(
        client.pending_requests(),
        0,
        "answered requests are forgotten"
    );

    // The requests carried the correlation ids their replies came back with.
    let requests = broker.messages("quotes").unwrap();
    let sent: BTreeSet<&str> = requests
        .iter()
        .filter_map(|m| m.property(keys::CORRELATION_ID))
        .collect();
    assert_eq!(sent, asks.iter().map(String::as_str).collect());
    assert!(
        requests
            .iter()
            .all(|m| m.property(keys::CLUSTER) == Some(CLUSTER)),
        "the broker stamps CLUSTER on every request"
    );

    // The broker also stored each reply in the cluster's reply topic.
    let stored = broker.messages(REPLY_TOPIC).unwrap();
    let stored_ids: BTreeSet<&str> = stored
        .iter()
        .filter_map(|m| m.property(keys::CORRELATION_ID))
        .collect();
    assert_eq!(stored_ids, asks.iter().map(String::as_str).collect());
    assert!(stored.iter().all(|m| m.body.starts_with(b"re:sku-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_each_get_their_own_reply() {
    let broker = broker().await;
    broker.create_topic("echo", 4).await.unwrap();
    let replier = replier(&broker, "echo").await;
    let (client, producer) = requester(&broker).await;
    // Warm the route and the heartbeat so the burst measures the exchange itself.
    producer
        .request(Message::new("echo", "warm-up"), T)
        .await
        .unwrap();

    let started = Instant::now();
    let calls = (0..50).map(|i| {
        let producer = producer.clone();
        async move {
            let body = format!("n-{i}");
            let reply = producer
                .request(Message::new("echo", body.clone()), T)
                .await;
            (body, reply)
        }
    });
    let results = futures::future::join_all(calls).await;
    let elapsed = started.elapsed();
    let mut ids = BTreeSet::new();
    for (body, reply) in results {
        let reply = reply.unwrap_or_else(|e| panic!("request {body} failed: {e}"));
        assert_eq!(String::from_utf8_lossy(&reply.body), format!("re:{body}"));
        ids.insert(reply.property(keys::CORRELATION_ID).unwrap().to_owned());
    }
    assert_eq!(ids.len(), 50, "fifty distinct correlation ids");
    assert!(
        wait_until(T, || async { replier.replies.load(Ordering::SeqCst) == 51 }).await,
        "51 replies sent, got {}",
        replier.replies.load(Ordering::SeqCst)
    );
    assert_eq!(client.pending_requests(), 0);
    println!("50 concurrent requests answered in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_times_out_and_leaves_nothing_pending() {
    let broker = broker().await;
    broker.create_topic("void", 2).await.unwrap();
    let (client, producer) = requester(&broker).await;
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = producer
        .request(Message::new("void", "anyone?"), timeout)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout(t) if t == timeout), "{err:?}");
    assert!(took >= timeout, "waited the whole timeout: {took:?}");
    assert!(took < timeout * 6, "and not much longer: {took:?}");
    assert_eq!(
        client.pending_requests(),
        0,
        "the timed-out request is forgotten"
    );
    assert_eq!(
        broker.messages("void").unwrap().len(),
        1,
        "the request was sent"
    );

    // A dropped (cancelled) request is forgotten too.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        producer.request(Message::new("void", "never mind"), T),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(
        client.pending_requests(),
        0,
        "the dropped request is forgotten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replying_to_a_plain_message_is_a_typed_error() {
    let broker = broker().await;
    let c = client(&broker, "plain").await;
    let producer = c.producer("plain-p").start().await.unwrap();
    let mut plain = MessageExt::from(Message::new("orders", "x"));
    plain.message.properties.insert(keys::CLUSTER, CLUSTER);
    let err = producer.reply(&plain, "nope").await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidMessage(ref m) if m.contains("not a request")),
        "{err:?}"
    );
    // And a message that is not a reply cannot go out as one.
    let err = producer
        .send_reply(Message::new(REPLY_TOPIC, "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_for_a_client_that_is_gone_is_refused_and_still_stored() {
    let broker = broker().await;
    let c = client(&broker, "late").await;
    let producer = c.producer("late-p").start().await.unwrap();
    let mut request = Message::new("orders", "q");
    request.properties.insert(keys::CLUSTER, CLUSTER);
    request.properties.insert(keys::CORRELATION_ID, "c-gone");
    request
        .properties
        .insert(keys::REPLY_TO_CLIENT, "192.0.2.9@nobody");
    let reply = create_reply_message(&request, "too late").unwrap();
    let err = producer.send_reply(reply).await.unwrap_err();
    match err {
        Error::Broker { code, remark, .. } => {
            assert_eq!(code, ResponseCode::SYSTEM_ERROR);
            assert_eq!(
                remark,
                "push reply message fail, channel of <192.0.2.9@nobody> not found."
            );
        }
        other => panic!("expected the broker's refusal, got {other:?}"),
    }
    let stored = broker.messages(REPLY_TOPIC).unwrap();
    assert_eq!(stored.len(), 1, "stored even though nobody took it");
    assert_eq!(stored[0].property(keys::CORRELATION_ID), Some("c-gone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_the_requester_through_any_broker_of_the_cluster() {
    // The request topic lives on the first broker only, but the replier spreads replies
    // over both brokers' reply topics: each broker must know the requester's connection.
    let broker = EmbeddedBroker::builder()
        .cluster_name(CLUSTER)
        .brokers(2)
        .start()
        .await
        .unwrap();
    broker.broker(0).create_topic("solo", 2).await.unwrap();
    let replier = replier(&broker, "solo").await;
    let (client, producer) = requester(&broker).await;
    for i in 0..6 {
        let body = format!("ask-{i}");
        let reply = producer
            .request(Message::new("solo", body.clone()), T)
            .await
            .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        assert_eq!(String::from_utf8_lossy(&reply.body), format!("re:{body}"));
    }
    assert!(wait_until(T, || async { replier.replies.load(Ordering::SeqCst) == 6 }).await);
    let per_broker: Vec<usize> = (0..2)
        .map(|b| broker.broker(b).messages(REPLY_TOPIC).unwrap().len())
        .collect();
    assert_eq!(per_broker.iter().sum::<usize>(), 6, "{per_broker:?}");
    assert!(
        per_broker.iter().all(|&n| n > 0),
        "replies went through both brokers: {per_broker:?}"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_reply_through_their_context_without_a_producer() {
    let broker = broker().await;
    broker.create_topic("ctx-asks", 2).await.unwrap();
    broker.create_topic("ctx-orderly", 2).await.unwrap();
    let rc = client(&broker, "ctx-replier").await;
    let concurrent = rc
        .push_consumer("ctx-c")
        .subscribe("ctx-asks", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(|msgs: Vec<MessageExt>, ctx: ConsumeContext| async move {
            for m in &msgs {
                if ctx
                    .reply(m, [b"ctx:".as_slice(), &m.body].concat())
                    .await
                    .is_err()
                {
                    return ConsumeResult::ReconsumeLater;
                }
            }
            ConsumeResult::Success
        })
        .await
        .unwrap();
    let orderly = rc
        .push_consumer("ctx-o")
        .subscribe("ctx-orderly", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start_orderly(
            |msgs: Vec<MessageExt>, ctx: rocketmq_sdk::consumer::OrderlyContext| async move {
                for m in &msgs {
                    if ctx
                        .reply(m, [b"ord:".as_slice(), &m.body].concat())
                        .await
                        .is_err()
                    {
                        return rocketmq_sdk::consumer::OrderlyResult::SuspendCurrentQueueAMoment;
                    }
                }
                rocketmq_sdk::consumer::OrderlyResult::Success
            },
        )
        .await
        .unwrap();
    let (client, producer) = requester(&broker).await;
    for i in 0..3 {
        let reply = producer
            .request(Message::new("ctx-asks", format!("a{i}")), T)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&reply.body), format!("ctx:a{i}"));
        let reply = producer
            .request(Message::new("ctx-orderly", format!("o{i}")), T)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&reply.body), format!("ord:o{i}"));
    }
    assert_eq!(client.pending_requests(), 0);
    // Each reply was stored in the reply topic too.
    assert!(
        wait_until(T, || async {
            broker.messages(REPLY_TOPIC).unwrap().len() == 6
        })
        .await
    );
    concurrent.shutdown().await;
    orderly.shutdown().await;

    // A context built by hand has no client to reply through: a typed error.
    let mut request = MessageExt::from(Message::new("ctx-asks", "x"));
    request.message.properties.insert(keys::CLUSTER, CLUSTER);
    request.message.properties.insert(keys::CORRELATION_ID, "c");
    request
        .message
        .properties
        .insert(keys::REPLY_TO_CLIENT, "c@c");
    let queue = rocketmq_sdk::protocol::message::MessageQueue::new("ctx-asks", "b", 0);
    let err = ConsumeContext::new(queue, 0)
        .reply(&request, "x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
}

// ---- Raw frames from the Java client's golden transcripts ----

struct Frames {
    heartbeat: Value,
    reply_send: Value,
    push: Value,
    response: Value,
}

fn frames(version: &str) -> Frames {
    let text = match version {
        "4.9.8" => include_str!("vectors/request_reply/4.9.8.jsonl"),
        _ => include_str!("vectors/request_reply/5.0.0.jsonl"),
    };
    let mut by_role: HashMap<String, Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["role"].as_str().unwrap().to_owned(), v))
        .collect();
    let mut take = |role: &str| by_role.remove(role).unwrap();
    Frames {
        heartbeat: take("requester heartbeat"),
        reply_send: take("replier 325"),
        push: take("broker 326 push"),
        response: take("broker 325 response"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ext(frame: &Value) -> Vec<(String, String)> {
    frame["header"]["extFields"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The Java frame as a command, extFields and body as captured.
fn command(frame: &Value) -> RemotingCommand {
    let code = RequestCode(i32::try_from(frame["code"].as_i64().unwrap()).unwrap());
    let mut cmd = RemotingCommand::request(code)
        .with_body(Bytes::from(hex(frame["bodyHex"].as_str().unwrap())));
    for (k, v) in ext(frame) {
        cmd.ext_fields.insert_str(k, &v);
    }
    cmd
}

/// Answers PUSH_REPLY_MESSAGE_TO_CLIENT as the Java requester does (SUCCESS, no fields),
/// keeping each push it got.
#[derive(Default)]
struct Requester {
    pushes: Mutex<Vec<RemotingCommand>>,
}

impl ServerRequestHandler for Requester {
    fn handle(
        &self,
        _connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let answer = (request.request_code() == RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT)
            .then(|| RemotingCommand::new_response(ResponseCode::SUCCESS));
        self.pushes.lock().unwrap().push(request);
        Box::pin(async move { answer })
    }
}

fn property_map(s: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Properties::decode_str(s)
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    v.sort();
    v
}

async fn java_frames_drive_the_push(version: &str) {
    let golden = frames(version);
    let broker = broker().await;
    let addr = broker.broker(0).addr();

    // The requester's connection registers its client id with the Java heartbeat.
    let requester = Arc::new(Requester::default());
    let mut options = ConnectionOptions::default();
    options.handler = Some(requester.clone());
    let req_conn = Connection::connect(&addr, options).await.unwrap();
    let hb = req_conn
        .request(command(&golden.heartbeat), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(hb.response_code(), ResponseCode::SUCCESS);

    // The replier's SEND_REPLY_MESSAGE_V2, exactly as the Java replier sent it.
    let rep_conn = Connection::connect(&addr, ConnectionOptions::default())
        .await
        .unwrap();
    let sent = command(&golden.reply_send);
    let response = rep_conn
        .request(sent.clone(), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        response.remark
    );
    let keys_of = |fields: Vec<(String, String)>| -> BTreeSet<String> {
        fields.into_iter().map(|(k, _)| k).collect()
    };
    let got: BTreeSet<String> = response
        .ext_fields
        .iter()
        .map(|(k, _)| k.to_owned())
        .collect();
    assert_eq!(got, keys_of(ext(&golden.response)), "325 response fields");
    assert_eq!(response.ext_fields.get("queueId"), Some("0"));
    assert_eq!(response.ext_fields.get("queueOffset"), Some("0"));

    // The requester's connection got the 326 push before the replier's answer.
    let pushes = requester.pushes.lock().unwrap();
    assert_eq!(pushes.len(), 1, "one push");
    let push = &pushes[0];
    assert_eq!(
        push.request_code(),
        RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT
    );
    let want: HashMap<String, String> = ext(&golden.push).into_iter().collect();
    let have: HashMap<String, String> = push
        .ext_fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        have.keys().collect::<BTreeSet<_>>(),
        want.keys().collect::<BTreeSet<_>>(),
        "the 326 header has exactly the Java broker's fields"
    );
    for k in [
        "queueId",
        "flag",
        "sysFlag",
        "reconsumeTimes",
        "unitMode",
        "defaultTopic",
        "defaultTopicQueueNums",
        "producerGroup",
        "topic",
        "bornTimestamp",
    ] {
        assert_eq!(have[k], want[k], "326 field {k}");
    }
    assert_eq!(have["storeHost"], addr, "storeHost is the broker");
    assert!(
        have["bornHost"].starts_with("127.0.0.1:"),
        "{}",
        have["bornHost"]
    );
    assert!(have["storeTimestamp"].parse::<i64>().unwrap() > 0);
    // The replier's properties, plus the push time.
    let mut expected = property_map(sent.ext_fields.get("i").unwrap());
    let pushed = property_map(&have["properties"]);
    let push_time = pushed
        .iter()
        .find(|(k, _)| k == keys::PUSH_REPLY_TIME)
        .map(|(_, v)| v.clone())
        .expect("PUSH_REPLY_TIME");
    assert!(push_time.parse::<i64>().unwrap() > 0);
    expected.push((keys::PUSH_REPLY_TIME.to_owned(), push_time));
    expected.sort();
    assert_eq!(pushed, expected);
    assert_eq!(
        push.body,
        Bytes::from(hex(golden.push["bodyHex"].as_str().unwrap()))
    );

    // Stored in the reply topic too.
    let stored = broker.messages(REPLY_TOPIC).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].body[..], b"reply-to-req-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_4_9_8_reply_frames_reach_the_requester_as_326() {
    java_frames_drive_the_push("4.9.8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_5_0_0_reply_frames_reach_the_requester_as_326() {
    java_frames_drive_the_push("5.0.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_requester_completes_on_a_java_shaped_push() {
    // The SDK's 326 handler against the Java broker's push frame: a request waiting
    // for the golden correlation id is completed by a replier sending the Java 325.
    let golden = frames("4.9.8");
    let broker = broker().await;
    broker.create_topic("G10T_498_173621", 4).await.unwrap();
    let (client, producer) = requester(&broker).await;
    let request = tokio::spawn({
        let producer = producer.clone();
        async move {
            producer
                .request(Message::new("G10T_498_173621", "req-1"), T)
                .await
        }
    });
    // Read the correlation id the SDK chose from the stored request, then answer it
    // with the Java replier's frame, its properties pointed at this request.
    assert!(
        wait_until(T, || async {
            !broker.messages("G10T_498_173621").unwrap().is_empty()
        })
        .await
    );
    let stored = broker.messages("G10T_498_173621").unwrap();
    let correlation = stored[0].property(keys::CORRELATION_ID).unwrap().to_owned();
    let mut props = Properties::decode_str(
        golden.reply_send["header"]["extFields"]["i"]
            .as_str()
            .unwrap(),
    );
    props.insert(keys::CORRELATION_ID, correlation.as_str());
    props.insert(keys::REPLY_TO_CLIENT, client.client_id());
    let mut frame = command(&golden.reply_send);
    frame
        .ext_fields
        .insert_str("i", &props.to_wire_string().unwrap());
    let conn = Connection::connect(&broker.broker(0).addr(), ConnectionOptions::default())
        .await
        .unwrap();
    let response = conn.request(frame, Duration::from_secs(15)).await.unwrap();
    assert_eq!(
        response.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        response.remark
    );
    let reply = request.await.unwrap().unwrap();
    assert_eq!(&reply.body[..], b"reply-to-req-1");
    assert_eq!(
        reply.property(keys::CORRELATION_ID),
        Some(correlation.as_str())
    );
    assert_eq!(client.pending_requests(), 0);
}

// ---- Typed requests ----

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, rocketmq_sdk::Message)]
#[rocketmq(topic = "price-quotes", tag = "ask")]
struct QuoteRequest {
    #[rocketmq(key)]
    sku: String,
    quantity: u32,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Quote {
    sku: String,
    total_cents: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_requests_get_typed_replies() {
    let broker = broker().await;
    broker.create_topic("price-quotes", 2).await.unwrap();
    let rc = client(&broker, "pricer").await;
    let pricer = rc.producer("pricer-p").start().await.unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = asked.clone();
    let _consumer = rc
        .push_consumer("pricer-c")
        .subscribe("price-quotes", "ask")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let pricer = pricer.clone();
            let counted = counted.clone();
            async move {
                for m in msgs {
                    let Ok(ask) = serde_json::from_slice::<QuoteRequest>(&m.body) else {
                        return ConsumeResult::ReconsumeLater;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let quote = Quote {
                        sku: ask.sku,
                        total_cents: 250 * u64::from(ask.quantity),
                    };
                    if pricer.reply_json(&m, &quote).await.is_err() {
                        return ConsumeResult::ReconsumeLater;
                    }
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let (client, producer) = requester(&broker).await;
    let ask = QuoteRequest {
        sku: "sku-42".into(),
        quantity: 3,
    };
    let quote: Quote = producer.request_typed(&ask, T).await.unwrap();
    assert_eq!(
        quote,
        Quote {
            sku: "sku-42".into(),
            total_cents: 750
        }
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // The request travelled with the type's tag and key.
    let stored = broker.messages("price-quotes").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].tags(), Some("ask"));
    assert_eq!(stored[0].keys(), Some("sku-42"));
    assert_eq!(client.pending_requests(), 0);

    // A reply of the wrong shape is a typed error, not a panic.
    let err = producer
        .request_typed::<QuoteRequest, Vec<u8>>(&ask, T)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidMessage(ref m) if m.contains("not the expected JSON")),
        "{err:?}"
    );
}
