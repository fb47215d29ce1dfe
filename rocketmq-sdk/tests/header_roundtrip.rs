//! Header round trips (write_to → read_from), the SEND_MESSAGE_V2 golden vector,
//! lenient reads, and hostile extFields.

use proptest::prelude::*;
use rocketmq_sdk::protocol::ExtFields;
use rocketmq_sdk::protocol::ProtocolError;
use rocketmq_sdk::protocol::header::*;

fn s() -> impl Strategy<Value = String> {
    any::<String>()
}
fn os() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}
fn oi() -> impl Strategy<Value = Option<i32>> {
    proptest::option::of(any::<i32>())
}
fn ol() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(any::<i64>())
}
fn ob() -> impl Strategy<Value = Option<bool>> {
    proptest::option::of(any::<bool>())
}
fn rpc() -> impl Strategy<Value = RpcBase> {
    (os(), ob(), os(), ob(), ob()).prop_map(|(ns, nsd, bname, oway, lo)| RpcBase {
        ns,
        nsd,
        bname,
        oway,
        lo,
    })
}
fn expr() -> impl Strategy<Value = ExpressionType> {
    prop_oneof![
        Just(ExpressionType::Tag),
        Just(ExpressionType::Sql92),
        "[a-z]{1,6}".prop_map(ExpressionType::Other),
    ]
}
fn boundary() -> impl Strategy<Value = BoundaryType> {
    prop_oneof![Just(BoundaryType::Lower), Just(BoundaryType::Upper)]
}
fn commit_type() -> impl Strategy<Value = TransactionCommitType> {
    prop_oneof![Just(0), Just(8), Just(12), any::<i32>()]
        .prop_map(TransactionCommitType::from_value)
}
fn filter_type() -> impl Strategy<Value = TopicFilterType> {
    prop_oneof![
        Just(TopicFilterType::SingleTag),
        Just(TopicFilterType::MultiTag)
    ]
}

/// Asserts the round trip and that only declared keys (own or RPC base) were written.
fn check<H: CommandHeader + PartialEq + std::fmt::Debug>(
    h: &H,
    own: &[&str],
    with_base: bool,
) -> Result<(), TestCaseError> {
    let ext = to_ext_fields(h);
    for (k, _) in ext.iter() {
        prop_assert!(
            own.contains(&k) || (with_base && RpcBase::WIRE_NAMES.contains(&k)),
            "unexpected key {k}"
        );
    }
    let back = H::read_from(&ext).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, h);
    Ok(())
}

/// `roundtrip!(test_name: Type, base { [field: strategy, ...] [...] })`: fields are
/// grouped in tuples of at most 12 for proptest.
macro_rules! roundtrip {
    ($name:ident: $ty:ident, $base:literal { $([ $($f:ident : $s:expr),* $(,)? ])* }) => {
        proptest! {
            #[test]
            fn $name($( ($($f,)*) in ($($s,)*) ),*) {
                let h = $ty { $($($f,)*)* };
                check(&h, $ty::WIRE_NAMES, $base)?;
            }
        }
    };
}

roundtrip!(send_v1: SendMessageRequestHeader, true {
    [producer_group: s(), topic: s(), default_topic: s(), default_topic_queue_nums: any::<i32>(),
     queue_id: any::<i32>(), sys_flag: any::<i32>(), born_timestamp: any::<i64>()]
    [flag: any::<i32>(), properties: os(), reconsume_times: oi(), unit_mode: ob(), batch: ob(),
     max_reconsume_times: oi(), rpc: rpc()]
});

roundtrip!(send_v2: SendMessageRequestHeaderV2, true {
    [producer_group: s(), topic: s(), default_topic: s(), default_topic_queue_nums: any::<i32>(),
     queue_id: any::<i32>(), sys_flag: any::<i32>(), born_timestamp: any::<i64>()]
    [flag: any::<i32>(), properties: os(), reconsume_times: oi(), unit_mode: ob(),
     max_reconsume_times: oi(), batch: ob(), broker_name: os(), rpc: rpc()]
});

roundtrip!(send_response: SendMessageResponseHeader, false {
    [msg_id: s(), queue_id: any::<i32>(), queue_offset: any::<i64>(), transaction_id: os(),
     batch_uniq_id: os(), recall_handle: os(), msg_region: os(), trace_on: ob()]
});

