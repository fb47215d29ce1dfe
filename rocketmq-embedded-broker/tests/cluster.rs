//! The name server, several brokers under it, and the harness life cycle: routes and their
//! JSON flavours, registration over TCP, many connections, garbage, restarts and crashes,
//! the standalone binary.

mod broker_support;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};

use broker_support::*;
use rocketmq_embedded_broker::{BrokerError, EmbeddedBroker, FlushMode};
use rocketmq_sdk::protocol::body::register::{DataVersion, TopicConfig};
use rocketmq_sdk::protocol::body::{
    ClusterInfo, JsonBody, RegisterBrokerBody, TopicConfigSerializeWrapper, TopicRouteData,
};
use rocketmq_sdk::protocol::header::{
    GetRouteInfoRequestHeader, RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rocketmq_sdk::protocol::message::hash::crc32_masked;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn route_request(topic: &str, version: i16, standard_only: Option<bool>) -> RemotingCommand {
    let mut r = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            accept_standard_json_only: standard_only,
            ..Default::default()
        },
    );
    r.version = version;
    r
}

async fn route(ns: &Connection, topic: &str) -> Option<TopicRouteData> {
    let r = ns
        .request(route_request(topic, 479, None), T)
        .await
        .unwrap();
    match r.response_code() {
        ResponseCode::SUCCESS => Some(TopicRouteData::decode(&r.body).unwrap()),
        ResponseCode::TOPIC_NOT_EXIST => None,
        other => panic!("unexpected {other:?}: {r:?}"),
    }
}

