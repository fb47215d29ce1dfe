//! What other real clients (Go, C++, Python, Node, Rust ones) put on the wire differently from
//! the Java client, written frame by frame over loopback to the embedded broker, with no proxy
//! in between: each test checks the broker's answer and what it stored or delivered.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::IpAddr;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures::StreamExt;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::protocol::RemotingCodec;
use rocketmq_sdk::protocol::command::RemotingCommand;
use rocketmq_sdk::protocol::message::id::{UniqIdGenerator, decode_offset_msg_id};
use rocketmq_sdk::protocol::message::record::decode_all;
use rocketmq_sdk::protocol::message::{Message, MessageExt, sysflag};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::FramedRead;

const T: Duration = Duration::from_secs(10);

/// A connection that writes hand-made frames and reads whatever comes back.
struct Raw {
    w: OwnedWriteHalf,
    r: FramedRead<OwnedReadHalf, RemotingCodec>,
    /// Requests the broker sent us (callbacks), in arrival order.
    callbacks: Vec<RemotingCommand>,
}

impl Raw {
    async fn connect(addr: &str) -> Raw {
        let (r, w) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        Raw {
            w,
            r: FramedRead::new(r, RemotingCodec::new()),
            callbacks: Vec::new(),
        }
    }

    /// Writes one frame with a JSON header given verbatim.
    async fn write(&mut self, header: &str, body: &[u8]) {
        let mut b = BytesMut::new();
        b.put_u32((4 + header.len() + body.len()) as u32);
        b.put_u32(header.len() as u32);
        b.put_slice(header.as_bytes());
        b.put_slice(body);
        self.w.write_all(&b).await.expect("write frame");
    }

    /// The response with `opaque`, keeping callbacks that arrive first.
    async fn response(&mut self, opaque: i32) -> RemotingCommand {
        tokio::time::timeout(T, async {
            loop {
                let cmd = self
                    .r
                    .next()
                    .await
                    .expect("connection open")
                    .expect("frame decodes");
                if !cmd.is_response() {
                    self.callbacks.push(cmd);
                } else if cmd.opaque == opaque {
                    return cmd;
                }
            }
        })
        .await
        .expect("answered in time")
    }

    async fn call(&mut self, header: &str, body: &[u8]) -> RemotingCommand {
        let opaque = opaque_of(header);
        self.write(header, body).await;
        self.response(opaque).await
    }

    /// Waits for a callback with `code`.
    async fn callback(&mut self, code: i32) -> RemotingCommand {
        if let Some(pos) = self.callbacks.iter().position(|c| c.code == code) {
            return self.callbacks.remove(pos);
        }
        tokio::time::timeout(T, async {
            loop {
                let cmd = self.r.next().await.expect("open").expect("decodes");
                if !cmd.is_response() && cmd.code == code {
                    return cmd;
                }
            }
        })
        .await
        .expect("callback in time")
    }
}

fn opaque_of(header: &str) -> i32 {
    let v: serde_json::Value = serde_json::from_str(header).expect("test header is JSON");
    v["opaque"].as_i64().expect("opaque") as i32
}

