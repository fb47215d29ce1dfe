//! Replays the Java client requests of a golden transcript into a fresh embedded broker over
//! loopback TCP and compares each answer with what the Java broker (or name server) answered.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::{Clock, ManualClock};
use rocketmq_sdk::protocol::RemotingCodec;
use rocketmq_sdk::protocol::body::fastjson;
use rocketmq_sdk::protocol::command::{LanguageCode, RemotingCommand, SerializeType};
use rocketmq_sdk::protocol::message::MessageExt;
use rocketmq_sdk::protocol::message::id::decode_offset_msg_id;
use rocketmq_sdk::protocol::message::record::decode_all;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::{Frame, Server, Transcript};

/// How long (real time) a response may take once the capture says it was there.
const RESPONSE_WAIT: Duration = Duration::from_secs(3);
/// How long (real time) a broker callback may take once the capture says it was sent.
const CALLBACK_WAIT: Duration = Duration::from_millis(1500);
/// Hold time given to long-polling pulls that Java never answered (its client shut down):
/// the hold loop of the embedded broker waits real time between looks at its clock, so the
/// captured 15 s would keep the replay waiting.
const SHORT_SUSPEND_MS: &str = "100";
const PULL_SUSPEND_FLAG: i64 = 0x2;

/// One difference between the Java answer and ours.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diff {
    pub code: i32,
    pub field: String,
    pub java: String,
    pub ours: String,
    /// `version/scenario line N`.
    pub at: String,
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Routes our name server only had after a retry (where and after how long).
    pub late_routes: Vec<String>,
    /// Request code -> requests replayed with that code.
    pub replayed: BTreeMap<i32, usize>,
    /// Request code -> requests whose answer matched the Java one in every compared field.
    pub matched: BTreeMap<i32, usize>,
    pub diffs: Vec<Diff>,
}

#[derive(Default)]
struct Inbox {
    frames: Vec<RemotingCommand>,
    closed: bool,
}

struct Conn {
    writer: FramedWrite<OwnedWriteHalf, RemotingCodec>,
    inbox: Arc<(Mutex<Inbox>, Notify)>,
    /// s2c requests already answered (by index into the inbox).
    answered: BTreeSet<usize>,
    /// s2c requests already matched with a captured one.
    callbacks_seen: BTreeSet<usize>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect to loopback");
        let (r, w) = stream.into_split();
        let inbox: Arc<(Mutex<Inbox>, Notify)> = Arc::default();
        let reader_inbox = inbox.clone();
        tokio::spawn(async move {
            let mut frames = FramedRead::new(r, RemotingCodec::new());
            while let Some(Ok(cmd)) = frames.next().await {
                reader_inbox.0.lock().unwrap().frames.push(cmd);
                reader_inbox.1.notify_waiters();
            }
            reader_inbox.0.lock().unwrap().closed = true;
            reader_inbox.1.notify_waiters();
        });
        Conn {
            writer: FramedWrite::new(w, RemotingCodec::new()),
            inbox,
            answered: BTreeSet::new(),
            callbacks_seen: BTreeSet::new(),
        }
    }

    /// Waits (real time) for the first frame that `pick` accepts.
    async fn wait_for(
        &self,
        wait: Duration,
        pick: impl Fn(usize, &RemotingCommand) -> bool,
    ) -> Option<(usize, RemotingCommand)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.inbox.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inbox = self.inbox.0.lock().unwrap();
                if let Some((i, c)) = inbox.frames.iter().enumerate().find(|(i, c)| pick(*i, c)) {
                    return Some((i, c.clone()));
                }
                if inbox.closed {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    fn s2c_requests(&self) -> Vec<RemotingCommand> {
        self.inbox
            .0
            .lock()
            .unwrap()
            .frames
            .iter()
            .filter(|c| !c.is_response())
            .cloned()
            .collect()
    }
}

