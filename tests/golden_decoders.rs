//! Golden decoder tests: the SDK's typed decoders read every Java broker and name-server
//! answer (and every broker callback, and the client bodies the broker reads) of the captures
//! in `tests/golden/` with the values the capture shows.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod golden_support;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use golden_support::{Frame, Transcript, load_all, split_properties};
use rocketmq_sdk::protocol::body::{
    CheckClientRequestBody, ClusterInfo, ConsumerListByGroupResponseBody, HeartbeatData, JsonBody,
    LockBatchRequestBody, LockBatchResponseBody, RegisterBrokerBody, ResetOffsetBody,
    TopicRouteData, UnlockBatchRequestBody, fastjson,
};
use rocketmq_sdk::protocol::command::ExtFields;
use rocketmq_sdk::protocol::header::{
    CheckTransactionStateRequestHeader, CommandHeader, ExpressionType, GetMaxOffsetResponseHeader,
    GetMinOffsetResponseHeader, NotifyConsumerIdsChangedRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetResponseHeader, QueryMessageResponseHeader, ResetOffsetRequestHeader,
    SendMessageResponseHeader,
};
use rocketmq_sdk::protocol::message::batch::decode_batch;
use rocketmq_sdk::protocol::message::compress::zlib_decompress;
use rocketmq_sdk::protocol::message::id::decode_offset_msg_id;
use rocketmq_sdk::protocol::message::record::decode_all;
use rocketmq_sdk::protocol::message::{MessageExt, sysflag};

fn ext(f: &Frame) -> ExtFields {
    f.ext().into_iter().collect()
}

fn header<H: CommandHeader>(t: &Transcript, f: &Frame) -> H {
    H::read_from(&ext(f)).unwrap_or_else(|e| panic!("{}: {e}", f.at(t)))
}

fn body<B: JsonBody>(t: &Transcript, f: &Frame) -> B {
    B::decode(&f.body).unwrap_or_else(|e| panic!("{}: {e}", f.at(t)))
}

fn json(f: &Frame) -> serde_json::Value {
    fastjson::parse(&f.body).expect("fastjson body")
}

/// (request, answer) pairs of the requests with `code` sent by clients.
fn exchanges(t: &Transcript, code: i32) -> Vec<(&Frame, &Frame)> {
    t.frames
        .iter()
        .filter(|f| f.c2s && !f.is_response && f.code == code)
        .filter_map(|f| t.response_to(f).map(|r| (f, r)))
        .collect()
}

fn broker_port(t: &Transcript) -> u16 {
    if t.version == "4.9.8" { 34911 } else { 35911 }
}

#[test]
fn route_and_cluster_bodies_decode() {
    let (mut routes, mut clusters) = (0, 0);
    for t in load_all() {
        let addr = format!("127.0.0.1:{}", broker_port(&t));
        for (req, resp) in exchanges(&t, 105) {
            if resp.code != 0 {
                assert_eq!(resp.code, 17, "{}", resp.at(&t));
                continue;
            }
            let route: TopicRouteData = body(&t, resp);
            let v = json(resp);
            assert_eq!(route.broker_datas.len(), 1, "{}", resp.at(&t));
            let bd = &route.broker_datas[0];
            assert_eq!(bd.broker_name, "broker-a");
            assert_eq!(bd.cluster, "DefaultCluster");
            assert_eq!(bd.master_addr(), Some(addr.as_str()), "{}", resp.at(&t));
            let qd = &route.queue_datas[0];
            let jq = &v["queueDatas"][0];
            assert_eq!(
                qd.read_queue_nums as i64,
                jq["readQueueNums"].as_i64().unwrap()
            );
            assert_eq!(
                qd.write_queue_nums as i64,
                jq["writeQueueNums"].as_i64().unwrap()
            );
            assert_eq!(qd.perm as i64, jq["perm"].as_i64().unwrap());
            let topic = req.ext_get("topic").unwrap();
            // Auto-created topics got the 4 queues the Java producer asked for; TBW102 has
            // the broker's default 8.
            if topic == "TBW102" {
                assert_eq!(qd.write_queue_nums, 8);
            }
            routes += 1;
        }
        for (_, resp) in exchanges(&t, 106) {
            let info: ClusterInfo = body(&t, resp);
            let bd = &info.broker_addr_table["broker-a"];
            assert_eq!(
                bd.broker_addrs.get(&0).map(String::as_str),
                Some(addr.as_str())
            );
            assert_eq!(
                info.cluster_addr_table["DefaultCluster"],
                BTreeSet::from(["broker-a".to_owned()])
            );
            clusters += 1;
        }
    }
    println!("{routes} routes, {clusters} cluster infos");
    assert!(routes > 190 && clusters > 30, "{routes} {clusters}");
}

