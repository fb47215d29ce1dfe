//! Half and op messages in the store: storing a half (upstream
//! `TransactionalMessageBridge.parseHalfMessageInner`), ending a transaction (upstream
//! `EndTransactionProcessor`), writing op records, re-storing a checked half, parking one,
//! and rebuilding the ledger from the queues when the broker starts.

use std::collections::{HashMap, HashSet};

use rocketmq_sdk::protocol::body::register::perm;
use rocketmq_sdk::protocol::header::{EndTransactionRequestHeader, TransactionCommitType};
use rocketmq_sdk::protocol::message::record::DecodeOptions;
use rocketmq_sdk::protocol::message::{Message, MessageExt, decode_message_ext, keys, sysflag};
use rocketmq_sdk::protocol::topic::{
    TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC,
};
use rocketmq_sdk::protocol::{RemotingCommand, ResponseCode};
use tracing::{debug, error, info, warn};

use super::book::Pending;
use super::{CHECKER_GROUP, REMOVE_TAG, TransactionInfo, TransactionStatus};
use crate::broker::BrokerCore;
use crate::processor::reply;
use crate::store::{GetStatus, PutResult, PutStatus, StoreResult, StoredMessage};

/// Records are read back as stored: a compressed body stays compressed, as upstream's
/// `MessageDecoder.decode(buffer, true, false)`.
const RAW: DecodeOptions = DecodeOptions {
    read_body: true,
    decompress_body: false,
    check_crc: false,
    max_inflated_len: 0,
};

/// Whether a sent message is the first half of a transaction (upstream
/// `SendMessageProcessor`: `TRAN_MSG=true`, unless it is a delayed retry).
pub(crate) fn is_half(msg: &MessageExt) -> bool {
    msg.message
        .property(keys::TRAN_MSG)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && !(msg.reconsume_times > 0 && msg.message.delay_level() > 0)
}

/// The transaction a half belongs to: `__transactionId__`, else `UNIQ_KEY`, else its
/// offset msgId.
fn transaction_id(half: &MessageExt) -> String {
    [keys::TRANSACTION_ID, keys::UNIQ_KEY]
        .iter()
        .find_map(|k| half.message.property(k).filter(|v| !v.is_empty()))
        .map(str::to_owned)
        .unwrap_or_else(|| half.offset_msg_id())
}