/// The kind of a header value, for values that depend on time, offsets, addresses or ids.
fn kind(v: &str) -> &'static str {
    if v.is_empty() {
        "empty"
    } else if v.parse::<i64>().is_ok() {
        "number"
    } else if v == "true" || v == "false" {
        "bool"
    } else {
        "string"
    }
}

fn is_addr(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some(x) => x,
        None => return false,
    };
    port.parse::<u16>().is_ok() && host.parse::<std::net::IpAddr>().is_ok()
}

/// The shape of a JSON value: object keys (addresses normalised), array lengths, scalar kinds.
fn shape(v: &Value, depth: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(_) => "string".into(),
        Value::Array(a) if depth == 0 => format!("array[{}]", a.len()),
        // Lists of names (topics, addresses, client ids) depend on what else the Java broker
        // had seen; only their element kind is compared.
        Value::Array(a) if a.iter().all(|e| !e.is_object() && !e.is_array()) => {
            let mut elems: Vec<String> = a.iter().map(|e| shape(e, 0)).collect();
            elems.sort();
            elems.dedup();
            format!("[{}]", elems.join(" | "))
        }
        Value::Array(a) => {
            let mut elems: Vec<String> = a.iter().map(|e| shape(e, depth - 1)).collect();
            elems.sort();
            elems.dedup();
            format!("[{}; {}]", a.len(), elems.join(" | "))
        }
        Value::Object(m) if depth == 0 => format!("object{{{}}}", m.len()),
        Value::Object(m) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    let k = if is_addr(k) { "<addr>" } else { k.as_str() };
                    format!("{k}: {}", shape(v, depth - 1))
                })
                .collect();
            parts.sort();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn json_body(body: &[u8]) -> Option<Value> {
    if body.first().is_some_and(|b| *b == b'{' || *b == b'[') {
        fastjson::parse(body).ok()
    } else {
        None
    }
}

/// Messages of a binary body (pull, query, view), when it is one.
fn messages(body: &Bytes) -> Option<Vec<MessageExt>> {
    if body.len() < 20 || json_body(body).is_some() {
        return None;
    }
    decode_all(body.clone()).ok()
}

/// Properties the broker (not the sender) puts on a stored or delivered message, whose
/// values depend on the store: compared by presence only.
const BROKER_PROPERTIES: &[&str] = &[
    "MIN_OFFSET",
    "MAX_OFFSET",
    "CLUSTER",
    "REAL_QID",
    "REAL_TOPIC",
    "TRAN_PREPARED_QUEUE_OFFSET",
    "ORIGIN_MESSAGE_ID",
    "UNIQ_KEY",
    "TIMER_OUT_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_DEQUEUE_MS",
    "TIMER_DELIVER_MS",
    "TIMER_ROLL_TIMES",
    "__STARTDELIVERTIME",
    "TRACE_ON",
    "MSG_REGION",
    "TRAN_MSG",
    "PGROUP",
    "DELAY",
    "RETRY_TOPIC",
    "INNER_NUM",
];

