//! What `mqadmin` asks the broker and the name server, driven over loopback: the raw
//! requests of the golden transcripts (`vectors/mqadmin/requests.jsonl`, copied from
//! mqadmin 4.9.8 and 5.0.0 against the Java broker) answered with the same codes, header
//! fields and body shapes, and the effects behind them (lag, connections, deletion, KV).

mod broker_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use broker_support::*;
use futures::future::BoxFuture;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::protocol::body::fastjson;
use rocketmq_sdk::protocol::body::heartbeat::{ConsumeFromWhere, ConsumeType};
use rocketmq_sdk::protocol::body::{
    ConsumeStats, ConsumeStatsList, ConsumerConnection, ConsumerData, ConsumerRunningInfo,
    GetConsumerStatusBody, GroupList, HeartbeatData, JsonBody, KvTable, MessageModel, MessageQueue,
    ProducerConnection, ProducerData, SubscriptionGroupConfig, SubscriptionGroupWrapper, TopicList,
    TopicRouteData, TopicStatsTable,
};
use rocketmq_sdk::protocol::header::{
    CloneGroupOffsetRequestHeader, CommandHeader, ConsumeMessageDirectlyResultRequestHeader,
    DeleteKvConfigRequestHeader, DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsInBrokerHeader,
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetConsumerRunningInfoRequestHeader, GetConsumerStatusRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader,
    GetProducerConnectionListRequestHeader, GetRouteInfoRequestHeader,
    GetSubscriptionGroupConfigRequestHeader, GetTopicConfigRequestHeader,
    GetTopicStatsInfoRequestHeader, GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader,
    QueryTopicConsumeByWhoRequestHeader, RegisterBrokerRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rocketmq_sdk::protocol::message::decode_all;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions, ServerRequestHandler};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/mqadmin/requests.jsonl");

async fn call<H: CommandHeader>(conn: &Connection, code: RequestCode, h: &H) -> RemotingCommand {
    conn.request(RemotingCommand::request(code).with_header(h), T)
        .await
        .expect("answer")
}

/// Commits an offset, creating the group first (offsets of unknown groups are refused).
async fn commit(conn: &Connection, group: &str, topic: &str, queue_id: i32, offset: i64) {
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(SubscriptionGroupConfig::new(group).encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = call(
        conn,
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id,
            commit_offset: offset,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
}

/// A consumer heartbeat subscribing `group` to `topic` and its retry topic, with a
/// producer group too, as a Java push consumer sends it.
async fn join(conn: &Connection, client_id: &str, group: &str, topic: &str) {
    let body = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: Some(ConsumeFromWhere::ConsumeFromFirstOffset),
            consume_type: Some(ConsumeType::ConsumePassively),
            group_name: group.into(),
            message_model: Some(MessageModel::Clustering),
            subscription_data_set: vec![
                subscription(topic, "*"),
                subscription(&format!("%RETRY%{group}"), "*"),
            ],
            unit_mode: false,
        }],
        producer_data_set: vec![ProducerData {
            group_name: "PG_ADMIN".into(),
        }],
        ..Default::default()
    };
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
}

/// The structure of a JSON value: keys kept, scalars replaced by their kind, array
/// elements reduced to their distinct shapes.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => {
            let mut shapes: Vec<String> = a.iter().map(|x| shape(x).to_string()).collect();
            shapes.sort();
            shapes.dedup();
            Value::Array(shapes.into_iter().map(Value::String).collect())
        }
        Value::String(_) => "s".into(),
        Value::Number(_) => "n".into(),
        Value::Bool(_) => "b".into(),
        Value::Null => "null".into(),
    }
}

