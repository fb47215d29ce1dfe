//! The check service (upstream `TransactionalMessageCheckService`,
//! `TransactionalMessageServiceImpl.check` and `AbstractTransactionalMessageCheckListener`):
//! every check interval, each open transaction older than its immunity time is stored again
//! with one more `TRANSACTION_CHECK_TIMES` and its producer group is asked about it with
//! CHECK_TRANSACTION_STATE; past the maximum number of checks it is parked instead.

use std::sync::Arc;

use rocketmq_sdk::protocol::RequestCode;
use rocketmq_sdk::protocol::header::{CheckTransactionStateRequestHeader, RpcBase};
use rocketmq_sdk::protocol::message::record::encode_record_to_vec;
use rocketmq_sdk::protocol::message::{MessageExt, keys};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use super::TransactionStatus;
use super::book::Pending;
use super::half::{park, record_at, restore_half, save_progress};
use crate::broker::BrokerCore;
use crate::processor::reply;
use crate::store::sleep_until;

/// Starts the broker's check service; it runs until the handle is aborted.
pub(crate) fn spawn_checker(core: Arc<BrokerCore>) -> JoinHandle<()> {
    let span = info_span!("transaction_checker", broker = %core.config.broker_name);
    tokio::spawn(run(core).instrument(span))
}

async fn run(core: Arc<BrokerCore>) {
    let clock = core.clock.clone();
    let interval = core.transactions.config.interval_ms().max(1);
    let mut next = clock.now_millis().saturating_add(interval);
    loop {
        sleep_until(&*clock, next).await;
        let started = clock.now_millis();
        check_once(&core, started)
            .instrument(info_span!("transaction_check", now = started))
            .await;
        // A clock that jumped while the run was busy gets its run at once; one that jumped
        // several intervals gets one run, not a burst.
        next = next.saturating_add(interval);
        if next <= started {
            next = started.saturating_add(interval);
        }
    }
}

/// One pass over the open transactions at broker time `now`.
async fn check_once(core: &BrokerCore, now: i64) {
    let reserved_ms =
        i64::try_from(core.store.inner.config.file_reserved_time.as_millis()).unwrap_or(i64::MAX);
    let open = core.transactions.pending();
    let mut checked = 0usize;
    for p in open {
        let age = now.saturating_sub(p.first_stored);
        if age < p.immunity_ms {
            continue;
        }
        checked += 1;
        check_one(core, p, age > reserved_ms).await;
    }
    save_progress(core);
    core.transactions.run_done();
    if checked > 0 {
        info!(checked, "transaction check run done");
    }
}

async fn check_one(core: &BrokerCore, p: Pending, expired: bool) {
    let guard = core.transactions.resolving.lock().await;
    // Ended while this run was busy with other transactions?
    if core
        .transactions
        .pending_by_id(&p.id)
        .is_none_or(|now| now.half_offset != p.half_offset)
    {
        return;
    }
    let Some(half) = record_at(core, p.commit_log_offset) else {
        warn!(transaction = %p.id, "half message no longer in the commit log; transaction dropped");
        core.transactions.forget(&p.id);
        return;
    };
    let max = core.transactions.config.check_max;
    // Upstream `isNeedDiscard`: the first check sets 1, later ones count up to the maximum.
    let times = match p.check_times {
        None => Some(1),
        Some(t) if t >= max => None,
        Some(t) => Some(t + 1),
    };
    let times = match times {
        Some(t) if !expired => t,
        _ => {
            if let Some(at) = park(core, &half).await {
                warn!(transaction = %p.id, group = %p.group, checks = p.check_times.unwrap_or(0), expired,
                    "transaction checked too often or too old; parked in TRANS_CHECK_MAX_TIME_TOPIC");
                core.transactions
                    .settle(&p.id, TransactionStatus::Parked, Some(at));
            }
            return;
        }
    };
    let Some(again) = restore_half(core, &half, times).await else {
        return;
    };
    core.transactions.open(Pending {
        half_offset: again.queue_offset,
        commit_log_offset: again.commit_log_offset,
        check_times: Some(times),
        ..p.clone()
    });
    drop(guard);
    send_check(core, again, &p);
}

/// Asks one live connection of the producer group (upstream
/// `Broker2Client.checkProducerTransactionState`, oneway). The body is the half as stored
/// but with its real topic and queue.
fn send_check(core: &BrokerCore, mut half: MessageExt, p: &Pending) {
    let uniq = half.message.uniq_key().map(str::to_owned);
    let header = CheckTransactionStateRequestHeader {
        topic: Some(half.message.topic.clone()),
        tran_state_table_offset: half.queue_offset,
        commit_log_offset: half.commit_log_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(half.offset_msg_id()),
        rpc: RpcBase::broker(core.config.broker_name.clone()),
    };
    half.message.topic = p.topic.clone();
    half.queue_id = p.queue_id;
    let body = match encode_record_to_vec(&half) {
        Ok(b) => b,
        Err(e) => {
            warn!(transaction = %p.id, error = %e, "half message cannot be encoded for a check");
            return;
        }
    };
    let channels: Vec<_> = core
        .clients
        .producer_channels(&p.group)
        .into_iter()
        .filter(|c| !c.is_closed())
        .collect();
    if channels.is_empty() {
        warn!(transaction = %p.id, group = %p.group, "no live producer of the group to check with");
        return;
    }
    let channel = &channels[core.transactions.next_channel(channels.len())];
    let request = reply::broker_request(RequestCode::CHECK_TRANSACTION_STATE)
        .with_header(&header)
        .with_body(body);
    if channel.send_oneway(request) {
        core.transactions.check_sent();
        debug!(transaction = %p.id, group = %p.group, peer = %channel.peer(),
            checks = half.message.property(keys::TRANSACTION_CHECK_TIMES).unwrap_or_default(),
            "CHECK_TRANSACTION_STATE sent");
    } else {
        debug!(transaction = %p.id, peer = %channel.peer(), "check not sent: connection closed");
    }
}