async fn cluster_info(ns: &Connection) -> ClusterInfo {
    let r = ns
        .request(
            RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    ClusterInfo::decode(&r.body).unwrap()
}

#[tokio::test]
async fn two_brokers_under_one_name_server_share_a_topic() {
    let broker = EmbeddedBroker::builder().brokers(2).start().await.unwrap();
    broker.create_topic("T", 4).await.unwrap();
    let ns = connect(&broker.name_server_addr()).await;
    let r = route(&ns, "T").await.unwrap();
    let mut names: Vec<_> = r
        .broker_datas
        .iter()
        .map(|b| b.broker_name.clone())
        .collect();
    names.sort();
    assert_eq!(names, vec!["broker-a", "broker-b"]);
    let addrs: Vec<String> = ["broker-a", "broker-b"]
        .iter()
        .map(|n| {
            r.broker_datas
                .iter()
                .find(|b| b.broker_name == *n)
                .unwrap()
                .master_addr()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(addrs, broker.broker_addrs());
    assert!(
        r.queue_datas
            .iter()
            .all(|q| q.read_queue_nums == 4 && q.perm == 6)
    );
    assert_eq!(r.queue_datas.len(), 2);

    let info = cluster_info(&ns).await;
    assert_eq!(info.cluster_addr_table["DefaultCluster"].len(), 2);
    assert_eq!(info.broker_addr_table.len(), 2);

    for addr in broker.broker_addrs() {
        let c = connect(&addr).await;
        send_ok(&c, "T", 0, addr.as_bytes()).await;
    }
    assert_eq!(broker.messages("T").unwrap().len(), 2);
    assert_eq!(broker.broker(1).messages("T").unwrap().len(), 1);

    // A broker that stops leaves the routes; it comes back when restarted.
    broker.broker(1).shutdown().await.unwrap();
    assert_eq!(route(&ns, "T").await.unwrap().broker_datas.len(), 1);
    broker.restart_broker(1).await.unwrap();
    assert_eq!(route(&ns, "T").await.unwrap().broker_datas.len(), 2);
}

#[tokio::test]
async fn route_json_is_standard_or_fastjson_by_request_version() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 2).await.unwrap();
    let ns = connect(&broker.name_server_addr()).await;
    let text = |r: &RemotingCommand| String::from_utf8(r.body.to_vec()).unwrap();

    let old = ns.request(route_request("T", 399, None), T).await.unwrap();
    assert!(
        text(&old).contains(r#""brokerAddrs":{0:""#),
        "{}",
        text(&old)
    );
    let new = ns.request(route_request("T", 401, None), T).await.unwrap();
    assert!(
        text(&new).contains(r#""brokerAddrs":{"0":""#),
        "{}",
        text(&new)
    );
    let asked = ns
        .request(route_request("T", 399, Some(true)), T)
        .await
        .unwrap();
    assert!(text(&asked).contains(r#""brokerAddrs":{"0":""#));
    assert_eq!(
        TopicRouteData::decode(&old.body).unwrap(),
        TopicRouteData::decode(&new.body).unwrap()
    );

    let missing = ns
        .request(route_request("Nope", 479, None), T)
        .await
        .unwrap();
    assert_eq!(missing.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert!(missing.remark.unwrap().contains("Nope"));

    let list = ns
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
            T,
        )
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let topics = list["topicList"].as_array().unwrap();
    assert!(topics.iter().any(|t| t == "T") && topics.iter().any(|t| t == "TBW102"));
}

#[tokio::test]
async fn auto_creation_publishes_tbw102_and_new_topics() {
    let broker = EmbeddedBroker::builder().brokers(2).start().await.unwrap();
    let ns = connect(&broker.name_server_addr()).await;
    let template = route(&ns, "TBW102")
        .await
        .expect("TBW102 is routed on every master");
    assert_eq!(template.broker_datas.len(), 2);
    assert!(
        template
            .queue_datas
            .iter()
            .all(|q| q.perm == 7 && q.write_queue_nums == 8)
    );
    assert!(route(&ns, "Fresh").await.is_none());

    let c = connect(&broker.broker_addrs()[1]).await;
    send_ok(&c, "Fresh", 0, b"x").await;
    let fresh = route(&ns, "Fresh").await.unwrap();
    assert_eq!(fresh.queue_datas.len(), 1, "created where it was sent");
    assert_eq!(fresh.queue_datas[0].broker_name, "broker-b");
    assert_eq!(
        fresh.queue_datas[0].write_queue_nums, 4,
        "min(client 4, template 8)"
    );

    let strict = EmbeddedBroker::builder()
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let ns = connect(&strict.name_server_addr()).await;
    assert!(route(&ns, "TBW102").await.is_none());
}

fn registration(
    name: &str,
    addr: &str,
    topics: &[&str],
    compressed: bool,
    counter: i64,
) -> RemotingCommand {
    let body = RegisterBrokerBody {
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter,
                state_version: 0,
                timestamp: 1_700_000_000_000,
            },
            topic_config_table: topics
                .iter()
                .map(|t| {
                    (
                        (*t).to_owned(),
                        TopicConfig {
                            read_queue_nums: 2,
                            write_queue_nums: 2,
                            ..TopicConfig::new(*t)
                        },
                    )
                })
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    let bytes = body.to_bytes(compressed).unwrap();
    RemotingCommand::request(RequestCode::REGISTER_BROKER)
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: name.into(),
            broker_addr: addr.into(),
            cluster_name: "Remote".into(),
            ha_server_addr: addr.into(),
            broker_id: 0,
            compressed,
            body_crc32: crc32_masked(&bytes) as i32,
            ..Default::default()
        })
        .with_body(bytes)
}

#[tokio::test]
async fn brokers_elsewhere_register_over_tcp() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let ns = connect(&broker.name_server_addr()).await;
    let r = ns
        .request(
            registration("remote-a", "10.0.0.1:10911", &["R1", "R2"], false, 1),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = ns
        .request(
            registration("remote-b", "10.0.0.2:10911", &["R1"], true, 1),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        r.response_code(),
        ResponseCode::SUCCESS,
        "compressed body: {r:?}"
    );
    let r1 = route(&ns, "R1").await.unwrap();
    assert_eq!(r1.broker_datas.len(), 2);
    assert_eq!(
        route(&ns, "R2").await.unwrap().broker_datas[0].master_addr(),
        Some("10.0.0.1:10911")
    );
    assert!(
        cluster_info(&ns)
            .await
            .cluster_addr_table
            .contains_key("Remote")
    );

    let mut corrupt = registration("remote-c", "10.0.0.3:10911", &["R3"], false, 1);
    corrupt.ext_fields.insert("bodyCrc32", "12345");
    let r = ns.request(corrupt, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("crc32 not match"));

    let r = ns
        .request(
            RemotingCommand::request(RequestCode::UNREGISTER_BROKER).with_header(
                &UnregisterBrokerRequestHeader {
                    broker_name: "remote-a".into(),
                    broker_addr: "10.0.0.1:10911".into(),
                    cluster_name: "Remote".into(),
                    broker_id: 0,
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert!(route(&ns, "R2").await.is_none());

    // A broker whose registration connection closes is dropped.
    let other = connect(&broker.name_server_addr()).await;
    other
        .request(
            registration("remote-d", "10.0.0.4:10911", &["R4"], false, 1),
            T,
        )
        .await
        .unwrap();
    assert!(route(&ns, "R4").await.is_some());
    other.close();
    assert!(
        wait_until_async(|| {
            let ns = ns.clone();
            async move { route(&ns, "R4").await.is_none() }
        })
        .await
    );
}

#[tokio::test]
async fn two_hundred_concurrent_connections_are_served() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 8).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let c = connect(&addr).await;
            heartbeat(&c, &format!("client-{i}"), "g", "T", "*").await;
            let h = send_ok(&c, "T", i % 8, format!("m{i}").as_bytes()).await;
            assert_eq!(h.queue_id, i % 8);
            c
        }));
    }
    let mut conns = Vec::new();
    for t in tasks {
        conns.push(t.await.unwrap());
    }
    assert_eq!(broker.messages("T").unwrap().len(), 200);
    let r = consumer_list_len(&conns[0], "g").await;
    assert_eq!(r, 200);
}

