//! Property tests: every body survives encode → decode in each JSON flavour it has, and
//! no input makes the fastjson reader or a body decoder panic.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::{btree_map, btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use rocketmq_sdk::protocol::body::fastjson;
use rocketmq_sdk::protocol::body::*;
use rocketmq_sdk::protocol::header::{ExpressionType, TopicFilterType};
use serde_json::{Value, json};

fn s() -> impl Strategy<Value = String> {
    any::<String>()
}

/// Strings without spaces, for the space-separated compressed topic lines.
fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_%|.-]{1,12}"
}

fn mq() -> impl Strategy<Value = MessageQueue> {
    (s(), s(), any::<i32>()).prop_map(|(t, b, q)| MessageQueue::new(t, b, q))
}

fn expr() -> impl Strategy<Value = ExpressionType> {
    prop_oneof![
        Just(ExpressionType::Tag),
        Just(ExpressionType::Sql92),
        "[a-z]{1,6}".prop_map(ExpressionType::Other),
    ]
}

fn enum_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

/// Small JSON objects like static-topic mapping infos (integers only, so that numbers
/// compare exactly).
fn mapping_json(topic: String) -> impl Strategy<Value = Value> {
    (
        s(),
        any::<i32>(),
        btree_map(any::<i32>(), any::<i32>(), 0..3),
    )
        .prop_map(move |(bname, total, ids)| {
            let ids: serde_json::Map<String, Value> = ids
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            json!({"bname": bname, "currIdMap": ids, "topic": topic, "totalQueues": total})
        })
}

fn broker_data() -> impl Strategy<Value = BrokerData> {
    (
        btree_map(any::<i64>(), s(), 0..4),
        s(),
        s(),
        any::<bool>(),
        option::of(s()),
    )
        .prop_map(
            |(broker_addrs, broker_name, cluster, enable_acting_master, zone_name)| BrokerData {
                broker_addrs,
                broker_name,
                cluster,
                enable_acting_master,
                zone_name,
            },
        )
}

fn queue_data() -> impl Strategy<Value = QueueData> {
    (s(), any::<i32>(), any::<i32>(), any::<i32>(), any::<i32>()).prop_map(
        |(broker_name, perm, read_queue_nums, topic_sys_flag, write_queue_nums)| QueueData {
            broker_name,
            perm,
            read_queue_nums,
            topic_sys_flag,
            write_queue_nums,
        },
    )
}

fn route() -> impl Strategy<Value = TopicRouteData> {
    (
        vec(broker_data(), 0..3),
        btree_map(s(), vec(s(), 0..3), 0..3),
        option::of(s()),
        vec(queue_data(), 0..3),
        option::of(btree_map(
            s(),
            "[a-z]{1,5}".prop_flat_map(mapping_json),
            0..2,
        )),
    )
        .prop_map(
            |(broker_datas, filter_server_table, order_topic_conf, queue_datas, mapping)| {
                TopicRouteData {
                    broker_datas,
                    filter_server_table,
                    order_topic_conf,
                    queue_datas,
                    topic_queue_mapping_by_broker: mapping,
                }
            },
        )
}

fn cluster_info() -> impl Strategy<Value = ClusterInfo> {
    (
        btree_map(s(), broker_data(), 0..3),
        btree_map(s(), btree_set(s(), 0..3), 0..3),
    )
        .prop_map(|(broker_addr_table, cluster_addr_table)| ClusterInfo {
            broker_addr_table,
            cluster_addr_table,
        })
}

fn subscription() -> impl Strategy<Value = SubscriptionData> {
    (
        any::<bool>(),
        btree_set(any::<i32>(), 0..4),
        expr(),
        s(),
        any::<i64>(),
        btree_set(s(), 0..4),
        s(),
    )
        .prop_map(
            |(
                class_filter_mode,
                code_set,
                expression_type,
                sub_string,
                sub_version,
                tags_set,
                topic,
            )| {
                SubscriptionData {
                    class_filter_mode,
                    code_set,
                    expression_type,
                    sub_string,
                    sub_version,
                    tags_set,
                    topic,
                }
            },
        )
}