async fn broker_with(topic: &str) -> EmbeddedBroker {
    let broker = EmbeddedBroker::builder()
        .start()
        .await
        .expect("embedded broker");
    broker.create_topic(topic, 4).await.expect("topic");
    broker
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Pulls queue `queue` of `topic` from offset 0 with a subscription carried in the request.
async fn pull_all(raw: &mut Raw, group: &str, topic: &str, queue: i32) -> Vec<MessageExt> {
    let header = format!(
        r#"{{"code":11,"extFields":{{"consumerGroup":"{group}","topic":"{topic}","queueId":"{queue}","queueOffset":"0","maxMsgNums":"32","sysFlag":"4","commitOffset":"0","suspendTimeoutMillis":"0","subscription":"*","subVersion":"0","expressionType":"TAG"}},"flag":0,"language":"GO","opaque":9001,"serializeTypeCurrentRPC":"JSON","version":317}}"#
    );
    let resp = raw.call(&header, &[]).await;
    if resp.code != 0 {
        return Vec::new();
    }
    decode_all(resp.body).expect("pulled records decode")
}

/// Go and C++ clients write header values as JSON numbers and booleans, not strings.
#[tokio::test]
async fn numeric_and_boolean_ext_field_values_are_served() {
    let broker = broker_with("xc-num").await;
    let mut raw = Raw::connect(&broker.broker_addrs()[0]).await;
    let born = now_ms();
    let header = format!(
        r#"{{"code":310,"extFields":{{"a":"xc-p","b":"xc-num","c":"TBW102","d":4,"e":2,"f":0,"g":{born},"h":7,"i":"TAGS\u0001tn\u0002KEYS\u0001kn","j":0,"k":false,"m":false}},"flag":0,"language":"CPP","opaque":1,"serializeTypeCurrentRPC":"JSON","version":399}}"#
    );
    let resp = raw.call(&header, b"numbers").await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(resp.ext_fields.get("queueId"), Some("2"));

    let stored = broker.messages("xc-num").expect("stored");
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].message.body[..], b"numbers");
    assert_eq!(stored[0].queue_id, 2);
    assert_eq!(stored[0].message.flag, 7);
    assert_eq!(stored[0].born_timestamp, born);
    assert_eq!(stored[0].message.tags(), Some("tn"));

    // And consumed with a pull whose numbers are numbers too.
    let header = r#"{"code":11,"extFields":{"consumerGroup":"xc-c","topic":"xc-num","queueId":2,"queueOffset":0,"maxMsgNums":32,"sysFlag":4,"commitOffset":0,"suspendTimeoutMillis":0,"subscription":"*","subVersion":0,"expressionType":"TAG"},"flag":0,"language":"GO","opaque":2,"serializeTypeCurrentRPC":"JSON","version":317}"#;
    let resp = raw.call(header, &[]).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let got = decode_all(resp.body).expect("records");
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].message.body[..], b"numbers");
    broker.shutdown().await.expect("shutdown");
}

/// Older and non-Java clients omit `serializeTypeCurrentRPC` (it only names the header
/// form, which the frame's type byte already says).
#[tokio::test]
async fn a_header_without_serialize_type_current_rpc_is_served() {
    let broker = broker_with("xc-nost").await;
    let mut ns = Raw::connect(&broker.name_server_addr()).await;
    let resp = ns
        .call(
            r#"{"code":105,"extFields":{"topic":"xc-nost"},"flag":0,"language":"PYTHON","opaque":5,"version":317}"#,
            &[],
        )
        .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert!(!resp.body.is_empty(), "route body");

    let mut raw = Raw::connect(&broker.broker_addrs()[0]).await;
    let header = format!(
        r#"{{"code":310,"extFields":{{"a":"xc-p","b":"xc-nost","c":"TBW102","d":"4","e":"0","f":"0","g":"{}","h":"0","i":"WAIT\u0001true","j":"0","k":"false","m":"false"}},"flag":0,"language":"PYTHON","opaque":6,"version":317}}"#,
        now_ms()
    );
    let resp = raw.call(&header, b"no serialize type").await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let stored = broker.messages("xc-nost").expect("stored");
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].message.body[..], b"no serialize type");
    broker.shutdown().await.expect("shutdown");
}

