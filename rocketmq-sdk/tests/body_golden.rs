//! Golden vectors and lenient reads for the JSON bodies and fastjson quirks.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use rocketmq_sdk::protocol::ProtocolError;
use rocketmq_sdk::protocol::body::fastjson;
use rocketmq_sdk::protocol::body::heartbeat::SUB_ALL;
use rocketmq_sdk::protocol::body::*;
use rocketmq_sdk::protocol::header::{ExpressionType, TopicFilterType};

const ROUTE_FASTJSON: &str = concat!(
    r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"#,
    r#""brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"#,
    r#""filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"#,
    r#""readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
);

const ROUTE_STANDARD: &str = concat!(
    r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"#,
    r#""brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"#,
    r#""filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"#,
    r#""readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
);

fn expected_route() -> TopicRouteData {
    TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: [
                (0, "10.0.0.1:10911".to_owned()),
                (1, "10.0.0.2:10911".to_owned()),
            ]
            .into_iter()
            .collect(),
            broker_name: "broker-a".into(),
            cluster: "DefaultCluster".into(),
            enable_acting_master: false,
            zone_name: None,
        }],
        filter_server_table: BTreeMap::new(),
        order_topic_conf: None,
        queue_datas: vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 4,
            topic_sys_flag: 0,
            write_queue_nums: 4,
        }],
        topic_queue_mapping_by_broker: None,
    }
}

#[test]
fn route_with_unquoted_keys() {
    let route = TopicRouteData::decode(ROUTE_FASTJSON.as_bytes()).unwrap();
    assert_eq!(route, expected_route());
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    // The standard form decodes to the same value.
    assert_eq!(
        TopicRouteData::decode(ROUTE_STANDARD.as_bytes()).unwrap(),
        route
    );
    // Both encoders are byte-exact.
    assert_eq!(
        String::from_utf8(route.encode().unwrap()).unwrap(),
        ROUTE_FASTJSON
    );
    assert_eq!(
        String::from_utf8(route.encode_standard().unwrap()).unwrap(),
        ROUTE_STANDARD
    );
}

#[test]
fn route_flavour_follows_request_version() {
    let route = expected_route();
    let enc = |v, std| String::from_utf8(route.encode_for(v, std).unwrap()).unwrap();
    assert_eq!(enc(399, false), ROUTE_FASTJSON);
    assert_eq!(enc(317, false), ROUTE_FASTJSON);
    assert_eq!(enc(401, false), ROUTE_STANDARD);
    assert_eq!(enc(479, false), ROUTE_STANDARD);
    assert_eq!(enc(317, true), ROUTE_STANDARD);
}

#[test]
fn route_optional_fields() {
    let json = concat!(
        r#"{"brokerDatas":[{"brokerAddrs":{0:"a:1"},"brokerName":"b","cluster":"c","#,
        r#""zoneName":"z"}],"orderTopicConf":"b:4","queueDatas":[],"#,
        r#""topicQueueMappingByBroker":{"b":{"bname":"b","currIdMap":{0:0},"epoch":1,"#,
        r#""scope":"__global__","topic":"T","totalQueues":2}},"unknownField":[1,2]}"#
    );
    let route = TopicRouteData::decode(json.as_bytes()).unwrap();
    assert_eq!(route.order_topic_conf.as_deref(), Some("b:4"));
    assert_eq!(route.broker_datas[0].zone_name.as_deref(), Some("z"));
    let mapping = &route.topic_queue_mapping_by_broker.as_ref().unwrap()["b"];
    assert_eq!(mapping["currIdMap"]["0"], 0);
    assert_eq!(mapping["totalQueues"], 2);
    assert_eq!(route.filter_server_table, BTreeMap::new());
}

#[test]
fn cluster_info_is_unquoted() {
    let json = concat!(
        r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"#,
        r#""brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"#,
        r#""clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#
    );
    let info = ClusterInfo::decode(json.as_bytes()).unwrap();
    assert_eq!(
        info.broker_addr_table["broker-a"].broker_addrs[&0],
        "10.0.0.1:10911"
    );
    assert_eq!(
        info.cluster_addr_table["DefaultCluster"],
        BTreeSet::from(["broker-a".to_owned()])
    );
    assert_eq!(String::from_utf8(info.encode().unwrap()).unwrap(), json);
}

