//! Waiting for the signal that asks a service to stop: Ctrl-C (SIGINT) or SIGTERM, which is
//! what `docker stop`, Kubernetes, systemd and IDE stop buttons send. A service that only
//! watches Ctrl-C is killed by SIGTERM without draining its consumers or persisting offsets.
//!
//! ```no_run
//! use rocketmq_sdk::signal::ShutdownSignal;
//!
//! # async fn run(client: rocketmq_sdk::Client) -> std::io::Result<()> {
//! // Register first: a signal that arrives before registration kills the process.
//! let mut stop = ShutdownSignal::register()?;
//! // ... start producers and consumers ...
//! let which = stop.recv().await;
//! tracing::info!(?which, "stopping");
//! client.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::io;

/// Which stop signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`docker stop`, systemd, Kubernetes).
    Terminate,
}

/// A registered watch for SIGINT and SIGTERM (Ctrl-C only where there is no SIGTERM).
///
/// While it exists, those signals no longer terminate the process: they are delivered to
/// [`ShutdownSignal::recv`].
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Starts watching for SIGINT and SIGTERM. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// The signal handlers cannot be installed (no tokio runtime with signal support, or the
    /// operating system refused).
    pub fn register() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next SIGINT or SIGTERM.
    ///
    /// # Cancel safety
    /// Cancel safe: a signal that arrives while no one waits is kept for the next call.
    pub async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => StopSignal::Interrupt,
                _ = self.terminate.recv() => StopSignal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                // Without a Ctrl-C handler there is nothing to wait for.
                std::future::pending::<()>().await;
            }
            StopSignal::Interrupt
        }
    }
}