async fn consumer_list_len(conn: &Connection, group: &str) -> usize {
    use rocketmq_sdk::protocol::body::ConsumerListByGroupResponseBody;
    use rocketmq_sdk::protocol::header::GetConsumerListByGroupRequestHeader;
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP).with_header(
                &GetConsumerListByGroupRequestHeader {
                    consumer_group: group.into(),
                    ..Default::default()
                },
            ),
            T,
        )
        .await
        .unwrap();
    ConsumerListByGroupResponseBody::decode(&r.body)
        .unwrap()
        .consumer_id_list
        .len()
}

#[tokio::test]
async fn garbage_closes_only_the_offending_connection() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let good = connect(&addr).await;
    let worker = {
        let good = good.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                let h = send_ok(&good, "T", 0, format!("m{i}").as_bytes()).await;
                assert_eq!(h.queue_offset, i);
            }
        })
    };
    let mut bad = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // A length that lies (larger than the frame limit), then noise.
    bad.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, b'x'])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, bad.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the server closed the garbage connection");
    worker.await.unwrap();
    assert!(!good.is_closed());
    assert_eq!(broker.messages("T").unwrap().len(), 50);
}

fn offset_update(topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "g".into(),
            topic: topic.into(),
            queue_id,
            commit_offset: offset,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_directory_store_keeps_topics_messages_and_offsets_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = EmbeddedBroker::builder()
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    broker.create_topic("Kept", 3).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let c = connect(&addr).await;
    heartbeat(&c, "c1", "g", "Kept", "*").await;
    for i in 0..5 {
        send_ok(&c, "Kept", i % 3, format!("m{i}").as_bytes()).await;
    }
    c.request(offset_update("Kept", 1, 2), T).await.unwrap();

    broker.restart_broker(0).await.unwrap();
    assert_eq!(broker.broker_addrs()[0], addr, "same port after a restart");
    assert!(
        c.is_closed() || wait_until(|| c.is_closed()).await,
        "old connections were closed"
    );
    assert_eq!(broker.messages("Kept").unwrap().len(), 5);
    assert_eq!(
        broker.consumer_offsets("g", "Kept"),
        BTreeMap::from([(1, 2)])
    );
    let c = connect(&addr).await;
    let h = send_ok(&c, "Kept", 2, b"after").await;
    assert_eq!(h.queue_offset, 1, "queue 2 had one message before");
    broker.shutdown().await.unwrap();

    // A new harness on the same directory recovers everything.
    let again = EmbeddedBroker::builder()
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    let ns = connect(&again.name_server_addr()).await;
    let kept = route(&ns, "Kept").await.expect("topic config survived");
    assert_eq!(kept.queue_datas[0].read_queue_nums, 3);
    assert_eq!(again.messages("Kept").unwrap().len(), 6);
    assert_eq!(
        again.consumer_offsets("g", "Kept"),
        BTreeMap::from([(1, 2)])
    );
}