roundtrip!(pull_request: PullMessageRequestHeader, true {
    [consumer_group: s(), topic: s(), queue_id: any::<i32>(), queue_offset: any::<i64>(),
     max_msg_nums: any::<i32>(), sys_flag: any::<i32>(), commit_offset: any::<i64>(),
     suspend_timeout_millis: any::<i64>()]
    [subscription: os(), sub_version: any::<i64>(), expression_type: proptest::option::of(expr()),
     max_msg_bytes: oi(), request_source: oi(), proxy_forward_client_id: os(), rpc: rpc()]
});

roundtrip!(pull_response: PullMessageResponseHeader, false {
    [suggest_which_broker_id: any::<i64>(), next_begin_offset: any::<i64>(),
     min_offset: any::<i64>(), max_offset: any::<i64>(), offset_delta: ol(),
     topic_sys_flag: oi(), group_sys_flag: oi(), forbidden_type: oi()]
});

roundtrip!(query_message: QueryMessageRequestHeader, true {
    [topic: s(), key: s(), max_num: any::<i32>(), begin_timestamp: any::<i64>(),
     end_timestamp: any::<i64>(), unique_key_query: ob(), rpc: rpc()]
});

roundtrip!(query_message_response: QueryMessageResponseHeader, false {
    [index_last_update_timestamp: any::<i64>(), index_last_update_phyoffset: any::<i64>()]
});

roundtrip!(view_message: ViewMessageRequestHeader, false {
    [topic: os(), offset: any::<i64>()]
});

roundtrip!(query_consumer_offset: QueryConsumerOffsetRequestHeader, true {
    [consumer_group: s(), topic: s(), queue_id: any::<i32>(), set_zero_if_not_found: ob(),
     rpc: rpc()]
});

roundtrip!(query_consumer_offset_response: QueryConsumerOffsetResponseHeader, false {
    [offset: any::<i64>()]
});

roundtrip!(update_consumer_offset: UpdateConsumerOffsetRequestHeader, true {
    [consumer_group: s(), topic: s(), queue_id: any::<i32>(), commit_offset: any::<i64>(),
     rpc: rpc()]
});

roundtrip!(get_max_offset: GetMaxOffsetRequestHeader, true {
    [topic: s(), queue_id: any::<i32>(), committed: any::<bool>(), rpc: rpc()]
});

roundtrip!(get_max_offset_response: GetMaxOffsetResponseHeader, false { [offset: any::<i64>()] });

roundtrip!(get_min_offset: GetMinOffsetRequestHeader, true {
    [topic: s(), queue_id: any::<i32>(), rpc: rpc()]
});

roundtrip!(get_min_offset_response: GetMinOffsetResponseHeader, false { [offset: any::<i64>()] });

roundtrip!(search_offset: SearchOffsetRequestHeader, true {
    [topic: s(), queue_id: any::<i32>(), timestamp: any::<i64>(),
     boundary_type: proptest::option::of(boundary()), rpc: rpc()]
});

roundtrip!(search_offset_response: SearchOffsetResponseHeader, false { [offset: any::<i64>()] });

roundtrip!(earliest_storetime: GetEarliestMsgStoretimeRequestHeader, true {
    [topic: s(), queue_id: any::<i32>(), rpc: rpc()]
});

roundtrip!(earliest_storetime_response: GetEarliestMsgStoretimeResponseHeader, false {
    [timestamp: any::<i64>()]
});

roundtrip!(create_topic: CreateTopicRequestHeader, true {
    [topic: s(), default_topic: s(), read_queue_nums: any::<i32>(), write_queue_nums: any::<i32>(),
     perm: any::<i32>(), topic_filter_type: filter_type(), topic_sys_flag: oi()]
    [order: any::<bool>(), attributes: os(), force: any::<bool>(), rpc: rpc()]
});

roundtrip!(unregister_client: UnregisterClientRequestHeader, true {
    [client_id: s(), producer_group: os(), consumer_group: os(), rpc: rpc()]
});

roundtrip!(send_back: ConsumerSendMsgBackRequestHeader, true {
    [offset: any::<i64>(), group: s(), delay_level: any::<i32>(), origin_msg_id: os(),
     origin_topic: os(), unit_mode: any::<bool>(), max_reconsume_times: oi(), rpc: rpc()]
});