fn compare_messages(code: i32, java: &[MessageExt], ours: &[MessageExt], out: &mut Vec<Diff>) {
    let mut diff = |field: &str, j: String, o: String| {
        out.push(Diff {
            code,
            field: field.to_owned(),
            java: j,
            ours: o,
            at: String::new(),
        })
    };
    if java.len() != ours.len() {
        diff(
            "body.messages",
            format!("{} messages", java.len()),
            format!("{} messages", ours.len()),
        );
        return;
    }
    for (j, o) in java.iter().zip(ours) {
        if j.message.topic != o.message.topic {
            diff(
                "body.topic",
                j.message.topic.clone(),
                o.message.topic.clone(),
            );
        }
        if j.message.body != o.message.body {
            diff(
                "body.message.body",
                String::from_utf8_lossy(&j.message.body).into(),
                String::from_utf8_lossy(&o.message.body).into(),
            );
        }
        if j.queue_id != o.queue_id {
            diff(
                "body.queueId",
                j.queue_id.to_string(),
                o.queue_id.to_string(),
            );
        }
        if j.reconsume_times != o.reconsume_times {
            diff(
                "body.reconsumeTimes",
                j.reconsume_times.to_string(),
                o.reconsume_times.to_string(),
            );
        }
        if j.sys_flag != o.sys_flag {
            diff(
                "body.sysFlag",
                j.sys_flag.to_string(),
                o.sys_flag.to_string(),
            );
        }
        let props = |m: &MessageExt| -> BTreeMap<String, String> {
            m.message
                .properties
                .iter()
                .map(|(k, v)| {
                    let v = if BROKER_PROPERTIES.contains(&k) {
                        kind(v).to_owned()
                    } else {
                        v.to_owned()
                    };
                    (k.to_owned(), v)
                })
                .collect()
        };
        let (jp, op) = (props(j), props(o));
        for k in jp.keys().chain(op.keys()).collect::<BTreeSet<_>>() {
            let (a, b) = (jp.get(k), op.get(k));
            if a != b {
                diff(
                    &format!("body.property.{k}"),
                    a.cloned().unwrap_or_else(|| "<absent>".into()),
                    b.cloned().unwrap_or_else(|| "<absent>".into()),
                );
            }
        }
    }
}

/// Header values that do not depend on time, addresses, ids or what else the Java broker
/// had stored (every scenario uses fresh topics and groups): compared exactly.
const EXACT_KEYS: &[&str] = &[
    "queueId",
    "suggestWhichBrokerId",
    "nextBeginOffset",
    "minOffset",
    "maxOffset",
    "offset",
    "MSG_REGION",
    "TRACE_ON",
];

/// Compares our answer with the Java one: code, header field names, value kinds, remark
/// presence, body shape.
fn compare(java: &Frame, ours: &RemotingCommand, held: bool) -> Vec<Diff> {
    let mut out = Vec::new();
    let code = java.code;
    let mut diff = |field: &str, j: String, o: String| {
        out.push(Diff {
            code: 0,
            field: field.to_owned(),
            java: j,
            ours: o,
            at: String::new(),
        })
    };
    if ours.code != code {
        diff(
            "code",
            code.to_string(),
            format!("{} {}", ours.code, ours.remark.clone().unwrap_or_default()),
        );
        return out;
    }
    let jext: BTreeMap<String, String> = java.ext().into_iter().collect();
    let oext: BTreeMap<String, String> = ours
        .ext_fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for k in jext.keys().chain(oext.keys()).collect::<BTreeSet<_>>() {
        match (jext.get(k), oext.get(k)) {
            (Some(a), Some(b)) if EXACT_KEYS.contains(&k.as_str()) && a != b => {
                // A hold ended by an arrival: more may have arrived on ours (see below).
                let more = held
                    && matches!(k.as_str(), "nextBeginOffset" | "maxOffset")
                    && b.parse::<i64>().ok() > a.parse::<i64>().ok();
                if !more {
                    diff(&format!("extFields.{k}"), a.clone(), b.clone())
                }
            }
            (Some(a), Some(b)) if kind(a) != kind(b) => {
                diff(&format!("extFields.{k}"), a.clone(), b.clone())
            }
            (Some(a), None) => diff(&format!("extFields.{k}"), a.clone(), "<absent>".into()),
            (None, Some(b)) => diff(&format!("extFields.{k}"), "<absent>".into(), b.clone()),
            _ => {}
        }
    }
    if java.remark().is_some() != ours.remark.is_some() {
        diff(
            "remark",
            java.remark().unwrap_or("<none>").to_owned(),
            ours.remark.clone().unwrap_or_else(|| "<none>".into()),
        );
    }
    match (java.body.is_empty(), ours.body.is_empty()) {
        (true, true) => {}
        (false, true) => diff("body", format!("{} bytes", java.body.len()), "empty".into()),
        (true, false) => diff("body", "empty".into(), format!("{} bytes", ours.body.len())),
        (false, false) => {
            if let Some(jv) = json_body(&java.body) {
                match json_body(&ours.body) {
                    Some(ov) => {
                        let (a, b) = (shape(&jv, 4), shape(&ov, 4));
                        if a != b {
                            diff("body.shape", a, b);
                        }
                    }
                    None => diff(
                        "body.shape",
                        "JSON".into(),
                        String::from_utf8_lossy(&ours.body[..ours.body.len().min(80)]).into(),
                    ),
                }
            } else if let Some(jm) = messages(&java.body) {
                match messages(&ours.body) {
                    Some(mut om) => {
                        if held && om.len() > jm.len() {
                            om.truncate(jm.len());
                        }
                        compare_messages(0, &jm, &om, &mut out)
                    }
                    None => out.push(Diff {
                        code: 0,
                        field: "body".into(),
                        java: format!("{} message records", jm.len()),
                        ours: format!("{} undecodable bytes", ours.body.len()),
                        at: String::new(),
                    }),
                }
            }
        }
    }
    out
}

