//! Lenient reading of JSON bodies, as the Java broker's fastjson 1.2.69 reads them:
//! numbers as strings of digits, strings as numbers, booleans as `0`/`1`/`"true"`/`"0"`,
//! enums by name or ordinal, unknown fields ignored, missing fields at Java's default.

use proptest::prelude::*;
use rocketmq_sdk::protocol::body::{
    CheckClientRequestBody, ConsumeFromWhere, ConsumeType, HeartbeatData, JsonBody,
    LockBatchRequestBody, LockBatchResponseBody, MessageModel, MessageQueue, ResetOffsetBodyForC,
    UnlockBatchRequestBody,
};
use rocketmq_sdk::protocol::header::ExpressionType;

/// The heartbeat of issue 19 that was rejected with
/// `invalid type: string "1796659729772", expected i64`.
#[test]
fn heartbeat_with_sub_version_as_string_decodes() {
    let body = br#"{"clientID":"10.0.0.1@4242","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"g","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":"1796659729772","tagsSet":[],"topic":"T"}],"unitMode":false}],"producerDataSet":[]}"#;
    let hb = HeartbeatData::decode(body).expect("the Java broker accepts this heartbeat");
    assert_eq!(hb.client_id, "10.0.0.1@4242");
    let sub = &hb.consumer_data_set[0].subscription_data_set[0];
    assert_eq!(sub.sub_version, 1_796_659_729_772);
    assert_eq!(sub.topic, "T");
}

#[test]
fn heartbeat_scalars_in_every_form_decode() {
    let body = br#"{"clientID":12345,"heartbeatFingerprint":"7","withoutSub":"1","unknownField":{"x":[1,2]},"consumerDataSet":[{"consumeFromWhere":"4","consumeType":1,"groupName":42,"messageModel":"1","unitMode":"true","subscriptionDataSet":[{"classFilterMode":1,"codeSet":["65","66"],"expressionType":"SQL92","subString":"a > 1","subVersion":"17","tagsSet":[1,"B"],"topic":"T","future":true}]}],"producerDataSet":[{"groupName":7,"extra":null}]}"#;
    let hb = HeartbeatData::decode(body).unwrap();
    assert_eq!(hb.client_id, "12345");
    assert_eq!(hb.heartbeat_fingerprint, 7);
    assert!(hb.without_sub);
    let c = &hb.consumer_data_set[0];
    assert_eq!(
        c.consume_from_where,
        Some(ConsumeFromWhere::ConsumeFromFirstOffset)
    );
    assert_eq!(c.consume_type, Some(ConsumeType::ConsumePassively));
    assert_eq!(c.message_model, Some(MessageModel::Clustering));
    assert_eq!(c.group_name, "42");
    assert!(c.unit_mode);
    let s = &c.subscription_data_set[0];
    assert!(s.class_filter_mode);
    assert_eq!(s.code_set.iter().copied().collect::<Vec<_>>(), vec![65, 66]);
    assert_eq!(s.expression_type, ExpressionType::Sql92);
    assert_eq!(s.sub_version, 17);
    assert_eq!(
        s.tags_set.iter().cloned().collect::<Vec<_>>(),
        vec!["1".to_owned(), "B".to_owned()]
    );
    assert_eq!(hb.producer_data_set[0].group_name, "7");
}

#[test]
fn missing_and_null_fields_take_java_defaults() {
    let hb = HeartbeatData::decode(
        br#"{"consumerDataSet":[{"groupName":"g","consumeType":null,"messageModel":"","subscriptionDataSet":[{"topic":"T"}]}]}"#,
    )
    .unwrap();
    assert_eq!(hb.client_id, "");
    assert_eq!(hb.heartbeat_fingerprint, 0);
    assert!(!hb.without_sub);
    let c = &hb.consumer_data_set[0];
    assert_eq!(c.consume_type, None);
    assert_eq!(c.message_model, None);
    let s = &c.subscription_data_set[0];
    assert_eq!(s.expression_type, ExpressionType::Tag);
    // Java initialises subVersion to System.currentTimeMillis().
    assert!(s.sub_version > 1_600_000_000_000, "{}", s.sub_version);
}

