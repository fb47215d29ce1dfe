//! Send, pull (with long polling), offsets and queries, driven with raw commands over
//! loopback TCP.

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::{Clock, ManualClock};
use rocketmq_sdk::protocol::body::{CheckClientRequestBody, JsonBody, SubscriptionData};
use rocketmq_sdk::protocol::header::pull::pull_sys_flag;
use rocketmq_sdk::protocol::header::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, QueryMessageRequestHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    UpdateConsumerOffsetRequestHeader, ViewMessageRequestHeader,
};
use rocketmq_sdk::protocol::header::{ExpressionType, PullMessageRequestHeader};
use rocketmq_sdk::protocol::message::id::decode_offset_msg_id;
use rocketmq_sdk::protocol::message::keys;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::Connection;

#[tokio::test]
async fn send_v2_stores_the_message_and_answers_like_a_java_broker() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 4).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r1 = send(&conn, "T", 1, b"one").await;
    assert_eq!(r1.response_code(), ResponseCode::SUCCESS, "{r1:?}");
    assert_eq!(r1.ext_fields.get("MSG_REGION"), Some("DefaultRegion"));
    assert_eq!(r1.ext_fields.get("TRACE_ON"), Some("true"));
    assert!(r1.version >= 401);
    let h1: SendMessageResponseHeader = r1.decode_header().unwrap();
    let h2 = send_ok(&conn, "T", 1, b"two").await;
    assert_eq!((h1.queue_id, h1.queue_offset), (1, 0));
    assert_eq!((h2.queue_id, h2.queue_offset), (1, 1));
    let id = decode_offset_msg_id(&h1.msg_id).unwrap();
    assert_eq!(id.store_host.to_string(), broker.broker_addrs()[0]);

    let stored = broker.messages("T").unwrap();
    assert_eq!(stored.len(), 2);
    let m = &stored[0];
    assert_eq!(&m.message.body[..], b"one");
    assert_eq!(m.queue_id, 1);
    assert_eq!(m.commit_log_offset, id.commit_log_offset);
    assert_eq!(m.store_host.to_string(), broker.broker_addrs()[0]);
    assert!(m.born_host.ip().is_loopback());
    assert_ne!(
        m.born_host.port(),
        m.store_host.port(),
        "born host is the client"
    );
    assert_eq!(m.message.property(keys::CLUSTER), Some("DefaultCluster"));
    assert_eq!(h1.transaction_id.as_deref(), m.message.uniq_key());
    assert!(
        m.message.uniq_key().is_some(),
        "the broker assigns a UNIQ_KEY"
    );
}

#[tokio::test]
async fn send_with_the_v1_header_and_a_negative_queue_id() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let v1: SendMessageRequestHeader = send_header("T", -1).into();
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::SEND_MESSAGE)
                .with_header(&v1)
                .with_body(&b"v1"[..]),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert!((0..2).contains(&h.queue_id), "queue picked by the broker");
    assert_eq!(broker.messages("T").unwrap().len(), 1);
}

#[tokio::test]
async fn a_negative_queue_id_gets_a_random_queue_as_upstream() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 4).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mut picked = Vec::new();
    for i in 0..400 {
        picked.push(
            send_ok(&conn, "T", -1, format!("m{i}").as_bytes())
                .await
                .queue_id,
        );
    }
    let mut per_queue = [0usize; 4];
    for q in &picked {
        per_queue[usize::try_from(*q).unwrap()] += 1;
    }
    // Uniform: each queue near 100 (the bound is > 6 standard deviations away).
    assert!(
        per_queue.iter().all(|n| (40..=160).contains(n)),
        "{per_queue:?}"
    );
    // Random, not round-robin (`randomQueueId`): a strict 0,1,2,3 cycle would be
    // chance once in 4^399.
    let cyclic = picked.windows(2).all(|w| w[1] == (w[0] + 1) % 4);
    assert!(!cyclic, "{picked:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 400);
}