/// Java values -> ours, for ids and offsets that later requests echo back, by namespace:
/// message ids, commit-log offsets, transaction-table (half queue) offsets.
#[derive(Default)]
struct IdMap(HashMap<(&'static str, String), String>);

const NS_ID: &str = "id";
const NS_COMMIT_LOG: &str = "commit log";
const NS_TRAN_TABLE: &str = "tran table";

fn namespace(key: &str) -> Option<&'static str> {
    match key {
        "msgId" | "originMsgId" | "offsetMsgId" | "transactionId" => Some(NS_ID),
        "commitLogOffset" | "offset" => Some(NS_COMMIT_LOG),
        "tranStateTableOffset" | "queueOffset" => Some(NS_TRAN_TABLE),
        _ => None,
    }
}

impl IdMap {
    fn learn(&mut self, ns: &'static str, java: &str, ours: &str) {
        if java == ours || java.is_empty() {
            return;
        }
        self.0.insert((ns, java.to_owned()), ours.to_owned());
        if ns == NS_ID
            && let (Ok(j), Ok(o)) = (decode_offset_msg_id(java), decode_offset_msg_id(ours))
        {
            self.0.insert(
                (NS_COMMIT_LOG, j.commit_log_offset.to_string()),
                o.commit_log_offset.to_string(),
            );
        }
    }

    /// From a Java frame and ours of the same kind (a response, or a broker callback).
    fn learn_header(&mut self, java: &Frame, ours: &RemotingCommand) {
        for (key, j) in java.ext() {
            let Some(ns) = namespace(&key) else {
                continue;
            };
            if let Some(o) = ours.ext_fields.get(&key) {
                for (j, o) in j.split(',').zip(o.split(',')) {
                    self.learn(ns, j, o);
                }
            }
        }
    }

    fn learn_messages(&mut self, java: &Bytes, ours: &Bytes) {
        let (Some(jm), Some(om)) = (messages(java), messages(ours)) else {
            return;
        };
        let key = |m: &MessageExt| {
            m.message
                .properties
                .get("UNIQ_KEY")
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&m.message.body).into_owned())
        };
        for j in &jm {
            let Some(o) = om.iter().find(|o| key(o) == key(j)) else {
                continue;
            };
            self.learn(NS_ID, &j.offset_msg_id(), &o.offset_msg_id());
            self.learn(
                NS_COMMIT_LOG,
                &j.commit_log_offset.to_string(),
                &o.commit_log_offset.to_string(),
            );
        }
    }

    fn translate(&self, key: &str, value: &str) -> Option<String> {
        let ns = namespace(key)?;
        if key == "queueOffset" {
            // A pull's or query's own queue offset: the topics are fresh on both sides.
            return None;
        }
        self.0.get(&(ns, value.to_owned())).cloned()
    }
}

