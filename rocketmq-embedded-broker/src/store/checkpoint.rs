//! The `checkpoint` file: how far each kind of data is known to be durable, so recovery after a
//! crash knows where to start re-dispatching (upstream `StoreCheckpoint`).
//!
//! Layout: a 4096-byte file, five big-endian `i64` at offsets 0, 8, 16, 24, 32, rest zero.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::error::{StoreError, StoreResult};
use super::segment::lock;
use super::storage::{Storage, StorageFile, read_exact_at, write_all_at};

/// Size of the checkpoint file.
pub(crate) const CHECKPOINT_FILE_SIZE: u64 = 4096;

/// The five values of the checkpoint file, in file order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointValues {
    /// Store timestamp of the last commit-log record known flushed.
    pub physic_msg_timestamp: i64,
    /// Store timestamp of the last record whose consume-queue unit is known flushed.
    pub logics_msg_timestamp: i64,
    /// Store timestamp of the last record whose index entries are known flushed.
    pub index_msg_timestamp: i64,
    /// Flushed commit-log offset as a replication master saw it (kept, not used by this store).
    pub master_flushed_offset: i64,
    /// Confirmed commit-log offset in controller mode (kept, not used by this store).
    pub confirm_phy_offset: i64,
}

impl CheckpointValues {
    /// `min(physic, logics) - 3000`, floored at 0: upstream's safe restart point for the
    /// consume queues.
    pub fn min_timestamp(&self) -> i64 {
        (self.physic_msg_timestamp.min(self.logics_msg_timestamp) - 3000).max(0)
    }

    /// [`min_timestamp`](Self::min_timestamp) that also covers the index (`messageIndexSafe`).
    pub fn min_timestamp_index(&self) -> i64 {
        self.min_timestamp().min(self.index_msg_timestamp).max(0)
    }

    fn encode(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        for (i, v) in [
            self.physic_msg_timestamp,
            self.logics_msg_timestamp,
            self.index_msg_timestamp,
            self.master_flushed_offset,
            self.confirm_phy_offset,
        ]
        .into_iter()
        .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
        }
        b
    }

    fn decode(b: &[u8; 40]) -> Self {
        let v = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            i64::from_be_bytes(x)
        };
        CheckpointValues {
            physic_msg_timestamp: v(0),
            logics_msg_timestamp: v(1),
            index_msg_timestamp: v(2),
            master_flushed_offset: v(3),
            confirm_phy_offset: v(4),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Checkpoint {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    values: Mutex<CheckpointValues>,
}

impl Checkpoint {
    /// Opens or creates the checkpoint; a short or missing file reads as all zeros (recovery then
    /// starts from the oldest data, which is always safe).
    pub(crate) fn open(storage: &dyn Storage, path: &Path) -> StoreResult<Self> {
        let file = storage
            .open_file(path, true)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.len().map_err(|e| StoreError::io(path, e))?;
        let mut values = CheckpointValues::default();
        if len >= 40 {
            let mut b = [0u8; 40];
            read_exact_at(file.as_ref(), &mut b, 0).map_err(|e| StoreError::io(path, e))?;
            values = CheckpointValues::decode(&b);
        }
        if len != CHECKPOINT_FILE_SIZE {
            file.set_len(CHECKPOINT_FILE_SIZE)
                .map_err(|e| StoreError::io(path, e))?;
        }
        Ok(Checkpoint {
            path: path.to_path_buf(),
            file,
            values: Mutex::new(values),
        })
    }

    pub(crate) fn values(&self) -> CheckpointValues {
        *lock(&self.values)
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut CheckpointValues)) {
        f(&mut lock(&self.values));
    }

    /// Writes the current values and syncs.
    pub(crate) fn flush(&self) -> StoreResult<()> {
        let bytes = self.values().encode();
        write_all_at(self.file.as_ref(), &bytes, 0).map_err(|e| StoreError::io(&self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::storage::MemoryStorage;

    #[test]
    fn round_trips_and_computes_min_timestamps() {
        let s = MemoryStorage::new();
        s.create_dir_all(Path::new("/r")).unwrap();
        let p = Path::new("/r/checkpoint");
        let cp = Checkpoint::open(&s, p).unwrap();
        cp.update(|v| {
            v.physic_msg_timestamp = 10_000;
            v.logics_msg_timestamp = 9_000;
            v.index_msg_timestamp = 5_000;
        });
        cp.flush().unwrap();
        s.power_loss();
        let v = Checkpoint::open(&s, p).unwrap().values();
        assert_eq!(v.physic_msg_timestamp, 10_000);
        assert_eq!(v.min_timestamp(), 6_000);
        assert_eq!(v.min_timestamp_index(), 5_000);
        assert_eq!(s.open_file(p, false).unwrap().len().unwrap(), 4096);
    }
}
