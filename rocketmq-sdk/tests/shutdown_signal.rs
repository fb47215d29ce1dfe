//! SIGTERM and SIGINT both reach `ShutdownSignal::recv` (and neither kills the process
//! while it is registered). One test in its own binary: the handlers are process-wide.

#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use rocketmq_sdk::signal::{ShutdownSignal, StopSignal};

fn send(signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(std::process::id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

#[tokio::test]
async fn sigterm_and_sigint_are_reported_in_order() {
    let mut stop = ShutdownSignal::register().expect("register");
    let mut seen = Vec::new();
    for (name, expected) in [
        ("TERM", StopSignal::Terminate),
        ("INT", StopSignal::Interrupt),
        ("TERM", StopSignal::Terminate),
    ] {
        send(name);
        let got = tokio::time::timeout(Duration::from_secs(10), stop.recv())
            .await
            .unwrap_or_else(|_| panic!("SIG{name} was not delivered"));
        assert_eq!(got, expected);
        seen.push(got);
    }
    assert_eq!(seen.len(), 3);
}
