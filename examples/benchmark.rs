//! A RocketMQ-style benchmark for this SDK and broker (in the spirit of RocketMQ's
//! `benchmark/producer.sh`): one line per second with TPS, MB/s and latency, then a summary.
//!
//! ```sh
//! cargo run --release --example benchmark -- producer --embedded --size 1024 --senders 4 --window 64
//! cargo run --release --example benchmark -- e2e --embedded --rate 50000 --queues 16
//! cargo run --release --example benchmark -- producer --namesrv 127.0.0.1:9876 --topic BenchmarkTopic
//! cargo run --release --example benchmark -- raw                     # physical limits only
//! cargo run --release --example benchmark -- producer --embedded --raw-limits   # figures + ratios
//! cargo run --release --example benchmark -- soak --embedded --minutes 10 --rate 5000
//! ```
//!
//! `--raw-limits` measures, in the same process and just before the run, what the machine
//! can do at best (sequential write MB/s, `fdatasync`/s, loopback TCP round trip), so every
//! figure is also reported as a ratio to its physical limit; see `BENCHMARKS.md`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use rocketmq_embedded_broker::{EmbeddedBroker, FlushMode};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, SendStatus, TransactionListener, TransactionState};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// Send as fast as the window allows (or at --rate).
    Producer,
    /// Produce a backlog of --count messages, then consume it as fast as possible.
    Consumer,
    /// Produce at --rate and measure send-to-consume latency.
    E2e,
    /// Transactional sends (half message, local commit, END_TRANSACTION).
    Tx,
    /// Only the raw limits: disk write MB/s, fdatasync/s, loopback TCP round trip.
    Raw,
    /// Produce and consume at --rate for --minutes; report RSS and open fds at the start,
    /// after the warm-up and at the end.
    Soak,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Flush {
    Async,
    Sync,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Store {
    Memory,
    Disk,
}

#[derive(Debug, Parser)]
#[command(about = "Producer/consumer benchmark for rocketmq-sdk")]
struct Args {
    /// What to measure.
    mode: Mode,
    /// Start an embedded broker in this process.
    #[arg(long, conflicts_with = "namesrv")]
    embedded: bool,
    /// Name server of an external RocketMQ (host:port).
    #[arg(long)]
    namesrv: Option<String>,
    /// Topic.
    #[arg(long, default_value = "BenchmarkTopic1")]
    topic: String,
    /// Queues of the topic (embedded broker).
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Concurrent sender tasks.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// In-flight sends per sender.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Seconds to run (producer, e2e, tx).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Messages for the consumer mode's backlog; a cap for the other modes.
    #[arg(long)]
    count: Option<u64>,
    /// Messages per second, all senders together (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Flush mode of the embedded broker.
    #[arg(long, value_enum, default_value = "async")]
    flush: Flush,
    /// Store of the embedded broker (default: memory; disk for soak, whose backlog would
    /// otherwise pile up in RAM by design).
    #[arg(long, value_enum)]
    store: Option<Store>,
    /// Print a JSON summary at the end.
    #[arg(long)]
    json: bool,
    /// Measure the raw limits before the run and report ratios to them.
    #[arg(long)]
    raw_limits: bool,
    /// Directory for the disk store and the raw disk probes (default: a temporary directory).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Soak length in minutes.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Soak warm-up in seconds: growth is measured from the end of the warm-up, once caches,
    /// pools and buffers have reached their working size.
    #[arg(long, default_value_t = 60)]
    warmup: u64,
}

impl Args {
    fn store(&self) -> Store {
        self.store.unwrap_or(match self.mode {
            Mode::Soak => Store::Disk,
            _ => Store::Memory,
        })
    }
}

/// Counters and a latency histogram shared by the workers and the reporter.
struct Stats {
    ok: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    window: Mutex<Histogram<u64>>,
    total: Mutex<Histogram<u64>>,
}

impl Stats {
    fn new() -> Arc<Self> {
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
        Arc::new(Stats {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            window: Mutex::new(h()),
            total: Mutex::new(h()),
        })
    }

    fn record(&self, latency: Duration, bytes: usize) {
        let us = (latency.as_micros() as u64).max(1);
        self.ok.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let _ = self.window.lock().unwrap().record(us);
    }
}

fn percentile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn reporter(stats: Arc<Stats>, stop: Arc<AtomicBool>, label: &'static str) {
    let mut last_ok = 0;
    let mut last_bytes = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let ok = stats.ok.load(Ordering::Relaxed);
        let bytes = stats.bytes.load(Ordering::Relaxed);
        let h = {
            let mut w = stats.window.lock().unwrap();
            let snapshot = w.clone();
            w.reset();
            snapshot
        };
        let _ = stats.total.lock().unwrap().add(&h);
        println!(
            "{label} TPS: {:>8} | {:>7.1} MB/s | RT avg {:>7.3} ms p99 {:>7.3} ms max {:>8.3} ms | failed {}",
            ok - last_ok,
            (bytes - last_bytes) as f64 / 1_048_576.0,
            h.mean() / 1000.0,
            percentile_ms(&h, 0.99),
            h.max() as f64 / 1000.0,
            stats.failed.load(Ordering::Relaxed),
        );
        last_ok = ok;
        last_bytes = bytes;
    }
}

