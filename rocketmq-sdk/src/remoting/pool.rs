//! Connections by address: one multiplexed connection per peer, reopened on demand with
//! backoff after failures.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Connection, ConnectionOptions, RemotingError};
use crate::protocol::RemotingCommand;

/// Backoff after a failed connect: doubles from `initial` up to `max`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Backoff {
    /// First delay after a failure. Default 100 ms.
    pub initial: Duration,
    /// Largest delay. Default 5 s.
    pub max: Duration,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<(std::io::ErrorKind, String)>,
}

/// A set of connections keyed by `host:port`. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    options: ConnectionOptions,
    backoff: Backoff,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    /// Open connections, read on every request without awaiting a lock; the slots above
    /// only serialize (re)connecting.
    open: std::sync::RwLock<HashMap<String, Connection>>,
    /// The `version` field of the last response from each peer: what RocketMQ release it
    /// runs, for features that differ between 4.9.x and 5.x.
    versions: std::sync::RwLock<HashMap<String, i16>>,
}

impl fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("ConnectionPool").field("peers", &n).finish()
    }
}

impl ConnectionPool {
    /// A pool whose connections use `options`.
    pub fn new(options: ConnectionOptions, backoff: Backoff) -> Self {
        ConnectionPool {
            inner: Arc::new(PoolInner {
                options,
                backoff,
                slots: Mutex::new(HashMap::new()),
                open: std::sync::RwLock::new(HashMap::new()),
                versions: std::sync::RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The open connection to `addr`, connecting if there is none.
    ///
    /// # Errors
    /// Connect errors; within the backoff window after a failure the last error is returned
    /// at once, so callers can move on to another peer.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn get(&self, addr: &str) -> Result<Connection, RemotingError> {
        if let Some(c) = self
            .inner
            .open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(addr)
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let slot = {
            let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(addr.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(c) = &slot.conn
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        slot.conn = None;
        if let (Some(at), Some((kind, msg))) = (slot.retry_at, &slot.last_error)
            && Instant::now() < at
        {
            return Err(RemotingError::Connect {
                addr: addr.to_owned(),
                source: std::io::Error::new(*kind, format!("{msg} (in backoff)")),
            });
        }
        match Connection::connect(addr, self.inner.options.clone()).await {
            Ok(c) => {
                slot.conn = Some(c.clone());
                self.inner
                    .open
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(addr.to_owned(), c.clone());
                slot.failures = 0;
                slot.retry_at = None;
                slot.last_error = None;
                Ok(c)
            }
            Err(e) => {
                slot.failures = slot.failures.saturating_add(1);
                let exp = self
                    .inner
                    .backoff
                    .initial
                    .saturating_mul(1 << (slot.failures - 1).min(16));
                slot.retry_at = Some(Instant::now() + exp.min(self.inner.backoff.max));
                slot.last_error = Some(match &e {
                    RemotingError::Connect { source, .. } => (source.kind(), source.to_string()),
                    RemotingError::Tls { source, .. } => {
                        (source.kind(), format!("TLS handshake failed: {source}"))
                    }
                    other => (std::io::ErrorKind::TimedOut, other.to_string()),
                });
                Err(e)
            }
        }
    }

    /// Sends `request` to `addr` and waits for the response.
    ///
    /// # Errors
    /// As [`ConnectionPool::get`] and [`Connection::request`].
    ///
    /// # Cancel safety
    /// As [`Connection::request`].
    pub async fn request(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let started = Instant::now();
        let conn = self.get(addr).await?;
        let left = timeout.saturating_sub(started.elapsed());
        let response = conn.request(request, left).await?;
        self.note_version(addr, response.version);
        Ok(response)
    }

    fn note_version(&self, addr: &str, version: i16) {
        let known = self
            .inner
            .versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(addr)
            .copied();
        if known != Some(version) {
            self.inner
                .versions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(addr.to_owned(), version);
        }
    }

    /// The `version` of the last response `addr` sent through this pool (the peer's
    /// `MQVersion` ordinal, e.g. 409 for 4.9.8, 413 for 5.0.0), if it has answered yet.
    pub fn peer_version(&self, addr: &str) -> Option<i16> {
        self.inner
            .versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(addr)
            .copied()
    }

    /// Sends a oneway request to `addr`.
    ///
    /// # Errors
    /// As [`ConnectionPool::get`] and [`Connection::send_oneway`].
    ///
    /// # Cancel safety
    /// Cancel safe: the request is either queued on the connection or not.
    pub async fn send_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), RemotingError> {
        self.get(addr).await?.send_oneway(request)
    }

    /// Every open connection (for heartbeats and shutdown).
    pub fn open_connections(&self) -> Vec<Connection> {
        let slots: Vec<_> = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        slots
            .iter()
            .filter_map(|s| s.try_lock().ok().and_then(|s| s.conn.clone()))
            .filter(|c| !c.is_closed())
            .collect()
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        for c in self.open_connections() {
            c.close();
        }
    }
}