#[tokio::test]
async fn batch_sends_store_each_message_and_join_the_ids() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("B", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r = conn
        .request(batch_request("B", 0, &[b"a", b"bb", b"ccc"]), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.msg_id.split(',').count(), 3);
    assert_eq!(h.queue_offset, 0);
    let stored = broker.messages("B").unwrap();
    let bodies: Vec<&[u8]> = stored.iter().map(|m| &m.message.body[..]).collect();
    assert_eq!(bodies, vec![&b"a"[..], b"bb", b"ccc"]);
    assert_eq!(stored[2].queue_offset, 2);
    assert_eq!(
        stored[1].message.uniq_key(),
        Some("UNIQ0000000000000000000000000001")
    );

    let retry = conn
        .request(batch_request("%RETRY%g", 0, &[b"x"]), T)
        .await
        .unwrap();
    assert_eq!(retry.response_code(), ResponseCode::MESSAGE_ILLEGAL);
    assert!(retry.remark.unwrap().contains("retry"));
}

#[tokio::test]
async fn invalid_sends_are_refused_with_a_reason_and_store_nothing() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let cases: Vec<(RemotingCommand, ResponseCode, &str)> = vec![
        (
            send_request("bad topic!", 0, b"x", None),
            ResponseCode::INVALID_PARAMETER,
            "illegal characters",
        ),
        (
            send_request(&"t".repeat(128), 0, b"x", None),
            ResponseCode::INVALID_PARAMETER,
            "max length",
        ),
        (
            send_request("SCHEDULE_TOPIC_XXXX", 0, b"x", None),
            ResponseCode::NO_PERMISSION,
            "forbidden",
        ),
        (
            send_request("T", 2, b"x", None),
            ResponseCode::INVALID_PARAMETER,
            "queueId[2] is illegal",
        ),
        (
            send_request("T", 0, &vec![0u8; 4 * 1024 * 1024 + 1], None),
            ResponseCode::MESSAGE_ILLEGAL,
            "larger than the maximum message size",
        ),
        (
            // A required header field is missing.
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2).with_body(&b"x"[..]),
            ResponseCode::SYSTEM_ERROR,
            "header",
        ),
    ];
    for (request, code, remark) in cases {
        let r = conn.request(request, T).await.unwrap();
        assert_eq!(r.response_code(), code, "{r:?}");
        let got = r.remark.unwrap_or_default();
        assert!(got.contains(remark), "remark {got:?} lacks {remark:?}");
    }
    assert!(broker.messages("T").unwrap().is_empty());
}

#[tokio::test]
async fn unknown_topics_are_created_from_tbw102_or_refused() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    // A Java producer asks for 4 queues; the template has 8.
    let h = send_ok(&conn, "Fresh", 3, b"x").await;
    assert_eq!(h.queue_offset, 0);
    assert_eq!(broker.messages("Fresh").unwrap().len(), 1);
    let beyond = send(&conn, "Fresh", 4, b"x").await;
    assert_eq!(beyond.response_code(), ResponseCode::INVALID_PARAMETER);

    let strict = EmbeddedBroker::builder()
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let conn = connect(&strict.broker_addrs()[0]).await;
    let r = send(&conn, "Fresh", 0, b"x").await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert!(r.remark.unwrap().contains("not exist"));
    strict.create_topic("Fresh", 1).await.unwrap();
    send_ok(&conn, "Fresh", 0, b"x").await;
}

#[tokio::test]
async fn injected_faults_fail_sends_without_storing_or_force_a_store_status() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    broker
        .faults()
        .fail_next(RequestCode::SEND_MESSAGE_V2, 2, ResponseCode::SYSTEM_BUSY);
    for _ in 0..2 {
        let r = send(&conn, "T", 0, b"x").await;
        assert_eq!(r.response_code(), ResponseCode::SYSTEM_BUSY);
    }
    assert!(
        broker.messages("T").unwrap().is_empty(),
        "failed sends store nothing"
    );
    send_ok(&conn, "T", 0, b"x").await;

    broker
        .broker(0)
        .faults()
        .fail_next_sends(1, ResponseCode::SERVICE_NOT_AVAILABLE);
    let r = conn
        .request(batch_request("T", 0, &[b"b"]), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SERVICE_NOT_AVAILABLE);

    broker
        .faults()
        .set_send_status(Some(ResponseCode::FLUSH_DISK_TIMEOUT));
    let r = send(&conn, "T", 0, b"stored anyway").await;
    assert_eq!(r.response_code(), ResponseCode::FLUSH_DISK_TIMEOUT);
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.queue_offset, 1);
    broker.faults().set_send_status(None);
    assert_eq!(broker.messages("T").unwrap().len(), 2);
    assert_eq!(broker.faults().injected(), 2);
}

