//! Consume offsets (`OffsetStore`): an in-memory table updated as messages are
//! acknowledged, persisted to the broker (clustering: QUERY/UPDATE_CONSUMER_OFFSET) or to a
//! local file (broadcasting, [`local`]).

mod local;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing::warn;

use crate::client::Client;
use crate::error::Result;
use crate::protocol::message::MessageQueue;

pub(crate) use local::LocalOffsetFile;

#[derive(Debug)]
enum Backend {
    Remote { client: Client, group: String },
    Local(LocalOffsetFile),
}

/// A group's offsets.
#[derive(Debug)]
pub(crate) struct OffsetStore {
    table: Mutex<HashMap<MessageQueue, i64>>,
    backend: Backend,
}

impl OffsetStore {
    /// The broker-backed store of a clustering group.
    pub(crate) fn remote(client: Client, group: &str) -> Self {
        OffsetStore {
            table: Mutex::default(),
            backend: Backend::Remote {
                client,
                group: group.to_owned(),
            },
        }
    }

    /// The file-backed store of a broadcasting group:
    /// `<dir>/<client_id>/<group>/offsets.json`.
    pub(crate) fn local(dir: PathBuf, client_id: &str, group: &str) -> Self {
        OffsetStore {
            table: Mutex::default(),
            backend: Backend::Local(LocalOffsetFile::new(
                dir.join(client_id).join(group).join("offsets.json"),
            )),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<MessageQueue, i64>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the local file into memory (a no-op for the broker store).
    ///
    /// # Errors
    /// An unreadable file (its `.bak` is tried first) or undecodable contents.
    pub(crate) async fn load(&self) -> Result<()> {
        if let Backend::Local(file) = &self.backend {
            let loaded = file.load().await?;
            self.table().extend(loaded);
        }
        Ok(())
    }

    /// Sets the in-memory offset; with `increase_only` a lower value is ignored.
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut t = self.table();
        match t.get_mut(mq) {
            Some(cur) if increase_only => *cur = (*cur).max(offset),
            Some(cur) => *cur = offset,
            None => {
                t.insert(mq.clone(), offset);
            }
        }
    }

    /// The in-memory offset of `mq`.
    pub(crate) fn read_memory(&self, mq: &MessageQueue) -> Option<i64> {
        self.table().get(mq).copied()
    }

    /// The persisted offset of `mq` (`READ_FROM_STORE`), which then replaces the memory
    /// value; `None` when there is none. The file store answers from memory (the file
    /// was loaded at start).
    ///
    /// # Errors
    /// The broker could not be asked.
    pub(crate) async fn read_stored(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        match &self.backend {
            Backend::Local(_) => Ok(self.table().get(mq).copied()),
            Backend::Remote { client, group } => {
                let stored = client.query_consumer_offset(group, mq, None).await?;
                if let Some(o) = stored {
                    self.update(mq, o, false);
                }
                Ok(stored)
            }
        }
    }

    /// Persists the offsets of `mqs` (the queues still owned): oneway requests to the
    /// broker, as Java's periodic persist, or a rewrite of the local file.
    pub(crate) async fn persist_all(&self, mqs: &[MessageQueue]) {
        match &self.backend {
            Backend::Remote { client, group } => {
                let offsets: Vec<(MessageQueue, i64)> = {
                    let t = self.table();
                    mqs.iter()
                        .filter_map(|q| t.get(q).map(|o| (q.clone(), *o)))
                        .collect()
                };
                for (mq, off) in offsets {
                    if let Err(e) = client.update_consumer_offset(group, &mq, off, true).await {
                        warn!(queue = %mq, error = %e, "offset persist failed");
                    }
                }
            }
            Backend::Local(file) => {
                let snapshot = self.table().clone();
                if let Err(e) = file.store(&snapshot).await {
                    warn!(path = %file.path().display(), error = %e, "offset file write failed");
                }
            }
        }
    }

    /// Persists one queue's offset and waits for the broker's answer (or the file write).
    ///
    /// # Errors
    /// The broker refused or could not be reached; the file could not be written.
    pub(crate) async fn persist(&self, mq: &MessageQueue) -> Result<()> {
        let Some(off) = self.table().get(mq).copied() else {
            return Ok(());
        };
        match &self.backend {
            Backend::Remote { client, group } => {
                client.update_consumer_offset(group, mq, off, false).await
            }
            Backend::Local(file) => {
                let snapshot = self.table().clone();
                file.store(&snapshot).await
            }
        }
    }

    /// Persists several queues, waiting for each; errors are logged.
    pub(crate) async fn persist_each(&self, mqs: &[MessageQueue]) -> Result<()> {
        let mut first_err = None;
        match &self.backend {
            Backend::Remote { .. } => {
                for mq in mqs {
                    if let Err(e) = self.persist(mq).await {
                        warn!(queue = %mq, error = %e, "offset persist failed");
                        first_err.get_or_insert(e);
                    }
                }
            }
            Backend::Local(file) => {
                let snapshot = self.table().clone();
                if let Err(e) = file.store(&snapshot).await {
                    first_err = Some(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// What the group committed for `mq`, strictly: `None` when nothing was ever
    /// committed (where `read_stored`, like Java, lets the broker answer 0 for a queue
    /// whose first message is still held; `Client::committed_offset` checks that answer
    /// on 4.9 brokers, which know no `setZeroIfNotFound`).
    ///
    /// # Errors
    /// The broker could not be asked.
    pub(crate) async fn read_committed(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        match &self.backend {
            Backend::Local(_) => Ok(self.table().get(mq).copied()),
            Backend::Remote { client, group } => client.committed_offset(group, mq).await,
        }
    }

    /// Forgets the in-memory offset of `mq` (it moved to another consumer, or is about to
    /// be re-read from the broker). A no-op for the file store, whose memory *is* the
    /// persisted state (as Java's `LocalFileOffsetStore.removeOffset`).
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        if matches!(self.backend, Backend::Remote { .. }) {
            self.table().remove(mq);
        }
    }
}