async fn crash_and_count(flush: FlushMode) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize) {
    let broker = EmbeddedBroker::builder()
        .flush(flush)
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 1).await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let c = connect(&addr).await;
    let mut sent = Vec::new();
    let mut offsets = Vec::new();
    for i in 0..40 {
        let body = format!("message-{i:03}").into_bytes();
        let r = send(&c, "T", 0, &body).await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS);
        let h: rocketmq_sdk::protocol::header::SendMessageResponseHeader =
            r.decode_header().unwrap();
        offsets.push(
            rocketmq_sdk::protocol::message::id::decode_offset_msg_id(&h.msg_id)
                .unwrap()
                .commit_log_offset,
        );
        sent.push(body);
    }
    let flushed = broker
        .broker(0)
        .store()
        .unwrap()
        .commit_log_flushed_offset();
    let durable = offsets.iter().filter(|o| **o < flushed).count();
    broker.crash_broker(0).await.unwrap();
    assert!(
        wait_until(|| c.is_closed()).await,
        "a crash drops connections"
    );
    assert!(!broker.broker(0).is_running());
    assert!(matches!(broker.messages("T"), Ok(v) if v.is_empty()));
    broker.restart_broker(0).await.unwrap();
    let after: Vec<Vec<u8>> = broker
        .messages("T")
        .unwrap()
        .into_iter()
        .map(|m| m.message.body.to_vec())
        .collect();
    (sent, after, durable)
}

#[tokio::test]
async fn a_crash_under_async_flush_loses_at_most_the_unflushed_tail() {
    let (sent, after, durable) = crash_and_count(FlushMode::Async).await;
    assert!(
        after.len() >= durable,
        "{} survived, {durable} were flushed",
        after.len()
    );
    assert_eq!(after[..], sent[..after.len()], "what survives is a prefix");
}

#[tokio::test]
async fn a_crash_under_sync_flush_loses_nothing_acknowledged() {
    let (sent, after, durable) = crash_and_count(FlushMode::Sync).await;
    assert_eq!(durable, sent.len());
    assert_eq!(after, sent);
}

#[tokio::test]
async fn builder_errors_name_the_setting() {
    let e = EmbeddedBroker::builder()
        .brokers(0)
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::Config {
                field: "brokers",
                ..
            }
        ),
        "{e}"
    );
    let e = EmbeddedBroker::builder()
        .delay_levels("1 parsec")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::Config {
                field: "delay_levels",
                ..
            }
        ),
        "{e}"
    );
    let broker = EmbeddedBroker::start().await.unwrap();
    assert!(matches!(
        broker.try_broker(3),
        Err(BrokerError::NoSuchBroker { index: 3, count: 1 })
    ));
    assert!(broker.create_topic("bad name", 1).await.is_err());
}

#[tokio::test]
async fn dropping_the_harness_stops_serving() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let addr = broker.broker_addrs()[0].clone();
    let ns = broker.name_server_addr();
    drop(broker);
    for a in [addr, ns] {
        let refused = wait_until_async(|| {
            let a = a.clone();
            async move { tokio::net::TcpStream::connect(&a).await.is_err() }
        })
        .await;
        assert!(refused, "{a} still accepts connections");
    }
}