const RESET_FASTJSON: &str = concat!(
    r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:11110,"#,
    r#"{"brokerName":"broker-a","queueId":1,"topic":"TopicTest"}:11111}}"#
);

#[test]
fn reset_offset_object_keys_byte_for_byte() {
    let body = ResetOffsetBody::decode(RESET_FASTJSON.as_bytes()).unwrap();
    let mut want = BTreeMap::new();
    want.insert(MessageQueue::new("TopicTest", "broker-a", 0), 11110);
    want.insert(MessageQueue::new("TopicTest", "broker-a", 1), 11111);
    assert_eq!(body.offset_table, want);
    assert_eq!(
        String::from_utf8(body.encode().unwrap()).unwrap(),
        RESET_FASTJSON
    );
    assert_eq!(
        fastjson::to_fastjson_object_keys(&body.offset_table).unwrap(),
        concat!(
            r#"{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:11110,"#,
            r#"{"brokerName":"broker-a","queueId":1,"topic":"TopicTest"}:11111}"#
        )
    );
    // Single entry, exactly the form of PROTOCOL §3.10.
    let one = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:11110}}"#;
    let body = ResetOffsetBody::decode(one.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(body.encode().unwrap()).unwrap(), one);
    // There is no standard-JSON form of object keys.
    assert!(body.encode_standard().is_err());
}

#[test]
fn reset_offset_other_forms() {
    let gson = concat!(
        r#"{"offsetTable":[[{"brokerName":"broker-a","queueId":1,"topic":"TopicTest"},11111],"#,
        r#"[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"},11110]]}"#
    );
    let fj = ResetOffsetBody::decode(RESET_FASTJSON.as_bytes()).unwrap();
    assert_eq!(ResetOffsetBody::decode(gson.as_bytes()).unwrap(), fj);
    // Quoted JSON-string keys are accepted too.
    let quoted = r#"{"offsetTable":{"{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"TopicTest\"}":11110}}"#;
    let body = ResetOffsetBody::decode(quoted.as_bytes()).unwrap();
    assert_eq!(
        body.offset_table[&MessageQueue::new("TopicTest", "broker-a", 0)],
        11110
    );
    // Missing table and an empty one.
    assert!(
        ResetOffsetBody::decode(b"{}")
            .unwrap()
            .offset_table
            .is_empty()
    );
    assert!(
        ResetOffsetBody::decode(br#"{"offsetTable":{}}"#)
            .unwrap()
            .offset_table
            .is_empty()
    );
    // The C++ form.
    let for_c = ResetOffsetBodyForC::from(&fj);
    assert_eq!(
        String::from_utf8(for_c.encode().unwrap()).unwrap(),
        concat!(
            r#"{"offsetTable":[{"brokerName":"broker-a","offset":11110,"queueId":0,"topic":"TopicTest"},"#,
            r#"{"brokerName":"broker-a","offset":11111,"queueId":1,"topic":"TopicTest"}]}"#
        )
    );
}

#[test]
fn normalize_rewrites_quirks_only_outside_strings() {
    let out =
        fastjson::normalize(br#"{"a":{0:"x{1:2}",-1:"y"},"s":"{{\"k\":1}:2}","t":{{"q":1}:2}}"#)
            .unwrap();
    assert_eq!(
        out,
        r#"{"a":{"-1":"y","0":"x{1:2}"},"s":"{{\"k\":1}:2}","t":[[{"q":1},2]]}"#
    );
}

const HEARTBEAT_EXAMPLE: &str = r#"{"clientID":"10.0.0.5@12345#987654321","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",
 "consumeType":"CONSUME_PASSIVELY","groupName":"G","messageModel":"CLUSTERING","subscriptionDataSet":[
 {"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,
  "tagsSet":["TagA"],"topic":"T"}],"unitMode":false}],"heartbeatFingerprint":0,
 "producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}],"withoutSub":false}"#;