fn consumer_data() -> impl Strategy<Value = ConsumerData> {
    (
        option::of(enum_of(ConsumeFromWhere::ALL)),
        option::of(enum_of(ConsumeType::ALL)),
        s(),
        option::of(enum_of(MessageModel::ALL)),
        vec(subscription(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(consume_from_where, consume_type, group_name, message_model, subs, unit_mode)| {
                ConsumerData {
                    consume_from_where,
                    consume_type,
                    group_name,
                    message_model,
                    subscription_data_set: subs,
                    unit_mode,
                }
            },
        )
}

fn heartbeat() -> impl Strategy<Value = HeartbeatData> {
    (
        s(),
        vec(consumer_data(), 0..3),
        any::<i32>(),
        vec(s().prop_map(|group_name| ProducerData { group_name }), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                client_id,
                consumer_data_set,
                heartbeat_fingerprint,
                producer_data_set,
                without_sub,
            )| {
                HeartbeatData {
                    client_id,
                    consumer_data_set,
                    heartbeat_fingerprint,
                    producer_data_set,
                    without_sub,
                }
            },
        )
}

fn lock_request() -> impl Strategy<Value = LockBatchRequestBody> {
    (
        option::of(s()),
        option::of(s()),
        btree_set(mq(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(client_id, consumer_group, mq_set, only_this_broker)| {
            LockBatchRequestBody {
                client_id,
                consumer_group,
                mq_set,
                only_this_broker,
            }
        })
}

fn topic_config(name: String) -> impl Strategy<Value = TopicConfig> {
    (
        btree_map(s(), s(), 0..3),
        any::<bool>(),
        any::<i32>(),
        any::<i32>(),
        enum_of(TopicFilterType::ALL),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(
            move |(attributes, order, perm, r, filter, sys, w)| TopicConfig {
                attributes,
                order,
                perm,
                read_queue_nums: r,
                topic_filter_type: filter,
                topic_name: name.clone(),
                topic_sys_flag: sys,
                write_queue_nums: w,
            },
        )
}

fn data_version() -> impl Strategy<Value = DataVersion> {
    (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(counter, state_version, timestamp)| {
        DataVersion {
            counter,
            state_version,
            timestamp,
        }
    })
}

fn topic_table() -> impl Strategy<Value = BTreeMap<String, TopicConfig>> {
    btree_set(s(), 0..4).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| topic_config(n.clone()).prop_map(move |c| (n.clone(), c)))
            .collect::<Vec<_>>()
            .prop_map(|v| v.into_iter().collect())
    })
}

fn mapping_map() -> impl Strategy<Value = BTreeMap<String, Value>> {
    btree_set("[a-z]{1,6}", 0..3).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| mapping_json(n.clone()).prop_map(move |v| (n.clone(), v)))
            .collect::<Vec<_>>()
            .prop_map(|v| v.into_iter().collect())
    })
}

fn register_body() -> impl Strategy<Value = RegisterBrokerBody> {
    (
        vec(s(), 0..3),
        data_version(),
        option::of(data_version()),
        topic_table(),
        option::of(mapping_map()),
        option::of(mapping_map()),
    )
        .prop_map(
            |(filter_server_list, dv, mdv, table, details, infos)| RegisterBrokerBody {
                filter_server_list,
                topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                    data_version: dv,
                    mapping_data_version: mdv,
                    topic_config_table: table,
                    topic_queue_mapping_detail_map: details,
                    topic_queue_mapping_info_map: infos,
                },
            },
        )
}