/// Topics the Java side already had when the capture began: routes answered SUCCESS before
/// anything in the capture could have created them.
fn pre_existing_topics(t: &Transcript) -> BTreeMap<String, i32> {
    let mut created = BTreeSet::new();
    let mut out = BTreeMap::new();
    for f in &t.frames {
        if !f.c2s || f.is_response {
            continue;
        }
        if let Some(topic) = f.ext_get("b") {
            created.insert(topic);
        }
        if f.code == 105 {
            let topic = f.ext_get("topic").unwrap_or_default();
            if topic == "TBW102" || created.contains(&topic) || topic.starts_with('%') {
                continue;
            }
            if let Some(resp) = t.response_to(f)
                && resp.code == 0
            {
                let queues = json_body(&resp.body)
                    .and_then(|v| v["queueDatas"][0]["writeQueueNums"].as_i64())
                    .unwrap_or(4);
                out.insert(topic.clone(), queues as i32);
            }
            created.insert(topic);
        }
    }
    out
}

fn to_ms(t: f64) -> i64 {
    (t * 1000.0) as i64
}

/// Request codes not replayed: the Java broker's own REGISTER_BROKER heartbeats to its name
/// server are broker traffic, not a client's (replayed into our name server they would
/// replace our broker's address with the Java one's).
const NOT_REPLAYED: &[i32] = &[103];

/// When a captured request is sent to our broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// At its own position, and its first pass awaited (answered, or held) before the next
    /// frame: nearly everything.
    AtRequest,
    /// At the position of the Java answer, without the hold: long polls that the Java broker
    /// held until their deadline. Its answer there comes from a final pass over what the
    /// queue then held, which is what ours computes from the same request without the hold
    /// (the embedded broker's hold waits real time between looks at its clock, so the
    /// captured 15 s hold would keep the replay waiting).
    AtResponse,
}

/// The position of the Java answer to request `f`, if there is one.
fn response_pos(t: &Transcript, f: &Frame) -> Option<usize> {
    if f.oneway {
        return None;
    }
    t.frames
        .iter()
        .position(|r| r.is_response && !r.c2s && r.conn == f.conn && r.opaque == f.opaque)
}

fn schedule(t: &Transcript, f: &Frame) -> (When, Option<usize>) {
    let Some(q) = response_pos(t, f) else {
        return (When::AtRequest, None);
    };
    let r = &t.frames[q];
    if is_suspended_pull(f) && r.code != 0 && r.t - f.t > 0.5 {
        return (When::AtResponse, Some(q));
    }
    (When::AtRequest, Some(q))
}

/// Requests that overtook request `p` on the Java broker: Java serves each request code on
/// its own thread pool, so a request sent (almost) together with an earlier one can be served
/// first. The capture shows it when the later request was answered first, and it matters
/// when both arrive within a few milliseconds (a pull racing the heartbeat that updates its
/// subscription); an earlier request sent well before has had its effect even if its answer
/// went out later (a heartbeat registers the consumer before it answers).
fn overtakers(t: &Transcript, p: usize) -> Vec<usize> {
    let e = &t.frames[p];
    let Some(qe) = response_pos(t, e) else {
        return Vec::new();
    };
    if is_suspended_pull(e) && t.frames[qe].t - e.t > 0.05 {
        // A held pull is answered late by design; its first pass ran at once.
        return Vec::new();
    }
    let mut found: Vec<usize> = (p + 1..qe)
        .filter(|&i| {
            let r = &t.frames[i];
            r.c2s
                && !r.is_response
                && !NOT_REPLAYED.contains(&r.code)
                && r.t - e.t < 0.005
                && response_pos(t, r).is_some_and(|qr| qr < qe)
                && !(is_suspended_pull(r) && schedule(t, r).0 == When::AtResponse)
        })
        .collect();
    // Among themselves, in the order Java answered them.
    found.sort_by_key(|&i| response_pos(t, &t.frames[i]));
    found
}

