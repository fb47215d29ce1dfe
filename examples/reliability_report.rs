//! Runs the reliability scenarios and prints a table: scenario, sent, acknowledged, lost,
//! duplicated.
//!
//! ```text
//! cargo run --release --example reliability_report            # standard sizes
//! RELIABILITY_HEAVY=1 cargo run --release --example reliability_report
//! ```
//!
//! The crash scenarios re-run this executable as the broker child process (SIGKILLed at
//! random moments), so nothing else has to be built.
#![allow(clippy::print_stdout)]

use rocketmq_embedded_broker::FlushMode;
use rocketmq_suite::reliability::{
    CrashSettings, Report, consumer_storms, crash_under_load, garbage_connections, heavy,
    producer_storms, table_header, total_lost,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // When started as the broker child, this never returns (and must run outside any
    // runtime: it starts its own).
    rocketmq_suite::reliability::run_child_if_requested();
    tokio::runtime::Runtime::new()?.block_on(report())
}

async fn report() -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let h = heavy();
    let (runs, messages) = if h { (20, 10_000) } else { (3, 2_000) };
    println!("{}", table_header());
    let mut reports: Vec<Report> = Vec::new();
    let mut run = |r: Result<Report, String>| match r {
        Ok(r) => {
            println!("{r}");
            reports.push(r);
        }
        Err(e) => println!("scenario failed to run: {e}"),
    };
    run(crash_under_load(&exe, &CrashSettings::new(FlushMode::Sync, runs, messages)).await);
    run(crash_under_load(
        &exe,
        &CrashSettings::new(FlushMode::Async, runs.min(5), messages),
    )
    .await);
    run(producer_storms(if h { 20_000 } else { 5_000 }, 3).await);
    run(consumer_storms(if h { 10_000 } else { 2_000 }, 5).await);
    run(garbage_connections(if h { 1_000 } else { 200 }, 1_000, 9).await);
    // Async flush may lose its unflushed window by design; everything else must lose 0.
    let durable: Vec<Report> = reports
        .iter()
        .filter(|r| !r.scenario.starts_with("async"))
        .cloned()
        .collect();
    println!(
        "acknowledged messages lost where the contract promises none: {}",
        total_lost(&durable)
    );
    Ok(())
}