/// Booleans written as "0"/"1" (C++ and Python clients): a batch flagged `"m":"1"` is
/// unpacked into its messages, `"k":"0"` is unit mode off.
#[tokio::test]
async fn zero_one_booleans_are_read_as_booleans() {
    let broker = broker_with("xc-bool").await;
    let mut raw = Raw::connect(&broker.broker_addrs()[0]).await;
    let mut batch = BytesMut::new();
    let msgs: Vec<Message> = (0..3)
        .map(|i| Message::new("xc-bool", format!("b{i}")))
        .collect();
    rocketmq_sdk::protocol::message::batch::encode_batch(&msgs, &mut batch).expect("batch");
    let header = format!(
        r#"{{"code":320,"extFields":{{"a":"xc-p","b":"xc-bool","c":"TBW102","d":"4","e":"1","f":"0","g":"{}","h":"0","i":"","j":"0","k":"0","m":"1"}},"flag":0,"language":"CPP","opaque":7,"serializeTypeCurrentRPC":"JSON","version":399}}"#,
        now_ms()
    );
    let resp = raw.call(&header, &batch).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let ids = resp.ext_fields.get("msgId").expect("msgId").to_owned();
    assert_eq!(
        ids.split(',').count(),
        3,
        "one id per batched message: {ids}"
    );

    let got = pull_all(&mut raw, "xc-bool-c", "xc-bool", 1).await;
    let bodies: Vec<&[u8]> = got.iter().map(|m| &m.message.body[..]).collect();
    assert_eq!(bodies, [&b"b0"[..], b"b1", b"b2"]);

    // A single send flagged "m":"0" is not a batch: stored as one message, body verbatim.
    let header = format!(
        r#"{{"code":310,"extFields":{{"a":"xc-p","b":"xc-bool","c":"TBW102","d":"4","e":"3","f":"0","g":"{}","h":"0","i":"","j":"0","k":"0","m":"0"}},"flag":0,"language":"CPP","opaque":8,"serializeTypeCurrentRPC":"JSON","version":399}}"#,
        now_ms()
    );
    let resp = raw.call(&header, b"single").await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let got = pull_all(&mut raw, "xc-bool-c", "xc-bool", 3).await;
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].message.body[..], b"single");
    broker.shutdown().await.expect("shutdown");
}

/// Heartbeat bodies with enums as ordinals and numbers as strings (fastjson reads both; Go
/// and Node clients write them): the consumer is registered with the subscription it sent.
#[tokio::test]
async fn heartbeat_with_enum_ordinals_and_string_numbers_registers_the_consumer() {
    let broker = broker_with("xc-hb").await;
    let mut raw = Raw::connect(&broker.broker_addrs()[0]).await;
    // consumeType 1 = CONSUME_PASSIVELY, messageModel 1 = CLUSTERING,
    // consumeFromWhere 4 = CONSUME_FROM_FIRST_OFFSET; subVersion and codeSet as strings.
    let body = r#"{"clientID":"10.0.0.9@go-1","consumerDataSet":[{"consumeFromWhere":4,"consumeType":1,"groupName":"xc-hb-c","messageModel":1,"subscriptionDataSet":[{"classFilterMode":"false","codeSet":["65"],"expressionType":"TAG","subString":"A","subVersion":"123","tagsSet":["A"],"topic":"xc-hb"}],"unitMode":"0"}],"producerDataSet":[]}"#;
    let resp = raw
        .call(
            r#"{"code":34,"flag":0,"language":"GO","opaque":11,"serializeTypeCurrentRPC":"JSON","version":317}"#,
            body.as_bytes(),
        )
        .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);

    let resp = raw
        .call(
            r#"{"code":38,"extFields":{"consumerGroup":"xc-hb-c"},"flag":0,"language":"GO","opaque":12,"serializeTypeCurrentRPC":"JSON","version":317}"#,
            &[],
        )
        .await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let list: serde_json::Value = serde_json::from_slice(&resp.body).expect("consumer list");
    assert_eq!(list["consumerIdList"], serde_json::json!(["10.0.0.9@go-1"]));
    // Ordinal 1 was read as CLUSTERING: the group's members are told it changed.
    let notify = raw.callback(40).await;
    assert_eq!(notify.ext_fields.get("consumerGroup"), Some("xc-hb-c"));

    // Two messages, tags A and B, in queue 0.
    for (i, tag) in ["A", "B"].iter().enumerate() {
        let header = format!(
            r#"{{"code":310,"extFields":{{"a":"xc-p","b":"xc-hb","c":"TBW102","d":"4","e":"0","f":"0","g":"{}","h":"0","i":"TAGS\u0001{tag}","j":"0","k":"false","m":"false"}},"flag":0,"language":"GO","opaque":{},"serializeTypeCurrentRPC":"JSON","version":317}}"#,
            now_ms(),
            20 + i
        );
        assert_eq!(raw.call(&header, tag.as_bytes()).await.code, 0);
    }
    // A pull without its own subscription uses the registered one: subVersion "123" was read
    // as 123 (else: SUBSCRIPTION_NOT_LATEST), tagsSet/codeSet as strings (only tag A).
    let header = r#"{"code":11,"extFields":{"consumerGroup":"xc-hb-c","topic":"xc-hb","queueId":"0","queueOffset":"0","maxMsgNums":"32","sysFlag":"0","commitOffset":"0","suspendTimeoutMillis":"0","subVersion":"123","expressionType":"TAG"},"flag":0,"language":"GO","opaque":30,"serializeTypeCurrentRPC":"JSON","version":317}"#;
    let resp = raw.call(header, &[]).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let got = decode_all(resp.body).expect("records");
    let bodies: Vec<&[u8]> = got.iter().map(|m| &m.message.body[..]).collect();
    assert_eq!(bodies, [&b"A"[..]]);
    broker.shutdown().await.expect("shutdown");
}