roundtrip!(end_transaction: EndTransactionRequestHeader, true {
    [topic: os(), producer_group: s(), tran_state_table_offset: any::<i64>(),
     commit_log_offset: any::<i64>(), commit_or_rollback: commit_type(),
     from_transaction_check: any::<bool>(), msg_id: s(), transaction_id: os(), rpc: rpc()]
});

roundtrip!(check_transaction: CheckTransactionStateRequestHeader, true {
    [topic: os(), tran_state_table_offset: any::<i64>(), commit_log_offset: any::<i64>(),
     msg_id: os(), transaction_id: os(), offset_msg_id: os(), rpc: rpc()]
});

roundtrip!(consumer_list: GetConsumerListByGroupRequestHeader, true {
    [consumer_group: s(), rpc: rpc()]
});

roundtrip!(notify_ids_changed: NotifyConsumerIdsChangedRequestHeader, true {
    [consumer_group: s(), rpc: rpc()]
});

roundtrip!(running_info: GetConsumerRunningInfoRequestHeader, true {
    [consumer_group: s(), client_id: s(), jstack_enable: any::<bool>(), rpc: rpc()]
});

roundtrip!(consume_directly: ConsumeMessageDirectlyResultRequestHeader, true {
    [consumer_group: s(), client_id: os(), msg_id: os(), broker_name: os(), topic: os(),
     topic_sys_flag: oi(), group_sys_flag: oi(), rpc: rpc()]
});

roundtrip!(lock_batch: LockBatchMqRequestHeader, true { [rpc: rpc()] });

roundtrip!(unlock_batch: UnlockBatchMqRequestHeader, true { [rpc: rpc()] });

roundtrip!(reset_offset: ResetOffsetRequestHeader, true {
    [group: s(), topic: s(), queue_id: any::<i32>(), offset: ol(), timestamp: any::<i64>(),
     is_force: any::<bool>(), rpc: rpc()]
});

roundtrip!(route_info: GetRouteInfoRequestHeader, true {
    [topic: s(), accept_standard_json_only: ob(), rpc: rpc()]
});

roundtrip!(register_broker: RegisterBrokerRequestHeader, false {
    [broker_name: s(), broker_addr: s(), cluster_name: s(), ha_server_addr: s(),
     broker_id: any::<i64>(), heartbeat_timeout_millis: ol(), enable_acting_master: ob(),
     compressed: any::<bool>(), body_crc32: any::<i32>(), zone_name: os()]
});

roundtrip!(register_broker_response: RegisterBrokerResponseHeader, false {
    [ha_server_addr: os(), master_addr: os()]
});

roundtrip!(unregister_broker: UnregisterBrokerRequestHeader, false {
    [broker_name: s(), broker_addr: s(), cluster_name: s(), broker_id: any::<i64>()]
});