fn is_suspended_pull(f: &Frame) -> bool {
    matches!(f.code, 11 | 361)
        && f.ext_get("sysFlag")
            .and_then(|s| s.parse::<i64>().ok())
            .is_some_and(|v| v & PULL_SUSPEND_FLAG != 0)
}

/// Replays `t` into a fresh embedded broker on a manual clock that follows the capture's
/// timeline (delays, retries, transaction checks and lock expiry happen at the same virtual
/// times as they did on the Java broker).
pub async fn replay(t: &Transcript) -> Outcome {
    let start = to_ms(t.frames[0].t);
    let clock = Arc::new(ManualClock::new(start));
    let broker = EmbeddedBroker::builder()
        .manual_clock(clock.clone())
        .transaction_check_interval(Duration::from_millis(3000))
        .transaction_timeout(Duration::from_millis(6000))
        .start()
        .await
        .expect("embedded broker starts");
    for (topic, queues) in pre_existing_topics(t) {
        broker.create_topic(&topic, queues).await.expect("topic");
    }
    let ns_addr = broker.name_server_addr();
    let broker_addr = broker.broker_addrs()[0].clone();

    let mut conns: HashMap<String, Conn> = HashMap::new();
    let mut ids = IdMap::default();
    let mut outcome = Outcome::default();
    // Position of a Java answer -> the request to send (or already sent) for it.
    let mut at_response: HashMap<usize, (Frame, When)> = HashMap::new();
    // Requests sent before their position (they overtook an earlier one on the Java broker).
    let mut sent_early: BTreeSet<usize> = BTreeSet::new();

    for (pos, f) in t.frames.iter().enumerate() {
        let now = to_ms(f.t);
        if now > clock.now_millis() {
            clock.set(now);
        }
        if NOT_REPLAYED.contains(&f.code) && f.c2s && !f.is_response {
            continue;
        }
        if f.c2s && !f.is_response {
            if sent_early.contains(&pos) {
                continue;
            }
            let (when, resp) = schedule(t, f);
            if let Some(q) = resp {
                at_response.insert(q, (f.clone(), when));
            }
            if when == When::AtResponse {
                *outcome.replayed.entry(f.code).or_default() += 1;
                open_conn(&mut conns, f, &ns_addr, &broker_addr).await;
                continue;
            }
            for i in overtakers(t, pos) {
                let r = &t.frames[i];
                if let (When::AtRequest, Some(q)) = schedule(t, r) {
                    at_response.insert(q, (r.clone(), When::AtRequest));
                }
                sent_early.insert(i);
                *outcome.replayed.entry(r.code).or_default() += 1;
                open_conn(&mut conns, r, &ns_addr, &broker_addr).await;
                send_and_settle(&broker, conns.get_mut(&r.conn).unwrap(), r, &ids, true).await;
            }
            *outcome.replayed.entry(f.code).or_default() += 1;
            open_conn(&mut conns, f, &ns_addr, &broker_addr).await;
            send_and_settle(
                &broker,
                conns.get_mut(&f.conn).unwrap(),
                f,
                &ids,
                resp.is_some(),
            )
            .await;
        } else if !f.c2s && !f.is_response {
            // A broker callback: wait for ours, and learn the ids it carries (a transaction
            // check names the re-put half message, which the answer echoes).
            let Some(conn) = conns.get_mut(&f.conn) else {
                continue;
            };
            let code = f.code;
            let seen = conn.callbacks_seen.clone();
            if let Some((i, ours)) = conn
                .wait_for(CALLBACK_WAIT, |i, c| {
                    !c.is_response() && c.code == code && !seen.contains(&i)
                })
                .await
            {
                conn.callbacks_seen.insert(i);
                ids.learn_header(f, &ours);
            }
        } else if f.c2s && f.is_response {
            // The Java client's answer to a broker callback: answer ours the same way.
            let Some(conn) = conns.get_mut(&f.conn) else {
                continue;
            };
            let answered = conn.answered.clone();
            let Some(java_req) = t
                .frames
                .iter()
                .find(|r| !r.c2s && !r.is_response && r.conn == f.conn && r.opaque == f.opaque)
            else {
                continue;
            };
            let code = java_req.code;
            if let Some((i, req)) = conn
                .wait_for(RESPONSE_WAIT, |i, c| {
                    !c.is_response() && c.code == code && !answered.contains(&i)
                })
                .await
            {
                conn.answered.insert(i);
                let mut resp = java_command(f);
                resp.opaque = req.opaque;
                conn.writer.send(resp).await.expect("send callback answer");
            }
        } else if !f.c2s && f.is_response {
            let Some((req, when)) = at_response.remove(&pos) else {
                continue;
            };
            let conn = conns.get_mut(&f.conn).unwrap();
            if when == When::AtResponse {
                let mut cmd = java_command(&req);
                rewrite(&mut cmd, &ids);
                if is_suspended_pull(&req) {
                    // Java held it and answered at the deadline with whatever its final pass
                    // found; the same pass, now, without the (real-time) hold.
                    cmd.ext_fields.insert("suspendTimeoutMillis", "0");
                }
                conn.writer.send(cmd).await.expect("send request");
            }
            let opaque = req.opaque;
            let got = conn
                .wait_for(RESPONSE_WAIT, |_, c| c.is_response() && c.opaque == opaque)
                .await;
            let at = format!("{}/{} line {}", t.version, t.name, req.line);
            match got {
                None => outcome.diffs.push(Diff {
                    code: req.code,
                    field: "response".into(),
                    java: format!("code {}", f.code),
                    ours: "none within 3 s".into(),
                    at,
                }),
                Some((_, mut ours)) => {
                    if req.code == 105 && f.code == 0 && ours.code == 17 {
                        // Our broker registers a topic it created (e.g. %RETRY% on a
                        // heartbeat) with the name server asynchronously, Java's broker before
                        // answering: ask again until the route shows (bounded).
                        if let Some((late, waited)) =
                            retry_route(conns.get_mut(&f.conn).unwrap(), &req).await
                        {
                            outcome.late_routes.push(format!("{at}: {waited:?}"));
                            ours = late;
                        }
                    }
                    ids.learn_header(f, &ours);
                    ids.learn_messages(&f.body, &ours.body);
                    // A hold ended by an arrival returns what had arrived: our replay sends
                    // faster than Java did, so more may have; Java's messages must come first.
                    let held = is_suspended_pull(&req) && f.t - req.t > 0.05;
                    let diffs = compare(f, &ours, held);
                    if diffs.is_empty() {
                        *outcome.matched.entry(req.code).or_default() += 1;
                    }
                    outcome.diffs.extend(diffs.into_iter().map(|mut d| {
                        d.code = req.code;
                        d.at = at.clone();
                        d
                    }));
                }
            }
        }
    }
    // Broker callbacks (s2c requests): the same codes on the same connections.
    for (name, conn) in &conns {
        let java: BTreeMap<i32, usize> = t
            .frames
            .iter()
            .filter(|f| !f.c2s && !f.is_response && &f.conn == name)
            .fold(BTreeMap::new(), |mut m, f| {
                *m.entry(f.code).or_default() += 1;
                m
            });
        if java.is_empty() {
            continue;
        }
        let ours: BTreeMap<i32, usize> =
            conn.s2c_requests()
                .iter()
                .fold(BTreeMap::new(), |mut m, c| {
                    *m.entry(c.code).or_default() += 1;
                    m
                });
        for (code, n) in &java {
            let got = ours.get(code).copied().unwrap_or(0);
            *outcome.replayed.entry(*code).or_default() += 1;
            if got == 0 {
                outcome.diffs.push(Diff {
                    code: *code,
                    field: "s2c request".into(),
                    java: format!("{n} sent"),
                    ours: "none".into(),
                    at: format!("{}/{} {name}", t.version, t.name),
                });
            } else {
                *outcome.matched.entry(*code).or_default() += 1;
            }
        }
    }
    drop(conns);
    broker.shutdown().await.expect("shutdown");
    outcome
}

