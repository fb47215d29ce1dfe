//! Shared helpers for the workspace's examples and integration tests (not published).

pub mod reliability;

use std::future::Future;
use std::time::Duration;

/// Polls `condition` until it returns `true` or `timeout` passes; returns whether it held.
///
/// Tests use this instead of fixed sleeps: the wait ends as soon as the condition holds.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What an example set out to demonstrate did not happen: `main` returns it, so the
/// process exits non-zero with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDemonstrated(pub String);

impl std::fmt::Display for NotDemonstrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not demonstrated: {}", self.0)
    }
}

impl std::error::Error for NotDemonstrated {}

/// `Ok(())` when `held`, otherwise [`NotDemonstrated`] saying `what` should have happened.
///
/// # Errors
/// [`NotDemonstrated`] when `held` is false.
pub fn ensure(held: bool, what: impl Into<String>) -> Result<(), NotDemonstrated> {
    if held {
        Ok(())
    } else {
        Err(NotDemonstrated(what.into()))
    }
}
