//! Fault injection: make the broker answer the way a sick production broker would, so a
//! test can prove the client's reliability logic (retries, fault avoidance, status
//! handling) without a sick broker.
//!
//! A [`Faults`] set is consulted by the dispatcher before any processor runs (rules that
//! replace a response and skip the request) and by the send processor after a successful
//! store (a forced non-OK store status). Every broker has its own set, and an embedded
//! cluster has one more set shared by all its brokers and its name server; both apply.
//!
//! Fault kinds, modelled on rdkafka's `MockCluster`:
//!
//! - **failures**: the next N requests of a code answered with a chosen response code,
//!   unprocessed ([`Faults::fail_next`], [`Faults::fail_next_sends`]);
//! - **latency**: every (or the next N) request of a code waits before it is processed
//!   ([`Faults::delay`], [`Faults::delay_next`]);
//! - **dropped responses**: the request **is** applied but its response is never sent, the
//!   classic duplicate maker ([`Faults::drop_next_responses`],
//!   [`Faults::drop_next_send_responses`]); optionally the connection is closed at the
//!   same time so the client notices at once instead of at its timeout;
//! - **closed connections**: every client connection of the broker closed now
//!   ([`Faults::close_connections`]);
//! - **pause**: requests queue up unanswered until [`Faults::resume`] ([`Faults::pause`]);
//! - **slow replication**: a slave appends what its master ships only after a delay
//!   ([`Faults::delay_replication`]);
//! - **forced send status** ([`Faults::set_send_status`]);
//! - **duplicate deliveries**: with a probability, a successful pull is answered so that the
//!   client pulls the same range again ([`Faults::duplicate_deliveries`]); seeded with
//!   [`Faults::seed`] for reproducible runs.
//!
//! The same set also records what clients sent, when asked ([`Faults::requests`]).
//!
//! Crash and restart from the same store live on the harness
//! ([`crate::EmbeddedBroker::crash`], [`crate::BrokerHandle::restart`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
use tokio::sync::watch;

use crate::request_log::RequestLog;
use crate::server::ClientChannel;

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

#[derive(Debug)]
struct DelayRule {
    target: Target,
    /// `None`: every request until cleared.
    remaining: Option<u32>,
    delay: Duration,
}

#[derive(Debug)]
struct DropRule {
    target: Target,
    remaining: u32,
    close_connection: bool,
}

#[derive(Debug)]
struct State {
    rules: Vec<FailRule>,
    delays: Vec<DelayRule>,
    drops: Vec<DropRule>,
    send_status: Option<ResponseCode>,
    replication_delay: Option<Duration>,
    injected: u64,
    dropped: u64,
    delayed: u64,
    duplicated: u64,
    closed: u64,
    duplicate_probability: f64,
    rng: u64,
    channels: HashMap<u64, ClientChannel>,
}

impl Default for State {
    fn default() -> Self {
        State {
            rules: Vec::new(),
            delays: Vec::new(),
            drops: Vec::new(),
            send_status: None,
            replication_delay: None,
            injected: 0,
            dropped: 0,
            delayed: 0,
            duplicated: 0,
            closed: 0,
            duplicate_probability: 0.0,
            rng: DEFAULT_SEED,
            channels: HashMap::new(),
        }
    }
}

/// The seed of the probabilistic faults unless [`Faults::seed`] sets another.
pub const DEFAULT_SEED: u64 = 0x005e_ed0f_fa17;

/// What the dispatcher does with one request, decided by [`Faults::intercept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// Answer with this code instead of processing.
    pub(crate) fail: Option<ResponseCode>,
    /// Process, but do not send the response.
    pub(crate) drop_response: bool,
    /// Close the connection after processing (with `drop_response`).
    pub(crate) close_connection: bool,
}

/// A set of injected faults. Cheap to share; every method takes `&self`.
pub struct Faults {
    state: Mutex<State>,
    paused: watch::Sender<bool>,
    requests: RequestLog,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            state: Mutex::new(State::default()),
            paused: watch::channel(false).0,
            requests: RequestLog::default(),
        }
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("Faults")
            .field("rules", &s.rules)
            .field("send_status", &s.send_status)
            .field("delays", &s.delays)
            .field("drops", &s.drops)
            .field("injected", &s.injected)
            .field("dropped", &s.dropped)
            .field("duplicate_probability", &s.duplicate_probability)
            .field("paused", &*self.paused.borrow())
            .finish()
    }
}