fn v2_strategy() -> impl Strategy<Value = SendMessageRequestHeaderV2> {
    (
        (
            s(),
            s(),
            s(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i64>(),
        ),
        (any::<i32>(), os(), oi(), ob(), oi(), ob(), os()),
        (os(), ob(), ob()),
    )
        .prop_map(
            |((a, b, c, d, e, f, g), (h, i, j, k, l, m, n), (ns, nsd, oway))| {
                SendMessageRequestHeaderV2 {
                    producer_group: a,
                    topic: b,
                    default_topic: c,
                    default_topic_queue_nums: d,
                    queue_id: e,
                    sys_flag: f,
                    born_timestamp: g,
                    flag: h,
                    properties: i,
                    reconsume_times: j,
                    unit_mode: k,
                    max_reconsume_times: l,
                    batch: m,
                    broker_name: n,
                    // `bname` travels as `n` in V2.
                    rpc: RpcBase {
                        ns,
                        nsd,
                        bname: None,
                        oway,
                        lo: None,
                    },
                }
            },
        )
}

proptest! {
    /// V2 → V1 → V2 is the identity, and V1 carries `n` as `bname`.
    #[test]
    fn v1_v2_conversions(v2 in v2_strategy()) {
        let v1: SendMessageRequestHeader = v2.clone().into();
        prop_assert_eq!(&v1.rpc.bname, &v2.broker_name);
        prop_assert_eq!(&v1.producer_group, &v2.producer_group);
        prop_assert_eq!(v1.born_timestamp, v2.born_timestamp);
        let back: SendMessageRequestHeaderV2 = v1.clone().into();
        prop_assert_eq!(&back, &v2);
        // And V1 → V2 → V1 as well.
        let v1_again: SendMessageRequestHeader = back.into();
        prop_assert_eq!(v1_again, v1);
    }
}

#[test]
fn send_message_v2_golden_ext_fields() {
    let header = SendMessageRequestHeaderV2 {
        producer_group: "please_rename_unique_group_name".into(),
        topic: "TopicTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        flag: 0,
        properties: Some(
            "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}7F0000010001\u{2}WAIT\u{1}true\u{2}".into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
        rpc: RpcBase::default(),
    };
    let ext = to_ext_fields(&header);
    let got: Vec<(&str, &str)> = ext.iter().collect();
    assert_eq!(
        got,
        vec![
            ("a", "please_rename_unique_group_name"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "3"),
            ("f", "0"),
            ("g", "1700000000123"),
            ("h", "0"),
            (
                "i",
                "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}7F0000010001\u{2}WAIT\u{1}true\u{2}"
            ),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
        ]
    );
    // The V1 form of the same header uses the long names and `bname`.
    let v1: SendMessageRequestHeader = header.into();
    let ext = to_ext_fields(&v1);
    assert_eq!(
        ext.get("producerGroup"),
        Some("please_rename_unique_group_name")
    );
    assert_eq!(ext.get("bornTimestamp"), Some("1700000000123"));
    assert_eq!(ext.get("bname"), Some("broker-a"));
    assert_eq!(ext.get("maxReconsumeTimes"), None);
}

#[test]
fn send_response_broker_extras() {
    let h = SendMessageResponseHeader {
        msg_id: "7F00000100002A9F0000000000000000".into(),
        queue_id: 1,
        queue_offset: 42,
        ..Default::default()
    }
    .with_broker_extras();
    let ext = to_ext_fields(&h);
    let got: Vec<(&str, &str)> = ext.iter().collect();
    assert_eq!(
        got,
        vec![
            ("msgId", "7F00000100002A9F0000000000000000"),
            ("queueId", "1"),
            ("queueOffset", "42"),
            ("MSG_REGION", "DefaultRegion"),
            ("TRACE_ON", "true"),
        ]
    );
}

#[test]
fn defaults_match_java() {
    let h = GetMaxOffsetRequestHeader::default();
    assert!(h.committed);
    let r = ResetOffsetRequestHeader::default();
    assert_eq!(r.queue_id, -1);
    let s = SendMessageRequestHeaderV2::default();
    assert_eq!(s.default_topic, "TBW102");
    assert_eq!(s.default_topic_queue_nums, 4);
    // Missing primitives read as the Java initializer.
    let ext: ExtFields = [("topic", "T"), ("queueId", "0")].into_iter().collect();
    let h = GetMaxOffsetRequestHeader::read_from(&ext).unwrap();
    assert!(h.committed);
    let ext: ExtFields = [
        ("group", "g"),
        ("topic", "T"),
        ("timestamp", "5"),
        ("isForce", "true"),
    ]
    .into_iter()
    .collect();
    let r = ResetOffsetRequestHeader::read_from(&ext).unwrap();
    assert_eq!(r.queue_id, -1);
    assert!(r.is_force);
    assert_eq!(to_ext_fields(&r).get("isForce"), Some("true"));
    // Primitives are always written.
    assert_eq!(to_ext_fields(&r).get("queueId"), Some("-1"));
}

#[test]
fn lenient_reads() {
    for (raw, want) in [
        ("true", true),
        ("TRUE", true),
        ("True", true),
        ("1", true),
        ("false", false),
        ("FALSE", false),
        ("0", false),
        (" true ", true),
    ] {
        let ext: ExtFields = [("topic", "T"), ("queueId", "0"), ("committed", raw)]
            .into_iter()
            .collect();
        let h = GetMaxOffsetRequestHeader::read_from(&ext).unwrap();
        assert_eq!(h.committed, want, "{raw:?}");
    }
    let ext: ExtFields = [("topic", "T"), ("queueId", " 7 "), ("committed", "1")]
        .into_iter()
        .collect();
    assert_eq!(
        GetMaxOffsetRequestHeader::read_from(&ext).unwrap().queue_id,
        7
    );
    // Unknown keys are ignored.
    let ext: ExtFields = [
        ("topic", "T"),
        ("queueId", "1"),
        ("_UNIQUE_KEY_QUERY", "x"),
        ("AccessKey", "ak"),
    ]
    .into_iter()
    .collect();
    assert!(GetMinOffsetRequestHeader::read_from(&ext).is_ok());
    // Strict writes.
    let h = GetMaxOffsetRequestHeader {
        topic: "T".into(),
        queue_id: 0,
        committed: false,
        rpc: RpcBase::broker("b"),
    };
    let ext = to_ext_fields(&h);
    assert_eq!(ext.get("committed"), Some("false"));
    assert_eq!(ext.get("bname"), Some("b"));
    assert_eq!(ext.get("ns"), None);
}

#[test]
fn enum_fields() {
    let mut ext: ExtFields = [
        ("topic", "T"),
        ("queueId", "0"),
        ("timestamp", "10"),
        ("boundaryType", "upper"),
    ]
    .into_iter()
    .collect();
    let h = SearchOffsetRequestHeader::read_from(&ext).unwrap();
    assert_eq!(h.boundary_type, Some(BoundaryType::Upper));
    assert_eq!(to_ext_fields(&h).get("boundaryType"), Some("UPPER"));
    ext.insert("boundaryType", "whatever");
    let h = SearchOffsetRequestHeader::read_from(&ext).unwrap();
    assert_eq!(h.boundary_type, Some(BoundaryType::Lower));

    let ext: ExtFields = [
        ("producerGroup", "g"),
        ("tranStateTableOffset", "1"),
        ("commitLogOffset", "2"),
        ("commitOrRollback", "8"),
        ("msgId", "m"),
    ]
    .into_iter()
    .collect();
    let h = EndTransactionRequestHeader::read_from(&ext).unwrap();
    assert_eq!(h.commit_or_rollback, TransactionCommitType::Commit);
    assert!(!h.from_transaction_check);
    let ext = to_ext_fields(&EndTransactionRequestHeader {
        commit_or_rollback: TransactionCommitType::Rollback,
        ..h
    });
    assert_eq!(ext.get("commitOrRollback"), Some("12"));
    assert_eq!(ext.get("fromTransactionCheck"), Some("false"));

    let mut ext: ExtFields = [
        ("consumerGroup", "g"),
        ("topic", "T"),
        ("queueId", "0"),
        ("queueOffset", "0"),
        ("maxMsgNums", "32"),
        ("sysFlag", "2"),
        ("commitOffset", "0"),
        ("suspendTimeoutMillis", "15000"),
        ("subVersion", "0"),
        ("expressionType", "SQL92"),
    ]
    .into_iter()
    .collect();
    let h = PullMessageRequestHeader::read_from(&ext).unwrap();
    assert_eq!(h.expression_type, Some(ExpressionType::Sql92));
    ext.insert("expressionType", "TAG");
    let h = PullMessageRequestHeader::read_from(&ext).unwrap();
    assert_eq!(h.expression_type, Some(ExpressionType::Tag));

    let ext: ExtFields = [
        ("topic", "T"),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "8"),
        ("writeQueueNums", "8"),
        ("perm", "6"),
        ("topicFilterType", "BOGUS"),
        ("order", "false"),
    ]
    .into_iter()
    .collect();
    assert!(matches!(
        CreateTopicRequestHeader::read_from(&ext),
        Err(ProtocolError::InvalidField {
            field: "topicFilterType",
            ..
        })
    ));
}

#[test]
fn missing_and_invalid_fields() {
    let ext: ExtFields = [("topic", "T")].into_iter().collect();
    assert!(matches!(
        GetMinOffsetRequestHeader::read_from(&ext),
        Err(ProtocolError::MissingField("queueId"))
    ));
    let ext: ExtFields = [("topic", "T"), ("queueId", "x1")].into_iter().collect();
    match GetMinOffsetRequestHeader::read_from(&ext) {
        Err(ProtocolError::InvalidField { field, value }) => {
            assert_eq!(field, "queueId");
            assert_eq!(value, "x1");
        }
        other => panic!("unexpected {other:?}"),
    }
    let ext: ExtFields = [("topic", "T"), ("queueId", "99999999999")]
        .into_iter()
        .collect();
    assert!(matches!(
        GetMinOffsetRequestHeader::read_from(&ext),
        Err(ProtocolError::InvalidField {
            field: "queueId",
            ..
        })
    ));
    let ext: ExtFields = [("topic", "T"), ("queueId", "1"), ("committed", "yes")]
        .into_iter()
        .collect();
    assert!(matches!(
        GetMaxOffsetRequestHeader::read_from(&ext),
        Err(ProtocolError::InvalidField {
            field: "committed",
            ..
        })
    ));
    // The V2 header reports its short key.
    let ext = ExtFields::new();
    assert!(matches!(
        SendMessageRequestHeaderV2::read_from(&ext),
        Err(ProtocolError::MissingField("a"))
    ));
    assert!(matches!(
        UnregisterClientRequestHeader::read_from(&ext),
        Err(ProtocolError::MissingField("clientID"))
    ));
}

/// Keys from every header plus noise, with values that are sometimes valid.
fn hostile_ext() -> impl Strategy<Value = ExtFields> {
    let keys = prop_oneof![
        proptest::sample::select(vec![
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
            "k",
            "l",
            "m",
            "n",
            "topic",
            "queueId",
            "queueOffset",
            "msgId",
            "consumerGroup",
            "committed",
            "boundaryType",
            "commitOrRollback",
            "isForce",
            "expressionType",
            "topicFilterType",
            "brokerId",
            "compressed",
            "bodyCrc32",
            "offset",
            "timestamp",
            "clientID",
            "ns",
            "nsd",
            "bname",
            "oway",
            "lo",
            "group",
            "producerGroup",
            "subVersion",
            "TRACE_ON",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let values = prop_oneof![
        any::<String>(),
        any::<i64>().prop_map(|v| v.to_string()),
        proptest::sample::select(vec![
            "true", "false", "1", "0", "", " ", "-", "TAG", "UPPER"
        ])
        .prop_map(str::to_owned),
    ];
    proptest::collection::vec((keys, values), 0..40).prop_map(|kv| kv.into_iter().collect())
}

macro_rules! decode_all {
    ($ext:expr; $($ty:ty),* $(,)?) => {$(
        let _ = <$ty>::read_from($ext);
    )*};
}

proptest! {
    #[test]
    fn hostile_ext_fields_never_panic(ext in hostile_ext()) {
        decode_all!(&ext;
            RpcBase, SendMessageRequestHeader, SendMessageRequestHeaderV2,
            SendMessageResponseHeader, PullMessageRequestHeader, PullMessageResponseHeader,
            QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
            QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
            UpdateConsumerOffsetRequestHeader, GetMaxOffsetRequestHeader,
            GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader,
            SearchOffsetRequestHeader, SearchOffsetResponseHeader,
            GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
            CreateTopicRequestHeader, UnregisterClientRequestHeader,
            ConsumerSendMsgBackRequestHeader, EndTransactionRequestHeader,
            CheckTransactionStateRequestHeader, GetConsumerListByGroupRequestHeader,
            NotifyConsumerIdsChangedRequestHeader, GetConsumerRunningInfoRequestHeader,
            ConsumeMessageDirectlyResultRequestHeader, LockBatchMqRequestHeader,
            UnlockBatchMqRequestHeader, ResetOffsetRequestHeader, GetRouteInfoRequestHeader,
            RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
            UnregisterBrokerRequestHeader,
        );
    }
}

#[test]
fn headers_travel_in_commands() {
    use rocketmq_sdk::protocol::{RemotingCommand, RequestCode};
    let h = PullMessageRequestHeader {
        consumer_group: "g".into(),
        topic: "T".into(),
        queue_id: 2,
        queue_offset: 100,
        max_msg_nums: 32,
        sys_flag: pull::pull_sys_flag::build(false, true, true, false, true),
        commit_offset: 0,
        suspend_timeout_millis: 20_000,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some(ExpressionType::Tag),
        max_msg_bytes: None,
        request_source: None,
        proxy_forward_client_id: None,
        rpc: RpcBase::broker("broker-a"),
    };
    assert_eq!(h.sys_flag, 0x2 | 0x4 | 0x10);
    let cmd = RemotingCommand::request(RequestCode(361)).with_header(&h);
    assert_eq!(cmd.ext_fields.get("sysFlag"), Some("22"));
    assert_eq!(cmd.ext_fields.get("expressionType"), Some("TAG"));
    assert_eq!(cmd.ext_fields.get("bname"), Some("broker-a"));
    let back: PullMessageRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(back, h);
}