/// Starts the standalone binary on loopback ephemeral ports with `extra` arguments, stdout
/// piped (it prints its addresses there).
fn standalone(extra: &[&std::ffi::OsStr]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rocketmq-embedded-broker"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--broker-port",
            "0",
            "--log",
            "warn",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Sends `signal` (a `kill` flag) to the child and asserts that it exits successfully.
async fn signal_and_wait(mut child: std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful exit on kill {signal}: {exit:?}");
}

#[tokio::test]
async fn the_standalone_binary_prints_its_addresses_and_serves() {
    let mut child = standalone(&["--brokers".as_ref(), "2".as_ref()]);
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut ns_addr = None;
    let mut brokers = 0;
    let mut loopback = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("name server") {
            ns_addr = Some(rest.trim().to_owned());
        }
        if line.starts_with("broker ") {
            brokers += 1;
        }
        if line.contains("loopback") {
            loopback = true;
        }
        if line.starts_with("clients:") {
            break;
        }
    }
    assert_eq!(brokers, 2);
    assert!(loopback, "it says it binds loopback");
    let ns = connect(&ns_addr.unwrap()).await;
    let info = cluster_info(&ns).await;
    assert_eq!(info.broker_addr_table.len(), 2);
    signal_and_wait(child, "-INT").await;
}

fn has_abort_marker(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            has_abort_marker(&p)
        } else {
            p.file_name().is_some_and(|n| n == "abort")
        }
    })
}

/// `docker stop` and systemd send SIGTERM: the binary must stop as gracefully as on Ctrl-C,
/// with every acknowledged message stored and no crash marker for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_is_a_clean_shutdown_that_keeps_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = standalone(&["--store".as_ref(), dir.path().as_os_str()]);
    let stdout = child.stdout.take().unwrap();
    let mut broker_addr = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("broker ") {
            broker_addr = rest.split_whitespace().nth(1).map(str::to_owned);
        }
        if line.starts_with("clients:") {
            break;
        }
    }
    let broker_addr = broker_addr.expect("the binary prints its broker address");
    let topic = "sigterm-under-load";
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(i32, i64, Vec<u8>)>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for queue_id in 0..4 {
        let conn = connect(&broker_addr).await;
        let acked = acked.clone();
        senders.spawn(async move {
            for i in 0u32.. {
                let body = format!("q{queue_id}-m{i}").into_bytes();
                let req = send_request(topic, queue_id, &body, None);
                // The connection closes at shutdown: every send before that is answered.
                let Ok(r) = conn.request(req, T).await else {
                    break;
                };
                if r.response_code() != ResponseCode::SUCCESS {
                    break;
                }
                let h: rocketmq_sdk::protocol::header::SendMessageResponseHeader =
                    r.decode_header().unwrap();
                acked.lock().unwrap().push((queue_id, h.queue_offset, body));
            }
        });
    }
    let enough = wait_until(|| acked.lock().unwrap().len() >= 400).await;
    assert!(enough, "the broker acknowledged sends");
    signal_and_wait(child, "-TERM").await;
    while senders.join_next().await.is_some() {}
    assert!(
        !has_abort_marker(dir.path()),
        "a SIGTERM stop leaves no crash marker, so the next start is a normal one"
    );

    let check = EmbeddedBroker::builder()
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    let stored: BTreeMap<(i32, i64), Vec<u8>> = check
        .messages(topic)
        .unwrap()
        .into_iter()
        .map(|m| ((m.queue_id, m.queue_offset), m.message.body.to_vec()))
        .collect();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);
    let mut lost = 0;
    for (q, off, body) in &acked {
        if stored.get(&(*q, *off)) != Some(body) {
            lost += 1;
        }
    }
    assert_eq!(
        lost,
        0,
        "{lost} of {} acknowledged messages missing",
        acked.len()
    );
}
