//! `rocketmq-admin`: day-to-day RocketMQ administration over the classic remoting protocol,
//! against any name server (Apache RocketMQ 4.x/5.x or the embedded broker).
//!
//! ```sh
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 topics
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 create-topic orders --queues 4
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 send --topic orders --key o-1 --body hello
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 consume --topic orders --count 1
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 tail --topic orders
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 query-key --topic orders o-1
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 dlq-list --group billing
//! cargo run --bin rocketmq-admin -- --namesrv 127.0.0.1:9876 reset-offset --group billing --topic orders --to -10m
//! ```
//!
//! The name server comes from `--namesrv` (repeatable) or `NAMESRV_ADDR` (`;`-separated,
//! as upstream's tools read it). Exit status: 0 done, 1 the operation failed, 2 bad
//! arguments.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use rocketmq_sdk::consumer::ConsumeFrom;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, Error as SdkError};

/// RocketMQ administration: topics, sends, consumption, lookups, dead letters, offsets.
#[derive(Debug, Parser)]
#[command(name = "rocketmq-admin", version)]
struct Cli {
    /// Name server `host:port`; repeat for several. Default: `NAMESRV_ADDR`.
    #[arg(long, global = true, value_name = "ADDR")]
    namesrv: Vec<String>,
    /// Timeout of each request, in seconds.
    #[arg(long, global = true, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
    /// ACL 1.0 access key, for clusters with ACL on (with `--secret-key`). Default:
    /// `ROCKETMQ_ACCESS_KEY`.
    #[arg(
        long,
        global = true,
        env = "ROCKETMQ_ACCESS_KEY",
        requires = "secret_key"
    )]
    access_key: Option<String>,
    /// ACL 1.0 secret key (with `--access-key`). Default: `ROCKETMQ_SECRET_KEY`.
    #[arg(
        long,
        global = true,
        env = "ROCKETMQ_SECRET_KEY",
        requires = "access_key",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the clusters and their brokers.
    Clusters,
    /// List every topic the name server knows (system topics included).
    Topics,
    /// Create (or update) a topic on every master broker of a cluster.
    CreateTopic {
        /// Topic name.
        topic: String,
        /// Read and write queues per broker.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=1024))]
        queues: i32,
        /// Only the brokers of this cluster (default: every cluster).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Send one message and print its receipt.
    Send {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Tag.
        #[arg(long)]
        tag: Option<String>,
        /// Business key (repeatable): what `query-key` finds it by.
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The body, as text.
        #[arg(
            long,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        /// The body, read from a file.
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
        /// Delay level (1 = the broker's first level).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..=64))]
        delay_level: Option<i32>,
        /// Producer group.
        #[arg(long, default_value = "rocketmq-admin-producer")]
        group: String,
    },
    /// Consume messages of a topic as a group (committing what was printed).
    Consume {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Consumer group.
        #[arg(long, default_value = "rocketmq-admin-consumer")]
        group: String,
        /// Tag expression, e.g. `created || paid`.
        #[arg(long, default_value = "*")]
        tags: String,
        /// Where a group without a committed offset starts.
        #[arg(long, value_enum, default_value_t = From::First)]
        from: From,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds without a message (tail: a large value).
        #[arg(long, default_value_t = 3)]
        idle: u64,
    },
    /// Follow a topic from its end, printing messages as they arrive, without moving any
    /// group's offsets. Stops after `--count` messages, `--duration` seconds, Ctrl-C or
    /// SIGTERM; fails (non-zero exit) when the topic's queues cannot be pulled.
    Tail {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        duration: Option<u64>,
    },
    /// A consumer group's progress: per queue the broker's and the group's offsets and
    /// the lag (mqadmin `consumerProgress`).
    ConsumerProgress {
        /// Consumer group.
        #[arg(long)]
        group: String,
        /// Only this topic (default: every topic the group has offsets for).
        #[arg(long)]
        topic: Option<String>,
    },
    /// The online clients of a consumer group (mqadmin `consumerConnection`).
    ConsumerConnections {
        /// Consumer group.
        #[arg(long)]
        group: String,
    },
    /// A broker's runtime figures, `key: value` (mqadmin `brokerStatus`); every master
    /// when `--broker` is left out.
    BrokerStatus {
        /// Broker address `host:port`.
        #[arg(long, value_name = "ADDR")]
        broker: Option<String>,
    },
    /// Delete a topic from every master of the cluster and from the name servers (mqadmin
    /// `deleteTopic`); its stored messages stay in the commit log until retention.
    DeleteTopic {
        /// Topic.
        topic: String,
        /// Only this cluster (default: every cluster).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Create or update a subscription group on every master (mqadmin `updateSubGroup`).
    UpdateGroup {
        /// Consumer group.
        group: String,
        /// Retries before a message is dead-lettered (`retryMaxTimes`).
        #[arg(long, default_value_t = 16)]
        retry_max_times: i32,
        /// Whether the group may consume at all (`consumeEnable`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        consume_enable: bool,
        /// Whether broadcasting consumption is allowed (`consumeBroadcastEnable`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        broadcast: bool,
        /// Only this cluster (default: every cluster).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Delete a subscription group (and its offsets with `--remove-offsets`) on every
    /// master (mqadmin `deleteSubGroup`).
    DeleteGroup {
        /// Consumer group.
        group: String,
        /// Also delete the group's consumer offsets.
        #[arg(long)]
        remove_offsets: bool,
        /// Only this cluster (default: every cluster).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Find the messages of a topic by business key (`KEYS`).
    QueryKey {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// The key.
        key: String,
        /// At most this many per broker.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(i32).range(1..=1024))]
        max: i32,
    },
    /// Find a message by id: the client id (`UNIQ_KEY`, needs `--topic`) or the offset
    /// msgId (store host + commit-log offset).
    QueryId {
        /// The id.
        id: String,
        /// Topic, to look the id up as a client id.
        #[arg(long)]
        topic: Option<String>,
    },
    /// List the dead letters of a consumer group (`%DLQ%group`), without consuming them.
    DlqList {
        /// Consumer group.
        #[arg(long)]
        group: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Send dead letters of a group back to it (through `%RETRY%group`).
    DlqResend {
        /// Consumer group.
        #[arg(long)]
        group: String,
        /// Only these messages (msg id as `dlq-list` prints it); repeatable.
        #[arg(
            long = "msg-id",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        msg_ids: Vec<String>,
        /// Every dead letter of the group.
        #[arg(long)]
        all: bool,
    },
    /// Move a group's offsets on a topic to the first message stored at or after a time.
    ResetOffset {
        /// Consumer group.
        #[arg(long)]
        group: String,
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Epoch milliseconds, `now`, a past offset like `-10m` / `now-2h` (units ms, s,
        /// m, h, d), or UTC date-time `2026-01-31T12:00:00Z` / date `2026-01-31`.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = parse_time_arg)]
        to: i64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum From {
    /// The oldest stored message.
    First,
    /// Only messages sent from now on.
    Last,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("no name server: pass --namesrv HOST:PORT or set NAMESRV_ADDR")]
    NoNameServer,
    #[error("bad name server address {0:?}: expected HOST:PORT")]
    BadNameServer(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Sdk(#[from] SdkError),
    #[error("cannot watch for SIGINT/SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// A time argument that could not be understood.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad time {input:?}: {reason} (use epoch ms, `now`, `-10m`, `now-2h`, `2026-01-31T12:00:00Z` or `2026-01-31`)"
)]
struct TimeError {
    input: String,
    reason: &'static str,
}

fn parse_time_arg(s: &str) -> Result<i64, TimeError> {
    parse_time(s, rocketmq_sdk::protocol::message::id::now_ms())
}

/// Parses a point in time into epoch milliseconds, relative forms against `now_ms`.
fn parse_time(input: &str, now_ms: i64) -> Result<i64, TimeError> {
    let err = |reason| TimeError {
        input: input.to_owned(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s == "now" {
        return Ok(now_ms);
    }
    if let Some(rel) = s.strip_prefix("now-").or_else(|| s.strip_prefix('-')) {
        return Ok(now_ms - parse_duration_ms(rel).ok_or_else(|| err("bad duration"))?);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| err("number too large"));
    }
    parse_utc(s).ok_or_else(|| err("not a time"))
}

/// `15m`, `2h`, `500ms`, `30s`, `1d` in milliseconds.
fn parse_duration_ms(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(per)
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)`.
fn parse_utc(s: &str) -> Option<i64> {
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=days_in(y, mo)).contains(&da) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, da) * 86_400_000;
    if let Some(t) = time {
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else {
            let at = t.rfind(['+', '-'])?;
            let (c, off) = t.split_at(at);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            let (oh, om) = (num(oh)?, num(om)?);
            if oh > 23 || om > 59 {
                return None;
            }
            (c, sign * (oh * 3_600_000 + om * 60_000))
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((h, f)) if (1..=3).contains(&f.len()) => {
                (h, num(f)? * 10_i64.pow(3 - f.len() as u32))
            }
            Some(_) => return None,
            None => (clock, 0),
        };
        let mut p = hms.split(':');
        let (h, mi, se) = (num(p.next()?)?, num(p.next()?)?, num(p.next()?)?);
        if p.next().is_some() || h > 23 || mi > 59 || se > 59 {
            return None;
        }
        ms += h * 3_600_000 + mi * 60_000 + se * 1_000 + frac - offset_ms;
    }
    Some(ms)
}

fn days_in(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn name_servers(cli: &Cli) -> Result<Vec<String>, AdminError> {
    let list: Vec<String> = if cli.namesrv.is_empty() {
        std::env::var("NAMESRV_ADDR")
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        cli.namesrv.clone()
    };
    if list.is_empty() {
        return Err(AdminError::NoNameServer);
    }
    for a in &list {
        let ok = a
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(AdminError::BadNameServer(a.clone()));
        }
    }
    Ok(list)
}

fn describe(m: &MessageExt) -> String {
    let mut line = format!(
        "msgId={} offsetMsgId={} topic={} queue={} offset={} storedAt={}",
        m.msg_id(),
        m.offset_msg_id(),
        m.topic,
        m.queue_id,
        m.queue_offset,
        m.store_timestamp
    );
    if let Some(t) = m.tags() {
        line.push_str(&format!(" tags={t}"));
    }
    if let Some(k) = m.keys() {
        line.push_str(&format!(" keys={k}"));
    }
    if m.reconsume_times > 0 {
        line.push_str(&format!(" reconsumeTimes={}", m.reconsume_times));
    }
    if let Some(t) = m.retry_topic() {
        line.push_str(&format!(" originalTopic={t}"));
    }
    line.push_str(&format!(" body={:?}", String::from_utf8_lossy(&m.body)));
    line
}

async fn run(cli: Cli) -> Result<(), AdminError> {
    let mut builder = Client::builder()
        .request_timeout(Duration::from_secs(cli.timeout))
        .connect_timeout(Duration::from_secs(cli.timeout));
    for ns in name_servers(&cli)? {
        builder = builder.name_server(ns);
    }
    if let (Some(ak), Some(sk)) = (&cli.access_key, &cli.secret_key) {
        builder = builder.credentials(ak.clone(), sk.clone());
    }
    let client = builder.build().await?;
    let result = command(&client, cli.command).await;
    client.shutdown().await;
    result
}

/// Positions `consumer` at the end of every queue of `topic`, says so, then prints what
/// arrives until `count` messages, `duration` seconds, Ctrl-C or SIGTERM. A queue that
/// cannot be pulled (the broker refuses, the topic is gone) ends it with that error.
async fn tail(
    consumer: &rocketmq_sdk::PullConsumer,
    topic: &str,
    count: Option<usize>,
    duration: Option<u64>,
) -> Result<(), AdminError> {
    let queues = consumer.fetch_queues(topic).await?;
    consumer.assign(queues.clone()).await?;
    for q in &queues {
        consumer.seek_to_end(q).await?;
    }
    println!(
        "tailing {topic} ({} queue(s)) from the end as group {}; Ctrl-C or SIGTERM stops",
        queues.len(),
        consumer.group()
    );
    let want = count.unwrap_or(usize::MAX);
    let deadline = duration.map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let mut got = 0;
    // SIGINT and SIGTERM (`kill`, `docker stop`, systemd) both stop it gracefully.
    let mut stop = rocketmq_sdk::signal::ShutdownSignal::register().map_err(AdminError::Signal)?;
    while got < want && deadline.is_none_or(|d| tokio::time::Instant::now() < d) {
        let batch = tokio::select! {
            b = consumer.poll(Duration::from_millis(200)) => b?,
            _ = stop.recv() => break,
        };
        for m in batch.iter().take(want - got) {
            println!("{}", describe(m));
        }
        got += batch.len().min(want - got);
    }
    println!("tailed {got} message(s) of {topic}");
    Ok(())
}

async fn command(client: &Client, command: Command) -> Result<(), AdminError> {
    match command {
        Command::Clusters => {
            let info = client.cluster_info().await?;
            for (cluster, brokers) in &info.cluster_addr_table {
                println!("cluster {cluster}");
                for b in brokers {
                    let addrs = info
                        .broker_addr_table
                        .get(b)
                        .map(|d| {
                            d.broker_addrs
                                .iter()
                                .map(|(id, a)| format!("{id}={a}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    println!("  broker {b} {addrs}");
                }
            }
        }
        Command::Topics => {
            for t in client.topic_list().await? {
                println!("{t}");
            }
        }
        Command::CreateTopic {
            topic,
            queues,
            cluster,
        } => {
            let brokers = client
                .create_topic(&topic, queues, cluster.as_deref())
                .await?;
            println!(
                "created topic {topic} with {queues} queues on {}",
                brokers.join(", ")
            );
        }
        Command::Send {
            topic,
            tag,
            keys,
            body,
            body_file,
            delay_level,
            group,
        } => {
            let body = match (body, body_file) {
                (Some(b), _) => b.into_bytes(),
                (None, Some(path)) => {
                    std::fs::read(&path).map_err(|source| AdminError::Read { path, source })?
                }
                (None, None) => unreachable!("clap requires --body or --body-file"),
            };
            let mut m = Message::new(topic, body);
            if let Some(t) = tag {
                m.set_tags(t);
            }
            if !keys.is_empty() {
                m.set_keys(keys);
            }
            if let Some(l) = delay_level {
                m.set_delay_level(l);
            }
            let producer = client.producer(group).start().await?;
            let r = producer.send(m).await;
            producer.shutdown().await;
            let r = r?;
            println!(
                "sent: status={:?} msgId={} offsetMsgId={} queue={}/{} offset={}",
                r.status,
                r.msg_id,
                r.offset_msg_id,
                r.queue.broker_name,
                r.queue.queue_id,
                r.queue_offset
            );
        }
        Command::Consume {
            topic,
            group,
            tags,
            from,
            count,
            idle,
        } => {
            let consumer = client
                .pull_consumer(group)
                .subscribe(topic.clone(), tags)
                .consume_from(match from {
                    From::First => ConsumeFrom::FirstOffset,
                    From::Last => ConsumeFrom::LastOffset,
                })
                .auto_commit(false)
                .start()
                .await?;
            let want = count.unwrap_or(usize::MAX);
            let mut got = 0;
            let idle = Duration::from_secs(idle);
            let mut last = tokio::time::Instant::now();
            let result = async {
                while got < want && last.elapsed() < idle {
                    let batch = consumer.poll(Duration::from_millis(200)).await?;
                    if !batch.is_empty() {
                        last = tokio::time::Instant::now();
                    }
                    for m in batch.iter().take(want - got) {
                        println!("{}", describe(m));
                    }
                    got += batch.len().min(want - got);
                }
                consumer.commit().await
            }
            .await;
            consumer.shutdown().await;
            result?;
            println!("consumed {got} message(s) of {topic}");
            if count.is_some_and(|c| got < c) {
                return Err(AdminError::NotFound(format!(
                    "only {got} of {want} message(s) arrived within {}s of idleness",
                    idle.as_secs()
                )));
            }
        }
        Command::Tail {
            topic,
            count,
            duration,
        } => {
            // A private broadcasting group: its positions live in a local file (removed
            // below), so nothing is stored on the brokers and no group's offsets move.
            let group = format!(
                "rocketmq-admin-tail-{}-{}",
                std::process::id(),
                rocketmq_sdk::protocol::message::id::now_ms()
            );
            let dir = std::env::temp_dir().join(&group);
            let consumer = client
                .pull_consumer(group)
                .message_model(rocketmq_sdk::consumer::MessageModel::Broadcasting)
                .offset_store_dir(&dir)
                .auto_commit(false)
                .start()
                .await?;
            let result = tail(&consumer, &topic, count, duration).await;
            consumer.shutdown().await;
            let _ = std::fs::remove_dir_all(&dir);
            result?;
        }
        Command::QueryKey { topic, key, max } => {
            let found = client.query_messages_by_key(&topic, &key, max).await?;
            if found.is_empty() {
                return Err(AdminError::NotFound(format!(
                    "no message of {topic} has key {key:?}"
                )));
            }
            for m in &found {
                println!("{}", describe(m));
            }
        }
        Command::QueryId { id, topic } => {
            let mut found = Vec::new();
            if let Some(t) = &topic {
                found = client.query_message_by_uniq_key(t, &id).await?;
            }
            if found.is_empty() {
                match client.view_message(&id).await {
                    Ok(m) => found.push(m),
                    Err(SdkError::Protocol(_)) if topic.is_some() => {}
                    Err(SdkError::Protocol(_)) => {
                        return Err(AdminError::NotFound(format!(
                            "{id:?} is not an offset msgId; to look up a client id (UNIQ_KEY) pass --topic"
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if found.is_empty() {
                return Err(AdminError::NotFound(format!("no message with id {id:?}")));
            }
            for m in &found {
                println!("{}", describe(m));
            }
        }
        Command::ConsumerProgress { group, topic } => {
            let stats = client.consume_stats(&group, topic.as_deref()).await?;
            println!("topic broker queue broker-offset consumer-offset lag");
            for (q, o) in &stats.offset_table {
                println!(
                    "{} {} {} {} {} {}",
                    q.topic,
                    q.broker_name,
                    q.queue_id,
                    o.broker_offset,
                    o.consumer_offset,
                    o.lag()
                );
            }
            println!(
                "group {group}: {} queue(s), total lag {}, consume tps {:.1}",
                stats.offset_table.len(),
                stats.total_diff(),
                stats.consume_tps
            );
        }
        Command::ConsumerConnections { group } => {
            let conns = client.consumer_connections(&group).await?;
            for c in &conns.connection_set {
                println!(
                    "{} {} {} version {}",
                    c.client_id, c.client_addr, c.language, c.version
                );
            }
            for (topic, sub) in &conns.subscription_table {
                println!("subscribes {topic} {:?}", sub.sub_string);
            }
            println!(
                "group {group}: {} connection(s), {:?} {:?}",
                conns.connection_set.len(),
                conns.consume_type,
                conns.message_model
            );
        }
        Command::BrokerStatus { broker } => {
            let addrs = match broker {
                Some(a) => vec![a],
                None => {
                    let info = client.cluster_info().await?;
                    info.broker_addr_table
                        .values()
                        .filter_map(|d| d.master_addr().map(str::to_owned))
                        .collect()
                }
            };
            for addr in addrs {
                println!("broker {addr}");
                for (k, v) in client.broker_runtime_info(&addr).await? {
                    println!("  {k}: {v}");
                }
            }
        }
        Command::DeleteTopic { topic, cluster } => {
            client.delete_topic(&topic, cluster.as_deref()).await?;
            println!("deleted topic {topic}");
        }
        Command::UpdateGroup {
            group,
            retry_max_times,
            consume_enable,
            broadcast,
            cluster,
        } => {
            let mut config = rocketmq_sdk::protocol::body::SubscriptionGroupConfig::default();
            config.group_name = group.clone();
            config.retry_max_times = retry_max_times;
            config.consume_enable = consume_enable;
            config.consume_broadcast_enable = broadcast;
            client.update_group(&config, cluster.as_deref()).await?;
            println!("updated group {group} (retryMaxTimes {retry_max_times})");
        }
        Command::DeleteGroup {
            group,
            remove_offsets,
            cluster,
        } => {
            client
                .delete_group(&group, cluster.as_deref(), remove_offsets)
                .await?;
            println!("deleted group {group}");
        }
        Command::DlqList { group, max } => {
            let letters = client.dead_letters(&group, max).await?;
            for m in &letters {
                println!("{}", describe(m));
            }
            println!("{} dead letter(s) in %DLQ%{group}", letters.len());
        }
        Command::DlqResend {
            group,
            msg_ids,
            all,
        } => {
            let letters = client.dead_letters(&group, usize::MAX).await?;
            let chosen: Vec<&MessageExt> = if all {
                letters.iter().collect()
            } else {
                let mut chosen = Vec::new();
                for id in &msg_ids {
                    let m = letters
                        .iter()
                        .find(|m| &m.msg_id() == id || &m.offset_msg_id() == id)
                        .ok_or_else(|| {
                            AdminError::NotFound(format!(
                                "no dead letter {id:?} in %DLQ%{group} (see dlq-list)"
                            ))
                        })?;
                    chosen.push(m);
                }
                chosen
            };
            for m in &chosen {
                client.resend_dead_letter(&group, m).await?;
                println!("re-sent {} to %RETRY%{group}", m.msg_id());
            }
            println!("re-sent {} dead letter(s) to group {group}", chosen.len());
        }
        Command::ResetOffset { group, topic, to } => {
            let offsets = client.reset_offset_by_timestamp(&group, &topic, to).await?;
            for (q, o) in &offsets {
                println!("{}/{} -> offset {o}", q.broker_name, q.queue_id);
            }
            println!(
                "reset {} queue(s) of {topic} for group {group} to time {to}",
                offsets.len()
            );
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocketmq-admin: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn times() {
        assert_eq!(parse_time("now", NOW), Ok(NOW));
        assert_eq!(parse_time("-10m", NOW), Ok(NOW - 600_000));
        assert_eq!(parse_time("now-2h", NOW), Ok(NOW - 7_200_000));
        assert_eq!(parse_time("-500ms", NOW), Ok(NOW - 500));
        assert_eq!(parse_time("1700000000000", NOW), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-01", NOW), Ok(0));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", NOW),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z", NOW),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_time("2023-11-15T00:13:20+02:00", NOW),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_time("2024-02-29", NOW), Ok(1_709_164_800_000));
        for bad in [
            "",
            "yesterday",
            "-10x",
            "-m",
            "2023-02-29",
            "2023-13-01",
            "2023-11-14T25:00:00Z",
            "2023-11-14T22:13:20",
            "99999999999999999999999",
        ] {
            assert!(parse_time(bad, NOW).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn arguments() {
        Cli::command_for_tests().debug_assert();
    }

    impl Cli {
        fn command_for_tests() -> clap::Command {
            <Cli as clap::CommandFactory>::command()
        }
    }

    /// A loopback broker (and name server) that answers like a 4.9.8 broker which
    /// forbids the group to pull: NO_PERMISSION for every pull.
    async fn forbidding_broker(client_id: std::sync::Arc<std::sync::Mutex<String>>) -> String {
        use futures::{SinkExt, StreamExt};
        use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, ResponseCode};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let route = format!(
            r#"{{"brokerDatas":[{{"brokerAddrs":{{"0":"{addr}"}},"brokerName":"b","cluster":"c"}}],"queueDatas":[{{"brokerName":"b","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}}]}}"#
        );
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (route, client_id) = (route.clone(), client_id.clone());
                tokio::spawn(async move {
                    let mut framed = tokio_util::codec::Framed::new(sock, RemotingCodec::new());
                    while let Some(Ok(req)) = framed.next().await {
                        if req.is_response() || req.is_oneway() {
                            continue;
                        }
                        let mut resp = match req.code {
                            105 => RemotingCommand::response_to(&req, ResponseCode::SUCCESS)
                                .with_body(route.clone()),
                            11 | 361 => {
                                RemotingCommand::response_to(&req, ResponseCode::NO_PERMISSION)
                                    .with_remark("the consumer group pulling message is forbidden")
                            }
                            38 => {
                                let id = client_id.lock().unwrap().clone();
                                RemotingCommand::response_to(&req, ResponseCode::SUCCESS)
                                    .with_body(format!(r#"{{"consumerIdList":["{id}"]}}"#))
                            }
                            _ => RemotingCommand::response_to(&req, ResponseCode::SUCCESS),
                        };
                        if matches!(req.code, 14 | 30 | 31) {
                            resp.ext_fields.insert("offset", "0");
                        }
                        resp.version = 409;
                        if framed.send(resp).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn is_no_permission(r: &Result<(), AdminError>) -> bool {
        matches!(
            r,
            Err(AdminError::Sdk(SdkError::Broker { code, .. }))
                if *code == rocketmq_sdk::protocol::ResponseCode::NO_PERMISSION
        )
    }

    #[tokio::test]
    async fn tail_and_consume_fail_with_the_brokers_refusal() {
        let id = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let addr = forbidding_broker(id.clone()).await;
        let client = Client::builder().name_server(&addr).build().await.unwrap();
        *id.lock().unwrap() = client.client_id().to_owned();
        let started = tokio::time::Instant::now();
        let tail = command(
            &client,
            Command::Tail {
                topic: "T".into(),
                count: None,
                duration: Some(60),
            },
        )
        .await;
        assert!(is_no_permission(&tail), "{tail:?}");
        let consume = command(
            &client,
            Command::Consume {
                topic: "T".into(),
                group: "g".into(),
                tags: "*".into(),
                from: From::First,
                count: Some(1),
                idle: 60,
            },
        )
        .await;
        assert!(is_no_permission(&consume), "{consume:?}");
        // Three attempts a second apart each, far from the 60 s of patience.
        assert!(started.elapsed() < Duration::from_secs(20));
        client.shutdown().await;
    }
}
