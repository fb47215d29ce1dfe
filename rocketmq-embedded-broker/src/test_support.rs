//! Runtime support for `#[rocketmq_sdk::test]`. Not a public API: the names here may
//! change in any release; the macro is the interface.
//!
//! With [`EXTERNAL_NAMESRV_ENV`] set (`ROCKETMQ_TEST_NAMESRV=host:port`, several separated
//! by `;` as in `NAMESRV_ADDR`), a test that asks only for a `Client` runs against that
//! cluster instead of a fresh embedded broker; a test that needs the embedded broker (its
//! parameter, or an option only it has: disk, flush mode, several brokers, delay levels,
//! manual clock, ...) says on stderr that it did not run, and passes.

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rocketmq_sdk::Client;

use crate::store::ManualClock;
use crate::{EmbeddedBroker, EmbeddedBrokerBuilder, FlushMode};

/// The variable that points `#[rocketmq_sdk::test]` at an external cluster.
pub const EXTERNAL_NAMESRV_ENV: &str = "ROCKETMQ_TEST_NAMESRV";

/// What the test asked for.
#[derive(Debug)]
pub struct TestOptions {
    builder: EmbeddedBrokerBuilder,
    disk: bool,
    client: bool,
    /// What only the embedded broker can give this test.
    embedded_only: Vec<&'static str>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TestOptions {
    /// An in-memory broker, the harness defaults.
    pub fn new() -> Self {
        TestOptions {
            builder: EmbeddedBroker::builder().memory(),
            disk: false,
            client: false,
            embedded_only: Vec::new(),
        }
    }

    /// A store on disk, in a fresh temporary directory removed after the test.
    pub fn disk(mut self) -> Self {
        self.disk = true;
        self.embedded_only.push("disk");
        self
    }

    /// Synchronous flush.
    pub fn sync_flush(mut self) -> Self {
        self.builder = self.builder.flush(FlushMode::Sync);
        self.embedded_only.push("sync_flush");
        self
    }

    /// Brokers in the cluster.
    pub fn brokers(mut self, n: usize) -> Self {
        self.builder = self.builder.brokers(n);
        self.embedded_only.push("brokers");
        self
    }

    /// Queues per auto-created topic.
    pub fn queues(mut self, n: usize) -> Self {
        self.builder = self
            .builder
            .queues_per_topic(i32::try_from(n).unwrap_or(i32::MAX));
        self
    }

    /// The delay-level ladder (`messageDelayLevel`).
    pub fn delay_levels(mut self, levels: &str) -> Self {
        self.builder = self.builder.delay_levels(levels);
        self.embedded_only.push("delay_levels");
        self
    }

    /// A manual clock starting now; the test moves it with `EmbeddedBroker::advance`.
    pub fn manual_clock(mut self) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.builder = self.builder.manual_clock(Arc::new(ManualClock::new(now)));
        self.embedded_only.push("manual_clock");
        self
    }

    /// Topic auto-creation.
    pub fn auto_create_topics(mut self, yes: bool) -> Self {
        self.builder = self.builder.auto_create_topics(yes);
        self.embedded_only.push("auto_create_topics");
        self
    }

    /// How often unresolved transactions are checked back, and how old they must be.
    pub fn transaction_check_ms(mut self, ms: u64) -> Self {
        let d = std::time::Duration::from_millis(ms);
        self.builder = self
            .builder
            .transaction_check_interval(d)
            .transaction_timeout(d);
        self.embedded_only.push("transaction_check_ms");
        self
    }

    /// Whether to connect a client.
    pub fn with_client(mut self, yes: bool) -> Self {
        self.client = yes;
        self
    }

    /// Whether the test takes the `EmbeddedBroker` itself.
    pub fn with_broker(mut self, yes: bool) -> Self {
        if yes {
            self.embedded_only.push("an `EmbeddedBroker` parameter");
        }
        self
    }

    /// Whether `test` must be skipped: [`EXTERNAL_NAMESRV_ENV`] is set and the test needs
    /// the embedded broker. Says so on stderr, past the harness's output capture.
    pub fn skip_external(&self, test: &str) -> bool {
        let Some(ns) = external_namesrv() else {
            return false;
        };
        if self.embedded_only.is_empty() {
            return false;
        }
        let line = format!(
            "SKIPPED (not run): {test} needs the embedded broker ({}); {EXTERNAL_NAMESRV_ENV}={ns} points at an external cluster\n",
            self.embedded_only.join(", ")
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        true
    }
}

/// The external cluster's name servers, when [`EXTERNAL_NAMESRV_ENV`] is set.
fn external_namesrv() -> Option<String> {
    std::env::var(EXTERNAL_NAMESRV_ENV)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// What the test body receives.
#[derive(Debug)]
#[non_exhaustive]
pub struct TestEnv {
    /// The broker (`None` against an external cluster).
    pub broker: Option<EmbeddedBroker>,
    /// The client, when asked for.
    pub client: Option<Client>,
}

/// The client of a [`TestEnv`] whose test asked for one.
///
/// # Panics
/// When there is none (a macro bug).
pub fn expect_client(client: Option<Client>) -> Client {
    client.expect("#[rocketmq_sdk::test] asked for a client")
}

/// The broker of a [`TestEnv`] whose test asked for it.
///
/// # Panics
/// When there is none (a macro bug: such a test is skipped against an external cluster).
pub fn expect_broker(broker: Option<EmbeddedBroker>) -> EmbeddedBroker {
    broker.expect("#[rocketmq_sdk::test] asked for the embedded broker")
}

/// A fresh directory under the system temp dir.
fn temp_store(test: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let safe: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(format!(
        "rocketmq-test-{safe}-{}-{nanos}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes the store directory when the test ends, however it ends.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Builds a multi-threaded runtime, starts the broker (and client), runs `body`.
///
/// # Panics
/// When the runtime, the broker or the client cannot start: the test fails there.
pub fn run_test<F, Fut>(test: &str, options: TestOptions, body: F) -> Fut::Output
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build the test's tokio runtime");
    let _cleanup;
    let mut builder = options.builder;
    if options.disk {
        let dir = temp_store(test);
        builder = builder.directory(dir.clone());
        _cleanup = RemoveOnDrop(Some(dir));
    } else {
        _cleanup = RemoveOnDrop(None);
    }
    runtime.block_on(async move {
        if let Some(ns) = external_namesrv() {
            let mut b = Client::builder();
            for addr in ns.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                b = b.name_server(addr);
            }
            let client = b.build().await.unwrap_or_else(|e| {
                panic!("{test}: the client for {EXTERNAL_NAMESRV_ENV}={ns} did not start: {e}")
            });
            return body(TestEnv {
                broker: None,
                client: Some(client),
            })
            .await;
        }
        let broker = builder
            .start()
            .await
            .unwrap_or_else(|e| panic!("{test}: the embedded broker did not start: {e}"));
        let client = if options.client {
            Some(
                Client::builder()
                    .name_server(broker.name_server_addr())
                    .build()
                    .await
                    .unwrap_or_else(|e| panic!("{test}: the client did not start: {e}")),
            )
        } else {
            None
        };
        body(TestEnv {
            broker: Some(broker),
            client,
        })
        .await
    })
}
