//! The broadcasting offset file (`LocalFileOffsetStore`): `offsets.json` holding
//! `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:11}}` in fastjson's
//! object-key form (what Java writes and reads), with the previous version kept as
//! `offsets.json.bak`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::{Error, Result};
use crate::protocol::ProtocolError;
use crate::protocol::body::JsonBody;
use crate::protocol::body::fastjson::object_key_map;
use crate::protocol::message::MessageQueue;

/// The file's contents (`OffsetSerializeWrapper`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OffsetSerializeWrapper {
    /// Queue → next offset to consume.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub(crate) offset_table: BTreeMap<MessageQueue, i64>,
}

impl JsonBody for OffsetSerializeWrapper {
    const WHAT: &'static str = "OffsetSerializeWrapper";
}

/// One group's offset file.
#[derive(Debug)]
pub(crate) struct LocalOffsetFile {
    path: PathBuf,
    /// Serializes writers (the periodic persist and a shutdown may overlap).
    write: tokio::sync::Mutex<()>,
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Protocol(ProtocolError::InvalidField {
        field: "offsets.json",
        value: format!("{}: {e}", path.display()),
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl LocalOffsetFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        LocalOffsetFile {
            path,
            write: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file, falling back to the `.bak` when the file is missing or damaged.
    /// Neither existing means no offsets yet.
    pub(crate) async fn load(&self) -> Result<HashMap<MessageQueue, i64>> {
        let bak = with_suffix(&self.path, ".bak");
        let mut first_err = None;
        for p in [&self.path, &bak] {
            match tokio::fs::read(p).await {
                Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(bytes) => match OffsetSerializeWrapper::decode(&bytes) {
                    Ok(w) => return Ok(w.offset_table.into_iter().collect()),
                    Err(e) => {
                        warn!(path = %p.display(), error = %e, "damaged offset file");
                        first_err.get_or_insert(Error::Protocol(e));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_err.get_or_insert(io_error(p, e));
                }
            }
        }
        first_err.map_or_else(|| Ok(HashMap::new()), Err)
    }

    /// Writes `table`: to `offsets.json.tmp` first, the old file copied to `.bak`, then
    /// the temporary file renamed over the file, so a crash leaves a readable version.
    pub(crate) async fn store(&self, table: &HashMap<MessageQueue, i64>) -> Result<()> {
        let wrapper = OffsetSerializeWrapper {
            offset_table: table.iter().map(|(q, o)| (q.clone(), *o)).collect(),
        };
        let json = wrapper.encode()?;
        let _w = self.write.lock().await;
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(dir, e))?;
        }
        let tmp = with_suffix(&self.path, ".tmp");
        tokio::fs::write(&tmp, &json)
            .await
            .map_err(|e| io_error(&tmp, e))?;
        if tokio::fs::try_exists(&self.path).await.unwrap_or(false) {
            let bak = with_suffix(&self.path, ".bak");
            tokio::fs::copy(&self.path, &bak)
                .await
                .map_err(|e| io_error(&bak, e))?;
        }
        tokio::fs::rename(&tmp, &self.path)
            .await
            .map_err(|e| io_error(&self.path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> HashMap<MessageQueue, i64> {
        HashMap::from([
            (MessageQueue::new("T", "broker-a", 0), 11),
            (MessageQueue::new("T", "broker-a", 1), 0),
            (MessageQueue::new("%RETRY%g", "broker-b", 0), 7),
        ])
    }

    #[tokio::test]
    async fn round_trip_with_backup() {
        let dir = std::env::temp_dir().join(format!(
            "rmq-offsets-test-{}-{}",
            std::process::id(),
            crate::protocol::message::id::now_ms()
        ));
        let path = dir.join("client@1").join("g").join("offsets.json");
        let file = LocalOffsetFile::new(path.clone());
        assert!(file.load().await.unwrap().is_empty(), "no file yet");

        file.store(&table()).await.unwrap();
        assert_eq!(file.load().await.unwrap(), table());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(r#"{"offsetTable":{{"brokerName":"#),
            "fastjson object keys: {text}"
        );

        let mut newer = table();
        newer.insert(MessageQueue::new("T", "broker-a", 0), 12);
        file.store(&newer).await.unwrap();
        assert_eq!(file.load().await.unwrap(), newer);
        // The previous version is the backup; a damaged file falls back to it.
        std::fs::write(&path, b"{\"offsetTable\":{{").unwrap();
        assert_eq!(file.load().await.unwrap(), table());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_java_output() {
        // As Java's `toJson(true)` writes it (pretty-printed, object keys).
        let java = br#"{
	"offsetTable":{{
			"brokerName":"broker-a",
			"queueId":3,
			"topic":"TopicTest"
		}:42,{
			"brokerName":"broker-a",
			"queueId":0,
			"topic":"TopicTest"
		}:0
	}
}"#;
        let w = OffsetSerializeWrapper::decode(java).unwrap();
        assert_eq!(
            w.offset_table
                .get(&MessageQueue::new("TopicTest", "broker-a", 3)),
            Some(&42)
        );
        assert_eq!(w.offset_table.len(), 2);
    }
}
