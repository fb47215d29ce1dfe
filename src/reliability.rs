//! The reliability scenarios behind `tests/reliability_*.rs` and
//! `examples/reliability_report.rs`: each drives real clients over loopback TCP against a
//! broker under injected faults and returns a [`Report`] of what was sent, acknowledged,
//! lost and duplicated.
//!
//! The crash scenarios run the broker (or, for a consumer crash, the consumer) in a child
//! process, so SIGKILL is a real kill: this crate's `reliability-broker` binary, or any
//! executable that calls [`run_child_if_requested`] first thing in `main`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocketmq_embedded_broker::{EmbeddedBroker, FlushMode};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult, PushConsumer};
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, Producer, SendStatus};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::wait_until;

mod consumer_crash;
mod dedupe_storm;
mod replication;

pub use consumer_crash::{CONSUMER_CHILD_ENV, ConsumerCrash, consumer_crash};
pub use dedupe_storm::{DedupeStorm, dedupe_storm};
pub use replication::{ReplicationStatuses, sync_replication_failover};

/// The environment variable that turns an executable into a crash-test broker child:
/// `<store dir>|<sync or async>|<name server port>|<broker port>`.
pub const CHILD_ENV: &str = "ROCKETMQ_RELIABILITY_CHILD";

/// Whether heavy variants were asked for (`RELIABILITY_HEAVY=1`).
pub fn heavy() -> bool {
    std::env::var("RELIABILITY_HEAVY").is_ok_and(|v| v == "1")
}

/// The outcome of one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Distinct messages the application tried to send.
    pub sent: u64,
    /// Distinct messages acknowledged with SEND_OK.
    pub acknowledged: u64,
    /// Acknowledged messages missing afterwards (stored or consumed, per scenario).
    pub lost: u64,
    /// Extra copies: stored (or delivered) count minus distinct messages.
    pub duplicated: u64,
    /// Stored records that could not be decoded or carried an unknown body.
    pub corrupt: u64,
    /// Broker kills performed mid-run (crash scenarios; 0 elsewhere).
    pub kills: u64,
    /// Free-form details (kills, faults injected, loss window).
    pub note: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<34} {:>8} {:>8} {:>6} {:>6}  {}",
            self.scenario, self.sent, self.acknowledged, self.lost, self.duplicated, self.note
        )
    }
}

/// The header line matching [`Report`]'s `Display`.
pub fn table_header() -> String {
    format!(
        "{:<34} {:>8} {:>8} {:>6} {:>6}  note",
        "scenario", "sent", "acked", "lost", "dup"
    )
}

/// A small deterministic generator (xorshift64*), so every run can be replayed by seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The broker child process.

/// If [`CHILD_ENV`] is set, runs a broker as described there until killed and never
/// returns; if [`CONSUMER_CHILD_ENV`] is set, a consumer likewise; otherwise returns at
/// once. Call it first thing in a synchronous `main`, outside any Tokio runtime (it starts
/// its own).
pub fn run_child_if_requested() {
    if let Ok(spec) = std::env::var(CONSUMER_CHILD_ENV) {
        let parts: Vec<&str> = spec.split('|').collect();
        let code = match (parts.as_slice(), tokio::runtime::Runtime::new()) {
            ([ns, group, topic, hang_after], Ok(rt)) => match hang_after.parse::<usize>() {
                Ok(n) => rt.block_on(consumer_crash::consumer_child(ns, group, topic, n)),
                Err(_) => 2,
            },
            _ => 2,
        };
        std::process::exit(code);
    }
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let code = match parts.as_slice() {
        [dir, flush, ns, broker] => {
            let flush = if *flush == "sync" {
                FlushMode::Sync
            } else {
                FlushMode::Async
            };
            match tokio::runtime::Runtime::new() {
                Ok(rt) => rt.block_on(child(PathBuf::from(dir), flush, ns, broker)),
                Err(_) => 2,
            }
        }
        _ => 2,
    };
    std::process::exit(code);
}

