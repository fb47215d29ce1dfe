//! Scenario: a consumer process SIGKILLed mid-batch. Its offsets were never persisted and
//! it never unregistered; another instance of the group must take its queues over once the
//! broker notices the dead connection, and consume every message the dead one had not
//! finished, plus (at-least-once) the ones it finished but never committed.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::MessageExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{Acks, Report, producer_client, spawn_senders};
use crate::wait_until;

/// The environment variable that turns an executable into a crash-test consumer child:
/// `<name server>|<group>|<topic>|<messages to finish before hanging>`.
pub const CONSUMER_CHILD_ENV: &str = "ROCKETMQ_RELIABILITY_CONSUMER";

/// Consumes in batches of 4; prints `DONE <queue> <offset> <body>` for every message of a batch just before
/// the batch succeeds. Once `hang_after` messages are done, the next batch prints
/// `HANG <body>` and never finishes: the process is "mid-batch" when it is killed.
/// Offsets are persisted only every 10 minutes, so a kill leaves none committed.
pub(super) async fn consumer_child(ns: &str, group: &str, topic: &str, hang_after: usize) -> i32 {
    let client = match Client::builder()
        .name_server(ns)
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_secs(600))
        .route_poll_interval(Duration::from_millis(300))
        .build()
        .await
    {
        Ok(c) => c,
        Err(_) => return 1,
    };
    let done = Arc::new(Mutex::new(0usize));
    let started = client
        .push_consumer(group)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .consume_batch_max_size(4)
        .rebalance_interval(Duration::from_millis(200))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let done = done.clone();
            async move {
                let hang = {
                    let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                    let hang = *d >= hang_after;
                    if !hang {
                        *d += msgs.len();
                    }
                    hang
                };
                let first = msgs
                    .first()
                    .map(|m| String::from_utf8_lossy(&m.body).into_owned());
                if hang {
                    print_line(&format!("HANG {}", first.unwrap_or_default()));
                    std::future::pending::<()>().await;
                }
                let lines: Vec<String> = msgs
                    .iter()
                    .map(|m| {
                        format!(
                            "DONE {} {} {}",
                            m.queue_id,
                            m.queue_offset,
                            String::from_utf8_lossy(&m.body)
                        )
                    })
                    .collect();
                print_line(&lines.join("\n"));
                ConsumeResult::Success
            }
        })
        .await;
    let Ok(_consumer) = started else {
        return 1;
    };
    // Until SIGKILL.
    std::future::pending::<i32>().await
}

/// One write and flush per call: the parent reads whole lines.
fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// What the dead consumer left behind, from [`consumer_crash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerCrash {
    /// Messages the child finished (its batch returned success) before it hung.
    pub finished: u64,
    /// Of those, the ones at or past its queue's committed offset when it died.
    pub uncommitted: u64,
    /// Finished messages the survivor received again.
    pub redelivered: u64,
    /// Uncommitted finished messages the survivor never received (must be 0).
    pub uncommitted_not_redelivered: u64,
}