/// The ledger entry for a stored half; `first_stored` carries over from earlier halves.
fn pending_of(core: &BrokerCore, half: &MessageExt, first_stored: i64) -> Pending {
    let m = &half.message;
    Pending {
        id: transaction_id(half),
        group: m.property(keys::PGROUP).unwrap_or_default().to_owned(),
        topic: m.property(keys::REAL_TOPIC).unwrap_or_default().to_owned(),
        queue_id: m
            .property(keys::REAL_QID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(-1),
        half_offset: half.queue_offset,
        commit_log_offset: half.commit_log_offset,
        first_stored,
        check_times: m
            .property(keys::TRANSACTION_CHECK_TIMES)
            .and_then(|t| t.trim().parse().ok()),
        immunity_ms: core
            .transactions
            .config
            .immunity_ms(m.property(keys::CHECK_IMMUNITY_TIME_IN_SECONDS)),
    }
}

/// Creates a system topic of one read-write queue on first use (upstream
/// `createTopicInSendMessageBackMethod`), registering it like any topic.
fn ensure_topic(core: &BrokerCore, topic: &str) {
    if core.topics.contains(topic) {
        return;
    }
    let (_, created) = core
        .topics
        .create_if_absent(topic, 1, perm::READ | perm::WRITE, 0);
    if created {
        core.register();
    }
}

/// Stores `msg` as a half message: the real topic and queue go to `REAL_TOPIC`/`REAL_QID`,
/// `__transactionId__` is the `UNIQ_KEY`, the transaction bits are cleared and the message
/// lands in queue 0 of `RMQ_SYS_TRANS_HALF_TOPIC`, where no consumer looks.
pub(crate) async fn put_half(core: &BrokerCore, mut msg: MessageExt) -> PutResult {
    ensure_topic(core, TRANS_HALF_TOPIC);
    let real_topic = std::mem::replace(&mut msg.message.topic, TRANS_HALF_TOPIC.to_owned());
    let props = &mut msg.message.properties;
    props.insert(keys::REAL_TOPIC, real_topic);
    props.insert(keys::REAL_QID, msg.queue_id.to_string());
    if let Some(uniq) = props.get(keys::UNIQ_KEY).filter(|u| !u.is_empty()) {
        let uniq = uniq.to_owned();
        props.insert(keys::TRANSACTION_ID, uniq);
    }
    msg.sys_flag = sysflag::reset_transaction_value(msg.sys_flag, sysflag::TRANSACTION_NOT_TYPE);
    msg.queue_id = 0;
    // The store fills in the append-time fields; keep the rest for the ledger.
    let mut half = msg.clone();
    let result = core.store.put_message(msg).await;
    if result.is_stored() {
        half.queue_offset = result.queue_offset;
        half.commit_log_offset = result.physical_offset;
        let p = pending_of(core, &half, result.store_timestamp);
        debug!(transaction = %p.id, group = %p.group, half_offset = p.half_offset, "half message stored");
        core.transactions.open(p);
    }
    result
}

/// The record at `offset`, decoded as stored; `None` if there is no intact record there.
pub(crate) fn record_at(core: &BrokerCore, offset: i64) -> Option<MessageExt> {
    match core.store.message_by_offset(offset) {
        Ok(Some(bytes)) => decode_message_ext(&bytes, &RAW).ok(),
        Ok(None) => None,
        Err(e) => {
            warn!(offset, error = %e, "commit log read failed");
            None
        }
    }
}

/// The half message at `offset`, if that is one.
fn half_at(core: &BrokerCore, offset: i64) -> Option<MessageExt> {
    record_at(core, offset).filter(|m| m.message.topic == TRANS_HALF_TOPIC)
}

/// END_TRANSACTION (upstream `EndTransactionProcessor.processRequest`). `None` for UNKNOWN
/// and unknown types: upstream answers nothing and leaves the transaction to the checker.
pub(crate) async fn end_transaction(
    core: &BrokerCore,
    h: &EndTransactionRequestHeader,
) -> Option<RemotingCommand> {
    let status = match h.commit_or_rollback {
        TransactionCommitType::Commit => TransactionStatus::Committed,
        TransactionCommitType::Rollback => TransactionStatus::RolledBack,
        other => {
            debug!(?other, "transaction left open by the producer");
            return None;
        }
    };
    let _one_at_a_time = core.transactions.resolving.lock().await;
    let Some(half) = half_at(core, h.commit_log_offset) else {
        return Some(reply::error(
            ResponseCode::SYSTEM_ERROR,
            "Find prepared transaction message failed",
        ));
    };
    let id = transaction_id(&half);
    let open = core.transactions.pending_by_id(&id);
    if !h.from_transaction_check
        && let Some(secs) = half.message.property(keys::CHECK_IMMUNITY_TIME_IN_SECONDS)
    {
        // Upstream `rejectCommitOrRollback`: past its own first-check time, a transaction
        // is the checker's to settle.
        let immunity = core.transactions.config.immunity_ms(Some(secs));
        let first = open
            .as_ref()
            .map_or(half.store_timestamp, |p| p.first_stored);
        if core.clock.now_millis().saturating_sub(first) > immunity {
            warn!(transaction = %id, "END_TRANSACTION after the check immunity time; waiting for the check");
            return Some(reply::error(
                ResponseCode::ILLEGAL_OPERATION,
                "currentTimeMillis - bornTime > checkImmunityTime, wait check",
            ));
        }
    }
    if let Some(wrong) = validate(&half, h) {
        return Some(reply::error(ResponseCode::SYSTEM_ERROR, wrong));
    }
    let Some(open) = open else {
        debug!(transaction = %id, ?status, "transaction already settled; nothing to do");
        return Some(reply::success());
    };
    if status == TransactionStatus::Committed {
        let Some(mut message) = final_message(&half, h) else {
            return Some(reply::error(
                ResponseCode::SYSTEM_ERROR,
                "the half message has no valid REAL_TOPIC/REAL_QID",
            ));
        };
        // A committed message may still be delayed, as upstream's store hook does.
        crate::broker::schedule::apply_delay(&mut message, core.delay_levels());
        let put = core.store.put_message(message).await;
        if !put.is_stored() {
            error!(transaction = %id, status = ?put.status, "committed message could not be stored");
            return Some(final_put_error(core, &put));
        }
    }
    let mut offsets = vec![h.tran_state_table_offset];
    if open.half_offset != h.tran_state_table_offset {
        offsets.push(open.half_offset);
    }
    write_op(core, &offsets).await;
    core.transactions.settle(&id, status, None);
    info!(transaction = %id, ?status, from_check = h.from_transaction_check, "transaction ended");
    save_progress(core);
    Some(reply::success())
}

/// Upstream `checkPrepareMessage`.
fn validate(half: &MessageExt, h: &EndTransactionRequestHeader) -> Option<&'static str> {
    if half.message.property(keys::PGROUP) != Some(h.producer_group.as_str()) {
        return Some("The producer group wrong");
    }
    if half.queue_offset != h.tran_state_table_offset {
        return Some("The transaction state table offset wrong");
    }
    if half.commit_log_offset != h.commit_log_offset {
        return Some("The commit log offset wrong");
    }
    None
}

