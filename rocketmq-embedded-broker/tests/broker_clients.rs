//! Heartbeats and group membership, queue locks, offset resets, topic administration and
//! the leniency a Java broker shows, driven with raw commands over loopback TCP.

mod broker_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use broker_support::*;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_sdk::protocol::body::{
    ConsumerListByGroupResponseBody, JsonBody, LockBatchRequestBody, LockBatchResponseBody,
    ResetOffsetBody, TopicConfigSerializeWrapper, UnlockBatchRequestBody,
};
use rocketmq_sdk::protocol::header::{
    CreateTopicRequestHeader, GetConsumerListByGroupRequestHeader,
    NotifyConsumerIdsChangedRequestHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, ResetOffsetRequestHeader, TopicFilterType,
    UnregisterClientRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rocketmq_sdk::protocol::message::MessageQueue;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use rocketmq_sdk::remoting::Connection;

async fn consumer_list(conn: &Connection, group: &str) -> RemotingCommand {
    conn.request(
        RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP).with_header(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: group.into(),
                ..Default::default()
            },
        ),
        T,
    )
    .await
    .unwrap()
}

async fn consumer_ids(conn: &Connection, group: &str) -> Vec<String> {
    let r = consumer_list(conn, group).await;
    if r.response_code() != ResponseCode::SUCCESS {
        return Vec::new();
    }
    ConsumerListByGroupResponseBody::decode(&r.body)
        .unwrap()
        .consumer_id_list
}

async fn all_topics(conn: &Connection) -> TopicConfigSerializeWrapper {
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    TopicConfigSerializeWrapper::decode(&r.body).unwrap()
}

#[tokio::test]
async fn heartbeat_registers_the_group_and_its_retry_topic() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r = consumer_list(&conn, "g").await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("no consumer for this group, g"));

    let r = heartbeat(&conn, "client-1", "g", "T", "*").await;
    assert_eq!(r.ext_fields.get("IS_SUPPORT_HEART_BEAT_V2"), Some("true"));
    assert_eq!(r.ext_fields.get("IS_SUB_CHANGE"), Some("true"));
    assert_eq!(consumer_ids(&conn, "g").await, vec!["client-1".to_owned()]);
    let topics = all_topics(&conn).await;
    let retry = &topics.topic_config_table["%RETRY%g"];
    assert_eq!(
        (retry.read_queue_nums, retry.write_queue_nums, retry.perm),
        (1, 1, 6)
    );
}

#[tokio::test]
async fn membership_changes_notify_the_group_and_closing_unregisters() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let (a, a_inbox) = connect_with_inbox(&addr).await;
    heartbeat(&a, "client-a", "g", "T", "*").await;
    let (b, _b_inbox) = connect_with_inbox(&addr).await;
    heartbeat(&b, "client-b", "g", "T", "*").await;
    // One notice for a's own arrival, one for b's.
    assert!(
        wait_until(|| a_inbox.count(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED) >= 2).await,
        "a is told b joined"
    );
    let notice = a_inbox
        .all()
        .into_iter()
        .find(|c| c.code == RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.value())
        .unwrap();
    assert!(notice.is_oneway());
    let h: NotifyConsumerIdsChangedRequestHeader = notice.decode_header().unwrap();
    assert_eq!(h.consumer_group, "g");
    assert_eq!(
        consumer_ids(&a, "g").await,
        vec!["client-a".to_owned(), "client-b".to_owned()]
    );

    // A heartbeat that changes nothing notifies nobody.
    let before = a_inbox.count(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED);
    heartbeat(&b, "client-b", "g", "T", "*").await;
    // b leaves by closing its connection.
    b.close();
    assert!(
        wait_until(|| a_inbox.count(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED) == before + 1).await
    );
    assert_eq!(consumer_ids(&a, "g").await, vec!["client-a".to_owned()]);

    // An explicit UNREGISTER_CLIENT empties the group.
    let r = a
        .request(
            RemotingCommand::request(RequestCode::UNREGISTER_CLIENT).with_header(
                &UnregisterClientRequestHeader {
                    client_id: "client-a".into(),
                    consumer_group: Some("g".into()),
                    producer_group: Some("PG".into()),
                    ..Default::default()
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        consumer_list(&a, "g").await.response_code(),
        ResponseCode::SYSTEM_ERROR
    );
}

#[tokio::test]
async fn queue_locks_are_exclusive_until_unlocked_or_expired() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mqs: BTreeSet<MessageQueue> = (0..2)
        .map(|q| MessageQueue::new("T", "broker-a", q))
        .collect();
    let lock = |client: &str| {
        let body = LockBatchRequestBody {
            client_id: Some(client.into()),
            consumer_group: Some("g".into()),
            mq_set: mqs.clone(),
            only_this_broker: false,
        };
        RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(body.encode().unwrap())
    };
    let locked = |r: RemotingCommand| {
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
        LockBatchResponseBody::decode(&r.body)
            .unwrap()
            .lock_ok_mq_set
    };
    assert_eq!(locked(conn.request(lock("c1"), T).await.unwrap()), mqs);
    assert!(locked(conn.request(lock("c2"), T).await.unwrap()).is_empty());
    assert_eq!(
        locked(conn.request(lock("c1"), T).await.unwrap()),
        mqs,
        "renewal"
    );

    let unlock = UnlockBatchRequestBody {
        client_id: Some("c1".into()),
        consumer_group: Some("g".into()),
        mq_set: [MessageQueue::new("T", "broker-a", 0)].into(),
        only_this_broker: false,
    };
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ)
                .with_body(unlock.encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        locked(conn.request(lock("c2"), T).await.unwrap()),
        [MessageQueue::new("T", "broker-a", 0)].into()
    );
    // c1 stops renewing queue 1; after 60 s c2 may take it.
    clock.advance(60_001);
    assert_eq!(locked(conn.request(lock("c2"), T).await.unwrap()), mqs);

    let bad = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(&b"{not json"[..]);
    assert_eq!(
        conn.request(bad, T).await.unwrap().response_code(),
        ResponseCode::SYSTEM_ERROR
    );
}