/// Sends `messages`, lets a consumer child process finish about a third of them and hang
/// mid-batch, SIGKILLs it, and has a second instance of the group (in this process) take
/// over. Lost: acknowledged messages nobody finished. Duplicated: messages finished by both
/// (the child's uncommitted work, redelivered as at-least-once promises).
///
/// # Errors
/// Harness failures, as text.
pub async fn consumer_crash(
    exe: &Path,
    messages: usize,
    seed: u64,
) -> Result<(Report, ConsumerCrash), String> {
    let broker = EmbeddedBroker::start().await.map_err(|e| e.to_string())?;
    broker.faults().seed(seed);
    let topic = "reliability-consumer-crash";
    let group = "reliability-crash-group";
    broker
        .create_topic(topic, 8)
        .await
        .map_err(|e| e.to_string())?;
    let ns = broker.name_server_addr();
    let (pclient, producer) = producer_client(&ns, "consumer-crash-p").await?;
    let acks = Arc::new(Acks::default());
    let mut senders = spawn_senders(
        &producer,
        topic,
        "k",
        messages,
        4,
        Duration::from_secs(30),
        acks.clone(),
    );
    while senders.join_next().await.is_some() {}
    let acked: Vec<String> = acks
        .acked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();

    let hang_after = (messages / 3).max(1);
    let mut child = Command::new(exe)
        .env(
            CONSUMER_CHILD_ENV,
            format!("{ns}|{group}|{topic}|{hang_after}"),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("consumer child: {e}"))?;
    let stdout = child.stdout.take().ok_or("consumer child has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // body -> (queue, offset) of what the child finished.
    let mut child_done: HashMap<String, (i32, i64)> = HashMap::new();
    let hung = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(done) = parse_done(&line) {
                child_done.insert(done.2, (done.0, done.1));
            } else if line.starts_with("HANG ") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if !hung {
        let _ = child.start_kill();
        return Err(format!(
            "the consumer child never hung mid-batch ({} done)",
            child_done.len()
        ));
    }
    child.start_kill().map_err(|e| format!("SIGKILL: {e}"))?;
    let _ = child.wait().await;
    // Lines the child wrote before it died may still be in the pipe.
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(done) = parse_done(&line) {
            child_done.insert(done.2, (done.0, done.1));
        }
    }
    // What the dead member committed: a push consumer commits through its periodic persist
    // (never reached here) and through the commit offset each pull carries, as Java's.
    let committed = broker.broker(0).consumer_offsets(group, topic);
    let uncommitted: Vec<&String> = child_done
        .iter()
        .filter(|(_, (q, off))| committed.get(q).is_none_or(|c| off >= c))
        .map(|(b, _)| b)
        .collect();

    let seen: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let survivor_client = Client::builder()
        .name_server(&ns)
        .heartbeat_interval(Duration::from_millis(300))
        .route_poll_interval(Duration::from_millis(300))
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let s = seen.clone();
    let survivor = survivor_client
        .push_consumer(group)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(200))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                for m in &msgs {
                    *s.entry(String::from_utf8_lossy(&m.body).into_owned())
                        .or_insert(0) += 1;
                }
                ConsumeResult::Success
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    let covered = |s: &HashMap<String, u64>| {
        acked
            .iter()
            .all(|b| s.contains_key(b) || child_done.contains_key(b))
    };
    let _ = wait_until(Duration::from_secs(60), || {
        let seen = seen.clone();
        let covered = &covered;
        async move { covered(&seen.lock().unwrap_or_else(|e| e.into_inner())) }
    })
    .await;
    let s = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lost = acked
        .iter()
        .filter(|b| !s.contains_key(*b) && !child_done.contains_key(*b))
        .count() as u64;
    let mut all: HashMap<&String, u64> = child_done.keys().map(|b| (b, 1)).collect();
    for (b, n) in &s {
        *all.entry(b).or_insert(0) += n;
    }
    let duplicated = all.values().map(|n| n.saturating_sub(1)).sum();
    let redelivered_done = child_done.keys().filter(|b| s.contains_key(*b)).count();
    let uncommitted_missing = uncommitted.iter().filter(|b| !s.contains_key(**b)).count();
    survivor.shutdown().await;
    survivor_client.shutdown().await;
    pclient.shutdown().await;
    let report = Report {
        kills: 1,
        scenario: format!("consumer SIGKILL mid-batch ({messages})"),
        sent: messages as u64,
        acknowledged: acked.len() as u64,
        lost,
        duplicated,
        corrupt: 0,
        note: format!(
            "the child finished {} and hung; {} of those uncommitted, {redelivered_done} redelivered, {uncommitted_missing} uncommitted not redelivered",
            child_done.len(),
            uncommitted.len()
        ),
    };
    let detail = ConsumerCrash {
        finished: child_done.len() as u64,
        uncommitted: uncommitted.len() as u64,
        redelivered: redelivered_done as u64,
        uncommitted_not_redelivered: uncommitted_missing as u64,
    };
    Ok((report, detail))
}

/// `DONE <queue> <offset> <body>` → (queue, offset, body).
fn parse_done(line: &str) -> Option<(i32, i64, String)> {
    let mut parts = line.strip_prefix("DONE ")?.splitn(3, ' ');
    let q = parts.next()?.parse().ok()?;
    let off = parts.next()?.parse().ok()?;
    Some((q, off, parts.next()?.to_owned()))
}