/// Upstream `endMessageTransaction`: the half back in its real topic and queue, flagged
/// COMMIT, pointing at the half. The properties are kept as stored (upstream clears
/// `REAL_TOPIC`/`REAL_QID`/`TRAN_MSG` only after building the stored properties string, so
/// committed records carry them).
fn final_message(half: &MessageExt, h: &EndTransactionRequestHeader) -> Option<MessageExt> {
    let m = &half.message;
    let topic = m.property(keys::REAL_TOPIC).filter(|t| !t.is_empty())?;
    let queue_id: i32 = m.property(keys::REAL_QID)?.trim().parse().ok()?;
    if queue_id < 0 {
        return None;
    }
    let mut out = MessageExt::from(Message {
        topic: topic.to_owned(),
        ..m.clone()
    });
    out.queue_id = queue_id;
    out.sys_flag =
        sysflag::reset_transaction_value(half.sys_flag, sysflag::TRANSACTION_COMMIT_TYPE);
    out.born_timestamp = half.born_timestamp;
    out.born_host = half.born_host;
    out.reconsume_times = half.reconsume_times;
    out.prepared_transaction_offset = h.commit_log_offset;
    Some(out)
}

/// Upstream `sendFinalMessage` for a put that did not store.
fn final_put_error(core: &BrokerCore, put: &PutResult) -> RemotingCommand {
    match put.status {
        PutStatus::CreateMappedFileFailed => {
            reply::error(ResponseCode::SYSTEM_ERROR, "Create mapped file failed.")
        }
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => reply::error(
            ResponseCode::MESSAGE_ILLEGAL,
            format!(
                "The message is illegal, maybe msg body or properties length not matched. msg body length limit {}B, msg properties length limit 32KB.",
                core.config.max_message_size
            ),
        ),
        PutStatus::ServiceNotAvailable => reply::error(
            ResponseCode::SERVICE_NOT_AVAILABLE,
            "Service not available now.",
        ),
        _ => reply::error(ResponseCode::SYSTEM_ERROR, "UNKNOWN_ERROR"),
    }
}

/// Writes one op record naming `half_offsets` (upstream writes them batched; the body
/// format is the same: each offset followed by `,`).
pub(crate) async fn write_op(core: &BrokerCore, half_offsets: &[i64]) {
    ensure_topic(core, TRANS_OP_HALF_TOPIC);
    let body: String = half_offsets.iter().map(|o| format!("{o},")).collect();
    let mut message = Message::new(TRANS_OP_HALF_TOPIC, body.into_bytes());
    message.set_tags(REMOVE_TAG);
    message.set_wait_store_msg_ok(false);
    message.set_uniq_key(core.uniq_ids.next_id());
    let mut op = MessageExt::from(message);
    op.queue_id = 0;
    op.born_timestamp = core.clock.now_millis();
    op.born_host = core.addr;
    let put = core.store.put_message(op).await;
    if put.is_stored() {
        let max_half = half_offsets.iter().copied().max().unwrap_or(-1);
        core.transactions.op_written(put.queue_offset, max_half);
    } else {
        // The transaction is settled in memory; after a restart it would be checked again.
        error!(?half_offsets, status = ?put.status, "op record could not be stored");
    }
}