/// A body the compressed form can carry fully: no spaces in names and attributes, no
/// `order`/`topicSysFlag`, no mapping details.
fn compressible_register_body() -> impl Strategy<Value = RegisterBrokerBody> {
    let config = |name: String| {
        (
            btree_map(word(), word(), 0..3),
            any::<i32>(),
            any::<i32>(),
            enum_of(TopicFilterType::ALL),
            any::<i32>(),
        )
            .prop_map(move |(attributes, perm, r, filter, w)| TopicConfig {
                attributes,
                perm,
                read_queue_nums: r,
                topic_filter_type: filter,
                write_queue_nums: w,
                ..TopicConfig::new(name.clone())
            })
    };
    let table = btree_set(word(), 0..5).prop_flat_map(move |names| {
        names
            .into_iter()
            .map(|n| config(n.clone()).prop_map(move |c| (n.clone(), c)))
            .collect::<Vec<_>>()
            .prop_map(|v| v.into_iter().collect::<BTreeMap<_, _>>())
    });
    (vec(s(), 0..3), data_version(), table, mapping_map()).prop_map(
        |(filter_server_list, dv, table, infos)| RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version: dv,
                mapping_data_version: None,
                topic_config_table: table,
                topic_queue_mapping_detail_map: None,
                topic_queue_mapping_info_map: Some(infos),
            },
        },
    )
}

/// Floats with short exact decimal forms, so that text round trips are exact.
fn rate() -> impl Strategy<Value = f64> {
    (-1_000_000i32..1_000_000).prop_map(|i| f64::from(i) / 4.0)
}

fn process_queue_info() -> impl Strategy<Value = ProcessQueueInfo> {
    (
        (
            any::<i32>(),
            any::<i64>(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            any::<bool>(),
        ),
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<bool>()),
        (any::<i32>(), any::<i64>(), any::<i64>(), any::<i64>()),
    )
        .prop_map(
            |((a, b, c, d, e, f), (g, h, i, j), (k, l, m, n))| ProcessQueueInfo {
                cached_msg_count: a,
                cached_msg_max_offset: b,
                cached_msg_min_offset: c,
                cached_msg_size_in_mib: d,
                commit_offset: e,
                droped: f,
                last_consume_timestamp: g,
                last_lock_timestamp: h,
                last_pull_timestamp: i,
                locked: j,
                transaction_msg_count: k,
                transaction_msg_max_offset: l,
                transaction_msg_min_offset: m,
                try_unlock_times: n,
            },
        )
}

fn running_info() -> impl Strategy<Value = ConsumerRunningInfo> {
    let status = (any::<i64>(), rate(), rate(), rate(), rate(), rate()).prop_map(
        |(consume_failed_msgs, a, b, c, d, e)| ConsumeStatus {
            consume_failed_msgs,
            consume_failed_tps: a,
            consume_ok_tps: b,
            consume_rt: c,
            pull_rt: d,
            pull_tps: e,
        },
    );
    let pop =
        (any::<bool>(), any::<i64>(), any::<i32>()).prop_map(|(d, t, w)| PopProcessQueueInfo {
            droped: d,
            last_pop_timestamp: t,
            wait_ack_count: w,
        });
    (
        option::of(s()),
        btree_map(mq(), pop, 0..3),
        btree_map(mq(), process_queue_info(), 0..3),
        btree_map(s(), s(), 0..3),
        btree_map(s(), status, 0..3),
        vec(subscription(), 0..2),
        btree_map(s(), s(), 0..3),
    )
        .prop_map(
            |(jstack, mq_pop_table, mq_table, properties, status_table, subs, user)| {
                ConsumerRunningInfo {
                    jstack,
                    mq_pop_table,
                    mq_table,
                    properties,
                    status_table,
                    subscription_set: subs,
                    user_consumer_info: user,
                }
            },
        )
}

fn direct_result() -> impl Strategy<Value = ConsumeMessageDirectlyResult> {
    (
        any::<bool>(),
        option::of(enum_of(CMResult::ALL)),
        any::<bool>(),
        option::of(s()),
        any::<i64>(),
    )
        .prop_map(
            |(auto_commit, consume_result, order, remark, spent_time_mills)| {
                ConsumeMessageDirectlyResult {
                    auto_commit,
                    consume_result,
                    order,
                    remark,
                    spent_time_mills,
                }
            },
        )
}

