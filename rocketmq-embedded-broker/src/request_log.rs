//! A record of the requests a broker or name server received, for tests that check what a
//! client sent (header fields a real broker reads, codes, bodies) rather than only its
//! effects. Off until [`RequestLog::start`]; bounded, oldest entries dropped first.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode};

/// How many requests a log keeps; older ones are dropped.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// One received request: its code, its header fields as sent, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Request code.
    pub code: RequestCode,
    /// `extFields` of the header, sorted by key.
    pub fields: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The value of header field `key`, if sent.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The requests received while recording was on. Every method takes `&self`.
#[derive(Default)]
pub struct RequestLog {
    on: AtomicBool,
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLog")
            .field("on", &self.on.load(Ordering::Relaxed))
            .field("len", &self.lock().len())
            .finish()
    }
}

impl RequestLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording every request received from now on.
    pub fn start(&self) {
        self.on.store(true, Ordering::Release);
    }

    /// Stops recording; what was recorded is kept.
    pub fn stop(&self) {
        self.on.store(false, Ordering::Release);
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Every recorded request, oldest first.
    pub fn all(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }

    /// The recorded requests with `code`, oldest first.
    pub fn of(&self, code: RequestCode) -> Vec<RecordedRequest> {
        self.lock()
            .iter()
            .filter(|r| r.code == code)
            .cloned()
            .collect()
    }

    pub(crate) fn observe(&self, request: &RemotingCommand) {
        if !self.on.load(Ordering::Acquire) {
            return;
        }
        let mut fields: Vec<(String, String)> = request
            .ext_fields
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        fields.sort();
        let mut entries = self.lock();
        if entries.len() == REQUEST_LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(RecordedRequest {
            code: RequestCode(request.code),
            fields,
            body: request.body.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_on_and_stays_bounded() {
        let log = RequestLog::default();
        let req = |code| {
            let mut r = RemotingCommand::request(code);
            r.ext_fields.insert("k".to_owned(), "v");
            r
        };
        log.observe(&req(RequestCode::HEART_BEAT));
        assert!(log.all().is_empty());
        log.start();
        for _ in 0..REQUEST_LOG_CAPACITY + 5 {
            log.observe(&req(RequestCode::HEART_BEAT));
        }
        log.observe(&req(RequestCode::END_TRANSACTION));
        assert_eq!(log.all().len(), REQUEST_LOG_CAPACITY);
        let end = log.of(RequestCode::END_TRANSACTION);
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].field("k"), Some("v"));
        log.stop();
        log.observe(&req(RequestCode::END_TRANSACTION));
        assert_eq!(log.of(RequestCode::END_TRANSACTION).len(), 1);
    }
}
