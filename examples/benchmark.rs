//! A RocketMQ-style benchmark for this SDK and broker (in the spirit of RocketMQ's
//! `benchmark/producer.sh`): one line per second with TPS, MB/s and latency, then a summary.
//!
//! ```sh
//! cargo run --release --example benchmark -- producer --embedded --size 1024 --senders 4 --window 64
//! cargo run --release --example benchmark -- e2e --embedded --rate 50000 --queues 16
//! cargo run --release --example benchmark -- producer --namesrv 127.0.0.1:9876 --topic BenchmarkTopic
//! ```
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
use rocketmq_sdk::{Client, TransactionListener, TransactionState};
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
    /// Store of the embedded broker.
    #[arg(long, value_enum, default_value = "memory")]
    store: Store,
    /// Print a JSON summary at the end.
    #[arg(long)]
    json: bool,
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

fn summary(args: &Args, stats: &Stats, elapsed: Duration, label: &str) {
    let mut total = stats.total.lock().unwrap().clone();
    let _ = total.add(&*stats.window.lock().unwrap());
    let ok = stats.ok.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64();
    let tps = ok as f64 / secs;
    if args.json {
        println!(
            "{{\"mode\":\"{:?}\",\"messages\":{ok},\"failed\":{},\"seconds\":{secs:.3},\"tps\":{tps:.0},\"mb_per_s\":{:.2},\"rt_avg_ms\":{:.3},\"rt_p50_ms\":{:.3},\"rt_p99_ms\":{:.3},\"rt_max_ms\":{:.3}}}",
            args.mode,
            stats.failed.load(Ordering::Relaxed),
            stats.bytes.load(Ordering::Relaxed) as f64 / 1_048_576.0 / secs,
            total.mean() / 1000.0,
            percentile_ms(&total, 0.5),
            percentile_ms(&total, 0.99),
            total.max() as f64 / 1000.0,
        );
    } else {
        println!(
            "[summary] {label}: {ok} messages in {secs:.1} s = {tps:.0} msg/s, RT avg {:.3} ms p50 {:.3} ms p99 {:.3} ms max {:.3} ms, failed {}",
            total.mean() / 1000.0,
            percentile_ms(&total, 0.5),
            percentile_ms(&total, 0.99),
            total.max() as f64 / 1000.0,
            stats.failed.load(Ordering::Relaxed)
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (_broker, namesrv) = if args.embedded || args.namesrv.is_none() {
        let mut b = EmbeddedBroker::builder().flush(match args.flush {
            Flush::Async => FlushMode::Async,
            Flush::Sync => FlushMode::Sync,
        });
        let dir = tempfile::tempdir()?;
        if let Store::Disk = args.store {
            b = b.directory(dir.path());
        }
        let started = Instant::now();
        let broker = b.start().await?;
        println!(
            "embedded broker ready in {:?} ({:?} store, {:?} flush)",
            started.elapsed(),
            args.store,
            args.flush
        );
        broker.create_topic(&args.topic, args.queues).await?;
        let ns = broker.name_server_addr();
        (Some((broker, dir)), ns)
    } else {
        (None, args.namesrv.clone().unwrap_or_default())
    };
    let client = Client::builder().name_server(namesrv).build().await?;
    match args.mode {
        Mode::Producer | Mode::Tx => produce(&args, &client).await?,
        Mode::Consumer => consume(&args, &client).await?,
        Mode::E2e => end_to_end(&args, &client).await?,
    }
    client.shutdown().await;
    Ok(())
}

async fn produce(args: &Args, client: &Client) -> Result<(), Box<dyn std::error::Error>> {
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
                        let ok = match tx {
                            Some(tx) => tx.send(m, &()).await.is_ok(),
                            None => producer.send(m).await.is_ok(),
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
    summary(
        args,
        &stats,
        elapsed,
        if tx.is_some() {
            "transactional send"
        } else {
            "send"
        },
    );
    Ok(())
}

async fn consume(args: &Args, client: &Client) -> Result<(), Box<dyn std::error::Error>> {
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
    summary(args, &stats, elapsed, "consume (RT = store to consume)");
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn end_to_end(args: &Args, client: &Client) -> Result<(), Box<dyn std::error::Error>> {
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
                let failed = failed.clone();
                inflight.push(async move {
                    if p.send(m).await.is_err() {
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
    // Give the consumer a moment to drain what is in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = report.await;
    consumer.shutdown().await;
    summary(args, &stats, elapsed, "end to end (RT = send to consume)");
    Ok(())
}