fn expected_heartbeat() -> HeartbeatData {
    HeartbeatData {
        client_id: "10.0.0.5@12345#987654321".into(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: Some(ConsumeFromWhere::ConsumeFromLastOffset),
            consume_type: Some(ConsumeType::ConsumePassively),
            group_name: "G".into(),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![SubscriptionData {
                class_filter_mode: false,
                code_set: BTreeSet::from([2598919]),
                expression_type: ExpressionType::Tag,
                sub_string: "TagA".into(),
                sub_version: 1_700_000_000_000,
                tags_set: BTreeSet::from(["TagA".to_owned()]),
                topic: "T".into(),
            }],
            unit_mode: false,
        }],
        heartbeat_fingerprint: 0,
        producer_data_set: vec![ProducerData {
            group_name: "CLIENT_INNER_PRODUCER".into(),
        }],
        without_sub: false,
    }
}

#[test]
fn heartbeat_protocol_example() {
    let hb = HeartbeatData::decode(HEARTBEAT_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(hb, expected_heartbeat());
    // Re-encoding gives the example without its line breaks.
    let compact: String = HEARTBEAT_EXAMPLE.split('\n').map(str::trim_start).collect();
    assert_eq!(String::from_utf8(hb.encode().unwrap()).unwrap(), compact);
}

#[test]
fn heartbeat_leniency() {
    // Enum ordinals (C++ clients), as numbers.
    let ordinals = r#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":4,"consumeType":1,
        "groupName":"G","messageModel":1,"subscriptionDataSet":[],"unitMode":false}]}"#;
    let hb = HeartbeatData::decode(ordinals.as_bytes()).unwrap();
    let cd = &hb.consumer_data_set[0];
    assert_eq!(
        cd.consume_from_where,
        Some(ConsumeFromWhere::ConsumeFromFirstOffset)
    );
    assert_eq!(cd.consume_type, Some(ConsumeType::ConsumePassively));
    assert_eq!(cd.message_model, Some(MessageModel::Clustering));
    // Written back by name.
    let out = String::from_utf8(hb.encode().unwrap()).unwrap();
    assert!(
        out.contains(r#""consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET""#),
        "{out}"
    );
    assert!(out.contains(r#""messageModel":"CLUSTERING""#), "{out}");

    // Missing optional fields and explicit nulls.
    let sparse = r#"{"clientID":"c","consumerDataSet":[{"groupName":"G","consumeType":null,
        "subscriptionDataSet":[{"topic":"T","subString":"*","tagsSet":null}]}],"producerDataSet":null}"#;
    let hb = HeartbeatData::decode(sparse.as_bytes()).unwrap();
    assert_eq!(hb.heartbeat_fingerprint, 0);
    assert!(!hb.without_sub);
    assert!(hb.producer_data_set.is_empty());
    let cd = &hb.consumer_data_set[0];
    assert_eq!(cd.consume_type, None);
    assert_eq!(cd.message_model, None);
    let sub = &cd.subscription_data_set[0];
    assert!(sub.tags_set.is_empty());
    assert_eq!(sub.expression_type, ExpressionType::Tag);
    assert!(sub.is_sub_all());
    assert_eq!(
        HeartbeatData::decode(b"{}").unwrap(),
        HeartbeatData::default()
    );

    // The `isWithoutSub` spelling is accepted.
    let v2 = r#"{"clientID":"c","heartbeatFingerprint":77,"isWithoutSub":true}"#;
    let hb = HeartbeatData::decode(v2.as_bytes()).unwrap();
    assert!(hb.without_sub);
    assert_eq!(hb.heartbeat_fingerprint, 77);

    // Unknown enum names and out-of-range ordinals are errors, not panics.
    assert!(HeartbeatData::decode(br#"{"consumerDataSet":[{"consumeType":"NOPE"}]}"#).is_err());
    assert!(HeartbeatData::decode(br#"{"consumerDataSet":[{"messageModel":9}]}"#).is_err());
    assert!(HeartbeatData::decode(br#"{"consumerDataSet":[{"messageModel":-1}]}"#).is_err());
}

#[test]
fn enum_names_and_ordinals() {
    assert_eq!(ConsumeFromWhere::ConsumeFromTimestamp.ordinal(), 5);
    assert_eq!(ConsumeType::from_ordinal(2), Some(ConsumeType::ConsumePop));
    assert_eq!(MessageModel::Broadcasting.ordinal(), 0);
    assert_eq!(
        CMResult::from_name("CR_RETURN_NULL"),
        Some(CMResult::CrReturnNull)
    );
    assert_eq!(TopicFilterType::MultiTag.name(), "MULTI_TAG");
}

#[test]
fn subscription_from_tag_expression() {
    let sub = SubscriptionData::build("T", "TagA", None).unwrap();
    assert_eq!(sub.code_set, BTreeSet::from([2598919]));
    assert_eq!(sub.tags_set, BTreeSet::from(["TagA".to_owned()]));
    assert_eq!(sub.sub_string, "TagA");
    assert!(sub.sub_version > 1_600_000_000_000);

    let sub = SubscriptionData::build("T", " A || B ||  || A", None).unwrap();
    assert_eq!(
        sub.tags_set,
        BTreeSet::from(["A".to_owned(), "B".to_owned()])
    );
    assert_eq!(sub.code_set, BTreeSet::from([65, 66]));
    assert_eq!(sub.sub_string, " A || B ||  || A");

    // Non-ASCII tags hash over UTF-16 code units ("é" = 233; "😀" = two surrogates).
    let sub = SubscriptionData::build("T", "é||😀", None).unwrap();
    assert_eq!(sub.code_set, BTreeSet::from([233, 0xD83D * 31 + 0xDE00]));

    for all in ["", "*"] {
        let sub = SubscriptionData::build("T", all, Some(ExpressionType::Tag)).unwrap();
        assert_eq!(sub.sub_string, SUB_ALL);
        assert!(sub.tags_set.is_empty() && sub.code_set.is_empty());
        assert!(sub.is_sub_all());
    }
    assert!(SubscriptionData::build("T", "||", None).is_err());
    assert!(SubscriptionData::build("T", "||||", None).is_err());

    let sql = SubscriptionData::build("T", "a > 1", Some(ExpressionType::Sql92)).unwrap();
    assert_eq!(sql.expression_type, ExpressionType::Sql92);
    assert_eq!(sql.sub_string, "a > 1");
    assert!(sql.tags_set.is_empty());
    assert!(SubscriptionData::build("T", "", Some(ExpressionType::Sql92)).is_err());
}

#[test]
fn check_client_request_body() {
    // As a Java 5.x client writes it (fastjson: alphabetical, nulls omitted).
    let java = r#"{"clientId":"127.0.0.1@1","group":"g","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 1","subVersion":1700000000000,"tagsSet":[],"topic":"T"}}"#;
    let body = CheckClientRequestBody::decode(java.as_bytes()).unwrap();
    assert_eq!(body.client_id, "127.0.0.1@1");
    assert_eq!(body.group, "g");
    let sub = body.subscription_data.clone().unwrap();
    assert_eq!(sub.expression_type, ExpressionType::Sql92);
    assert_eq!(sub.sub_string, "a > 1");
    let again = CheckClientRequestBody::decode(&body.encode().unwrap()).unwrap();
    assert_eq!(again, body);
    let text = String::from_utf8(body.encode().unwrap()).unwrap();
    assert!(
        text.starts_with(r#"{"clientId":"127.0.0.1@1","group":"g","subscriptionData":{"#),
        "{text}"
    );
    // A body without the subscription (upstream answers SUCCESS to it).
    let empty = CheckClientRequestBody::decode(br#"{"clientId":"c","group":"g"}"#).unwrap();
    assert_eq!(empty.subscription_data, None);
}

#[test]
fn lock_bodies() {
    let req = r#"{"clientId":"c","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}],"onlyThisBroker":false}"#;
    let body = LockBatchRequestBody::decode(req.as_bytes()).unwrap();
    assert_eq!(
        body.mq_set,
        BTreeSet::from([MessageQueue::new("T", "b", 0)])
    );
    assert_eq!(String::from_utf8(body.encode().unwrap()).unwrap(), req);
    let unlock = UnlockBatchRequestBody::decode(req.as_bytes()).unwrap();
    assert_eq!(unlock.client_id.as_deref(), Some("c"));
    let resp = r#"{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"T"}]}"#;
    let body = LockBatchResponseBody::decode(resp.as_bytes()).unwrap();
    assert_eq!(body.lock_ok_mq_set.len(), 1);
    assert_eq!(String::from_utf8(body.encode().unwrap()).unwrap(), resp);
}

#[test]
fn consumer_bodies() {
    let list = r#"{"consumerIdList":["10.0.0.1@a","10.0.0.2@b"]}"#;
    let body = ConsumerListByGroupResponseBody::decode(list.as_bytes()).unwrap();
    assert_eq!(body.consumer_id_list, vec!["10.0.0.1@a", "10.0.0.2@b"]);
    assert_eq!(String::from_utf8(body.encode().unwrap()).unwrap(), list);

    let direct = r#"{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"remark":"ok","spentTimeMills":12}"#;
    let body = ConsumeMessageDirectlyResult::decode(direct.as_bytes()).unwrap();
    assert_eq!(body.consume_result, Some(CMResult::CrSuccess));
    assert_eq!(body.spent_time_mills, 12);
    assert_eq!(String::from_utf8(body.encode().unwrap()).unwrap(), direct);
    // Missing autoCommit is true, as upstream's initializer.
    assert!(
        ConsumeMessageDirectlyResult::decode(b"{}")
            .unwrap()
            .auto_commit
    );

    let running = concat!(
        r#"{"jstack":"x","mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":3,"#,
        r#""commitOffset":10,"locked":true}},"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","#,
        r#""PROP_THREADPOOL_CORE_SIZE":20},"statusTable":{"T":{"consumeOKTPS":1.5,"pullRT":0.25}},"#,
        r#""subscriptionSet":[{"subString":"*","topic":"T"}]}"#
    );
    let info = ConsumerRunningInfo::decode(running.as_bytes()).unwrap();
    let pq = &info.mq_table[&MessageQueue::new("T", "b", 0)];
    assert_eq!(pq.cached_msg_count, 3);
    assert!(pq.locked);
    assert_eq!(info.properties["PROP_THREADPOOL_CORE_SIZE"], "20");
    assert_eq!(info.status_table["T"].consume_ok_tps, 1.5);
    let out = String::from_utf8(info.encode().unwrap()).unwrap();
    assert!(
        out.contains(
            r#""mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":3,"#
        ),
        "{out}"
    );
    assert_eq!(ConsumerRunningInfo::decode(out.as_bytes()).unwrap(), info);
}

fn block(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as i32).to_be_bytes());
    out.extend_from_slice(data);
}

fn zlib(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(raw).unwrap();
    enc.finish().unwrap()
}

#[test]
fn compressed_register_body_as_java_writes_it() {
    // Built by hand in the layout of `RegisterBrokerBody.encode(true)`.
    let mut raw = Vec::new();
    block(
        &mut raw,
        br#"{"counter":3,"stateVersion":0,"timestamp":1700000000000}"#,
    );
    raw.extend_from_slice(&2i32.to_be_bytes());
    block(&mut raw, b"TopicA 8 8 6 SINGLE_TAG {}");
    block(
        &mut raw,
        br#"TopicB 4 2 4 SINGLE_TAG {"+message.type":"FIFO"}"#,
    );
    block(&mut raw, b"[]");
    raw.extend_from_slice(&1i32.to_be_bytes());
    block(
        &mut raw,
        br#"{"bname":"broker-a","currIdMap":{0:0},"epoch":1,"scope":"__global__","topic":"TopicA","totalQueues":8}"#,
    );
    let body = RegisterBrokerBody::decode_compressed(&zlib(&raw)).unwrap();
    let w = &body.topic_config_serialize_wrapper;
    assert_eq!(w.data_version.counter, 3);
    assert_eq!(w.data_version.timestamp, 1_700_000_000_000);
    let a = &w.topic_config_table["TopicA"];
    assert_eq!((a.read_queue_nums, a.write_queue_nums, a.perm), (8, 8, 6));
    let b = &w.topic_config_table["TopicB"];
    assert_eq!((b.read_queue_nums, b.write_queue_nums, b.perm), (4, 2, 4));
    assert_eq!(b.attributes["+message.type"], "FIFO");
    let infos = w.topic_queue_mapping_info_map.as_ref().unwrap();
    assert_eq!(infos["TopicA"]["totalQueues"], 8);
    assert!(body.filter_server_list.is_empty());

    // Re-encoding and decoding again gives the same body.
    let again = RegisterBrokerBody::decode_compressed(&body.encode_compressed().unwrap()).unwrap();
    assert_eq!(again, body);

    // A 4.x stream: no attributes, no mapping section.
    let mut raw = Vec::new();
    block(&mut raw, br#"{"counter":1,"timestamp":5}"#);
    raw.extend_from_slice(&1i32.to_be_bytes());
    block(&mut raw, b"TopicA 8 8 6 SINGLE_TAG");
    block(&mut raw, br#"["10.0.0.9:1"]"#);
    let body = RegisterBrokerBody::decode_compressed(&zlib(&raw)).unwrap();
    assert_eq!(body.filter_server_list, vec!["10.0.0.9:1"]);
    assert!(
        body.topic_config_serialize_wrapper.topic_config_table["TopicA"]
            .attributes
            .is_empty()
    );

    // Broken streams are errors.
    assert!(RegisterBrokerBody::decode_compressed(b"not zlib").is_err());
    let mut raw = Vec::new();
    block(&mut raw, br#"{"counter":1}"#);
    raw.extend_from_slice(&5i32.to_be_bytes());
    block(&mut raw, b"TopicA 8 8 6 SINGLE_TAG");
    assert!(matches!(
        RegisterBrokerBody::decode_compressed(&zlib(&raw)),
        Err(ProtocolError::Truncated { .. })
    ));
    let mut raw = Vec::new();
    raw.extend_from_slice(&(-5i32).to_be_bytes());
    assert!(RegisterBrokerBody::decode_compressed(&zlib(&raw)).is_err());
    let mut raw = Vec::new();
    block(&mut raw, br#"{"counter":1}"#);
    raw.extend_from_slice(&1i32.to_be_bytes());
    block(&mut raw, b"TopicA x 8 6 SINGLE_TAG");
    assert!(matches!(
        RegisterBrokerBody::decode_compressed(&zlib(&raw)),
        Err(ProtocolError::InvalidField {
            field: "readQueueNums",
            ..
        })
    ));
}

#[test]
fn compressed_register_body_rejects_zlib_bombs() {
    let zeros = vec![0u8; 70 * 1024 * 1024];
    let bomb = zlib(&zeros);
    assert!(bomb.len() < 1024 * 1024);
    assert!(matches!(
        RegisterBrokerBody::decode_compressed(&bomb),
        Err(ProtocolError::TooLarge { .. })
    ));
}

#[test]
fn plain_register_body() {
    let json = concat!(
        r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":2,"#,
        r#""stateVersion":0,"timestamp":1700000000000},"mappingDataVersion":{"counter":0,"#,
        r#""stateVersion":0,"timestamp":1700000000001},"topicConfigTable":{"T":{"attributes":{},"#,
        r#""order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T","#,
        r#""topicSysFlag":0,"writeQueueNums":8}},"topicQueueMappingDetailMap":{},"#,
        r#""topicQueueMappingInfoMap":{}}}"#
    );
    let body = RegisterBrokerBody::from_bytes(json.as_bytes(), false).unwrap();
    assert_eq!(
        body.topic_config_serialize_wrapper.topic_config_table["T"],
        TopicConfig {
            read_queue_nums: 8,
            write_queue_nums: 8,
            ..TopicConfig::new("T")
        }
    );
    assert_eq!(
        String::from_utf8(body.to_bytes(false).unwrap()).unwrap(),
        json
    );
    let line = body.topic_config_serialize_wrapper.topic_config_table["T"].encode_line();
    assert_eq!(line, "T 8 8 6 SINGLE_TAG {}");
}

#[test]
fn topic_config_defaults_match_java() {
    let c = TopicConfig::new("T");
    assert_eq!((c.read_queue_nums, c.write_queue_nums, c.perm), (16, 16, 6));
    assert_eq!(c.topic_filter_type, TopicFilterType::SingleTag);
    let c: TopicConfig = fastjson::from_slice(br#"{"topicName":"T"}"#, "t").unwrap();
    assert_eq!((c.read_queue_nums, c.write_queue_nums, c.perm), (16, 16, 6));
}

#[test]
fn deep_nesting_is_rejected() {
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(fastjson::parse(deep.as_bytes()).is_err());
    assert!(HeartbeatData::decode(deep.as_bytes()).is_err());
    let deep_obj = format!(
        r#"{{"offsetTable":{}1{}}}"#,
        "{{\"a\":".repeat(150),
        "}".repeat(150)
    );
    assert!(ResetOffsetBody::decode(deep_obj.as_bytes()).is_err());
    let deep_keys = "{".repeat(500);
    assert!(fastjson::parse(deep_keys.as_bytes()).is_err());
    assert!(TopicRouteData::decode(deep_keys.as_bytes()).is_err());
}