fn summary(
    run: &Run<'_>,
    stats: &Stats,
    elapsed: Duration,
    label: &str,
    mut extra: Vec<(&'static str, f64)>,
) {
    let args = run.args;
    let mut total = stats.total.lock().unwrap().clone();
    let _ = total.add(&*stats.window.lock().unwrap());
    let ok = stats.ok.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64();
    let tps = ok as f64 / secs;
    let mb_per_s = stats.bytes.load(Ordering::Relaxed) as f64 / 1_048_576.0 / secs;
    if let Some(l) = run.limits {
        // Ratios to the physical limits measured in this run (see BENCHMARKS.md).
        extra.push((
            "rt_p50_over_rtt",
            percentile_ms(&total, 0.5) * 1000.0 / l.rtt_p50_us,
        ));
        extra.push(("mb_s_over_disk", mb_per_s / l.disk_mb_s));
        extra.push(("raw_disk_mb_s", l.disk_mb_s));
        extra.push(("raw_fsync_per_s", l.fsync_per_s));
        extra.push(("raw_rtt_p50_us", l.rtt_p50_us));
        extra.push(("raw_rtt_p99_us", l.rtt_p99_us));
    }
    let extra_json: String = extra
        .iter()
        .map(|(k, v)| format!(",\"{k}\":{v:.4}"))
        .collect();
    let extra_text: String = extra.iter().map(|(k, v)| format!(", {k} {v:.3}")).collect();
    if args.json {
        println!(
            "{{\"mode\":\"{:?}\",\"messages\":{ok},\"failed\":{},\"seconds\":{secs:.3},\"tps\":{tps:.0},\"mb_per_s\":{mb_per_s:.2},\"rt_avg_ms\":{:.3},\"rt_p50_ms\":{:.3},\"rt_p99_ms\":{:.3},\"rt_max_ms\":{:.3}{extra_json},\"load\":\"{}\"}}",
            args.mode,
            stats.failed.load(Ordering::Relaxed),
            total.mean() / 1000.0,
            percentile_ms(&total, 0.5),
            percentile_ms(&total, 0.99),
            total.max() as f64 / 1000.0,
            loadavg(),
        );
    } else {
        println!(
            "[summary] {label}: {ok} messages in {secs:.1} s = {tps:.0} msg/s, RT avg {:.3} ms p50 {:.3} ms p99 {:.3} ms max {:.3} ms, failed {}{extra_text}, load {}",
            total.mean() / 1000.0,
            percentile_ms(&total, 0.5),
            percentile_ms(&total, 0.99),
            total.max() as f64 / 1000.0,
            stats.failed.load(Ordering::Relaxed),
            loadavg(),
        );
    }
}

/// Paces one sender to its share of `--rate`.
struct Pacer {
    interval: Option<Duration>,
    next: Instant,
}

impl Pacer {
    fn new(rate: u64, senders: usize) -> Self {
        let interval = (rate > 0).then(|| Duration::from_secs_f64(senders as f64 / rate as f64));
        Pacer {
            interval,
            next: Instant::now(),
        }
    }

    async fn wait(&mut self) {
        if let Some(i) = self.interval {
            self.next += i;
            tokio::time::sleep_until(self.next.into()).await;
        }
    }
}

fn body(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

struct CommitAll;

#[async_trait]
impl TransactionListener for CommitAll {
    type Arg = ();
    async fn execute(&self, _m: &Message, _a: &()) -> TransactionState {
        TransactionState::Commit
    }
    async fn check(&self, _m: &MessageExt) -> TransactionState {
        TransactionState::Commit
    }
}

/// What the machine can do at best, measured in this process just before the run.
#[derive(Debug, Clone, Copy, Default)]
struct RawLimits {
    /// Sequential write, `fdatasync` at the end included.
    disk_mb_s: f64,
    /// Small appends each followed by `fdatasync`.
    fsync_per_s: f64,
    /// Ping-pong of a 64-byte frame over loopback TCP between two tokio tasks.
    rtt_p50_us: f64,
    rtt_p99_us: f64,
}

/// Writes 1 MiB blocks for about a second (at most 512 MiB), then `fdatasync`.
fn disk_write_mb_s(dir: &std::path::Path) -> std::io::Result<f64> {
    use std::io::Write;
    let path = dir.join("raw-limits-write.tmp");
    let mut f = std::fs::File::create(&path)?;
    let block = vec![0x5au8; 1 << 20];
    let started = Instant::now();
    let mut written = 0u64;
    while written < 512 << 20 && (written < 64 << 20 || started.elapsed() < Duration::from_secs(1))
    {
        f.write_all(&block)?;
        written += block.len() as u64;
    }
    f.sync_data()?;
    let secs = started.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(written as f64 / 1_048_576.0 / secs)
}

/// Appends 4 KiB and `fdatasync`s, for about two seconds: the ceiling of durable commits per
/// second, whatever batches them.
fn fsync_per_s(dir: &std::path::Path) -> std::io::Result<f64> {
    use std::io::Write;
    let path = dir.join("raw-limits-fsync.tmp");
    let mut f = std::fs::File::create(&path)?;
    let block = vec![0xa5u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(n as f64 / secs)
}

/// Loopback round trip of a 64-byte frame between two tokio tasks with TCP_NODELAY, the
/// floor under any request/response on this runtime.
async fn loopback_rtt() -> std::io::Result<(f64, f64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let echo = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        loop {
            if s.read_exact(&mut buf).await.is_err() {
                return Ok::<_, std::io::Error>(());
            }
            s.write_all(&buf).await?;
        }
    });
    let mut c = tokio::net::TcpStream::connect(addr).await?;
    c.set_nodelay(true)?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut buf = [7u8; 64];
    for i in 0..22_000 {
        let t = Instant::now();
        c.write_all(&buf).await?;
        c.read_exact(&mut buf).await?;
        // The first 2000 warm the connection and the scheduler.
        if i >= 2_000 {
            let _ = h.record((t.elapsed().as_nanos() as u64).max(1));
        }
    }
    drop(c);
    let _ = echo.await;
    Ok((
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
    ))
}

async fn raw_limits(dir: &std::path::Path) -> Result<RawLimits, Box<dyn std::error::Error>> {
    let d = dir.to_owned();
    let (disk_mb_s, fsync_per_s) = tokio::task::spawn_blocking(move || {
        Ok::<_, std::io::Error>((disk_write_mb_s(&d)?, fsync_per_s(&d)?))
    })
    .await??;
    let (rtt_p50_us, rtt_p99_us) = loopback_rtt().await?;
    let limits = RawLimits {
        disk_mb_s,
        fsync_per_s,
        rtt_p50_us,
        rtt_p99_us,
    };
    println!(
        "[raw limits] disk write {disk_mb_s:.0} MB/s | fdatasync {fsync_per_s:.0}/s | loopback RTT p50 {rtt_p50_us:.1} us p99 {rtt_p99_us:.1} us | load {}",
        loadavg()
    );
    Ok(limits)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    println!("load average at start: {}", loadavg());
    let limits = if args.raw_limits || matches!(args.mode, Mode::Raw) {
        Some(raw_limits(&dir).await?)
    } else {
        None
    };
    if let (Mode::Raw, Some(l)) = (args.mode, limits) {
        if args.json {
            println!(
                "{{\"mode\":\"Raw\",\"disk_mb_s\":{:.1},\"fsync_per_s\":{:.0},\"rtt_p50_us\":{:.1},\"rtt_p99_us\":{:.1},\"load\":\"{}\"}}",
                l.disk_mb_s,
                l.fsync_per_s,
                l.rtt_p50_us,
                l.rtt_p99_us,
                loadavg()
            );
        }
        return Ok(());
    }
    let (broker, namesrv) = if args.embedded || args.namesrv.is_none() {
        let mut b = EmbeddedBroker::builder().flush(match args.flush {
            Flush::Async => FlushMode::Async,
            Flush::Sync => FlushMode::Sync,
        });
        if let Store::Disk = args.store() {
            b = b.directory(dir.join("store"));
        }
        let started = Instant::now();
        let broker = b.start().await?;
        println!(
            "embedded broker ready in {:?} ({:?} store, {:?} flush)",
            started.elapsed(),
            args.store(),
            args.flush
        );
        broker.create_topic(&args.topic, args.queues).await?;
        let ns = broker.name_server_addr();
        (Some(broker), ns)
    } else {
        (None, args.namesrv.clone().unwrap_or_default())
    };
    let client = Client::builder().name_server(namesrv).build().await?;
    let run = Run {
        args: &args,
        client: &client,
        broker: broker.as_ref(),
        limits,
        store_dir: dir.join("store"),
    };
    match args.mode {
        Mode::Producer | Mode::Tx => produce(&run).await?,
        Mode::Consumer => consume(&run).await?,
        Mode::E2e => end_to_end(&run).await?,
        Mode::Soak => soak(&run).await?,
        Mode::Raw => {}
    }
    client.shutdown().await;
    println!("load average at end: {}", loadavg());
    Ok(())
}

/// What every mode works with.
struct Run<'a> {
    args: &'a Args,
    client: &'a Client,
    broker: Option<&'a EmbeddedBroker>,
    limits: Option<RawLimits>,
    /// Where the disk store lives (unused with the memory store).
    store_dir: std::path::PathBuf,
}