#[tokio::test]
async fn a_retry_past_its_limit_goes_to_the_dead_letter_queue() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    heartbeat(&conn, "c1", "g", "T", "*").await;
    let mut h = send_header("%RETRY%g", 0);
    h.reconsume_times = Some(3);
    let ok = conn
        .request(
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&h)
                .with_body(&b"again"[..]),
            T,
        )
        .await
        .unwrap();
    assert_eq!(ok.response_code(), ResponseCode::SUCCESS);
    h.reconsume_times = Some(17);
    let dead = conn
        .request(
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&h)
                .with_body(&b"dead"[..]),
            T,
        )
        .await
        .unwrap();
    assert_eq!(dead.response_code(), ResponseCode::SUCCESS);
    assert_eq!(broker.messages("%RETRY%g").unwrap().len(), 1);
    let dlq = broker.dead_letters("g").unwrap();
    assert_eq!(dlq.len(), 1);
    assert_eq!(&dlq[0].message.body[..], b"dead");
    assert_eq!(dlq[0].reconsume_times, 17);
}

#[tokio::test]
async fn pull_follows_the_status_table() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;

    let (r, h) = pull(&conn, &pull_header("g", "T", 0, 0)).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
    assert_eq!(h.next_begin_offset, 0);
    let (r, _) = pull(&conn, &pull_header("g", "T", 0, 5)).await;
    assert_eq!(
        r.response_code(),
        ResponseCode::PULL_OFFSET_MOVED,
        "empty queue, offset != 0"
    );

    for i in 0..3 {
        send_ok(&conn, "T", 0, format!("m{i}").as_bytes()).await;
    }
    let (r, h) = pull(&conn, &pull_header("g", "T", 0, 0)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(r.remark.as_deref(), Some("FOUND"));
    assert_eq!(
        bodies(&r),
        vec![b"m0".to_vec(), b"m1".to_vec(), b"m2".to_vec()]
    );
    assert_eq!((h.next_begin_offset, h.min_offset, h.max_offset), (3, 0, 3));
    assert_eq!(h.suggest_which_broker_id, 0);

    let mut two = pull_header("g", "T", 0, 1);
    two.max_msg_nums = 1;
    let (r, h) = pull(&conn, &two).await;
    assert_eq!(bodies(&r), vec![b"m1".to_vec()]);
    assert_eq!(h.next_begin_offset, 2);

    let (r, h) = pull(&conn, &pull_header("g", "T", 0, 3)).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
    assert_eq!(r.remark.as_deref(), Some("OFFSET_OVERFLOW_ONE"));
    assert_eq!(h.next_begin_offset, 3);

    let (r, h) = pull(&conn, &pull_header("g", "T", 0, 10)).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_OFFSET_MOVED);
    assert_eq!(r.remark.as_deref(), Some("OFFSET_OVERFLOW_BADLY"));
    assert_eq!(h.next_begin_offset, 3);

    // The lite pull code behaves the same.
    let lite = RemotingCommand::request(RequestCode::LITE_PULL_MESSAGE)
        .with_header(&pull_header("g", "T", 0, 0));
    let r = conn.request(lite, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(bodies(&r).len(), 3);
}

#[tokio::test]
async fn pull_caps_a_batch_at_32_messages() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    for i in 0..40 {
        send_ok(&conn, "T", 0, format!("m{i}").as_bytes()).await;
    }
    let mut h = pull_header("g", "T", 0, 0);
    h.max_msg_nums = 100;
    let (r, rh) = pull(&conn, &h).await;
    assert_eq!(bodies(&r).len(), 32);
    assert_eq!(rh.next_begin_offset, 32);
}