#[tokio::test]
async fn offset_reset_moves_the_next_pull_and_tells_the_consumers() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let (consumer, inbox) = connect_with_inbox(&addr).await;
    heartbeat(&consumer, "c1", "g", "T", "*").await;
    for i in 0..6 {
        if i == 3 {
            clock.advance(1000);
        }
        send_ok(&consumer, "T", 0, format!("m{i}").as_bytes()).await;
    }
    let update = |offset: i64| {
        RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: "g".into(),
                topic: "T".into(),
                queue_id: 0,
                commit_offset: offset,
                ..Default::default()
            },
        )
    };
    consumer.request(update(6), T).await.unwrap();

    let admin = connect(&addr).await;
    let reset = |topic: &str| {
        RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET).with_header(
            &ResetOffsetRequestHeader {
                group: "g".into(),
                topic: topic.into(),
                queue_id: -1,
                offset: None,
                timestamp: 1_001_000,
                is_force: true,
                ..Default::default()
            },
        )
    };
    let r = admin.request(reset("T"), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let mq = MessageQueue::new("T", "broker-a", 0);
    assert_eq!(
        ResetOffsetBody::decode(&r.body).unwrap().offset_table[&mq],
        3
    );

    assert!(wait_until(|| inbox.count(RequestCode::RESET_CONSUMER_CLIENT_OFFSET) == 1).await);
    let notice = inbox
        .all()
        .into_iter()
        .find(|c| c.code == RequestCode::RESET_CONSUMER_CLIENT_OFFSET.value())
        .unwrap();
    let text = String::from_utf8(notice.body.to_vec()).unwrap();
    assert!(
        text.contains(r#"{"brokerName":"broker-a","queueId":0,"topic":"T"}:3"#),
        "fastjson object-key form: {text}"
    );
    let h: ResetOffsetRequestHeader = notice.decode_header().unwrap();
    assert_eq!(
        (h.group.as_str(), h.topic.as_str(), h.timestamp),
        ("g", "T", 1_001_000)
    );

    // The consumer's stale position does not undo the reset.
    consumer.request(update(6), T).await.unwrap();
    let q = consumer
        .request(
            RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
                &QueryConsumerOffsetRequestHeader {
                    consumer_group: "g".into(),
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
        q.decode_header::<QueryConsumerOffsetResponseHeader>()
            .unwrap()
            .offset,
        3
    );

    let (r, h) = pull(&consumer, &pull_header("g", "T", 0, 6)).await;
    assert_eq!(r.response_code(), ResponseCode::PULL_OFFSET_MOVED);
    assert_eq!(r.remark.as_deref(), Some("OFFSET_RESET"));
    assert_eq!(h.next_begin_offset, 3);
    let (r, _) = pull(&consumer, &pull_header("g", "T", 0, 3)).await;
    assert_eq!(
        bodies(&r),
        vec![b"m3".to_vec(), b"m4".to_vec(), b"m5".to_vec()]
    );

    let r = admin.request(reset("Nope"), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
}

#[tokio::test]
async fn update_and_create_topic_publishes_the_route() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let create = |topic: &str, queues: i32| {
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: topic.into(),
                read_queue_nums: queues,
                write_queue_nums: queues,
                perm: 6,
                topic_filter_type: TopicFilterType::SingleTag,
                attributes: Some("+message.type=NORMAL".into()),
                ..Default::default()
            },
        )
    };
    let r = conn.request(create("Admin", 3), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let topics = all_topics(&conn).await;
    let t = &topics.topic_config_table["Admin"];
    assert_eq!((t.read_queue_nums, t.write_queue_nums), (3, 3));
    assert_eq!(t.attributes["message.type"], "NORMAL");
    send_ok(&conn, "Admin", 2, b"x").await;

    for (topic, queues) in [("bad topic", 1), ("Admin", 0), ("TBW102", 1)] {
        let r = conn.request(create(topic, queues), T).await.unwrap();
        assert_eq!(
            r.response_code(),
            ResponseCode::INVALID_PARAMETER,
            "{topic}"
        );
    }
}

#[tokio::test]
async fn json_headers_are_read_as_leniently_as_fastjson_does() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();

    // No serializeTypeCurrentRPC, language as an ordinal, no remark.
    let hb = heartbeat_body("raw-client", "g", "T", "*")
        .encode()
        .unwrap();
    let r = raw_exchange(
        &addr,
        &json_frame(
            r#"{"code":34,"language":0,"version":401,"opaque":11,"flag":0}"#,
            &hb,
        ),
    )
    .await;
    assert_eq!((r.code, r.opaque), (0, 11));

    // extFields values as JSON numbers and booleans.
    let send = r#"{"code":310,"language":"GO","version":317,"opaque":12,"flag":0,
        "extFields":{"a":"PG","b":"T","c":"TBW102","d":4,"e":0,"f":0,"g":1700000000000,"h":0,"k":false,"m":false}}"#;
    let r = raw_exchange(&addr, &json_frame(send, b"numbers")).await;
    assert_eq!(r.code, 0, "{r:?}");

    // Booleans written "0"/"1".
    let send = r#"{"code":310,"language":"CPP","version":317,"opaque":13,"flag":0,
        "extFields":{"a":"PG","b":"T","c":"TBW102","d":"4","e":"0","f":"0","g":"1700000000000","h":"0","k":"0","m":"0"}}"#;
    let r = raw_exchange(&addr, &json_frame(send, b"zero-one")).await;
    assert_eq!(r.code, 0, "{r:?}");
    let query = r#"{"code":14,"language":"JAVA","version":401,"opaque":14,"flag":0,
        "extFields":{"consumerGroup":"nobody","topic":"T","queueId":0,"setZeroIfNotFound":"0"}}"#;
    let r = raw_exchange(&addr, &json_frame(query, b"")).await;
    assert_eq!(
        r.response_code(),
        ResponseCode::QUERY_NOT_FOUND,
        "\"0\" read as false"
    );

    let stored: Vec<Vec<u8>> = broker
        .messages("T")
        .unwrap()
        .into_iter()
        .map(|m| m.message.body.to_vec())
        .collect();
    assert_eq!(stored, vec![b"numbers".to_vec(), b"zero-one".to_vec()]);
}

#[tokio::test]
async fn heartbeats_with_enum_ordinals_and_missing_fields_are_accepted() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let body = r#"{"clientID":"cpp-client","consumerDataSet":[{"groupName":"g","consumeType":1,
        "messageModel":1,"consumeFromWhere":4,"subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}"#;
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.as_bytes().to_vec()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(
        consumer_ids(&conn, "g").await,
        vec!["cpp-client".to_owned()]
    );
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(&b"[1,2"[..]),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        r.response_code(),
        ResponseCode::SYSTEM_ERROR,
        "bad JSON is an error response"
    );
}

#[tokio::test]
async fn binary_rocketmq_headers_are_accepted_and_answered_in_kind() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mut request = send_request("T", 0, b"binary", None);
    request.serialize_type = SerializeType::RocketMq;
    let r = conn.request(request, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(r.serialize_type, SerializeType::RocketMq);
    assert!(r.ext_fields.get("msgId").is_some());
    let mut p = pull_request(&pull_header("g", "T", 0, 0));
    p.serialize_type = SerializeType::RocketMq;
    let r = conn.request(p, T).await.unwrap();
    assert_eq!(bodies(&r), vec![b"binary".to_vec()]);
}