#[test]
fn bad_scalars_are_errors_not_panics() {
    for body in [
        &br#"{"heartbeatFingerprint":"seven"}"#[..],
        br#"{"heartbeatFingerprint":"99999999999"}"#,
        br#"{"withoutSub":"maybe"}"#,
        br#"{"clientID":{"a":1}}"#,
        br#"{"consumerDataSet":[{"messageModel":"9"}]}"#,
        br#"{"consumerDataSet":[{"messageModel":"NOPE"}]}"#,
    ] {
        assert!(
            HeartbeatData::decode(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn lock_unlock_check_and_reset_bodies_are_lenient() {
    let lock = LockBatchRequestBody::decode(
        br#"{"clientId":1,"consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":"3","topic":"T","x":1}],"onlyThisBroker":"0"}"#,
    )
    .unwrap();
    assert_eq!(lock.client_id.as_deref(), Some("1"));
    assert_eq!(
        lock.mq_set.into_iter().collect::<Vec<_>>(),
        vec![MessageQueue::new("T", "b", 3)]
    );
    assert!(!lock.only_this_broker);

    let unlock = UnlockBatchRequestBody::decode(
        br#"{"clientId":null,"mqSet":[{"brokerName":"b","queueId":1,"topic":"T"}],"onlyThisBroker":1}"#,
    )
    .unwrap();
    assert_eq!(unlock.client_id, None);
    assert!(unlock.only_this_broker);

    let resp = LockBatchResponseBody::decode(
        br#"{"lockOKMQSet":[{"brokerName":"b","queueId":"0","topic":"T"}]}"#,
    )
    .unwrap();
    assert_eq!(resp.lock_ok_mq_set.len(), 1);

    let check = CheckClientRequestBody::decode(
        br#"{"clientId":5,"group":"g","subscriptionData":{"expressionType":"SQL92","subString":"a>1","subVersion":"1","topic":"T"}}"#,
    )
    .unwrap();
    assert_eq!(check.client_id, "5");
    assert_eq!(check.subscription_data.unwrap().sub_version, 1);

    let reset = ResetOffsetBodyForC::decode(
        br#"{"offsetTable":[{"brokerName":"b","offset":"11110","queueId":"2","topic":"T"}]}"#,
    )
    .unwrap();
    assert_eq!(reset.offset_table[0].offset, 11110);
    assert_eq!(reset.offset_table[0].queue_id, 2);
}

fn bool_form(b: bool) -> impl Strategy<Value = String> {
    let (word, digit) = if b { ("true", "1") } else { ("false", "0") };
    prop_oneof![
        Just(word.to_owned()),
        Just(digit.to_owned()),
        Just(format!("\"{word}\"")),
        Just(format!("\"{digit}\"")),
    ]
}

fn int_form(n: i64) -> impl Strategy<Value = String> {
    prop_oneof![Just(n.to_string()), Just(format!("\"{n}\""))]
}

fn enum_form(name: &'static str, ordinal: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("\"{name}\"")),
        Just(ordinal.to_string()),
        Just(format!("\"{ordinal}\"")),
    ]
}

proptest! {
    #[test]
    fn every_form_of_every_heartbeat_scalar_decodes(
        (sub_version, sv) in any::<i64>().prop_flat_map(|n| (Just(n), int_form(n))),
        (fp, fpv) in any::<i32>().prop_flat_map(|n| (Just(n), int_form(i64::from(n)))),
        (without, wv) in any::<bool>().prop_flat_map(|b| (Just(b), bool_form(b))),
        (unit, uv) in any::<bool>().prop_flat_map(|b| (Just(b), bool_form(b))),
        (model, mv) in prop_oneof![
            enum_form("BROADCASTING", 0).prop_map(|f| (MessageModel::Broadcasting, f)),
            enum_form("CLUSTERING", 1).prop_map(|f| (MessageModel::Clustering, f)),
        ],
        (code, cv) in any::<i32>().prop_flat_map(|n| (Just(n), int_form(i64::from(n)))),
        group in 0u32..1_000_000,
        quote_group in any::<bool>(),
    ) {
        let gv = if quote_group { format!("\"{group}\"") } else { group.to_string() };
        let body = format!(
            r#"{{"clientID":"c","heartbeatFingerprint":{fpv},"withoutSub":{wv},"ignored":[1,{{}}],"consumerDataSet":[{{"groupName":{gv},"messageModel":{mv},"unitMode":{uv},"subscriptionDataSet":[{{"codeSet":[{cv}],"subVersion":{sv},"topic":"T"}}]}}]}}"#
        );
        let hb = HeartbeatData::decode(body.as_bytes()).unwrap();
        prop_assert_eq!(hb.heartbeat_fingerprint, fp);
        prop_assert_eq!(hb.without_sub, without);
        let c = &hb.consumer_data_set[0];
        prop_assert_eq!(&c.group_name, &group.to_string());
        prop_assert_eq!(c.message_model, Some(model));
        prop_assert_eq!(c.unit_mode, unit);
        let s = &c.subscription_data_set[0];
        prop_assert_eq!(s.sub_version, sub_version);
        prop_assert!(s.code_set.contains(&code));
    }

    #[test]
    fn lenient_decode_of_what_we_encode_is_identity(
        queue_id in any::<i32>(),
        only in any::<bool>(),
        group in "[a-zA-Z0-9_]{0,12}",
    ) {
        let body = LockBatchRequestBody {
            client_id: Some("c".to_owned()),
            consumer_group: Some(group),
            mq_set: [MessageQueue::new("T", "b", queue_id)].into_iter().collect(),
            only_this_broker: only,
        };
        let back = LockBatchRequestBody::decode(&body.encode().unwrap()).unwrap();
        prop_assert_eq!(back, body);
    }

    #[test]
    fn arbitrary_scalars_never_panic(v in "[ -~]{0,24}") {
        let quoted = serde_json::to_string(&v).unwrap();
        for field in ["heartbeatFingerprint", "withoutSub", "clientID"] {
            let _ = HeartbeatData::decode(format!("{{\"{field}\":{quoted}}}").as_bytes());
        }
        let _ = HeartbeatData::decode(
            format!(r#"{{"consumerDataSet":[{{"messageModel":{quoted},"subscriptionDataSet":[{{"subVersion":{quoted}}}]}}]}}"#).as_bytes(),
        );
    }
}

#[test]
fn route_and_direct_result_scalars_are_lenient() {
    use rocketmq_sdk::protocol::body::{ConsumeMessageDirectlyResult, TopicRouteData};
    let route = TopicRouteData::decode(
        br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"b","cluster":1,"enableActingMaster":"1"}],"queueDatas":[{"brokerName":"b","perm":"6","readQueueNums":"4","topicSysFlag":0,"writeQueueNums":4.0}],"newField":1}"#,
    )
    .unwrap();
    assert_eq!(route.broker_datas[0].cluster, "1");
    assert!(route.broker_datas[0].enable_acting_master);
    let q = &route.queue_datas[0];
    assert_eq!((q.perm, q.read_queue_nums, q.write_queue_nums), (6, 4, 4));

    let direct =
        ConsumeMessageDirectlyResult::decode(br#"{"order":"false","spentTimeMills":"12"}"#)
            .unwrap();
    assert!(!direct.order);
    assert_eq!(direct.spent_time_mills, 12);
}