/// Stores the half again with `TRANSACTION_CHECK_TIMES = times` (upstream
/// `putBackHalfMsgQueue`) and returns it as stored, with its new offsets.
pub(crate) async fn restore_half(
    core: &BrokerCore,
    half: &MessageExt,
    times: u32,
) -> Option<MessageExt> {
    let mut again = MessageExt::from(half.message.clone());
    again.message.topic = TRANS_HALF_TOPIC.to_owned();
    again
        .message
        .properties
        .insert(keys::TRANSACTION_CHECK_TIMES, times.to_string());
    again.queue_id = 0;
    again.sys_flag = half.sys_flag;
    again.born_timestamp = half.born_timestamp;
    again.born_host = half.born_host;
    again.reconsume_times = half.reconsume_times;
    let put = core.store.put_message(again).await;
    if !put.is_stored() {
        error!(status = ?put.status, "half message could not be stored again for a check");
        return None;
    }
    record_at(core, put.physical_offset)
}

/// Moves a half that will not be checked again to `TRANS_CHECK_MAX_TIME_TOPIC` (upstream
/// `DefaultTransactionalMessageCheckListener.resolveDiscardMsg`); returns the copy's
/// commit-log offset.
pub(crate) async fn park(core: &BrokerCore, half: &MessageExt) -> Option<i64> {
    ensure_topic(core, TRANS_CHECK_MAX_TIME_TOPIC);
    let mut parked = MessageExt::from(Message {
        topic: TRANS_CHECK_MAX_TIME_TOPIC.to_owned(),
        ..half.message.clone()
    });
    parked.queue_id = 0;
    parked.sys_flag = half.sys_flag;
    parked.born_timestamp = half.born_timestamp;
    parked.born_host = half.born_host;
    parked.reconsume_times = half.reconsume_times;
    let put = core.store.put_message(parked).await;
    if put.is_stored() {
        Some(put.physical_offset)
    } else {
        error!(status = ?put.status, "half message could not be parked");
        None
    }
}

/// Saves the checker's progress as offsets of `CID_RMQ_SYS_TRANS`, as upstream does.
pub(crate) fn save_progress(core: &BrokerCore) {
    let store = &core.store;
    let (half, op) = core.transactions.progress(
        store.max_offset(TRANS_HALF_TOPIC, 0),
        store.max_offset(TRANS_OP_HALF_TOPIC, 0),
    );
    for (topic, offset) in [(TRANS_HALF_TOPIC, half), (TRANS_OP_HALF_TOPIC, op)] {
        // Untouched queues get no entry, and unchanged ones do not rewrite the file.
        if store.max_offset(topic, 0) > 0 && core.offsets.query(CHECKER_GROUP, topic, 0) != offset {
            core.offsets.commit(CHECKER_GROUP, topic, 0, offset);
        }
    }
}

/// Calls `f` with every message of a queue from `from` on (clamped to the queue's range).
fn scan(
    core: &BrokerCore,
    topic: &str,
    queue_id: i32,
    from: i64,
    mut f: impl FnMut(&StoredMessage),
) -> StoreResult<()> {
    let store = &core.store;
    let mut offset = from.max(store.min_offset(topic, queue_id));
    let max = store.max_offset(topic, queue_id);
    while offset < max {
        let got = store.get_messages(topic, queue_id, offset, 32, usize::MAX, None)?;
        got.messages.iter().for_each(&mut f);
        if got.status != GetStatus::Found || got.next_begin_offset <= offset {
            // A hole (e.g. a file removed by retention): skip to where the store points.
            if got.next_begin_offset > offset {
                offset = got.next_begin_offset;
                continue;
            }
            break;
        }
        offset = got.next_begin_offset;
    }
    Ok(())
}

/// Where the checker left off in `topic`, or the queue's start.
fn progress_of(core: &BrokerCore, topic: &str) -> i64 {
    match core.offsets.query(CHECKER_GROUP, topic, 0) {
        o if o >= 0 => o,
        _ => core.store.min_offset(topic, 0),
    }
}