#[tokio::test]
async fn pull_filters_by_tag() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    send_tagged(&conn, "T", 0, b"a1", "TagA").await;
    send_tagged(&conn, "T", 0, b"b1", "TagB").await;
    send_tagged(&conn, "T", 0, b"a2", "TagA").await;
    let mut h = pull_header("g", "T", 0, 0);
    h.subscription = Some("TagA || TagC".into());
    let (r, rh) = pull(&conn, &h).await;
    assert_eq!(bodies(&r), vec![b"a1".to_vec(), b"a2".to_vec()]);
    assert_eq!(rh.next_begin_offset, 3);

    h.subscription = Some("TagZ".into());
    let (r, rh) = pull(&conn, &h).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_RETRY_IMMEDIATELY);
    assert_eq!(rh.next_begin_offset, 3, "skips what did not match");

    // Without the subscription flag the heartbeat's subscription applies.
    heartbeat(&conn, "c1", "hb", "T", "TagB").await;
    let mut h = pull_header("hb", "T", 0, 0);
    h.sys_flag = 0;
    h.subscription = None;
    let (r, _) = pull(&conn, &h).await;
    assert_eq!(bodies(&r), vec![b"b1".to_vec()]);
}

#[tokio::test]
async fn pull_errors_name_the_problem() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mut no_sub = pull_header("nobody", "T", 0, 0);
    no_sub.sys_flag = 0;
    let mut sql = pull_header("g", "T", 0, 0);
    sql.expression_type = Some(ExpressionType::Sql92);
    sql.subscription = Some("a > 'x'".into());
    let mut unparsable = pull_header("g", "T", 0, 0);
    unparsable.subscription = Some("||".into());
    let cases = [
        (
            pull_header("g", "Nope", 0, 0),
            ResponseCode::TOPIC_NOT_EXIST,
        ),
        (pull_header("g", "T", 2, 0), ResponseCode::INVALID_PARAMETER),
        (
            pull_header("g", "T", -1, 0),
            ResponseCode::INVALID_PARAMETER,
        ),
        (no_sub, ResponseCode::SUBSCRIPTION_NOT_EXIST),
        (sql, ResponseCode::SUBSCRIPTION_PARSE_FAILED),
        (unparsable, ResponseCode::SUBSCRIPTION_PARSE_FAILED),
    ];
    for (h, code) in cases {
        let r = conn.request(pull_request(&h), T).await.unwrap();
        assert_eq!(r.response_code(), code, "{h:?} -> {r:?}");
        assert!(r.remark.is_some_and(|s| !s.is_empty()));
    }
}

/// Sends `body` to queue 0 of `topic` with user properties `pairs`.
async fn send_with_properties(conn: &Connection, topic: &str, body: &[u8], pairs: &[(&str, &str)]) {
    let mut p = rocketmq_sdk::protocol::message::Properties::default();
    p.insert(keys::WAIT, "true");
    for (k, v) in pairs {
        p.insert(*k, *v);
    }
    let mut h = send_header(topic, 0);
    h.properties = Some(p.to_wire_string().unwrap());
    let request = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&h)
        .with_body(Bytes::copy_from_slice(body));
    let r = conn.request(request, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
}

fn sql_pull(group: &str, topic: &str, expression: &str) -> PullMessageRequestHeader {
    let mut h = pull_header(group, topic, 0, 0);
    h.expression_type = Some(ExpressionType::Sql92);
    h.subscription = Some(expression.into());
    h
}