async fn open_conn(conns: &mut HashMap<String, Conn>, f: &Frame, ns: &str, broker: &str) {
    if !conns.contains_key(&f.conn) {
        let addr = match f.server {
            Server::NameServer => ns,
            Server::Broker => broker,
        };
        conns.insert(f.conn.clone(), Conn::open(addr).await);
    }
}

/// Sends request `f` and, when Java answered it, waits until ours is answered or its pull is
/// held (its first pass is over).
async fn send_and_settle(
    broker: &EmbeddedBroker,
    conn: &mut Conn,
    f: &Frame,
    ids: &IdMap,
    answered_by_java: bool,
) {
    let held_before = broker.broker(0).held_pulls();
    let mut cmd = java_command(f);
    rewrite(&mut cmd, ids);
    if std::env::var_os("GOLDEN_DEBUG").is_some() {
        eprintln!("send line {} code {} opaque {}", f.line, f.code, f.opaque);
    }
    if !answered_by_java && is_suspended_pull(f) {
        // Never answered by Java (its client went away): keep the hold short.
        cmd.ext_fields
            .insert("suspendTimeoutMillis", SHORT_SUSPEND_MS);
    }
    conn.writer.send(cmd).await.expect("send request");
    if !answered_by_java {
        return;
    }
    let opaque = f.opaque;
    let deadline = tokio::time::Instant::now() + RESPONSE_WAIT;
    while tokio::time::Instant::now() < deadline {
        let answered = conn
            .wait_for(Duration::from_millis(2), |_, c| {
                c.is_response() && c.opaque == opaque
            })
            .await
            .is_some();
        if answered || broker.broker(0).held_pulls() > held_before {
            break;
        }
    }
}