impl Faults {
    /// An empty set: nothing is injected.
    pub fn new() -> Self {
        Self::default()
    }

    /// The requests received by whoever consults this set (a broker, or with the cluster-wide
    /// set every broker and the name server), once [`RequestLog::start`] is called: for
    /// tests that check what a client put on the wire.
    pub fn requests(&self) -> &RequestLog {
        &self.requests
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

    /// Removes every rule, the forced send status and the duplicate probability, and
    /// resumes a paused broker. Counters are kept.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.delays.clear();
        s.drops.clear();
        s.send_status = None;
        s.replication_delay = None;
        s.duplicate_probability = 0.0;
        drop(s);
        self.resume();
    }

    /// Every later request with `code` waits `delay` before it is processed, until
    /// [`clear`](Self::clear). The wait is real time (a network delay, not broker time).
    pub fn delay(&self, code: RequestCode, delay: Duration) {
        self.lock().delays.push(DelayRule {
            target: Target::Code(code),
            remaining: None,
            delay,
        });
    }

    /// The next `n` requests with `code` wait `delay` before they are processed.
    pub fn delay_next(&self, code: RequestCode, n: u32, delay: Duration) {
        if n == 0 {
            return;
        }
        self.lock().delays.push(DelayRule {
            target: Target::Code(code),
            remaining: Some(n),
            delay,
        });
    }

    /// Every later send (10, 310, 320) waits `delay` before it is processed.
    pub fn delay_sends(&self, delay: Duration) {
        self.lock().delays.push(DelayRule {
            target: Target::AnySend,
            remaining: None,
            delay,
        });
    }

    /// The next `n` requests with `code` are processed (stored, committed, ...) but their
    /// responses are lost. With `close_connection` the connection is closed right after,
    /// as when a broker's network dies between the write and the ack; without it the
    /// client only finds out at its request timeout.
    pub fn drop_next_responses(&self, code: RequestCode, n: u32, close_connection: bool) {
        self.push_drop(Target::Code(code), n, close_connection);
    }

    /// Like [`drop_next_responses`](Self::drop_next_responses) for every send code: the
    /// message is stored, the producer never hears of it and (with retries) sends it
    /// again: a duplicate.
    pub fn drop_next_send_responses(&self, n: u32, close_connection: bool) {
        self.push_drop(Target::AnySend, n, close_connection);
    }

    fn push_drop(&self, target: Target, n: u32, close_connection: bool) {
        if n == 0 {
            return;
        }
        self.lock().drops.push(DropRule {
            target,
            remaining: n,
            close_connection,
        });
    }

    /// Closes every client connection open now on the brokers (and name server) this set
    /// is installed on; clients reconnect on their next request. Returns how many were
    /// closed.
    pub fn close_connections(&self) -> usize {
        let channels: Vec<ClientChannel> = self.lock().channels.drain().map(|(_, c)| c).collect();
        for c in &channels {
            c.close();
        }
        self.lock().closed += channels.len() as u64;
        channels.len()
    }

    /// Pauses: every request received from now on waits, unanswered, until
    /// [`resume`](Self::resume) (a GC pause or a hung disk, seen from the client).
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Resumes a paused broker: the waiting requests are processed in arrival order.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Whether [`pause`](Self::pause) is in effect.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// With probability `p` (0.0 to 1.0, clamped), a successful pull tells the client to
    /// pull the same range again, so every message in it is delivered twice (as after a
    /// rebalance or a lost offset commit). 0 turns it off.
    pub fn duplicate_deliveries(&self, p: f64) {
        self.lock().duplicate_probability = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    }

    /// Seeds the generator behind the probabilistic faults (default [`DEFAULT_SEED`]), so
    /// a failing run can be replayed.
    pub fn seed(&self, seed: u64) {
        // xorshift must not start at 0.
        self.lock().rng = if seed == 0 { DEFAULT_SEED } else { seed };
    }

    /// Slows master/slave replication down: on a slave, every batch of records shipped from
    /// the master waits `delay` before the slave appends and acknowledges it (a slow slave
    /// or a slow link). Under SYNC_MASTER a delay longer than the slave timeout turns sends
    /// into FLUSH_SLAVE_TIMEOUT. `None` removes it. Consulted in the slave's own set
    /// ([`BrokerHandle::faults`](crate::BrokerHandle::faults) of the slave) and in the
    /// cluster-wide set.
    pub fn delay_replication(&self, delay: Option<Duration>) {
        self.lock().replication_delay = delay;
    }