#[tokio::test]
async fn pull_filters_by_sql92_over_properties() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    send_with_properties(
        &conn,
        "T",
        b"eu-250",
        &[("region", "eu"), ("amount", "250")],
    )
    .await;
    send_with_properties(&conn, "T", b"eu-50", &[("region", "eu"), ("amount", "50")]).await;
    send_with_properties(
        &conn,
        "T",
        b"us-500",
        &[("region", "us"), ("amount", "500")],
    )
    .await;
    send_with_properties(&conn, "T", b"none", &[]).await;
    send_with_properties(&conn, "T", b"eu-x", &[("region", "eu"), ("amount", "lots")]).await;

    let (r, rh) = pull(&conn, &sql_pull("g", "T", "region = 'eu' AND amount > 100")).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(bodies(&r), vec![b"eu-250".to_vec()]);
    assert_eq!(
        rh.next_begin_offset, 5,
        "the scan went past what did not match"
    );

    let (r, _) = pull(
        &conn,
        &sql_pull("g", "T", "region IS NULL OR amount BETWEEN 40 AND 60"),
    )
    .await;
    assert_eq!(bodies(&r), vec![b"eu-50".to_vec(), b"none".to_vec()]);

    // Nothing matches: the consumer moves on at once, past the scanned range.
    let (r, rh) = pull(&conn, &sql_pull("g", "T", "region = 'apac'")).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_RETRY_IMMEDIATELY);
    assert_eq!(rh.next_begin_offset, 5);

    // Rejected messages do not use up the batch: two matches behind 30 misses arrive
    // together.
    broker.create_topic("Many", 1).await.unwrap();
    for i in 0..30 {
        send_with_properties(&conn, "Many", format!("miss{i}").as_bytes(), &[("k", "0")]).await;
    }
    send_with_properties(&conn, "Many", b"hit1", &[("k", "1")]).await;
    send_with_properties(&conn, "Many", b"hit2", &[("k", "1")]).await;
    let mut h = sql_pull("g", "Many", "k = 1");
    h.max_msg_nums = 2;
    let (r, rh) = pull(&conn, &h).await;
    assert_eq!(bodies(&r), vec![b"hit1".to_vec(), b"hit2".to_vec()]);
    assert_eq!(rh.next_begin_offset, 32);

    // The heartbeat's SQL subscription applies to pulls without their own.
    let mut hb = heartbeat_body("c1", "hb", "T", "*");
    hb.consumer_data_set[0].subscription_data_set =
        vec![SubscriptionData::build("T", "amount >= 500", Some(ExpressionType::Sql92)).unwrap()];
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(hb.encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let mut h = pull_header("hb", "T", 0, 0);
    h.sys_flag = 0;
    h.subscription = None;
    let (r, _) = pull(&conn, &h).await;
    assert_eq!(bodies(&r), vec![b"us-500".to_vec()]);
}

#[tokio::test]
async fn sql92_pull_errors() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r = conn
        .request(
            pull_request(&sql_pull("g", "T", "region = 'eu' AND amount >")),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUBSCRIPTION_PARSE_FAILED);
    let remark = r.remark.unwrap_or_default();
    assert!(remark.contains("position 26"), "{remark}");
    let mut other = sql_pull("g", "T", "a = 1");
    other.expression_type = Some(ExpressionType::from_name("sql92"));
    let r = conn.request(pull_request(&other), T).await.unwrap();
    assert_eq!(
        r.response_code(),
        ResponseCode::SUBSCRIPTION_PARSE_FAILED,
        "names are exact"
    );

    // An invalid expression registered by heartbeat fails its pulls the same way.
    let mut hb = heartbeat_body("c1", "hb", "T", "*");
    hb.consumer_data_set[0].subscription_data_set =
        vec![SubscriptionData::build("T", "a = NULL", Some(ExpressionType::Sql92)).unwrap()];
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(hb.encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        r.response_code(),
        ResponseCode::SUCCESS,
        "a heartbeat is never refused"
    );
    let mut h = pull_header("hb", "T", 0, 0);
    h.sys_flag = 0;
    h.subscription = None;
    let r = conn.request(pull_request(&h), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUBSCRIPTION_PARSE_FAILED);

    // With property filtering off, the broker answers as a default Java broker does.
    let off = EmbeddedBroker::builder()
        .property_filter(false)
        .start()
        .await
        .unwrap();
    off.create_topic("T", 1).await.unwrap();
    let conn = connect(&off.broker_addrs()[0]).await;
    let r = conn
        .request(pull_request(&sql_pull("g", "T", "a = 1")), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("The broker does not support consumer to filter message by SQL92")
    );
}

async fn check_client_config(
    conn: &Connection,
    expression: &str,
    kind: ExpressionType,
) -> RemotingCommand {
    let body = CheckClientRequestBody {
        client_id: "c1".into(),
        group: "g".into(),
        subscription_data: Some(SubscriptionData::build("T", expression, Some(kind)).unwrap()),
    };
    let request = RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG)
        .with_body(body.encode().unwrap());
    conn.request(request, T).await.unwrap()
}

