//! Fault injection: make the broker answer the way a sick production broker would, so a
//! test can prove the client's reliability logic (retries, fault avoidance, status
//! handling) without a sick broker.
//!
//! A [`Faults`] set is consulted by the dispatcher before any processor runs (rules that
//! replace a response and skip the request) and by the send processor after a successful
//! store (a forced non-OK store status). Every broker has its own set, and an embedded
//! cluster has one more set shared by all its brokers and its name server; both apply.
//!
//! The set is deliberately small for now; later fault kinds (delays, dropped connections,
//! a controllable clock) are meant to join it as further rule kinds and methods.

use std::fmt;
use std::sync::Mutex;

use rocketmq_sdk::protocol::{RequestCode, ResponseCode};

/// Which requests a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// One request code.
    Code(RequestCode),
    /// Any of SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE: a producer may use any
    /// of them, and a test usually means "the next sends", whatever their header form.
    AnySend,
}

impl Target {
    fn matches(self, code: RequestCode) -> bool {
        match self {
            Target::Code(c) => c == code,
            Target::AnySend => code.is_send(),
        }
    }
}

#[derive(Debug)]
struct FailRule {
    target: Target,
    remaining: u32,
    response: ResponseCode,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<FailRule>,
    send_status: Option<ResponseCode>,
    injected: u64,
}

/// A set of injected faults. Cheap to share; every method takes `&self`.
#[derive(Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("Faults")
            .field("rules", &s.rules)
            .field("send_status", &s.send_status)
            .field("injected", &s.injected)
            .finish()
    }
}

impl Faults {
    /// An empty set: nothing is injected.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` requests with `code` get a response with `response` instead of being
    /// processed: nothing is stored, no offset moves. Oneway requests that match are dropped
    /// (they never get a response anyway). Rules queue up: a second call for the same code
    /// takes effect after the first one is used up.
    pub fn fail_next(&self, code: RequestCode, n: u32, response: ResponseCode) {
        self.push(Target::Code(code), n, response);
    }

    /// Like [`fail_next`](Self::fail_next) for every send code (10, 310, 320) together.
    pub fn fail_next_sends(&self, n: u32, response: ResponseCode) {
        self.push(Target::AnySend, n, response);
    }

    fn push(&self, target: Target, n: u32, response: ResponseCode) {
        if n == 0 {
            return;
        }
        self.lock().rules.push(FailRule {
            target,
            remaining: n,
            response,
        });
    }

    /// Forces the response code of every otherwise successful send, until reset with
    /// `None`. Meant for FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE:
    /// the message **is** stored, as with a real broker, and the response carries the usual
    /// msgId and offsets.
    pub fn set_send_status(&self, status: Option<ResponseCode>) {
        self.lock().send_status = status;
    }

    /// Removes every rule and the forced send status.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.send_status = None;
    }

    /// How many requests were failed by rules so far (for assertions).
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    /// Consumes one matching rule: the response code to answer `code` with, if any.
    pub(crate) fn take_failure(&self, code: RequestCode) -> Option<ResponseCode> {
        let mut s = self.lock();
        let pos = s.rules.iter().position(|r| r.target.matches(code))?;
        let rule = &mut s.rules[pos];
        rule.remaining -= 1;
        let response = rule.response;
        if rule.remaining == 0 {
            s.rules.remove(pos);
        }
        s.injected += 1;
        Some(response)
    }

    /// The forced send status, if set.
    pub(crate) fn send_status(&self) -> Option<ResponseCode> {
        self.lock().send_status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_used_up_in_order() {
        let f = Faults::new();
        f.fail_next(RequestCode::PULL_MESSAGE, 2, ResponseCode::SYSTEM_BUSY);
        f.fail_next_sends(1, ResponseCode::SYSTEM_ERROR);
        assert_eq!(f.take_failure(RequestCode::HEART_BEAT), None);
        assert_eq!(
            f.take_failure(RequestCode::SEND_MESSAGE),
            Some(ResponseCode::SYSTEM_ERROR)
        );
        assert_eq!(f.take_failure(RequestCode::SEND_MESSAGE_V2), None);
        assert_eq!(
            f.take_failure(RequestCode::PULL_MESSAGE),
            Some(ResponseCode::SYSTEM_BUSY)
        );
        assert_eq!(
            f.take_failure(RequestCode::PULL_MESSAGE),
            Some(ResponseCode::SYSTEM_BUSY)
        );
        assert_eq!(f.take_failure(RequestCode::PULL_MESSAGE), None);
        assert_eq!(f.injected(), 3);
    }
}