/// Clients on IPv6 hosts: their UNIQ_KEY message ids embed a 16-byte address, and a client
/// may set the BORNHOST_V6 bit of sysFlag although this connection is IPv4. The broker
/// stores a record whose host encoding follows the real addresses, and the message is found
/// by its id.
#[tokio::test]
async fn ipv6_message_ids_and_the_born_host_v6_bit_are_stored_consistently() {
    let broker = broker_with("xc-v6").await;
    let mut raw = Raw::connect(&broker.broker_addrs()[0]).await;
    let ip: IpAddr = "2001:db8::7".parse().unwrap();
    let uniq = UniqIdGenerator::new(ip).next_id();
    assert_eq!(
        uniq.len(),
        56,
        "16-byte IP + pid + hash + time + counter: {uniq}"
    );
    let header = format!(
        r#"{{"code":310,"extFields":{{"a":"xc-p","b":"xc-v6","c":"TBW102","d":"4","e":"0","f":"{}","g":"{}","h":"0","i":"UNIQ_KEY\u0001{uniq}\u0002KEYS\u0001v6key","j":"0","k":"false","m":"false"}},"flag":0,"language":"CPP","opaque":40,"serializeTypeCurrentRPC":"JSON","version":399}}"#,
        sysflag::BORNHOST_V6,
        now_ms()
    );
    let resp = raw.call(&header, b"from v6").await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let offset_id = resp.ext_fields.get("msgId").expect("msgId").to_owned();
    let id = decode_offset_msg_id(&offset_id).expect("offset msg id");
    assert!(id.store_host.is_ipv4());

    // Stored: born host is the IPv4 peer, the V6 bit cleared to match.
    let stored = broker.messages("xc-v6").expect("stored");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].born_host.is_ipv4(), "{}", stored[0].born_host);
    assert_eq!(stored[0].sys_flag & sysflag::BORNHOST_V6, 0);
    assert_eq!(stored[0].message.uniq_key(), Some(uniq.as_str()));

    // Consumed: the record decodes, the id is the one the client made.
    let got = pull_all(&mut raw, "xc-v6-c", "xc-v6", 0).await;
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].message.body[..], b"from v6");
    assert_eq!(got[0].msg_id(), uniq);

    // Found by its 16-byte-address id (QUERY_MESSAGE, unique-key query).
    let header = format!(
        r#"{{"code":12,"extFields":{{"topic":"xc-v6","key":"{uniq}","maxNum":"32","beginTimestamp":"0","endTimestamp":"9223372036854775807","_UNIQUE_KEY_QUERY":"true"}},"flag":0,"language":"CPP","opaque":41,"serializeTypeCurrentRPC":"JSON","version":399}}"#
    );
    let resp = raw.call(&header, &[]).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let found = decode_all(resp.body).expect("records");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message.uniq_key(), Some(uniq.as_str()));

    // And by the broker's offset id.
    let header = format!(
        r#"{{"code":33,"extFields":{{"offset":"{}"}},"flag":0,"language":"CPP","opaque":42,"serializeTypeCurrentRPC":"JSON","version":399}}"#,
        id.commit_log_offset
    );
    let resp = raw.call(&header, &[]).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let viewed = decode_all(resp.body).expect("record");
    assert_eq!(&viewed[0].message.body[..], b"from v6");
    broker.shutdown().await.expect("shutdown");
}