#[tokio::test]
async fn check_client_config_compiles_sql92_subscriptions() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r = check_client_config(&conn, "a BETWEEN 1 AND 3", ExpressionType::Sql92).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = check_client_config(&conn, "TagA || TagB", ExpressionType::Tag).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = check_client_config(&conn, "a BETWEEN 3 AND 1", ExpressionType::Sql92).await;
    assert_eq!(r.response_code(), ResponseCode::SUBSCRIPTION_PARSE_FAILED);
    assert!(r.remark.unwrap_or_default().contains("BETWEEN"));

    let off = EmbeddedBroker::builder()
        .property_filter(false)
        .start()
        .await
        .unwrap();
    let conn = connect(&off.broker_addrs()[0]).await;
    let r = check_client_config(&conn, "a = 1", ExpressionType::Sql92).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    let r = check_client_config(&conn, "*", ExpressionType::Tag).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
}

#[tokio::test]
async fn a_suspended_pull_is_woken_by_an_arriving_message() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let consumer = connect(&addr).await;
    let mut h = pull_header("g", "T", 0, 0);
    h.sys_flag |= pull_sys_flag::SUSPEND;
    // Far longer than the request timeout: only the arrival can answer in time.
    h.suspend_timeout_millis = 60_000;
    let held = tokio::spawn(async move { pull(&consumer, &h).await });
    let b = broker.broker(0).clone();
    assert!(wait_until(|| b.held_pulls() == 1).await, "the pull is held");
    let producer = connect(&addr).await;
    send_ok(&producer, "T", 0, b"wake up").await;
    let (r, rh) = held.await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(bodies(&r), vec![b"wake up".to_vec()]);
    assert_eq!(rh.next_begin_offset, 1);
    assert_eq!(broker.broker(0).held_pulls(), 0);
}

#[tokio::test]
async fn a_held_pull_ignores_messages_its_filter_rejects() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let consumer = connect(&addr).await;
    let mut h = pull_header("g", "T", 0, 0);
    h.sys_flag |= pull_sys_flag::SUSPEND;
    h.suspend_timeout_millis = 60_000;
    h.subscription = Some("TagA".into());
    let held = tokio::spawn(async move { pull(&consumer, &h).await });
    let b = broker.broker(0).clone();
    assert!(wait_until(|| b.held_pulls() == 1).await);
    let producer = connect(&addr).await;
    send_tagged(&producer, "T", 0, b"b", "TagB").await;
    send_tagged(&producer, "T", 0, b"a", "TagA").await;
    let (r, rh) = held.await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(bodies(&r), vec![b"a".to_vec()]);
    assert_eq!(rh.next_begin_offset, 2);
}

#[tokio::test]
async fn a_held_pull_times_out_with_pull_not_found_and_ends_when_its_connection_closes() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let consumer = connect(&addr).await;
    let mut h = pull_header("g", "T", 0, 0);
    h.sys_flag |= pull_sys_flag::SUSPEND;
    h.suspend_timeout_millis = 300;
    let started = std::time::Instant::now();
    let (r, _) = pull(&consumer, &h).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_NOT_FOUND);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(250),
        "it was held"
    );

    h.suspend_timeout_millis = 60_000;
    let c2 = consumer.clone();
    let pending = tokio::spawn(async move { c2.request(pull_request(&h), T).await });
    let b = broker.broker(0).clone();
    assert!(wait_until(|| b.held_pulls() == 1).await);
    consumer.close();
    assert!(pending.await.unwrap().is_err());
    assert!(
        wait_until(|| b.held_pulls() == 0).await,
        "the hold ended with its connection"
    );
}

