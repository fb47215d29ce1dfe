//! `rocketmq-embedded-broker`: a name server and brokers in one process, for development
//! machines and CI jobs that want a RocketMQ without Java.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use rocketmq_embedded_broker::acl::AclConfig;
use rocketmq_embedded_broker::{EmbeddedBroker, FlushMode, ReplicationMode};

/// Runs an Apache RocketMQ-compatible name server and broker(s) until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "rocketmq-embedded-broker", version)]
struct Args {
    /// Name server address. Loopback by default: nothing is reachable from other hosts.
    #[arg(long, default_value = "127.0.0.1:9876")]
    listen: String,
    /// Store directory (one sub-directory per broker). Without it, data lives in memory
    /// and is gone when the process exits.
    #[arg(long)]
    store: Option<PathBuf>,
    /// When sends are made durable.
    #[arg(long, value_enum, default_value_t = Flush::Async)]
    flush: Flush,
    /// Number of master brokers (broker-a, broker-b, ...).
    #[arg(long, default_value_t = 1)]
    brokers: usize,
    /// Give every broker a slave (broker id 1, on the broker's port + 1) replicating its
    /// commit log: `sync` (SYNC_MASTER) or `async` (ASYNC_MASTER).
    #[arg(long, value_enum)]
    slave: Option<Slave>,
    /// Port of the first broker; broker i listens on this + 10*i (0: any free port).
    #[arg(long, default_value_t = 10911)]
    broker_port: u16,
    /// Cluster name.
    #[arg(long, default_value = "DefaultCluster")]
    cluster: String,
    /// Refuse sends to unknown topics instead of creating them.
    #[arg(long)]
    no_auto_create_topics: bool,
    /// Refuse SQL92 subscriptions (`MessageSelector.bySql`), as a Java broker with the
    /// default `enablePropertyFilter=false` does. Without it they are served.
    #[arg(long)]
    no_property_filter: bool,
    /// ACL 1.0: a `plain_acl.yml` (or the same structure in JSON). Brokers then refuse
    /// unsigned or unauthorised requests; the name server does not check (as upstream).
    #[arg(long, value_name = "FILE")]
    acl_file: Option<PathBuf>,
    /// TLS: PEM certificate chain (leaf first). With `--tls-key`, the name server and the
    /// brokers accept TLS only. Needs the `tls` feature.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS: PEM private key of `--tls-cert`.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `rocketmq_embedded_broker=debug`.
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Flush {
    /// Background flush every 500 ms (upstream ASYNC_FLUSH).
    Async,
    /// Acknowledge sends only once synced (upstream SYNC_FLUSH).
    Sync,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Slave {
    /// SYNC_MASTER: sends are acknowledged once the slave has them.
    Sync,
    /// ASYNC_MASTER: the slave follows behind.
    Async,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut builder = EmbeddedBroker::builder()
        .name_server_addr(&args.listen)
        .brokers(args.brokers)
        .broker_port(args.broker_port)
        .cluster_name(&args.cluster)
        .auto_create_topics(!args.no_auto_create_topics)
        .property_filter(!args.no_property_filter)
        .flush(match args.flush {
            Flush::Async => FlushMode::Async,
            Flush::Sync => FlushMode::Sync,
        });
    if let Some(dir) = &args.store {
        builder = builder.directory(dir);
    }
    if let Some(slave) = args.slave {
        builder = builder.slave(match slave {
            Slave::Sync => ReplicationMode::Sync,
            Slave::Async => ReplicationMode::Async,
        });
    }
    let mut acl_accounts = None;
    if let Some(path) = &args.acl_file {
        match AclConfig::load(path) {
            Ok(acl) => {
                acl_accounts = Some(acl.accounts.len());
                builder = builder.acl(acl);
            }
            Err(e) => {
                eprintln!("rocketmq-embedded-broker: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match with_tls(builder, cert, key) {
            Ok(b) => {
                builder = b;
                true
            }
            Err(e) => {
                eprintln!("rocketmq-embedded-broker: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => false,
    };
    let broker = match builder.start().await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("rocketmq-embedded-broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Registered before the addresses are printed: whoever reads them may signal at once,
    // and a signal before registration would kill the process without a shutdown. SIGTERM
    // is what `docker stop`, systemd and IDE stop buttons send: it stops as gracefully as
    // Ctrl-C (drain, flush, configs and offsets, clean-shutdown marker).
    let mut stop = match rocketmq_sdk::signal::ShutdownSignal::register() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("rocketmq-embedded-broker: cannot watch for SIGINT/SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ns = broker.name_server_addr();
    println!("name server  {ns}");
    for b in broker.brokers() {
        println!(
            "broker       {} {} (cluster {})",
            b.name(),
            b.addr(),
            args.cluster
        );
        if let Some(slave) = b.slave() {
            println!(
                "slave        {} {} (broker id 1, {:?} replication)",
                slave.name(),
                slave.addr(),
                args.slave.unwrap_or(Slave::Async)
            );
        }
    }
    match &args.store {
        Some(dir) => println!("store        {} ({:?} flush)", dir.display(), args.flush),
        None => println!(
            "store        memory ({:?} flush; data is lost on exit)",
            args.flush
        ),
    }
    match (&args.acl_file, acl_accounts) {
        (Some(path), Some(n)) => println!(
            "acl          on: {} ({n} accounts); the name server does not check",
            path.display()
        ),
        _ => println!("acl          off: every request is served"),
    }
    println!(
        "filters      tags{}",
        if args.no_property_filter {
            " (SQL92 refused: --no-property-filter)"
        } else {
            " and SQL92 (enablePropertyFilter=true)"
        }
    );
    println!(
        "transport    {}",
        if tls { "TLS only" } else { "plaintext" }
    );
    if ns.starts_with("127.") || ns.starts_with("[::1]") {
        println!("listening on loopback only; use --listen <ip>:<port> to serve other hosts");
    } else {
        println!("listening on {ns}: reachable from other hosts");
    }
    println!("clients: set the name server to {ns}; Ctrl-C or SIGTERM stops");
    stop.recv().await;
    // Whoever started us may have closed our stdout by now; a failed write must not turn a
    // graceful stop into a panic (and the store into a crash).
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "shutting down");
    }
    match broker.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocketmq-embedded-broker: shutdown failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "tls")]
fn with_tls(
    builder: rocketmq_embedded_broker::EmbeddedBrokerBuilder,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<rocketmq_embedded_broker::EmbeddedBrokerBuilder, String> {
    let tls = rocketmq_embedded_broker::server::TlsServerConfig::from_pem_files(cert, key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(builder.tls(tls))
}

#[cfg(not(feature = "tls"))]
fn with_tls(
    _builder: rocketmq_embedded_broker::EmbeddedBrokerBuilder,
    _cert: &std::path::Path,
    _key: &std::path::Path,
) -> Result<rocketmq_embedded_broker::EmbeddedBrokerBuilder, String> {
    Err("--tls-cert/--tls-key need a build with the `tls` feature \
         (cargo install rocketmq-embedded-broker --features tls)"
        .into())
}
