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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // When started as the broker child, this never returns.
    rocketmq_suite::reliability::run_child_if_requested();
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
    println!(
        "acknowledged messages lost in total: {} (async-flush loss, if any, is within its window)",
        total_lost(&reports)
    );
    Ok(())
}