/// encode → decode in the fastjson flavour and, where it exists, the standard one.
fn both<T: JsonBody + PartialEq + std::fmt::Debug>(body: &T) -> Result<(), TestCaseError> {
    let fj = body
        .encode()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        &T::decode(&fj).map_err(|e| TestCaseError::fail(e.to_string()))?,
        body
    );
    let std = body
        .encode_standard()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // The standard flavour really is standard JSON.
    prop_assert!(serde_json::from_slice::<Value>(&std).is_ok());
    prop_assert_eq!(
        &T::decode(&std).map_err(|e| TestCaseError::fail(e.to_string()))?,
        body
    );
    Ok(())
}

/// Bodies with object-keyed maps only have the fastjson flavour.
fn fastjson_only<T: JsonBody + PartialEq + std::fmt::Debug>(
    body: &T,
    has_object_keys: bool,
) -> Result<(), TestCaseError> {
    let fj = body
        .encode()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        &T::decode(&fj).map_err(|e| TestCaseError::fail(e.to_string()))?,
        body
    );
    prop_assert_eq!(body.encode_standard().is_err(), has_object_keys);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn route_roundtrip(r in route()) {
        both(&r)?;
        // The flavour chosen for a version decodes too.
        for (v, std) in [(317i16, false), (401, false), (317, true)] {
            let bytes = r.encode_for(v, std).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&TopicRouteData::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, &r);
        }
    }

    #[test]
    fn cluster_info_roundtrip(c in cluster_info()) { both(&c)?; }

    #[test]
    fn heartbeat_roundtrip(h in heartbeat()) { both(&h)?; }

    #[test]
    fn lock_bodies_roundtrip(l in lock_request()) {
        both(&l)?;
        let unlock = UnlockBatchRequestBody {
            client_id: l.client_id.clone(),
            consumer_group: l.consumer_group.clone(),
            mq_set: l.mq_set.clone(),
            only_this_broker: l.only_this_broker,
        };
        both(&unlock)?;
        both(&LockBatchResponseBody { lock_ok_mq_set: l.mq_set })?;
    }

    #[test]
    fn reset_offset_roundtrip(table in btree_map(mq(), any::<i64>(), 0..5)) {
        let body = ResetOffsetBody { offset_table: table };
        fastjson_only(&body, !body.offset_table.is_empty())?;
        // The object-key writer and the body agree.
        let keys = fastjson::to_fastjson_object_keys(&body.offset_table)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let whole = String::from_utf8(body.encode().map_err(|e| TestCaseError::fail(e.to_string()))?)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(whole, format!("{{\"offsetTable\":{keys}}}"));
        // The gson pair form decodes to the same table.
        let pairs: Vec<(&MessageQueue, &i64)> = body.offset_table.iter().collect();
        let gson = serde_json::to_vec(&json!({ "offsetTable": pairs }))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ResetOffsetBody::decode(&gson).map_err(|e| TestCaseError::fail(e.to_string()))?, body.clone());
        both(&ResetOffsetBodyForC::from(&body))?;
    }

    #[test]
    fn consumer_bodies_roundtrip(
        ids in vec(s(), 0..4),
        direct in direct_result(),
        info in running_info(),
    ) {
        both(&ConsumerListByGroupResponseBody { consumer_id_list: ids })?;
        both(&direct)?;
        let keyed = !info.mq_table.is_empty() || !info.mq_pop_table.is_empty();
        fastjson_only(&info, keyed)?;
    }

    #[test]
    fn register_body_plain_roundtrip(b in register_body()) {
        both(&b)?;
        let plain = b.to_bytes(false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(RegisterBrokerBody::from_bytes(&plain, false).map_err(|e| TestCaseError::fail(e.to_string()))?, b);
    }

    #[test]
    fn register_body_compressed_roundtrip(b in compressible_register_body()) {
        let z = b.to_bytes(true).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(RegisterBrokerBody::from_bytes(&z, true).map_err(|e| TestCaseError::fail(e.to_string()))?, b);
    }

    #[test]
    fn topic_config_line_roundtrip(c in topic_config("T".to_owned())) {
        let line = c.encode_line();
        let back = TopicConfig::decode_line(&line).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.topic_name, c.topic_name);
        prop_assert_eq!(back.read_queue_nums, c.read_queue_nums);
        prop_assert_eq!(back.write_queue_nums, c.write_queue_nums);
        prop_assert_eq!(back.perm, c.perm);
        prop_assert_eq!(back.topic_filter_type, c.topic_filter_type);
        if !c.attributes.iter().any(|(k, v)| k.contains(' ') || v.contains(' ')) {
            prop_assert_eq!(back.attributes, c.attributes);
        }
    }

    /// Standard JSON text survives normalization unchanged in meaning.
    #[test]
    fn normalize_preserves_standard_json(h in heartbeat()) {
        let text = serde_json::to_vec(&h).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let normalized = fastjson::normalize(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let a: Value = serde_json::from_slice(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b: Value = serde_json::from_str(&normalized).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(a, b);
    }
}

/// Text made of JSON-ish tokens, so that the reader gets deep into its grammar.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(":".to_owned()),
        Just(",".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\"k\"".to_owned()),
        Just("\"\\u00e9\\\"\"".to_owned()),
        Just("-".to_owned()),
        Just("0".to_owned()),
        Just("12".to_owned()),
        Just("1e5".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just(" ".to_owned()),
        Just("\"brokerAddrs\":".to_owned()),
        Just("\"offsetTable\":".to_owned()),
        Just("{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    vec(token, 0..200).prop_map(|t| t.concat())
}

macro_rules! decode_everything {
    ($bytes:expr) => {{
        let bytes: &[u8] = $bytes;
        let _ = fastjson::parse(bytes);
        let _ = fastjson::normalize(bytes);
        let _ = TopicRouteData::decode(bytes);
        let _ = ClusterInfo::decode(bytes);
        let _ = HeartbeatData::decode(bytes);
        let _ = LockBatchRequestBody::decode(bytes);
        let _ = LockBatchResponseBody::decode(bytes);
        let _ = UnlockBatchRequestBody::decode(bytes);
        let _ = ResetOffsetBody::decode(bytes);
        let _ = ResetOffsetBodyForC::decode(bytes);
        let _ = ConsumerListByGroupResponseBody::decode(bytes);
        let _ = ConsumeMessageDirectlyResult::decode(bytes);
        let _ = ConsumerRunningInfo::decode(bytes);
        let _ = DataVersion::decode(bytes);
        let _ = TopicConfigSerializeWrapper::decode(bytes);
        let _ = RegisterBrokerBody::from_bytes(bytes, false);
        let _ = RegisterBrokerBody::from_bytes(bytes, true);
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = TopicConfig::decode_line(text);
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        decode_everything!(&bytes);
    }

    #[test]
    fn jsonish_text_never_panics(text in jsonish()) {
        decode_everything!(text.as_bytes());
        // A parse that succeeds yields standard JSON that serde_json reads back.
        if let Ok(n) = fastjson::normalize(text.as_bytes()) {
            prop_assert!(serde_json::from_str::<Value>(&n).is_ok());
        }
    }

    #[test]
    fn arbitrary_zlib_payloads_never_panic(raw in vec(any::<u8>(), 0..512)) {
        use std::io::Write;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let z = enc.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = RegisterBrokerBody::decode_compressed(&z);
    }

    /// Mutated valid bodies: flip and cut bytes of real encodings.
    #[test]
    fn mutated_bodies_never_panic(
        r in route(),
        cut in any::<proptest::sample::Index>(),
        flip in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = r.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = flip.index(bytes.len());
        bytes[i] = byte;
        decode_everything!(&bytes);
        let cut_at = cut.index(bytes.len() + 1);
        decode_everything!(&bytes[..cut_at]);
    }
}

#[test]
fn set_fields_are_sets() {
    // Duplicate tags and codes collapse, as in Java's HashSet.
    let json = br#"{"tagsSet":["a","a"],"codeSet":[97,97],"topic":"T"}"#;
    let sub: SubscriptionData = fastjson::from_slice(json, "sub").unwrap();
    assert_eq!(sub.tags_set, BTreeSet::from(["a".to_owned()]));
    assert_eq!(sub.code_set, BTreeSet::from([97]));
}