    /// The replication delay set with [`delay_replication`](Self::delay_replication).
    pub fn replication_delay(&self) -> Option<Duration> {
        self.lock().replication_delay
    }

    /// How many responses were dropped so far.
    pub fn dropped_responses(&self) -> u64 {
        self.lock().dropped
    }

    /// How many requests were delayed so far.
    pub fn delayed_requests(&self) -> u64 {
        self.lock().delayed
    }

    /// How many pulls were turned into redeliveries so far.
    pub fn duplicated_deliveries(&self) -> u64 {
        self.lock().duplicated
    }

    /// How many connections [`close_connections`](Self::close_connections) closed so far.
    pub fn closed_connections(&self) -> u64 {
        self.lock().closed
    }

    /// Registers an open connection (for [`close_connections`](Self::close_connections)).
    pub(crate) fn on_connect(&self, channel: &ClientChannel) {
        self.lock().channels.insert(channel.id().0, channel.clone());
    }

    /// Forgets a closed connection.
    pub(crate) fn on_disconnect(&self, channel: &ClientChannel) {
        self.lock().channels.remove(&channel.id().0);
    }

    /// Decides the fate of one request: waits while paused and for any latency rule, then
    /// consumes a failure or drop rule.
    pub(crate) async fn intercept(&self, code: RequestCode) -> Verdict {
        let mut paused = self.paused.subscribe();
        // Err only if the sender is gone, which cannot happen while `self` lives.
        let _ = paused.wait_for(|p| !*p).await;
        let delay = {
            let mut s = self.lock();
            let pos = s.delays.iter().position(|r| r.target.matches(code));
            pos.map(|pos| {
                let rule = &mut s.delays[pos];
                let d = rule.delay;
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        s.delays.remove(pos);
                    }
                }
                s.delayed += 1;
                d
            })
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if let Some(fail) = self.take_failure(code) {
            return Verdict {
                fail: Some(fail),
                ..Verdict::default()
            };
        }
        let mut s = self.lock();
        if let Some(pos) = s.drops.iter().position(|r| r.target.matches(code)) {
            let rule = &mut s.drops[pos];
            rule.remaining -= 1;
            let close_connection = rule.close_connection;
            if rule.remaining == 0 {
                s.drops.remove(pos);
            }
            s.dropped += 1;
            return Verdict {
                fail: None,
                drop_response: true,
                close_connection,
            };
        }
        Verdict::default()
    }

    /// Rolls the duplicate-delivery dice for one successful pull.
    pub(crate) fn roll_duplicate(&self) -> bool {
        let mut s = self.lock();
        if s.duplicate_probability <= 0.0 {
            return false;
        }
        // xorshift64*
        let mut x = s.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.rng = x;
        let r = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        let hit = r < s.duplicate_probability;
        if hit {
            s.duplicated += 1;
        }
        hit
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

    #[tokio::test]
    async fn drops_and_delays_are_used_up() {
        let f = Faults::new();
        f.drop_next_send_responses(1, true);
        f.delay_next(RequestCode::HEART_BEAT, 1, Duration::from_millis(1));
        let v = f.intercept(RequestCode::SEND_MESSAGE_V2).await;
        assert!(v.drop_response && v.close_connection && v.fail.is_none());
        assert_eq!(
            f.intercept(RequestCode::SEND_MESSAGE_V2).await,
            Verdict::default()
        );
        f.intercept(RequestCode::HEART_BEAT).await;
        f.intercept(RequestCode::HEART_BEAT).await;
        assert_eq!(f.dropped_responses(), 1);
        assert_eq!(f.delayed_requests(), 1);
    }

    #[tokio::test]
    async fn pause_holds_requests_until_resume() {
        let f = std::sync::Arc::new(Faults::new());
        f.pause();
        let f2 = f.clone();
        let t = tokio::spawn(async move { f2.intercept(RequestCode::HEART_BEAT).await });
        tokio::task::yield_now().await;
        assert!(!t.is_finished());
        f.resume();
        assert_eq!(t.await.unwrap(), Verdict::default());
    }

    #[test]
    fn duplicate_rolls_are_seeded() {
        let run = || {
            let f = Faults::new();
            f.seed(42);
            f.duplicate_deliveries(0.5);
            (0..64).map(|_| f.roll_duplicate()).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }
}