async fn child(dir: PathBuf, flush: FlushMode, ns_port: &str, broker_port: &str) -> i32 {
    let Ok(broker_port) = broker_port.parse::<u16>() else {
        return 2;
    };
    let broker = match EmbeddedBroker::builder()
        .directory(&dir)
        .flush(flush)
        .name_server_addr(format!("127.0.0.1:{ns_port}"))
        .broker_port(broker_port)
        .start()
        .await
    {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reliability child could not start");
            return 1;
        }
    };
    let mut out = tokio::io::stdout();
    let line = format!(
        "READY {} {}\n",
        broker.name_server_addr(),
        broker.broker_addrs()[0]
    );
    if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
        return 1;
    }
    // Runs until SIGKILL (or the parent closes our stdin).
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut buf = String::new();
    let _ = stdin.read_line(&mut buf).await;
    drop(broker);
    0
}

/// A broker running in a child process on fixed ports, so it can be killed and restarted
/// where clients expect it.
#[derive(Debug)]
pub struct ChildBroker {
    exe: PathBuf,
    dir: PathBuf,
    flush: FlushMode,
    ns_port: u16,
    broker_port: u16,
    child: Option<Child>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ChildBroker {
    /// Starts `exe` as a broker child on `dir` with free loopback ports.
    ///
    /// # Errors
    /// Spawn failures, or a child that did not report ready within 30 s.
    pub async fn start(exe: &Path, dir: &Path, flush: FlushMode) -> std::io::Result<Self> {
        // A port found free may be taken (by another test's connection) before the child
        // binds it: try a few fresh pairs before giving up.
        let mut last = None;
        for _ in 0..5 {
            let mut b = ChildBroker {
                exe: exe.to_owned(),
                dir: dir.to_owned(),
                flush,
                ns_port: free_port()?,
                broker_port: free_port()?,
                child: None,
            };
            match b.spawn().await {
                Ok(()) => return Ok(b),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("broker child did not start")))
    }

    /// The name server address clients use.
    pub fn name_server_addr(&self) -> String {
        format!("127.0.0.1:{}", self.ns_port)
    }

    async fn spawn(&mut self) -> std::io::Result<()> {
        let spec = format!(
            "{}|{}|{}|{}",
            self.dir.display(),
            if self.flush == FlushMode::Sync {
                "sync"
            } else {
                "async"
            },
            self.ns_port,
            self.broker_port
        );
        let mut child = Command::new(&self.exe)
            .env(CHILD_ENV, spec)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(l))) if l.starts_with("READY") => {
                self.child = Some(child);
                Ok(())
            }
            other => {
                let _ = child.start_kill();
                Err(std::io::Error::other(format!(
                    "broker child did not start: {other:?}"
                )))
            }
        }
    }

    /// SIGKILLs the child and waits for it to die.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// Starts the child again on the same store and ports. A port still held by the
    /// dying process is retried for a few seconds.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn restart(&mut self) -> std::io::Result<()> {
        let mut last = None;
        for _ in 0..20 {
            match self.spawn().await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("restart failed")))
    }
}

// ---------------------------------------------------------------------------------------
// Load: sender tasks with application-level retries.

/// What the senders saw.
#[derive(Debug, Default)]
struct Acks {
    /// body -> when it was acknowledged.
    acked: Mutex<HashMap<String, Instant>>,
    count: AtomicUsize,
    attempts: AtomicU64,
    failures: AtomicU64,
}