/// Asks for the route of `req` again until our name server has it (at most 2 s).
async fn retry_route(conn: &mut Conn, req: &Frame) -> Option<(RemotingCommand, Duration)> {
    static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1 << 30);
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let opaque = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut cmd = java_command(req);
        cmd.opaque = opaque;
        conn.writer.send(cmd).await.ok()?;
        let (_, resp) = conn
            .wait_for(RESPONSE_WAIT, |_, c| c.is_response() && c.opaque == opaque)
            .await?;
        if resp.code == 0 {
            return Some((resp, started.elapsed()));
        }
        conn.wait_for(Duration::from_millis(20), |_, _| false).await;
    }
    None
}

/// The captured command as the Java client sent it.
fn java_command(f: &Frame) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(rocketmq_sdk::protocol::RequestCode(f.code));
    cmd.language = LanguageCode::JAVA;
    cmd.version = f.header["version"].as_i64().unwrap_or(0) as i16;
    cmd.opaque = f.opaque;
    cmd.flag = f.flag;
    cmd.remark = f.remark().map(str::to_owned);
    cmd.serialize_type = SerializeType::Json;
    for (k, v) in f.ext() {
        cmd.ext_fields.insert(k, v);
    }
    cmd.body = f.body.clone();
    cmd
}

/// Adapts a captured request to our broker: ids and offsets the Java broker handed out are
/// replaced by ours.
fn rewrite(cmd: &mut RemotingCommand, ids: &IdMap) {
    let pairs: Vec<(String, String)> = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (k, v) in pairs {
        if let Some(new) = ids.translate(&k, &v) {
            cmd.ext_fields.insert(k, new);
        }
    }
}