fn properties(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

/// Keys of GET_BROKER_RUNTIME_INFO that `mqadmin brokerStatus` / `clusterList` print or
/// compute with, per version.
const RUNTIME_KEYS: [&str; 14] = [
    "brokerVersionDesc",
    "brokerVersion",
    "msgPutTotalTodayNow",
    "msgGetTotalTodayNow",
    "msgPutTotalYesterdayMorning",
    "msgPutTotalTodayMorning",
    "msgGetTotalYesterdayMorning",
    "msgGetTotalTodayMorning",
    "putTps",
    "commitLogDirCapacity",
    "commitLogDiskRatio",
    "pageCacheLockTimeMills",
    "earliestMessageTimeStamp",
    "remainHowManyDataToFlush",
];

#[tokio::test]
async fn golden_mqadmin_requests_get_the_java_answers() {
    let dir = tempfile::tempdir().unwrap();
    let broker = EmbeddedBroker::builder()
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    let baddr = broker.broker_addrs()[0].clone();
    let naddr = broker.name_server_addr();
    let conn = connect(&baddr).await;
    for (topic, group) in [
        ("G11T_498_173630", "G11C_498_173630"),
        ("G11T_500_173651", "G11C_500_173651"),
    ] {
        broker.create_topic(topic, 4).await.unwrap();
        for q in 1..4 {
            send_ok(&conn, topic, q, b"adm").await;
            commit(&conn, group, topic, q, 1).await;
        }
        join(&conn, &format!("192.0.2.2@i_{group}"), group, topic).await;
        commit(&conn, group, &format!("%RETRY%{group}"), 0, 0).await;
    }

    let mut checked = 0;
    for line in VECTORS.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let code = v["code"].as_i64().unwrap();
        let what = format!("{} code {code} ({})", v["version"], v["step"]);
        let header = v["header"].as_str().unwrap();
        let body = v["body"].as_str().unwrap().as_bytes();
        let addr = if v["server"] == "namesrv" {
            &naddr
        } else {
            &baddr
        };
        let ours = raw_exchange(addr, &json_frame(header, body)).await;
        let java = &v["response"];
        assert_eq!(
            i64::from(ours.code),
            java["code"].as_i64().unwrap(),
            "{what}: {ours:?}"
        );
        let java_ext: BTreeSet<String> = java["extFields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let our_ext: BTreeSet<String> = ours.ext_fields.iter().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(our_ext, java_ext, "{what}: header fields");
        let java_body = java["body"].as_str().unwrap();
        let ours_version = ours.ext_fields.get("version").map(str::to_owned);
        let java_version = java["extFields"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match code {
            26 => {
                let ours = properties(std::str::from_utf8(&ours.body).unwrap());
                let java = properties(java_body);
                for k in ["brokerName", "brokerClusterName", "listenPort", "brokerId"] {
                    assert!(ours.contains(k) && java.contains(k), "{what}: {k}");
                }
                let our_ver: Value =
                    serde_json::from_str(ours_version.as_deref().unwrap()).unwrap();
                let java_ver: Value = serde_json::from_str(&java_version).unwrap();
                assert_eq!(shape(&our_ver), shape(&java_ver), "{what}: version");
            }
            28 => {
                let ours = KvTable::decode(&ours.body).unwrap().table;
                let java = KvTable::decode(java_body.as_bytes()).unwrap().table;
                let transferred = if v["version"] == "4.9.8" {
                    "getTransferedTps"
                } else {
                    "getTransferredTps"
                };
                for k in RUNTIME_KEYS.iter().chain([&transferred]) {
                    assert!(java.contains_key(*k), "{what}: the Java broker sends {k}");
                    assert!(ours.contains_key(*k), "{what}: {k} missing");
                }
                assert_eq!(ours["msgPutTotalTodayNow"], "6", "{what}");
                assert!(
                    ours["commitLogDirCapacity"].starts_with("Total : "),
                    "{what}"
                );
            }
            _ if java_body.is_empty() => assert!(ours.body.is_empty(), "{what}"),
            _ => {
                let java_v = fastjson::parse(java_body.as_bytes()).unwrap();
                let our_v = fastjson::parse(&ours.body).unwrap();
                assert_eq!(shape(&our_v), shape(&java_v), "{what}: body shape");
                if matches!(code, 300 | 351) {
                    assert_eq!(our_v, java_v, "{what}: body");
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 26);

    // The deletions at the end of each transcript took effect.
    for topic in ["G11T_498_173630", "G11T_500_173651"] {
        let n = connect(&naddr).await;
        let r = call(
            &n,
            RequestCode::GET_ROUTEINFO_BY_TOPIC,
            &GetRouteInfoRequestHeader {
                topic: topic.into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST, "{topic}");
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn consume_stats_show_the_lag_of_a_group_that_consumed_part_of_a_topic() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    broker.create_topic("LAG", 2).await.unwrap();
    for _ in 0..5 {
        send_ok(&conn, "LAG", 0, b"m").await;
    }
    for _ in 0..3 {
        send_ok(&conn, "LAG", 1, b"m").await;
    }
    commit(&conn, "GL", "LAG", 0, 2).await;
    commit(&conn, "GL", "LAG", 1, 3).await;

    let r = call(
        &conn,
        RequestCode::GET_CONSUME_STATS,
        &GetConsumeStatsRequestHeader {
            consumer_group: "GL".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let stats = ConsumeStats::decode(&r.body).unwrap();
    assert_eq!(stats.total_diff(), 3);
    let q0 = stats.offset_table[&MessageQueue::new("LAG", "broker-a", 0)];
    assert_eq!((q0.broker_offset, q0.consumer_offset, q0.lag()), (5, 2, 3));
    assert!(
        q0.last_timestamp > 0,
        "store time of the last consumed message"
    );
    let q1 = stats.offset_table[&MessageQueue::new("LAG", "broker-a", 1)];
    assert_eq!((q1.broker_offset, q1.consumer_offset), (3, 3));

    let r = call(
        &conn,
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader {
            topic: "LAG".into(),
            ..Default::default()
        },
    )
    .await;
    let t = TopicStatsTable::decode(&r.body).unwrap();
    assert_eq!(t.offset_table.len(), 2);
    let o = t.offset_table[&MessageQueue::new("LAG", "broker-a", 0)];
    assert_eq!((o.min_offset, o.max_offset), (0, 5));
    assert!(o.last_update_timestamp >= q0.last_timestamp);

    let r = call(
        &conn,
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader {
            topic: "NOPE".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("topic[NOPE] not exist"));

    let r = call(
        &conn,
        RequestCode::GET_BROKER_CONSUME_STATS,
        &GetConsumeStatsInBrokerHeader {
            is_order: false,
            ..Default::default()
        },
    )
    .await;
    let all = ConsumeStatsList::decode(&r.body).unwrap();
    assert_eq!(all.total_diff, 3);
    assert!(all.consume_stats_list.iter().any(|m| m.contains_key("GL")));
    broker.shutdown().await.unwrap();
}

/// Answers GET_CONSUMER_STATUS_FROM_CLIENT like a Java consumer, counting the asks.
#[derive(Clone, Default)]
struct StatusClient(Arc<Mutex<Vec<RemotingCommand>>>);

impl ServerRequestHandler for StatusClient {
    fn handle(
        &self,
        _connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let ok = || RemotingCommand::new_response(ResponseCode::SUCCESS);
        let answer = if request.code == RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT.value() {
            let h: GetConsumerStatusRequestHeader = request.decode_header().unwrap();
            let body = GetConsumerStatusBody {
                message_queue_table: [(MessageQueue::new(h.topic, "broker-a", 0), 7)].into(),
                ..Default::default()
            };
            Some(ok().with_body(body.encode().unwrap()))
        } else if request.code == RequestCode::GET_CONSUMER_RUNNING_INFO.value() {
            let mut info = ConsumerRunningInfo::default();
            info.properties
                .insert("PROP_CONSUME_TYPE".into(), "CONSUME_PASSIVELY".into());
            Some(ok().with_body(info.encode().unwrap()))
        } else if request.code == RequestCode::CONSUME_MESSAGE_DIRECTLY.value() {
            let n = decode_all(request.body.clone()).map_or(0, |m| m.len());
            Some(ok().with_remark(format!("records={n}")))
        } else {
            None
        };
        self.0.lock().unwrap().push(request);
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn connections_list_the_online_clients_and_consumer_status_asks_them() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let handler = StatusClient::default();
    let mut options = ConnectionOptions::default();
    options.handler = Some(Arc::new(handler.clone()));
    let client = Connection::connect(&addr, options).await.unwrap();
    broker.create_topic("CT", 1).await.unwrap();
    join(&client, "10.0.0.1@c1", "GC", "CT").await;
    let admin = connect(&addr).await;

    let r = call(
        &admin,
        RequestCode::GET_CONSUMER_CONNECTION_LIST,
        &GetConsumerConnectionListRequestHeader {
            consumer_group: "GC".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let c = ConsumerConnection::decode(&r.body).unwrap();
    assert_eq!(c.connection_set.len(), 1);
    let member = &c.connection_set[0];
    assert_eq!(member.client_id, "10.0.0.1@c1");
    assert_eq!(member.language, "RUST");
    assert!(member.client_addr.starts_with("127.0.0.1:"));
    assert_eq!(c.message_model, Some(MessageModel::Clustering));
    assert_eq!(c.subscription_table["CT"].sub_string, "*");
    assert!(c.subscription_table.contains_key("%RETRY%GC"));

    let r = call(
        &admin,
        RequestCode::GET_PRODUCER_CONNECTION_LIST,
        &GetProducerConnectionListRequestHeader {
            producer_group: "PG_ADMIN".into(),
            ..Default::default()
        },
    )
    .await;
    let p = ProducerConnection::decode(&r.body).unwrap();
    assert_eq!(p.connection_set[0].client_id, "10.0.0.1@c1");

    let r = call(
        &admin,
        RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS,
        &GetConsumerStatusRequestHeader {
            topic: "CT".into(),
            group: "GC".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let status = GetConsumerStatusBody::decode(&r.body).unwrap();
    assert_eq!(
        status.consumer_table["10.0.0.1@c1"][&MessageQueue::new("CT", "broker-a", 0)],
        7
    );
    let asked = handler
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.code == RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT.value())
        .count();
    assert_eq!(asked, 1);

    // mqadmin consumerStatus: the broker relays GET_CONSUMER_RUNNING_INFO to the client.
    let running = GetConsumerRunningInfoRequestHeader {
        consumer_group: "GC".into(),
        client_id: "10.0.0.1@c1".into(),
        jstack_enable: false,
        ..Default::default()
    };
    let r = call(&admin, RequestCode::GET_CONSUMER_RUNNING_INFO, &running).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let info = ConsumerRunningInfo::decode(&r.body).unwrap();
    assert_eq!(info.properties["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY");
    let r = call(
        &admin,
        RequestCode::GET_CONSUMER_RUNNING_INFO,
        &GetConsumerRunningInfoRequestHeader {
            client_id: "nobody".into(),
            ..running.clone()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("The Consumer <GC> <nobody> not online")
    );

    // CONSUME_MESSAGE_DIRECTLY: the stored record named by the offset id goes along.
    let sent = send_ok(&admin, "CT", 0, b"direct").await;
    let r = call(
        &admin,
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
        &ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: "GC".into(),
            client_id: Some("10.0.0.1@c1".into()),
            msg_id: Some(sent.msg_id.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.remark.as_deref(), Some("records=1"), "{r:?}");
    let relayed = handler
        .0
        .lock()
        .unwrap()
        .iter()
        .find(|c| c.code == RequestCode::CONSUME_MESSAGE_DIRECTLY.value())
        .cloned()
        .unwrap();
    assert_eq!(relayed.ext_fields.get("brokerName"), Some("broker-a"));

    let r = call(
        &admin,
        RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
        &QueryTopicConsumeByWhoRequestHeader {
            topic: "CT".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        GroupList::decode(&r.body).unwrap().group_list,
        BTreeSet::from(["GC".to_owned()])
    );

    client.close();
    assert!(
        wait_until_async(|| {
            let admin = &admin;
            async move {
                call(
                    admin,
                    RequestCode::GET_CONSUMER_CONNECTION_LIST,
                    &GetConsumerConnectionListRequestHeader {
                        consumer_group: "GC".into(),
                        ..Default::default()
                    },
                )
                .await
                .response_code()
                    == ResponseCode::CONSUMER_NOT_ONLINE
            }
        })
        .await
    );
    let r = call(
        &admin,
        RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS,
        &GetConsumerStatusRequestHeader {
            topic: "CT".into(),
            group: "GC".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    broker.shutdown().await.unwrap();
}

async fn route(naddr: &str, topic: &str) -> RemotingCommand {
    call(
        &connect(naddr).await,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn deleting_a_topic_drops_route_config_queues_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let broker = EmbeddedBroker::builder()
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    let naddr = broker.name_server_addr();
    let conn = connect(&broker.broker_addrs()[0]).await;
    broker.create_topic("DT", 2).await.unwrap();
    for _ in 0..3 {
        send_ok(&conn, "DT", 0, b"old").await;
    }
    commit(&conn, "GD", "DT", 0, 2).await;
    assert_eq!(
        route(&naddr, "DT").await.response_code(),
        ResponseCode::SUCCESS
    );
    let cq_dir = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path().join("consumequeue").join("DT"))
        .find(|p| p.exists())
        .expect("the topic's consume queue directory");

    let r = call(
        &conn,
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicRequestHeader {
            topic: "DT".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(
        &connect(&naddr).await,
        RequestCode::DELETE_TOPIC_IN_NAMESRV,
        &DeleteTopicFromNamesrvRequestHeader {
            topic: "DT".into(),
            cluster_name: Some("DefaultCluster".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        route(&naddr, "DT").await.response_code(),
        ResponseCode::TOPIC_NOT_EXIST
    );
    assert!(!cq_dir.exists(), "consume queues deleted");
    assert!(broker.consumer_offsets("GD", "DT").is_empty());
    let r = call(
        &conn,
        RequestCode::GET_TOPIC_CONFIG,
        &GetTopicConfigRequestHeader {
            topic: "DT".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST);

    // A send auto-creates a fresh topic: offsets start again at 0.
    let h = send_ok(&conn, "DT", 0, b"new").await;
    assert_eq!(h.queue_offset, 0);
    assert_eq!(
        route(&naddr, "DT").await.response_code(),
        ResponseCode::SUCCESS
    );

    // System topics cannot be deleted.
    let r = call(
        &conn,
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicRequestHeader {
            topic: "TBW102".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("The topic[TBW102] is conflict with system topic.")
    );
    broker.shutdown().await.unwrap();

    // Without auto-creation a send to the deleted topic fails, as upstream.
    let broker = EmbeddedBroker::builder()
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    broker.create_topic("DT", 1).await.unwrap();
    send_ok(&conn, "DT", 0, b"x").await;
    let r = call(
        &conn,
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicRequestHeader {
            topic: "DT".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = send(&conn, "DT", 0, b"y").await;
    assert_eq!(r.response_code(), ResponseCode::TOPIC_NOT_EXIST, "{r:?}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn kv_config_round_trips_and_feeds_order_topic_conf() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let naddr = broker.name_server_addr();
    let n = connect(&naddr).await;
    broker.create_topic("OT", 2).await.unwrap();
    let put = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "OT".into(),
        value: "broker-a:2".into(),
        ..Default::default()
    };
    let r = call(&n, RequestCode::PUT_KV_CONFIG, &put).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let get = GetKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "OT".into(),
        ..Default::default()
    };
    let r = call(&n, RequestCode::GET_KV_CONFIG, &get).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let h: GetKvConfigResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.value.as_deref(), Some("broker-a:2"));
    let r = call(
        &n,
        RequestCode::GET_KVLIST_BY_NAMESPACE,
        &GetKvListByNamespaceRequestHeader {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(KvTable::decode(&r.body).unwrap().table["OT"], "broker-a:2");

    // A broker registering over TCP is told the ordered topics, as upstream answers.
    let r = call(
        &n,
        RequestCode::REGISTER_BROKER,
        &RegisterBrokerRequestHeader {
            broker_name: "broker-z".into(),
            broker_addr: "127.0.0.1:1".into(),
            cluster_name: "OtherCluster".into(),
            ha_server_addr: "127.0.0.1:2".into(),
            broker_id: 0,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(KvTable::decode(&r.body).unwrap().table["OT"], "broker-a:2");

    // Upstream's orderMessageEnable is off by default: the route has no orderTopicConf.
    let r = route(&naddr, "OT").await;
    assert!(
        TopicRouteData::decode(&r.body)
            .unwrap()
            .order_topic_conf
            .is_none()
    );
    let r = n
        .request(
            RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG)
                .with_body(&b"orderMessageEnable=true\n"[..]),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = n
        .request(RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG), T)
        .await
        .unwrap();
    assert!(
        std::str::from_utf8(&r.body)
            .unwrap()
            .contains("orderMessageEnable=true\n")
    );
    let r = route(&naddr, "OT").await;
    assert_eq!(
        TopicRouteData::decode(&r.body)
            .unwrap()
            .order_topic_conf
            .as_deref(),
        Some("broker-a:2")
    );

    let r = call(
        &n,
        RequestCode::GET_TOPICS_BY_CLUSTER,
        &GetTopicsByClusterRequestHeader {
            cluster: "DefaultCluster".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        TopicList::decode(&r.body)
            .unwrap()
            .topic_list
            .contains("OT")
    );

    let r = call(
        &n,
        RequestCode::DELETE_KV_CONFIG,
        &DeleteKvConfigRequestHeader {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            key: "OT".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(&n, RequestCode::GET_KV_CONFIG, &get).await;
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    assert_eq!(
        r.remark.as_deref(),
        Some("No config item, Namespace: ORDER_TOPIC_CONFIG Key: OT")
    );
    let r = route(&naddr, "OT").await;
    assert!(
        TopicRouteData::decode(&r.body)
            .unwrap()
            .order_topic_conf
            .is_none()
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn subscription_groups_are_created_read_cloned_and_deleted() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    broker.create_topic("GT", 1).await.unwrap();
    let mut g = SubscriptionGroupConfig::new("SG");
    g.retry_max_times = 3;
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(g.encode().unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let get = GetSubscriptionGroupConfigRequestHeader {
        group: "SG".into(),
        ..Default::default()
    };
    let r = call(&conn, RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG, &get).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(
        SubscriptionGroupConfig::decode(&r.body)
            .unwrap()
            .retry_max_times,
        3
    );
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
            T,
        )
        .await
        .unwrap();
    let all = SubscriptionGroupWrapper::decode(&r.body).unwrap();
    assert!(all.subscription_group_table.contains_key("SG"));

    commit(&conn, "SG", "GT", 0, 4).await;
    let r = call(
        &conn,
        RequestCode::CLONE_GROUP_OFFSET,
        &CloneGroupOffsetRequestHeader {
            src_group: "SG".into(),
            dest_group: "SG2".into(),
            offline: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(broker.consumer_offsets("SG2", "GT").get(&0), Some(&4));

    let r = call(
        &conn,
        RequestCode::DELETE_SUBSCRIPTIONGROUP,
        &DeleteSubscriptionGroupRequestHeader {
            group_name: "SG".into(),
            remove_offset: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = call(&conn, RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG, &get).await;
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("No group in this broker"));
    assert!(broker.consumer_offsets("SG", "GT").is_empty());
    assert_eq!(broker.consumer_offsets("SG2", "GT").get(&0), Some(&4));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn broker_config_reports_updates_and_refuses_black_listed_keys() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let update = |body: &'static [u8]| {
        RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG).with_body(body)
    };
    let r = conn
        .request(update(b"fileReservedTime=12\n"), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let r = conn
        .request(update(b"brokerConfigPath=/tmp/x\n"), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::NO_PERMISSION);
    let r = conn
        .request(RemotingCommand::request(RequestCode::GET_BROKER_CONFIG), T)
        .await
        .unwrap();
    assert!(r.ext_fields.get("version").is_some());
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(text.contains("fileReservedTime=12\n"));
    assert!(text.contains("brokerName=broker-a\n"));
    assert!(!text.contains("brokerConfigPath=/tmp/x"));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sdk_admin_verbs_read_stats_connections_runtime_and_delete() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let baddr = broker.broker_addrs()[0].clone();
    let raw = connect(&baddr).await;
    broker.create_topic("ST", 2).await.unwrap();
    for _ in 0..4 {
        send_ok(&raw, "ST", 0, b"s").await;
    }
    join(&raw, "10.0.0.2@s1", "SGK", "ST").await;
    commit(&raw, "SGK", "ST", 0, 1).await;

    let client = rocketmq_sdk::Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await
        .unwrap();
    let t = client.topic_stats("ST").await.unwrap();
    assert_eq!(t.offset_table.len(), 2);
    assert_eq!(
        t.offset_table[&MessageQueue::new("ST", "broker-a", 0)].max_offset,
        4
    );
    let lag = client.consume_stats("SGK", None).await.unwrap();
    assert_eq!(lag.total_diff(), 3);
    let one = client.consume_stats("SGK", Some("ST")).await.unwrap();
    assert_eq!(one.offset_table.len(), 2);
    let c = client.consumer_connections("SGK").await.unwrap();
    assert_eq!(c.connection_set[0].client_id, "10.0.0.2@s1");
    let info = client.broker_runtime_info(&baddr).await.unwrap();
    assert_eq!(info["msgPutTotalTodayNow"], "4");

    client.delete_group("SGK", None, true).await.unwrap();
    assert!(broker.consumer_offsets("SGK", "ST").is_empty());
    client
        .delete_topic("ST", Some("DefaultCluster"))
        .await
        .unwrap();
    assert!(matches!(
        client.topic_stats("ST").await,
        Err(rocketmq_sdk::Error::NoRoute(_)) | Err(rocketmq_sdk::Error::Broker { .. })
    ));
    client.shutdown().await;
    broker.shutdown().await.unwrap();
}