impl Acks {
    fn acked(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

/// Sends `n` distinct bodies `"{prefix}-{i}"` from `workers` tasks; each message is sent
/// again until SEND_OK or `give_up` passes (an application retrying on top of the SDK's own
/// retries).
fn spawn_senders(
    producer: &Producer,
    topic: &str,
    prefix: &str,
    n: usize,
    workers: usize,
    give_up: Duration,
    acks: Arc<Acks>,
) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let producer = producer.clone();
        let topic = topic.to_owned();
        let prefix = prefix.to_owned();
        let acks = acks.clone();
        set.spawn(async move {
            for i in (w..n).step_by(workers) {
                let body = format!("{prefix}-{i}");
                let start = Instant::now();
                loop {
                    acks.attempts.fetch_add(1, Ordering::Relaxed);
                    let r = producer
                        .send(Message::new(topic.as_str(), Bytes::from(body.clone())))
                        .await;
                    if let Ok(r) = &r
                        && r.status == SendStatus::SendOk
                    {
                        acks.acked
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(body.clone(), Instant::now());
                        acks.count.fetch_add(1, Ordering::AcqRel);
                        break;
                    }
                    acks.failures.fetch_add(1, Ordering::Relaxed);
                    if start.elapsed() > give_up {
                        break;
                    }
                    // Back off a little: the broker is down or busy.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
    set
}

/// Counts stored copies per body; `corrupt` counts bodies that are not of `prefix`.
fn tally(stored: &[MessageExt], prefix: &str) -> (HashMap<String, u64>, u64) {
    let mut copies = HashMap::new();
    let mut corrupt = 0;
    for m in stored {
        match std::str::from_utf8(&m.body) {
            Ok(b) if b.starts_with(prefix) => *copies.entry(b.to_owned()).or_insert(0) += 1,
            _ => corrupt += 1,
        }
    }
    (copies, corrupt)
}

async fn producer_client(ns: &str, group: &str) -> Result<(Client, Producer), String> {
    let client = Client::builder()
        .name_server(ns)
        .request_timeout(Duration::from_secs(2))
        .route_poll_interval(Duration::from_millis(300))
        .heartbeat_interval(Duration::from_millis(300))
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let producer = client
        .producer(group)
        .send_timeout(Duration::from_secs(2))
        .retries(3)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, producer))
}

fn temp_dir(tag: &str) -> std::io::Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "rocketmq-reliability-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------
// Scenario 1 and 2: SIGKILL of a broker process under load.

/// Settings of [`crash_under_load`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CrashSettings {
    /// Sync or async flush in the child.
    pub flush: FlushMode,
    /// Independent runs (fresh store each).
    pub runs: usize,
    /// Messages per run.
    pub messages: usize,
    /// SIGKILLs per run, at random acknowledged counts.
    pub kills_per_run: usize,
    /// Seed of the kill moments.
    pub seed: u64,
}

impl CrashSettings {
    /// `runs` × `messages` with `flush`, 2 kills a run, seed 1.
    pub fn new(flush: FlushMode, runs: usize, messages: usize) -> Self {
        CrashSettings {
            flush,
            runs,
            messages,
            kills_per_run: 2,
            seed: 1,
        }
    }
}

/// Runs a producer against a broker child (`exe`) that is SIGKILLed at random moments and
/// restarted on the same store and ports; afterwards opens the store and checks that every
/// acknowledged message is there, intact.
///
/// `kills` counts the mid-run kills performed; a kill point that is never reached is an
/// error. With async flush, `note` also reports the largest time
/// between the acknowledgement of a lost message and the kill that lost it.
///
/// # Errors
/// Infrastructure failures (spawn, store reopen), as text.
pub async fn crash_under_load(exe: &Path, s: &CrashSettings) -> Result<Report, String> {
    let name = match s.flush {
        FlushMode::Sync => "sync-flush SIGKILL",
        _ => "async-flush SIGKILL",
    };
    let mut total = Report {
        scenario: format!("{name} ({}x{})", s.runs, s.messages),
        ..Report::default()
    };
    let mut rng = Rng::new(s.seed);
    let mut kills = 0;
    let mut window = Duration::ZERO;
    for run in 0..s.runs {
        let dir = temp_dir("crash").map_err(|e| e.to_string())?;
        let mut broker = ChildBroker::start(exe, &dir, s.flush)
            .await
            .map_err(|e| e.to_string())?;
        let (client, producer) =
            producer_client(&broker.name_server_addr(), &format!("crash-p{run}")).await?;
        let topic = "reliability-crash";
        let prefix = format!("r{run}");
        let acks = Arc::new(Acks::default());
        let mut senders = spawn_senders(
            &producer,
            topic,
            &prefix,
            s.messages,
            8,
            Duration::from_secs(60),
            acks.clone(),
        );
        let mut kill_at: Vec<usize> = (0..s.kills_per_run)
            .map(|_| rng.range(1, s.messages.saturating_sub(1).max(2) as u64) as usize)
            .collect();
        kill_at.sort_unstable();
        let mut kill_times = Vec::new();
        for at in kill_at {
            let acks2 = acks.clone();
            if !wait_until(Duration::from_secs(120), || {
                let a = acks2.clone();
                async move { a.acked() >= at }
            })
            .await
            {
                // A kill that never happens would make the run prove nothing.
                return Err(format!(
                    "run {run}: kill point {at} never reached ({} acknowledged)",
                    acks.acked()
                ));
            }
            broker.kill().await;
            kill_times.push(Instant::now());
            kills += 1;
            broker.restart().await.map_err(|e| e.to_string())?;
        }
        while senders.join_next().await.is_some() {}
        client.shutdown().await;
        // The final stop is a SIGKILL too.
        broker.kill().await;
        kill_times.push(Instant::now());

        let check = EmbeddedBroker::builder()
            .directory(&dir)
            .flush(FlushMode::Sync)
            .start()
            .await
            .map_err(|e| e.to_string())?;
        let stored = check.messages(topic).map_err(|e| e.to_string())?;
        let (copies, corrupt) = tally(&stored, &prefix);
        let acked = acks.acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut lost = 0;
        for (body, at) in &acked {
            if !copies.contains_key(body) {
                lost += 1;
                if let Some(k) = kill_times.iter().find(|k| *k >= at) {
                    window = window.max(k.duration_since(*at));
                }
            }
        }
        total.sent += s.messages as u64;
        total.acknowledged += acked.len() as u64;
        total.lost += lost;
        total.corrupt += corrupt;
        total.duplicated += copies.values().map(|c| c - 1).sum::<u64>();
        drop(check);
        let _ = std::fs::remove_dir_all(&dir);
    }
    total.kills = kills;
    total.note = format!("{kills} kills, corrupt {}", total.corrupt);
    if s.flush != FlushMode::Sync {
        total.note += &format!(", loss window {} ms", window.as_millis());
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Scenario 3: producer through SYSTEM_BUSY storms, dropped acks and broker restarts.

/// Sends `messages` through two in-process brokers while a chaos loop (seeded) injects
/// SYSTEM_BUSY storms, dropped send responses (with the connection cut), closed
/// connections, and crash/restart of a broker. Every acknowledged message must be stored;
/// duplicates (from dropped acks) are counted.
///
/// # Errors
/// Harness failures, as text.
pub async fn producer_storms(messages: usize, seed: u64) -> Result<Report, String> {
    let broker = EmbeddedBroker::builder()
        .brokers(2)
        .flush(FlushMode::Sync)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    broker.faults().seed(seed);
    let topic = "reliability-storm";
    broker
        .create_topic(topic, 4)
        .await
        .map_err(|e| e.to_string())?;
    let (client, producer) = producer_client(&broker.name_server_addr(), "storm-p").await?;
    let acks = Arc::new(Acks::default());
    let mut senders = spawn_senders(
        &producer,
        topic,
        "storm",
        messages,
        8,
        Duration::from_secs(60),
        acks.clone(),
    );
    let mut rng = Rng::new(seed);
    let mut actions = BTreeMap::<&str, u32>::new();
    let step = (messages / 20).max(1);
    let mut next = step;
    while next < messages {
        let a = acks.clone();
        if !wait_until(Duration::from_secs(60), || {
            let a = a.clone();
            async move { a.acked() >= next }
        })
        .await
        {
            break;
        }
        next += step;
        let b = rng.range(0, 2) as usize;
        match rng.range(0, 4) {
            0 => {
                broker
                    .broker(b)
                    .faults()
                    .fail_next_sends(rng.range(1, 20) as u32, ResponseCode::SYSTEM_BUSY);
                *actions.entry("busy").or_default() += 1;
            }
            1 => {
                broker
                    .broker(b)
                    .faults()
                    .drop_next_send_responses(rng.range(1, 5) as u32, true);
                *actions.entry("drop-ack").or_default() += 1;
            }
            2 => {
                broker.broker(b).faults().close_connections();
                *actions.entry("close").or_default() += 1;
            }
            _ => {
                broker.crash_broker(b).await.map_err(|e| e.to_string())?;
                broker.restart_broker(b).await.map_err(|e| e.to_string())?;
                *actions.entry("crash").or_default() += 1;
            }
        }
    }
    while senders.join_next().await.is_some() {}
    client.shutdown().await;
    let stored = broker.messages(topic).map_err(|e| e.to_string())?;
    let (copies, corrupt) = tally(&stored, "storm");
    let acked = acks.acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lost = acked.keys().filter(|b| !copies.contains_key(*b)).count() as u64;
    let dropped: u64 = broker
        .brokers()
        .iter()
        .map(|b| b.faults().dropped_responses())
        .sum();
    Ok(Report {
        kills: 0,
        scenario: format!("producer storms ({messages})"),
        sent: messages as u64,
        acknowledged: acked.len() as u64,
        lost,
        duplicated: copies.values().map(|c| c - 1).sum(),
        corrupt,
        note: format!("faults {actions:?}, acks dropped {dropped}"),
    })
}

// ---------------------------------------------------------------------------------------
// Scenario 4: rebalance storms and redelivery (a real consumer crash, SIGKILL of a
// consumer process, is `consumer_crash`).

/// Produces `messages` while a consumer group goes through a member stuck mid-batch that
/// then leaves (gracefully: an in-process member cannot be SIGKILLed), members joining and
/// leaving, cut connections and injected redeliveries. Every message must be consumed at least once; extra deliveries are
/// reported as duplicates.
///
/// # Errors
/// Harness failures, as text.
pub async fn consumer_storms(messages: usize, seed: u64) -> Result<Report, String> {
    let broker = EmbeddedBroker::builder()
        .delay_levels("10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms")
        .start()
        .await
        .map_err(|e| e.to_string())?;
    broker.faults().seed(seed);
    broker.faults().duplicate_deliveries(0.05);
    let topic = "reliability-consume";
    broker
        .create_topic(topic, 8)
        .await
        .map_err(|e| e.to_string())?;
    let ns = broker.name_server_addr();
    let (pclient, producer) = producer_client(&ns, "consume-p").await?;
    let seen: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let group = "reliability-group";

    async fn member(
        ns: &str,
        group: &str,
        topic: &str,
        seen: Arc<Mutex<HashMap<String, u64>>>,
        hang: bool,
    ) -> Result<(Client, PushConsumer), String> {
        let c = Client::builder()
            .name_server(ns)
            .heartbeat_interval(Duration::from_millis(300))
            .persist_offset_interval(Duration::from_millis(100))
            .route_poll_interval(Duration::from_millis(300))
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let consumer = c
            .push_consumer(group)
            .subscribe(topic, "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .rebalance_interval(Duration::from_millis(200))
            .shutdown_timeout(Duration::from_millis(200))
            .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                let seen = seen.clone();
                async move {
                    if hang {
                        // Mid-batch forever: this member's process is about to die.
                        std::future::pending::<()>().await;
                    }
                    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                    for m in &msgs {
                        *s.entry(String::from_utf8_lossy(&m.body).into_owned())
                            .or_insert(0) += 1;
                    }
                    ConsumeResult::Success
                }
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok((c, consumer))
    }

    let mut members = vec![member(&ns, group, topic, seen.clone(), false).await?];
    let hung = member(&ns, group, topic, seen.clone(), true).await?;
    let acks = Arc::new(Acks::default());
    let mut senders = spawn_senders(
        &producer,
        topic,
        "c",
        messages,
        4,
        Duration::from_secs(30),
        acks.clone(),
    );
    let mut rng = Rng::new(seed);
    let mut hung = Some(hung);
    let mut events = 0;
    let step = (messages / 8).max(1);
    let mut next = step;
    while next < messages {
        let a = acks.clone();
        if !wait_until(Duration::from_secs(30), || {
            let a = a.clone();
            async move { a.acked() >= next }
        })
        .await
        {
            break;
        }
        next += step;
        events += 1;
        if let Some((c, consumer)) = hung.take() {
            // The member stuck mid-batch leaves; its stuck batch is never committed.
            consumer.shutdown().await;
            c.shutdown().await;
            continue;
        }
        match rng.range(0, 3) {
            0 => members.push(member(&ns, group, topic, seen.clone(), false).await?),
            1 if members.len() > 1 => {
                let (c, consumer) = members.remove(0);
                consumer.shutdown().await;
                c.shutdown().await;
            }
            _ => {
                broker.faults().close_connections();
            }
        }
    }
    while senders.join_next().await.is_some() {}
    let acked = acks.acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let all_seen = wait_until(Duration::from_secs(30), || {
        let seen = seen.clone();
        let acked = &acked;
        async move {
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            acked.keys().all(|b| s.contains_key(b))
        }
    })
    .await;
    let s = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lost = acked.keys().filter(|b| !s.contains_key(*b)).count() as u64;
    let _ = all_seen;
    for (c, consumer) in members {
        consumer.shutdown().await;
        c.shutdown().await;
    }
    pclient.shutdown().await;
    Ok(Report {
        kills: 0,
        scenario: format!("rebalance storms ({messages})"),
        sent: messages as u64,
        acknowledged: acked.len() as u64,
        lost,
        duplicated: s.values().map(|c| c.saturating_sub(1)).sum(),
        corrupt: 0,
        note: format!(
            "{events} membership/connection events, {} injected redeliveries",
            broker.faults().duplicated_deliveries()
        ),
    })
}

// ---------------------------------------------------------------------------------------
// Scenario 7: garbage connections.

/// Opens `connections` TCP connections to the broker that send garbage (random bytes,
/// absurd frame lengths, truncated frames) while a well-behaved producer sends
/// `messages`: every one of its sends must succeed at the first attempt, and the broker
/// must still answer afterwards.
///
/// # Errors
/// Harness failures, as text.
pub async fn garbage_connections(
    connections: usize,
    messages: usize,
    seed: u64,
) -> Result<Report, String> {
    let broker = EmbeddedBroker::builder()
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let topic = "reliability-garbage";
    broker
        .create_topic(topic, 4)
        .await
        .map_err(|e| e.to_string())?;
    let (client, producer) = producer_client(&broker.name_server_addr(), "garbage-p").await?;
    let addr = broker.broker_addrs()[0].clone();
    let mut rng = Rng::new(seed);
    let mut garbage = tokio::task::JoinSet::new();
    for i in 0..connections {
        let addr = addr.clone();
        let kind = i % 4;
        let junk: Vec<u8> = (0..rng.range(1, 4096))
            .map(|_| rng.next_u64() as u8)
            .collect();
        garbage.spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
                return;
            };
            let bytes: Vec<u8> = match kind {
                // Random bytes.
                0 => junk,
                // A frame claiming 2 GiB.
                1 => vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1],
                // A plausible length, then a header length beyond it.
                2 => {
                    let mut v = 64u32.to_be_bytes().to_vec();
                    v.extend_from_slice(&1_000_000u32.to_be_bytes());
                    v.extend_from_slice(&junk[..junk.len().min(60)]);
                    v
                }
                // Valid-looking JSON header of garbage, then hang up half-way.
                _ => {
                    let header = br#"{"code":999999,"flag":0,"opaque":1,"#;
                    let mut v = ((header.len() + 4) as u32 + 100).to_be_bytes().to_vec();
                    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
                    v.extend_from_slice(header);
                    v
                }
            };
            let _ = s.write_all(&bytes).await;
            let _ = s.flush().await;
        });
    }
    let mut ok = 0u64;
    let mut errors = 0u64;
    for i in 0..messages {
        match producer
            .send(Message::new(topic, Bytes::from(format!("g-{i}"))))
            .await
        {
            Ok(r) if r.status == SendStatus::SendOk && r.attempts == 1 => ok += 1,
            _ => errors += 1,
        }
    }
    while garbage.join_next().await.is_some() {}
    let alive = producer
        .send(Message::new(topic, Bytes::from_static(b"g-after")))
        .await
        .is_ok_and(|r| r.status == SendStatus::SendOk);
    client.shutdown().await;
    let stored = broker.messages(topic).map_err(|e| e.to_string())?;
    let (copies, corrupt) = tally(&stored, "g-");
    let lost = (0..messages)
        .filter(|i| !copies.contains_key(&format!("g-{i}")))
        .count() as u64;
    Ok(Report {
        kills: 0,
        scenario: format!("garbage connections ({connections})"),
        sent: messages as u64,
        acknowledged: ok,
        lost,
        duplicated: copies.values().map(|c| c - 1).sum(),
        corrupt,
        note: format!(
            "client errors {errors}, broker alive after: {alive}, distinct stored {}",
            messages as u64 - lost
        ),
    })
}

/// Distinct bodies in `reports`' scenarios that were lost, for a one-line verdict.
pub fn total_lost(reports: &[Report]) -> u64 {
    reports.iter().map(|r| r.lost).sum()
}