#[tokio::test]
async fn commit_offset_flag_and_offset_queries() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let query = |set_zero: Option<bool>| {
        RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: "g".into(),
                topic: "T".into(),
                queue_id: 0,
                set_zero_if_not_found: set_zero,
                ..Default::default()
            },
        )
    };
    // Nothing stored, empty queue: offset 0 for a client that does not say otherwise, as
    // a 4.9.8 broker answers (an empty queue is not "in disk"; golden 02-push-consumer).
    let r = conn.request(query(None), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = conn.request(query(Some(false)), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    send_ok(&conn, "T", 0, b"x").await;
    // Message 0 is still there: offset 0, unless told not to default.
    let r = conn.request(query(None), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let h: QueryConsumerOffsetResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.offset, 0);
    let r = conn.request(query(Some(false)), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    assert!(r.remark.unwrap().contains("do not set to zero"));

    // A suspendable pull with COMMIT_OFFSET stores the client's offset.
    let mut p = pull_header("g", "T", 0, 0);
    p.sys_flag |= pull_sys_flag::COMMIT_OFFSET | pull_sys_flag::SUSPEND;
    p.commit_offset = 1;
    p.suspend_timeout_millis = 1000;
    let (r, _) = pull(&conn, &p).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = conn.request(query(Some(false)), T).await.unwrap();
    assert_eq!(
        r.decode_header::<QueryConsumerOffsetResponseHeader>()
            .unwrap()
            .offset,
        1
    );

    let update = |group: &str, topic: &str, offset: i64| {
        RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id: 0,
                commit_offset: offset,
                ..Default::default()
            },
        )
    };
    let r = conn.request(update("g", "T", 7), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    conn.send_oneway(update("g", "T", 9)).unwrap();
    assert!(wait_until(|| broker.consumer_offsets("g", "T").get(&0) == Some(&9)).await);
    let r = conn
        .request(update("unknown-group", "T", 1), T)
        .await
        .unwrap();
    assert_eq!(
        r.response_code(),
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
    );
    let r = conn.request(update("g", "NoTopic", 1), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
}

#[tokio::test]
async fn queue_offsets_by_position_and_time() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let earliest = || {
        RemotingCommand::request(RequestCode::GET_EARLIEST_MSG_STORETIME).with_header(
            &GetEarliestMsgStoretimeRequestHeader {
                topic: "T".into(),
                queue_id: 0,
                ..Default::default()
            },
        )
    };
    let r = conn.request(earliest(), T).await.unwrap();
    let h: GetEarliestMsgStoretimeResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.timestamp, -1, "empty queue");

    send_ok(&conn, "T", 0, b"a").await; // stored at 1_000_000
    send_ok(&conn, "T", 0, b"b").await; // 1_000_000
    clock.advance(1000);
    send_ok(&conn, "T", 0, b"c").await; // 1_001_000
    let r = conn.request(earliest(), T).await.unwrap();
    assert_eq!(
        r.decode_header::<GetEarliestMsgStoretimeResponseHeader>()
            .unwrap()
            .timestamp,
        1_000_000
    );
    let max = conn
        .request(
            RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
                &GetMaxOffsetRequestHeader {
                    topic: "T".into(),
                    queue_id: 0,
                    ..Default::default()
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        max.decode_header::<GetMaxOffsetResponseHeader>()
            .unwrap()
            .offset,
        3
    );
    let min = conn
        .request(
            RemotingCommand::request(RequestCode::GET_MIN_OFFSET).with_header(
                &GetMinOffsetRequestHeader {
                    topic: "T".into(),
                    queue_id: 0,
                    ..Default::default()
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        min.decode_header::<GetMinOffsetResponseHeader>()
            .unwrap()
            .offset,
        0
    );
    let search = |ts: i64, boundary: BoundaryType| {
        let conn = conn.clone();
        async move {
            let r = conn
                .request(
                    RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP).with_header(
                        &SearchOffsetRequestHeader {
                            topic: "T".into(),
                            queue_id: 0,
                            timestamp: ts,
                            boundary_type: Some(boundary),
                            ..Default::default()
                        },
                    ),
                    T,
                )
                .await
                .unwrap();
            assert_eq!(r.response_code(), ResponseCode::SUCCESS);
            r.decode_header::<SearchOffsetResponseHeader>()
                .unwrap()
                .offset
        }
    };
    assert_eq!(search(1_000_000, BoundaryType::Lower).await, 0);
    assert_eq!(search(1_000_000, BoundaryType::Upper).await, 1);
    assert_eq!(search(1_000_500, BoundaryType::Lower).await, 2);
    assert_eq!(search(1_000_500, BoundaryType::Upper).await, 1);
    assert_eq!(search(2_000_000, BoundaryType::Lower).await, 3);
    assert_eq!(clock.now_millis(), 1_001_000);
}

#[tokio::test]
async fn query_by_key_and_view_by_offset() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mut h = send_header("T", 0);
    h.properties = Some(props(None, Some("order-42")));
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&h)
                .with_body(Bytes::from_static(b"keyed")),
            T,
        )
        .await
        .unwrap();
    let sent: SendMessageResponseHeader = r.decode_header().unwrap();
    let query = |key: &str, unique: Option<bool>| {
        RemotingCommand::request(RequestCode::QUERY_MESSAGE).with_header(
            &QueryMessageRequestHeader {
                topic: "T".into(),
                key: key.into(),
                max_num: 10,
                begin_timestamp: 0,
                end_timestamp: i64::MAX,
                unique_key_query: unique,
                ..Default::default()
            },
        )
    };
    let r = conn.request(query("order-42", None), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(bodies(&r), vec![b"keyed".to_vec()]);
    let r = conn
        .request(
            query(sent.transaction_id.as_deref().unwrap(), Some(true)),
            T,
        )
        .await
        .unwrap();
    assert_eq!(bodies(&r), vec![b"keyed".to_vec()], "found by UNIQ_KEY");
    let r = conn.request(query("order-43", None), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);

    let offset = decode_offset_msg_id(&sent.msg_id)
        .unwrap()
        .commit_log_offset;
    let view = |offset: i64| {
        RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
            &ViewMessageRequestHeader {
                topic: Some("T".into()),
                offset,
            },
        )
    };
    let r = conn.request(view(offset), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let m = &messages(&r)[0];
    assert_eq!(m.message.keys(), Some("order-42"));
    let r = conn.request(view(offset + 1), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("can not find message"));
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[tokio::test]
async fn hostile_requests_get_answers_never_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    send_ok(&conn, "T", 0, b"x").await;
    let codes = [
        10, 11, 12, 14, 15, 17, 21, 29, 30, 31, 32, 33, 34, 35, 38, 41, 42, 222, 310, 320, 361,
    ];
    let numbers = [
        "-1",
        "0",
        "2147483647",
        "-2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "x",
        "",
    ];
    let keys_by_code = [
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "j",
        "l",
        "m",
        "consumerGroup",
        "topic",
        "queueId",
        "queueOffset",
        "maxMsgNums",
        "sysFlag",
        "commitOffset",
        "suspendTimeoutMillis",
        "subVersion",
        "subscription",
        "expressionType",
        "maxMsgBytes",
        "offset",
        "key",
        "maxNum",
        "beginTimestamp",
        "endTimestamp",
        "timestamp",
        "boundaryType",
        "group",
        "isForce",
        "readQueueNums",
        "writeQueueNums",
        "perm",
        "topicFilterType",
        "order",
        "attributes",
        "clientID",
        "producerGroup",
        "defaultTopic",
        "defaultTopicQueueNums",
        "bornTimestamp",
        "flag",
        "properties",
        "setZeroIfNotFound",
        "delayLevel",
        "_UNIQUE_KEY_QUERY",
    ];
    let bodies: [&[u8]; 4] = [
        b"",
        b"{",
        b"\x00\x00\x00\x10garbage",
        b"{\"mqSet\":[{\"topic\":1}]}",
    ];
    for code in codes {
        for (i, n) in numbers.iter().enumerate() {
            let mut r = RemotingCommand::request(RequestCode(code))
                .with_body(Bytes::from_static(bodies[i % bodies.len()]));
            for k in keys_by_code {
                let v = match k {
                    "b" | "topic" => {
                        if i % 2 == 0 {
                            "T"
                        } else {
                            n
                        }
                    }
                    "a" | "consumerGroup" | "group" => "g",
                    _ => n,
                };
                r.ext_fields.insert(k, v.to_owned());
            }
            let response = conn.request(r, T).await.unwrap();
            assert!(response.is_response(), "code {code} value {n}");
        }
    }
    assert_eq!(
        PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a processor panicked"
    );
    // The broker still works.
    send_ok(&conn, "T", 0, b"y").await;
}