#[test]
fn send_response_headers_decode() {
    let mut n = 0;
    for t in load_all() {
        for code in [310, 320] {
            for (req, resp) in exchanges(&t, code) {
                assert_eq!(resp.code, 0, "{}", resp.at(&t));
                let h: SendMessageResponseHeader = header(&t, resp);
                assert_eq!(Some(h.msg_id.clone()), resp.ext_get("msgId"));
                assert_eq!(h.queue_id.to_string(), resp.ext_get("queueId").unwrap());
                assert_eq!(
                    h.queue_offset.to_string(),
                    resp.ext_get("queueOffset").unwrap()
                );
                // The request named the queue; the broker stored it there.
                assert_eq!(h.queue_id.to_string(), req.ext_get("e").unwrap());
                let ids: Vec<&str> = h.msg_id.split(',').collect();
                if code == 320 {
                    assert_eq!(ids.len(), 3, "batch of 3");
                }
                for id in ids {
                    let id = decode_offset_msg_id(id).expect("offset msgId");
                    assert_eq!(id.store_host.port(), broker_port(&t));
                    assert!(id.commit_log_offset >= 0);
                }
                n += 1;
            }
        }
    }
    assert_eq!(n, 88, "86 sends and 2 batches");
}

/// What a client sent, by UNIQ_KEY: (topic, body as the application gave it, properties).
type Sent = BTreeMap<String, (String, Bytes, BTreeMap<String, String>)>;