impl Run<'_> {
    /// Commit-log `fdatasync` calls of the embedded broker so far.
    fn syncs(&self) -> Option<u64> {
        let store = self.broker?.broker(0).store().ok()?;
        Some(store.stats().commit_log_syncs)
    }
}

async fn produce(run: &Run<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let (args, client) = (run.args, run.client);
    let stats = Stats::new();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = client.producer("benchmark-producer").start().await?;
    let tx = match args.mode {
        Mode::Tx => Some(
            client
                .producer("benchmark-tx")
                .start_transactional(CommitAll)
                .await?,
        ),
        _ => None,
    };
    let budget = args.count.unwrap_or(u64::MAX);
    let issued = Arc::new(AtomicU64::new(0));
    let syncs_before = run.syncs();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let report = tokio::spawn(reporter(stats.clone(), stop.clone(), "Send"));
    let mut workers = Vec::new();
    for _ in 0..args.senders {
        let (producer, tx, stats, issued) =
            (producer.clone(), tx.clone(), stats.clone(), issued.clone());
        let (topic, size, window, rate, senders) = (
            args.topic.clone(),
            args.size,
            args.window,
            args.rate,
            args.senders,
        );
        workers.push(tokio::spawn(async move {
            let mut pacer = Pacer::new(rate, senders);
            let mut inflight = FuturesUnordered::new();
            loop {
                while inflight.len() < window
                    && Instant::now() < deadline
                    && issued.fetch_add(1, Ordering::Relaxed) < budget
                {
                    pacer.wait().await;
                    let m = Message::new(topic.clone(), body(size));
                    let (producer, tx) = (producer.clone(), tx.clone());
                    inflight.push(async move {
                        let t = Instant::now();
                        // Only SEND_OK is a success: FLUSH_DISK_TIMEOUT and the SLAVE_*
                        // statuses are stored but did not meet the promise.
                        let ok = match tx {
                            Some(tx) => tx
                                .send(m, &())
                                .await
                                .is_ok_and(|r| r.receipt.status == SendStatus::SendOk),
                            None => producer
                                .send(m)
                                .await
                                .is_ok_and(|r| r.status == SendStatus::SendOk),
                        };
                        (ok, t.elapsed())
                    });
                }
                match inflight.next().await {
                    Some((true, latency)) => stats.record(latency, size),
                    Some((false, _)) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    None => break,
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = report.await;
    let mut extra = Vec::new();
    if let (Some(before), Some(after)) = (syncs_before, run.syncs()) {
        let acks = stats.ok.load(Ordering::Relaxed).max(1) as f64;
        extra.push(("fsyncs_per_ack", (after - before) as f64 / acks));
        if let (Flush::Sync, Some(l)) = (args.flush, run.limits) {
            extra.push((
                "fsyncs_per_s_over_raw",
                (after - before) as f64 / elapsed.as_secs_f64() / l.fsync_per_s,
            ));
        }
    }
    summary(
        run,
        &stats,
        elapsed,
        if tx.is_some() {
            "transactional send"
        } else {
            "send"
        },
        extra,
    );
    Ok(())
}

async fn consume(run: &Run<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let (args, client) = (run.args, run.client);
    let backlog = args.count.unwrap_or(100_000);
    println!("producing a backlog of {backlog} messages...");
    let producer = client.producer("benchmark-producer").start().await?;
    let mut inflight = FuturesUnordered::new();
    for _ in 0..backlog {
        if inflight.len() >= args.window * args.senders {
            inflight.next().await;
        }
        inflight.push(producer.send(Message::new(args.topic.clone(), body(args.size))));
    }
    while inflight.next().await.is_some() {}
    let stats = Stats::new();
    let stop = Arc::new(AtomicBool::new(false));
    let report = tokio::spawn(reporter(stats.clone(), stop.clone(), "Consume"));
    let started = Instant::now();
    let s = stats.clone();
    let consumer = client
        .push_consumer("benchmark-consumer")
        .subscribe(args.topic.clone(), "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .consume_batch_max_size(32)
        .consume_concurrency(args.senders.max(1))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let now = now_ms();
                for m in &msgs {
                    s.record(
                        Duration::from_millis(now.saturating_sub(m.store_timestamp).max(0) as u64),
                        m.body.len(),
                    );
                }
                ConsumeResult::Success
            }
        })
        .await?;
    while stats.ok.load(Ordering::Relaxed) < backlog
        && started.elapsed() < Duration::from_secs(args.duration.max(60))
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = report.await;
    consumer.shutdown().await;
    summary(
        run,
        &stats,
        elapsed,
        "consume (RT = store to consume)",
        Vec::new(),
    );
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn end_to_end(run: &Run<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let (args, client) = (run.args, run.client);
    let stats = Stats::new();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stats.clone();
    // Send time travels in a property with microsecond resolution.
    let epoch = Instant::now();
    let consumer = client
        .push_consumer("benchmark-e2e")
        .subscribe(args.topic.clone(), "*")
        .consume_from(ConsumeFrom::LastOffset)
        .consume_concurrency(args.senders.max(1))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let now = epoch.elapsed().as_micros() as u64;
                for m in &msgs {
                    if let Some(sent) = m.property("bench_us").and_then(|v| v.parse::<u64>().ok()) {
                        s.record(
                            Duration::from_micros(now.saturating_sub(sent)),
                            m.body.len(),
                        );
                    }
                }
                ConsumeResult::Success
            }
        })
        .await?;
    // Let the consumer take its queues before the clock starts.
    while consumer.assigned_queues().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let producer = client.producer("benchmark-producer").start().await?;
    let sent_ok = Arc::new(AtomicU64::new(0));
    let report = tokio::spawn(reporter(stats.clone(), stop.clone(), "E2E"));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut workers = Vec::new();
    for _ in 0..args.senders {
        let (producer, topic, size, window, rate, senders) = (
            producer.clone(),
            args.topic.clone(),
            args.size,
            args.window,
            args.rate,
            args.senders,
        );
        let failed = stats.clone();
        let sent_ok = sent_ok.clone();
        workers.push(tokio::spawn(async move {
            let mut pacer = Pacer::new(rate, senders);
            let mut inflight = FuturesUnordered::new();
            while Instant::now() < deadline {
                if inflight.len() >= window {
                    inflight.next().await;
                }
                pacer.wait().await;
                let mut m = Message::new(topic.clone(), body(size));
                m.put_property("bench_us", (epoch.elapsed().as_micros() as u64).to_string());
                let p = producer.clone();
                let (failed, sent_ok) = (failed.clone(), sent_ok.clone());
                inflight.push(async move {
                    if p.send(m)
                        .await
                        .is_ok_and(|r| r.status == SendStatus::SendOk)
                    {
                        sent_ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while inflight.next().await.is_some() {}
        }));
    }
    for w in workers {
        w.await?;
    }
    // Drain: every SEND_OK message must be consumed; what is not within 10 s is reported
    // as undelivered (it counts as infinitely late, not as absent).
    let drain = Instant::now();
    let sent = sent_ok.load(Ordering::Relaxed);
    while stats.ok.load(Ordering::Relaxed) < sent && drain.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = report.await;
    consumer.shutdown().await;
    let undelivered = sent.saturating_sub(stats.ok.load(Ordering::Relaxed));
    summary(
        run,
        &stats,
        elapsed,
        "end to end (RT = send to consume)",
        vec![
            ("sent_ok", sent as f64),
            ("undelivered", undelivered as f64),
        ],
    );
    Ok(())
}

/// Resident set size (KiB, `VmRSS`) and open file descriptors of this process.
fn process_usage() -> (u64, usize) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// Files under `dir`, recursively: the store keeps each of its segment files open, so the
/// fd count follows the number of files and is a leak only if it outgrows them.
fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn growth_pct(from: f64, to: f64) -> f64 {
    if from > 0.0 {
        (to - from) / from * 100.0
    } else {
        0.0
    }
}

/// Produces at --rate and consumes everything for --minutes, sampling RSS and fds: a leak
/// shows as growth after the warm-up, when every pool and buffer has reached its size.
async fn soak(run: &Run<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let (args, client) = (run.args, run.client);
    let store_dir = run.store_dir.clone();
    let rate = if args.rate == 0 { 5_000 } else { args.rate };
    let total = Duration::from_secs(args.minutes * 60);
    let warmup = Duration::from_secs(args.warmup).min(total / 2);
    let (rss0, fds0) = process_usage();
    println!(
        "soak: {} min at {rate} msg/s of {} bytes, {:?} store, {:?} flush; start RSS {rss0} KiB, {fds0} fds",
        args.minutes,
        args.size,
        args.store(),
        args.flush
    );
    // Deliveries, and distinct messages: each carries a sequence number, and one bit per
    // number is set on delivery (allocated up front so the set does not grow the RSS the
    // soak measures; numbers beyond it are counted as deliveries only).
    let consumed = Arc::new(AtomicU64::new(0));
    let capacity = rate.saturating_mul(args.minutes * 60 + 60) as usize;
    let seen: Arc<Vec<AtomicU64>> = Arc::new(
        (0..capacity.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let distinct = Arc::new(AtomicU64::new(0));
    let (c, sn, dn) = (consumed.clone(), seen.clone(), distinct.clone());
    let consumer = client
        .push_consumer("benchmark-soak")
        .subscribe(args.topic.clone(), "*")
        .consume_from(ConsumeFrom::LastOffset)
        .consume_concurrency(args.senders.max(1))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let (c, sn, dn) = (c.clone(), sn.clone(), dn.clone());
            async move {
                c.fetch_add(msgs.len() as u64, Ordering::Relaxed);
                for m in &msgs {
                    let Some(seq) = m
                        .property("bench_seq")
                        .and_then(|v| v.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    if let Some(word) = sn.get(seq / 64) {
                        let bit = 1u64 << (seq % 64);
                        if word.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                            dn.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                ConsumeResult::Success
            }
        })
        .await?;
    while consumer.assigned_queues().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let producer = client.producer("benchmark-soak-producer").start().await?;
    let sent = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + total;
    let mut workers = Vec::new();
    for _ in 0..args.senders {
        let (producer, topic, size, window, senders) = (
            producer.clone(),
            args.topic.clone(),
            args.size,
            args.window,
            args.senders,
        );
        let (sent, failed, seq) = (sent.clone(), failed.clone(), seq.clone());
        workers.push(tokio::spawn(async move {
            let mut pacer = Pacer::new(rate, senders);
            let mut inflight = FuturesUnordered::new();
            while Instant::now() < deadline {
                if inflight.len() >= window {
                    inflight.next().await;
                }
                pacer.wait().await;
                let p = producer.clone();
                let mut m = Message::new(topic.clone(), body(size));
                m.put_property("bench_seq", seq.fetch_add(1, Ordering::Relaxed).to_string());
                let (sent, failed) = (sent.clone(), failed.clone());
                inflight.push(async move {
                    match p.send(m).await {
                        Ok(r) if r.status == SendStatus::SendOk => {
                            sent.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                });
            }
            while inflight.next().await.is_some() {}
        }));
    }
    let mut baseline = None;
    let mut tick =
        tokio::time::interval(Duration::from_secs(60).min(warmup.max(Duration::from_secs(1))));
    tick.tick().await;
    while Instant::now() < deadline {
        tick.tick().await;
        let (rss, fds) = process_usage();
        if baseline.is_none() && started.elapsed() >= warmup {
            baseline = Some((rss, fds));
        }
        println!(
            "[soak {:>4.0} s] sent {} consumed {} failed {} | RSS {rss} KiB, {fds} fds, {} store files | load {}",
            started.elapsed().as_secs_f64(),
            sent.load(Ordering::Relaxed),
            consumed.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            count_files(&store_dir),
            loadavg()
        );
    }
    for w in workers {
        w.await?;
    }
    // Let the consumer catch up before counting.
    let drain = Instant::now();
    while distinct.load(Ordering::Relaxed) < sent.load(Ordering::Relaxed)
        && drain.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rss1, fds1) = process_usage();
    let files1 = count_files(&store_dir);
    consumer.shutdown().await;
    let (rssb, fdsb) = baseline.unwrap_or((rss0, fds0));
    let (sent, consumed, failed, distinct) = (
        sent.load(Ordering::Relaxed),
        consumed.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        distinct.load(Ordering::Relaxed),
    );
    let undelivered = sent.saturating_sub(distinct);
    let secs = started.elapsed().as_secs_f64();
    let rss_growth = growth_pct(rssb as f64, rss1 as f64);
    if args.json {
        println!(
            "{{\"mode\":\"Soak\",\"seconds\":{secs:.0},\"rate\":{rate},\"sent\":{sent},\"consumed\":{consumed},\"distinct\":{distinct},\"undelivered\":{undelivered},\"failed\":{failed},\"rss_start_kib\":{rss0},\"rss_after_warmup_kib\":{rssb},\"rss_end_kib\":{rss1},\"rss_growth_pct\":{rss_growth:.2},\"fds_start\":{fds0},\"fds_after_warmup\":{fdsb},\"fds_end\":{fds1},\"store_files_end\":{files1},\"load\":\"{}\"}}",
            loadavg()
        );
    } else {
        println!(
            "[summary] soak {secs:.0} s: sent {sent} (SEND_OK), deliveries {consumed}, distinct {distinct}, undelivered {undelivered}, failed {failed} | RSS start {rss0} KiB, after warm-up {rssb} KiB, end {rss1} KiB: growth {rss_growth:.2}% | fds start {fds0}, after warm-up {fdsb}, end {fds1} (store files at the end: {files1}) | load {}",
            loadavg()
        );
    }
    Ok(())
}