/// Rebuilds the ledger after a (re)start: every half from the checker's progress on that
/// no op record settles, no later half supersedes and that was not parked, is open again.
pub(crate) fn recover(core: &BrokerCore) -> StoreResult<()> {
    let op_from = progress_of(core, TRANS_OP_HALF_TOPIC);
    let mut settled_halves = HashSet::new();
    scan(core, TRANS_OP_HALF_TOPIC, 0, op_from, |m| {
        let Ok(op) = decode_message_ext(&m.record, &RAW) else {
            return;
        };
        if op.message.tags() != Some(REMOVE_TAG) {
            warn!(op_offset = m.queue_offset, "op record with an unknown tag");
            return;
        }
        let offsets: Vec<i64> = String::from_utf8_lossy(&op.message.body)
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if let Some(max) = offsets.iter().copied().max() {
            core.transactions.op_written(m.queue_offset, max);
        }
        settled_halves.extend(offsets);
    })?;
    let mut parked = HashSet::new();
    for q in core.store.queue_ids(TRANS_CHECK_MAX_TIME_TOPIC) {
        scan(core, TRANS_CHECK_MAX_TIME_TOPIC, q, 0, |m| {
            if let Ok(p) = decode_message_ext(&m.record, &RAW.with_read_body(false)) {
                parked.insert(transaction_id(&p));
            }
        })?;
    }
    let half_from = progress_of(core, TRANS_HALF_TOPIC);
    let mut latest: HashMap<String, Pending> = HashMap::new();
    let mut settled_ids = HashSet::new();
    scan(core, TRANS_HALF_TOPIC, 0, half_from, |m| {
        let Ok(half) = decode_message_ext(&m.record, &RAW.with_read_body(false)) else {
            warn!(
                half_offset = m.queue_offset,
                "undecodable half message skipped"
            );
            return;
        };
        let id = transaction_id(&half);
        if settled_halves.contains(&half.queue_offset) {
            settled_ids.insert(id);
            return;
        }
        // Only the time of the latest half survives a restart; the first one is gone.
        let p = pending_of(core, &half, half.store_timestamp);
        latest.insert(id, p);
    })?;
    let mut open = 0;
    for (id, p) in latest {
        if !settled_ids.contains(&id) && !parked.contains(&id) {
            core.transactions.open(p);
            open += 1;
        }
    }
    if open > 0 {
        info!(open, "open transactions recovered");
    }
    save_progress(core);
    Ok(())
}

/// What the harness shows: open, recently settled, and parked transactions.
pub(crate) fn inspect(
    core: &BrokerCore,
    pending: bool,
    settled: bool,
    parked: bool,
) -> Vec<TransactionInfo> {
    let info = |p: &Pending, status, record_offset| {
        let message = record_at(core, record_offset)?;
        Some(TransactionInfo {
            transaction_id: p.id.clone(),
            producer_group: p.group.clone(),
            topic: p.topic.clone(),
            queue_id: p.queue_id,
            status,
            check_times: p.check_times.unwrap_or(0),
            message,
        })
    };
    let mut out = Vec::new();
    if pending {
        out.extend(
            core.transactions
                .pending()
                .iter()
                .filter_map(|p| info(p, TransactionStatus::Pending, p.commit_log_offset)),
        );
    }
    if settled {
        out.extend(
            core.transactions
                .settled()
                .iter()
                .filter(|s| s.status != TransactionStatus::Parked)
                .filter_map(|s| info(&s.pending, s.status, s.record_offset)),
        );
    }
    if parked {
        // From the topic, so parked transactions of earlier runs show too.
        for q in core.store.queue_ids(TRANS_CHECK_MAX_TIME_TOPIC) {
            let scanned = scan(core, TRANS_CHECK_MAX_TIME_TOPIC, q, 0, |m| {
                if let Ok(msg) = decode_message_ext(&m.record, &RAW) {
                    let p = pending_of(core, &msg, msg.store_timestamp);
                    out.push(TransactionInfo {
                        transaction_id: p.id,
                        producer_group: p.group,
                        topic: p.topic,
                        queue_id: p.queue_id,
                        status: TransactionStatus::Parked,
                        check_times: p.check_times.unwrap_or(0),
                        message: msg,
                    });
                }
            });
            if let Err(e) = scanned {
                warn!(error = %e, "parked transactions could not be read");
            }
        }
    }
    out
}
