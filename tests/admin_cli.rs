//! The `rocketmq-admin` binary against the embedded broker: every verb, and a clear error
//! with a non-zero exit status for every kind of bad argument.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc as StdArc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(20);
const FAST_DELAYS: &str = "10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms";

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `rocketmq-admin` with `args` (no `NAMESRV_ADDR` from the environment).
async fn admin(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_rocketmq-admin"))
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("rocketmq-admin finishes")
        .expect("rocketmq-admin runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `rocketmq-admin --namesrv <ns> args...` and expects success.
async fn ok(ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["--namesrv", ns];
    all.extend_from_slice(args);
    let out = admin(&all).await;
    assert_eq!(out.code, 0, "rocketmq-admin {args:?} failed: {out:?}");
    out
}

/// Runs and expects failure with `code` and `needle` in stderr.
async fn fails(args: &[&str], code: i32, needle: &str) {
    let out = admin(args).await;
    assert_eq!(out.code, code, "rocketmq-admin {args:?}: {out:?}");
    assert!(
        out.stderr.contains(needle),
        "rocketmq-admin {args:?}: stderr should say {needle:?}: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_clearly() {
    // Usage errors (clap): exit 2.
    fails(&[], 2, "Usage").await;
    fails(&["frobnicate"], 2, "unrecognized subcommand").await;
    fails(&["create-topic"], 2, "<TOPIC>").await;
    fails(&["create-topic", "t", "--queues", "0"], 2, "--queues").await;
    fails(
        &["create-topic", "t", "--queues", "many"],
        2,
        "invalid digit",
    )
    .await;
    fails(&["send", "--topic", "t"], 2, "--body").await;
    fails(
        &["send", "--topic", "t", "--body", "x", "--body-file", "f"],
        2,
        "cannot be used with",
    )
    .await;
    fails(
        &["send", "--topic", "t", "--body", "x", "--delay-level", "0"],
        2,
        "--delay-level",
    )
    .await;
    fails(
        &["consume", "--topic", "t", "--from", "middle"],
        2,
        "middle",
    )
    .await;
    fails(&["dlq-resend", "--group", "g"], 2, "--msg-id").await;
    fails(
        &["dlq-resend", "--group", "g", "--all", "--msg-id", "x"],
        2,
        "cannot be used with",
    )
    .await;
    for bad in ["yesterday", "-10x", "2023-02-30", "2023-11-14T22:13:20"] {
        fails(
            &["reset-offset", "--group", "g", "--topic", "t", "--to", bad],
            2,
            "bad time",
        )
        .await;
    }
    fails(&["--timeout", "0", "topics"], 2, "--timeout").await;

    // Runtime errors (typed): exit 1, one line saying what is wrong.
    fails(&["topics"], 1, "no name server: pass --namesrv").await;
    fails(
        &["--namesrv", "localhost", "topics"],
        1,
        "bad name server address",
    )
    .await;
    fails(
        &["--namesrv", "127.0.0.1:0", "topics"],
        1,
        "bad name server address",
    )
    .await;
    // Nothing listens on port 1.
    fails(
        &["--namesrv", "127.0.0.1:1", "--timeout", "1", "topics"],
        1,
        "error",
    )
    .await;
    let broker = EmbeddedBroker::start().await.unwrap();
    let ns = broker.name_server_addr();
    fails(
        &[
            "--namesrv",
            &ns,
            "send",
            "--topic",
            "t",
            "--body-file",
            "/nonexistent/body",
        ],
        1,
        "cannot read /nonexistent/body",
    )
    .await;
    fails(
        &["--namesrv", &ns, "create-topic", "TBW102"],
        1,
        "system topic",
    )
    .await;
    fails(
        &["--namesrv", &ns, "create-topic", "bad topic!"],
        1,
        "error",
    )
    .await;
    fails(
        &["--namesrv", &ns, "query-key", "--topic", "nope", "k"],
        1,
        "no route",
    )
    .await;
    fails(
        &["--namesrv", &ns, "query-id", "not-an-id"],
        1,
        "pass --topic",
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_send_consume_query_and_reset() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let ns = broker.name_server_addr();

    let out = ok(&ns, &["clusters"]).await;
    assert!(out.stdout.contains("cluster DefaultCluster"), "{out:?}");
    assert!(out.stdout.contains("broker broker-a 0="), "{out:?}");

    let out = ok(&ns, &["create-topic", "cli-orders", "--queues", "2"]).await;
    assert!(
        out.stdout
            .contains("created topic cli-orders with 2 queues on broker-a"),
        "{out:?}"
    );
    let out = ok(&ns, &["topics"]).await;
    assert!(out.stdout.lines().any(|l| l == "cli-orders"), "{out:?}");

    let sent = ok(
        &ns,
        &[
            "send",
            "--topic",
            "cli-orders",
            "--tag",
            "created",
            "--key",
            "order-7",
            "--body",
            "order 7 created",
        ],
    )
    .await;
    assert!(sent.stdout.starts_with("sent: status=SendOk"), "{sent:?}");
    let field = |out: &str, name: &str| -> String {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .to_owned()
    };
    let msg_id = field(&sent.stdout, "msgId");
    let offset_id = field(&sent.stdout, "offsetMsgId");
    let stored = broker.messages("cli-orders").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uniq_key(), Some(msg_id.as_str()));
    assert_eq!(stored[0].tags(), Some("created"));

    let out = ok(&ns, &["query-key", "--topic", "cli-orders", "order-7"]).await;
    assert!(out.stdout.contains(&format!("msgId={msg_id}")), "{out:?}");
    assert!(out.stdout.contains("body=\"order 7 created\""), "{out:?}");
    let missing = admin(&[
        "--namesrv",
        &ns,
        "query-key",
        "--topic",
        "cli-orders",
        "order-8",
    ])
    .await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("no message of cli-orders has key \"order-8\""),
        "{missing:?}"
    );

    let out = ok(&ns, &["query-id", "--topic", "cli-orders", &msg_id]).await;
    assert!(out.stdout.contains("keys=order-7"), "{out:?}");
    let out = ok(&ns, &["query-id", &offset_id]).await;
    assert!(out.stdout.contains(&format!("msgId={msg_id}")), "{out:?}");

    let out = ok(
        &ns,
        &[
            "consume",
            "--topic",
            "cli-orders",
            "--group",
            "cli-g",
            "--count",
            "1",
        ],
    )
    .await;
    assert!(out.stdout.contains("body=\"order 7 created\""), "{out:?}");
    assert!(out.stdout.contains("consumed 1 message(s)"), "{out:?}");
    let committed: i64 = broker
        .consumer_offsets("cli-g", "cli-orders")
        .values()
        .sum();
    assert_eq!(committed, 1, "consume commits what it printed");
    // Nothing new: --count 1 is not met within the idle time.
    let out = admin(&[
        "--namesrv",
        &ns,
        "consume",
        "--topic",
        "cli-orders",
        "--group",
        "cli-g",
        "--count",
        "1",
        "--idle",
        "1",
    ])
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("only 0 of 1"), "{out:?}");

    // Rewind the group to before the message: it is consumed again.
    let before = (stored[0].store_timestamp - 1).to_string();
    let out = ok(
        &ns,
        &[
            "reset-offset",
            "--group",
            "cli-g",
            "--topic",
            "cli-orders",
            "--to",
            &before,
        ],
    )
    .await;
    assert!(out.stdout.contains("reset 2 queue(s)"), "{out:?}");
    let out = ok(
        &ns,
        &[
            "consume",
            "--topic",
            "cli-orders",
            "--group",
            "cli-g",
            "--count",
            "1",
        ],
    )
    .await;
    assert!(out.stdout.contains("body=\"order 7 created\""), "{out:?}");
    // Relative times parse too (everything is newer than an hour ago).
    ok(
        &ns,
        &[
            "reset-offset",
            "--group",
            "cli-g",
            "--topic",
            "cli-orders",
            "--to",
            "-1h",
        ],
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_what_arrives_after_it_started_and_moves_no_offset() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let broker = EmbeddedBroker::start().await.unwrap();
    let ns = broker.name_server_addr();
    broker.create_topic("cli-tail", 2).await.unwrap();
    let client = Client::builder().name_server(&ns).build().await.unwrap();
    let producer = client.producer("cli-tail-p").start().await.unwrap();
    producer
        .send(Message::new("cli-tail", "old news"))
        .await
        .unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rocketmq-admin"))
        .args([
            "--namesrv",
            &ns,
            "tail",
            "--topic",
            "cli-tail",
            "--count",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Send only once it says it is positioned at the end.
    let first = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("tail says it started")
        .unwrap()
        .unwrap_or_default();
    assert!(
        first.starts_with("tailing cli-tail (2 queue(s)) from the end"),
        "{first}"
    );
    for body in ["fresh 1", "fresh 2"] {
        producer.send(Message::new("cli-tail", body)).await.unwrap();
    }
    let mut out = Vec::new();
    while let Ok(Some(l)) = tokio::time::timeout(T, lines.next_line()).await.unwrap() {
        out.push(l);
    }
    let status = tokio::time::timeout(T, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{out:?}");
    let text = out.join("\n");
    assert!(
        text.contains("body=\"fresh 1\"") && text.contains("body=\"fresh 2\""),
        "{text}"
    );
    assert!(
        !text.contains("old news"),
        "only what arrived after it started: {text}"
    );
    assert!(text.contains("tailed 2 message(s) of cli-tail"), "{text}");
    let group = first
        .split_whitespace()
        .skip_while(|w| *w != "group")
        .nth(1)
        .expect("the group is named")
        .trim_end_matches(';');
    assert!(group.starts_with("rocketmq-admin-tail-"), "{first}");
    assert!(
        broker.consumer_offsets(group, "cli-tail").is_empty(),
        "the tail's group committed nothing"
    );
    // A duration bound ends it too, with nothing to print.
    let out = ok(&ns, &["tail", "--topic", "cli-tail", "--duration", "1"]).await;
    assert!(out.stdout.contains("tailed 0 message(s)"), "{out:?}");
    fails(
        &[
            "--namesrv",
            &ns,
            "tail",
            "--topic",
            "cli-tail",
            "--duration",
            "0",
        ],
        2,
        "--duration",
    )
    .await;
    fails(
        &["--namesrv", &ns, "tail", "--topic", "no-such-topic"],
        1,
        "no route",
    )
    .await;
    client.shutdown().await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_resent() {
    let broker = EmbeddedBroker::builder()
        .delay_levels(FAST_DELAYS)
        .start()
        .await
        .unwrap();
    let ns = broker.name_server_addr();
    broker.create_topic("cli-pay", 1).await.unwrap();
    let client = Client::builder()
        .name_server(&ns)
        .heartbeat_interval(Duration::from_millis(300))
        .build()
        .await
        .unwrap();

    let out = ok(&ns, &["dlq-list", "--group", "cli-billing"]).await;
    assert!(
        out.stdout.contains("0 dead letter(s) in %DLQ%cli-billing"),
        "{out:?}"
    );

    let failing = Arc::new(AtomicBool::new(true));
    let seen: StdArc<Mutex<Vec<(String, String, i32)>>> = StdArc::default();
    let (f, s) = (failing.clone(), seen.clone());
    let consumer = client
        .push_consumer("cli-billing")
        .subscribe("cli-pay", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(1)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let (f, s) = (f.clone(), s.clone());
            async move {
                for m in &msgs {
                    s.lock().unwrap().push((
                        m.topic.clone(),
                        String::from_utf8_lossy(&m.body).into_owned(),
                        m.reconsume_times,
                    ));
                }
                if f.load(Ordering::SeqCst) {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .await
        .unwrap();
    let producer = client.producer("cli-pay-p").start().await.unwrap();
    for body in ["bad payment", "worse payment"] {
        let mut m = Message::new("cli-pay", body);
        m.set_keys([body.replace(' ', "-")]);
        producer.send(m).await.unwrap();
    }
    assert!(
        wait_until(T, || async {
            broker
                .dead_letters("cli-billing")
                .map(|d| d.len() == 2)
                .unwrap_or(false)
        })
        .await
    );

    let out = ok(&ns, &["dlq-list", "--group", "cli-billing"]).await;
    assert!(
        out.stdout.contains("2 dead letter(s) in %DLQ%cli-billing"),
        "{out:?}"
    );
    assert!(out.stdout.contains("originalTopic=cli-pay"), "{out:?}");
    let first_id = out
        .stdout
        .lines()
        .find(|l| l.contains("body=\"bad payment\""))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("msgId=")))
        .expect("the dead letter is listed")
        .to_owned();
    // Listing does not consume: still two.
    assert_eq!(broker.dead_letters("cli-billing").unwrap().len(), 2);

    let bad = admin(&[
        "--namesrv",
        &ns,
        "dlq-resend",
        "--group",
        "cli-billing",
        "--msg-id",
        "NOPE",
    ])
    .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("no dead letter \"NOPE\""), "{bad:?}");

    // The handler is fixed; re-send one dead letter: the group consumes it, on its topic.
    failing.store(false, Ordering::SeqCst);
    let before = seen.lock().unwrap().len();
    let out = ok(
        &ns,
        &[
            "dlq-resend",
            "--group",
            "cli-billing",
            "--msg-id",
            &first_id,
        ],
    )
    .await;
    assert!(
        out.stdout
            .contains("re-sent 1 dead letter(s) to group cli-billing"),
        "{out:?}"
    );
    assert!(
        wait_until(T, || async {
            seen.lock().unwrap()[before..]
                .iter()
                .any(|(_, b, _)| b == "bad payment")
        })
        .await,
        "the re-sent dead letter is consumed again"
    );
    let again: Vec<_> = seen.lock().unwrap()[before..].to_vec();
    assert!(
        again
            .iter()
            .all(|(t, b, _)| t == "cli-pay" && b == "bad payment"),
        "only the chosen one, under its original topic: {again:?}"
    );

    let out = ok(&ns, &["dlq-resend", "--group", "cli-billing", "--all"]).await;
    assert!(out.stdout.contains("re-sent 2 dead letter(s)"), "{out:?}");
    assert!(
        wait_until(T, || async {
            seen.lock().unwrap()[before..]
                .iter()
                .any(|(_, b, _)| b == "worse payment")
        })
        .await
    );
    consumer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await.unwrap();
}

/// The admin verbs mqadmin users reach for: progress (lag), connections, broker status,
/// group create/update/delete, topic delete — each checked against the broker's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_connections_status_groups_and_topic_deletion() {
    use rocketmq_sdk::protocol::body::{JsonBody, SubscriptionGroupConfig};
    use rocketmq_sdk::protocol::header::GetSubscriptionGroupConfigRequestHeader;
    use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
    use rocketmq_sdk::remoting::{Connection, ConnectionOptions};

    let broker = EmbeddedBroker::start().await.unwrap();
    let ns = broker.name_server_addr();
    broker.create_topic("cli-lag", 2).await.unwrap();
    let client = Client::builder().name_server(&ns).build().await.unwrap();
    let producer = client.producer("cli-lag-p").start().await.unwrap();
    for i in 0..4 {
        producer
            .send(Message::new("cli-lag", format!("m{i}")))
            .await
            .unwrap();
    }
    let seen = StdArc::new(Mutex::new(0usize));
    let s = seen.clone();
    let consumer = client
        .push_consumer("cli-lag-g")
        .subscribe("cli-lag", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                *s.lock().unwrap() += msgs.len();
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    assert!(wait_until(T, || async { *seen.lock().unwrap() == 4 }).await);
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("cli-lag-g", "cli-lag")
                .values()
                .sum::<i64>()
                == 4
        })
        .await
    );
    let out = ok(&ns, &["consumer-connections", "--group", "cli-lag-g"]).await;
    assert!(out.stdout.contains("1 connection(s)"), "{out:?}");
    assert!(out.stdout.contains("subscribes cli-lag"), "{out:?}");
    consumer.shutdown().await;
    // Two more arrive while nobody consumes: the lag is 2.
    for i in 4..6 {
        producer
            .send(Message::new("cli-lag", format!("m{i}")))
            .await
            .unwrap();
    }
    let out = ok(&ns, &["consumer-progress", "--group", "cli-lag-g"]).await;
    // Two queues of the topic and the group's retry queue, as Java lists them.
    assert!(out.stdout.contains("3 queue(s), total lag 2"), "{out:?}");
    assert!(out.stdout.contains("cli-lag broker-a 0 3 2 1"), "{out:?}");

    let out = ok(&ns, &["broker-status"]).await;
    assert!(out.stdout.contains("msgPutTotalTodayNow:"), "{out:?}");

    let out = ok(
        &ns,
        &[
            "update-group",
            "cli-new",
            "--retry-max-times",
            "3",
            "--broadcast",
            "false",
        ],
    )
    .await;
    assert!(out.stdout.contains("updated group cli-new"), "{out:?}");
    let conn = Connection::connect(&broker.broker(0).addr(), ConnectionOptions::default())
        .await
        .unwrap();
    let get = || {
        RemotingCommand::request(RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG).with_header(
            &GetSubscriptionGroupConfigRequestHeader {
                group: "cli-new".into(),
                ..Default::default()
            },
        )
    };
    let r = conn.request(get(), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let config = SubscriptionGroupConfig::decode(&r.body).unwrap();
    assert_eq!(
        (config.retry_max_times, config.consume_broadcast_enable),
        (3, false)
    );
    ok(&ns, &["delete-group", "cli-new", "--remove-offsets"]).await;
    let r = conn.request(get(), T).await.unwrap();
    assert_ne!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");

    ok(&ns, &["delete-topic", "cli-lag"]).await;
    let out = ok(&ns, &["topics"]).await;
    assert!(!out.stdout.lines().any(|l| l == "cli-lag"), "{out:?}");
    client.shutdown().await;
}