fn sent_messages(t: &Transcript) -> Sent {
    let mut out = Sent::new();
    for f in t.frames.iter().filter(|f| f.c2s && !f.is_response) {
        match f.code {
            310 | 325 => {
                let props: BTreeMap<String, String> =
                    split_properties(&f.ext_get("i").unwrap_or_default())
                        .into_iter()
                        .collect();
                let sys_flag: i32 = f.ext_get("f").unwrap().parse().unwrap();
                let body = if sys_flag & sysflag::COMPRESSED != 0 {
                    Bytes::from(zlib_decompress(&f.body, 1 << 20).expect("zlib body"))
                } else {
                    f.body.clone()
                };
                // The first send of a UNIQ_KEY is the application's (a client re-sending a
                // message whose send-back failed adds consume-time properties).
                if let Some(k) = props.get("UNIQ_KEY") {
                    out.entry(k.clone())
                        .or_insert((f.ext_get("b").unwrap(), body, props));
                }
            }
            320 => {
                for m in decode_batch(&f.body).expect("batch body") {
                    let props: BTreeMap<String, String> = m
                        .properties
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    if let Some(k) = props.get("UNIQ_KEY") {
                        out.insert(k.clone(), (f.ext_get("b").unwrap(), m.body.clone(), props));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Checks a delivered message against what was sent: same body, and every property the
/// application set (the client adds UNIQ_KEY and WAIT; the broker may add its own).
fn check_delivered(t: &Transcript, f: &Frame, m: &MessageExt, sent: &Sent) -> bool {
    let Some(key) = m.message.properties.get("UNIQ_KEY") else {
        return false;
    };
    let Some((topic, body, props)) = sent.get(key) else {
        return false;
    };
    assert_eq!(&m.message.body, body, "{}: body of {key}", f.at(t));
    for (k, v) in props {
        if matches!(
            k.as_str(),
            "WAIT" | "DELAY" | "TRAN_MSG" | "PGROUP" | "REAL_TOPIC"
        ) {
            continue;
        }
        assert_eq!(
            m.message.properties.get(k),
            Some(v.as_str()),
            "{}: property {k} of {key}",
            f.at(t)
        );
    }
    // Delivered from its own topic, or a retry / dead-letter / reply topic of it.
    assert!(
        m.message.topic == *topic
            || m.message.topic.starts_with("%RETRY%")
            || m.message.topic.starts_with("%DLQ%")
            || m.message.topic.ends_with("_REPLY_TOPIC"),
        "{}: topic {} for a message sent to {topic}",
        f.at(t),
        m.message.topic
    );
    true
}

#[test]
fn pulled_queried_and_viewed_messages_decode_to_what_was_sent() {
    let mut delivered = 0;
    let mut pulls = 0;
    for t in load_all() {
        let sent = sent_messages(&t);
        if t.is("01") {
            // The zlib body (sysFlag 769) inflates to the 10 KiB the producer sent; the
            // batch's 3 messages and the user properties (UTF-8 included) decode.
            assert!(sent.values().any(|(_, b, _)| b.len() == 10 * 1024));
            assert!(sent.values().any(|(_, _, p)| {
                p.get("unicode").map(String::as_str) == Some("h\u{e9}llo")
                    && p.get("color").map(String::as_str) == Some("red")
                    && p.get("n").map(String::as_str) == Some("42")
            }));
            assert_eq!(sent.len(), 5 + 3, "{}", t.name);
        }
        for code in [11, 361, 12, 33] {
            for (req, resp) in exchanges(&t, code) {
                if resp.code != 0 {
                    continue;
                }
                if matches!(code, 11 | 361) {
                    let h: PullMessageResponseHeader = header(&t, resp);
                    assert_eq!(
                        h.next_begin_offset.to_string(),
                        resp.ext_get("nextBeginOffset").unwrap()
                    );
                    assert_eq!(h.max_offset.to_string(), resp.ext_get("maxOffset").unwrap());
                    assert_eq!(h.min_offset.to_string(), resp.ext_get("minOffset").unwrap());
                    pulls += 1;
                }
                if code == 12 {
                    let h: QueryMessageResponseHeader = header(&t, resp);
                    assert!(h.index_last_update_phyoffset > 0);
                }
                let msgs = decode_all(resp.body.clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", resp.at(&t)));
                assert!(!msgs.is_empty(), "{}", resp.at(&t));
                for m in &msgs {
                    assert_eq!(m.store_host.port(), broker_port(&t));
                    if matches!(code, 11 | 361) {
                        assert_eq!(
                            m.queue_id.to_string(),
                            req.ext_get("queueId").unwrap(),
                            "{}",
                            resp.at(&t)
                        );
                    }
                    if code == 12 {
                        let key = req.ext_get("key").unwrap();
                        assert!(m.message.key_list().any(|k| k == key), "{}", resp.at(&t));
                    }
                    if check_delivered(&t, resp, m, &sent) {
                        delivered += 1;
                    }
                }
            }
        }
        // SQL92: exactly the two messages with a > 5 and b = 'x' were delivered.
        if t.is("06") {
            let mut bodies = BTreeSet::new();
            for (_, resp) in exchanges(&t, 11) {
                if resp.code == 0 {
                    for m in decode_all(resp.body.clone()).unwrap() {
                        bodies.insert(String::from_utf8_lossy(&m.message.body).into_owned());
                    }
                }
            }
            let bodies: Vec<&str> = bodies
                .iter()
                .map(|s| s.split('-').next().unwrap())
                .collect();
            assert_eq!(bodies, ["sq", "sq"], "{}", t.name);
        }
    }
    println!("{pulls} pull answers, {delivered} delivered messages matched to their send");
    assert!(delivered > 60, "{delivered}");
    assert!(pulls > 40, "{pulls}");
}

#[test]
fn offset_lock_and_consumer_list_bodies_decode() {
    let (mut offsets, mut locks, mut lists) = (0, 0, 0);
    for t in load_all() {
        for (_, resp) in exchanges(&t, 14) {
            if resp.code == 0 {
                let h: QueryConsumerOffsetResponseHeader = header(&t, resp);
                assert_eq!(h.offset.to_string(), resp.ext_get("offset").unwrap());
                offsets += 1;
            } else {
                assert_eq!(resp.code, 22, "{}", resp.at(&t));
            }
        }
        for (_, resp) in exchanges(&t, 30) {
            let h: GetMaxOffsetResponseHeader = header(&t, resp);
            assert_eq!(h.offset.to_string(), resp.ext_get("offset").unwrap());
            offsets += 1;
        }
        for (_, resp) in exchanges(&t, 31) {
            let h: GetMinOffsetResponseHeader = header(&t, resp);
            assert_eq!(h.offset, 0);
            offsets += 1;
        }
        for (req, resp) in exchanges(&t, 41) {
            let asked: LockBatchRequestBody = body(&t, req);
            let got: LockBatchResponseBody = body(&t, resp);
            assert!(!asked.mq_set.is_empty());
            assert!(
                asked
                    .client_id
                    .as_deref()
                    .unwrap()
                    .starts_with("192.0.2.2@")
            );
            // Nobody else holds them: every queue asked for is granted.
            assert_eq!(got.lock_ok_mq_set, asked.mq_set, "{}", resp.at(&t));
            let v = json(resp);
            assert_eq!(
                v["lockOKMQSet"].as_array().unwrap().len(),
                got.lock_ok_mq_set.len()
            );
            locks += 1;
        }
        for (req, _) in exchanges(&t, 42) {
            let b: UnlockBatchRequestBody = body(&t, req);
            assert!(!b.mq_set.is_empty());
            locks += 1;
        }
        for (req, resp) in exchanges(&t, 38) {
            let b: ConsumerListByGroupResponseBody = body(&t, resp);
            let v = json(resp);
            let ids: Vec<String> = v["consumerIdList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(b.consumer_id_list, ids, "{}", req.at(&t));
            assert!(ids.iter().all(|id| id.starts_with("192.0.2.2@")));
            lists += 1;
        }
    }
    println!("{offsets} offsets, {locks} lock bodies, {lists} consumer lists");
    assert!(
        offsets > 40 && locks >= 15 && lists > 80,
        "{offsets} {locks} {lists}"
    );
}

#[test]
fn client_bodies_the_broker_reads_decode() {
    let (mut heartbeats, mut checks, mut registrations) = (0, 0, 0);
    for t in load_all() {
        for f in t.frames.iter().filter(|f| f.c2s && !f.is_response) {
            match f.code {
                34 => {
                    let hb: HeartbeatData = body(&t, f);
                    let v = json(f);
                    assert_eq!(hb.client_id, v["clientID"].as_str().unwrap());
                    assert_eq!(
                        hb.consumer_data_set.len(),
                        v["consumerDataSet"].as_array().map_or(0, Vec::len)
                    );
                    for c in &hb.consumer_data_set {
                        for s in &c.subscription_data_set {
                            if t.is("06") && !s.topic.starts_with('%') {
                                assert_eq!(s.expression_type, ExpressionType::Sql92);
                                assert_eq!(s.sub_string, "a > 5 AND b = 'x'");
                            }
                            if t.is("02") && !s.topic.starts_with('%') {
                                assert_eq!(s.sub_string, "A || B");
                                assert_eq!(
                                    s.tags_set,
                                    BTreeSet::from(["A".to_owned(), "B".to_owned()])
                                );
                                assert_eq!(s.code_set.len(), 2);
                            }
                        }
                    }
                    heartbeats += 1;
                }
                46 => {
                    let b: CheckClientRequestBody = body(&t, f);
                    let sub = b.subscription_data.expect("subscription");
                    assert_eq!(sub.expression_type, ExpressionType::Sql92);
                    checks += 1;
                }
                103 => {
                    let compressed = f.ext_get("compressed").as_deref() == Some("true");
                    let b = RegisterBrokerBody::from_bytes(&f.body, compressed)
                        .unwrap_or_else(|e| panic!("{}: {e}", f.at(&t)));
                    let topics = &b.topic_config_serialize_wrapper.topic_config_table;
                    assert!(topics.contains_key("TBW102"), "{}", f.at(&t));
                    assert_eq!(topics["TBW102"].write_queue_nums, 8);
                    registrations += 1;
                }
                _ => {}
            }
        }
    }
    println!("{heartbeats} heartbeats, {checks} client checks, {registrations} registrations");
    assert!(heartbeats > 100 && checks == 2 && registrations == 60);
}

#[test]
fn broker_callbacks_decode() {
    let mut seen: BTreeMap<i32, usize> = BTreeMap::new();
    for t in load_all() {
        for f in t.frames.iter().filter(|f| !f.c2s && !f.is_response) {
            match f.code {
                39 => {
                    let h: CheckTransactionStateRequestHeader = header(&t, f);
                    assert_eq!(h.msg_id, f.ext_get("msgId"));
                    let msgs = decode_all(f.body.clone()).expect("checked message");
                    assert_eq!(msgs.len(), 1);
                    let m = &msgs[0];
                    assert_eq!(&m.message.body[..], b"unknown-1", "{}", f.at(&t));
                    assert_eq!(m.message.properties.get("TRAN_MSG"), Some("true"));
                    assert_eq!(m.commit_log_offset, h.commit_log_offset);
                }
                40 => {
                    let h: NotifyConsumerIdsChangedRequestHeader = header(&t, f);
                    assert!(h.consumer_group.starts_with('G'));
                }
                220 => {
                    let h: ResetOffsetRequestHeader = header(&t, f);
                    // The Java broker forwards the reset with isForce=false (it was asked
                    // with true); the client ignores the flag.
                    assert!(!h.is_force);
                    let asked = exchanges(&t, 222)[0].0;
                    assert_eq!(h.timestamp.to_string(), asked.ext_get("timestamp").unwrap());
                    assert_eq!(Some(h.group.clone()), asked.ext_get("group"));
                    let b: ResetOffsetBody = body(&t, f);
                    assert!(!b.offset_table.is_empty());
                    assert!(b.offset_table.keys().all(|mq| mq.topic == h.topic));
                }
                326 => {
                    // No typed header in the SDK for the reply push; the message travels
                    // in the header's `properties`, as in a send.
                    let props: BTreeMap<String, String> =
                        split_properties(&f.ext_get("properties").unwrap())
                            .into_iter()
                            .collect();
                    assert!(props.contains_key("CORRELATION_ID"), "{props:?}");
                    assert!(!f.body.is_empty());
                }
                other => panic!("unexpected callback {other}"),
            }
            *seen.entry(f.code).or_default() += 1;
        }
    }
    assert_eq!(
        seen,
        BTreeMap::from([(39, 2), (40, 22), (220, 2), (326, 2)])
    );
}
