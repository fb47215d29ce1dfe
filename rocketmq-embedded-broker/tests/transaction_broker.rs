//! Transactional messages on the broker, driven with raw frames: half messages,
//! END_TRANSACTION (and its validation errors), the check service on a manual clock,
//! parking, and recovery of open transactions after a restart.

mod broker_support;

use std::sync::Arc;
use std::time::Duration;

use broker_support::{Inbox, T, connect, connect_with_inbox, wait_until};
use bytes::Bytes;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_embedded_broker::{EmbeddedBroker, TransactionStatus};
use rocketmq_sdk::protocol::body::{HeartbeatData, JsonBody, ProducerData};
use rocketmq_sdk::protocol::header::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader, TransactionCommitType,
};
use rocketmq_sdk::protocol::message::id::decode_offset_msg_id;
use rocketmq_sdk::protocol::message::{
    DecodeOptions, Properties, decode_message_ext, keys, sysflag,
};
use rocketmq_sdk::protocol::topic::{
    TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::Connection;

const GROUP: &str = "PG-tx";
const T0: i64 = 1_700_000_000_000;

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

/// A broker whose checker runs every 30 s (upstream's default is 60 s; the tests below
/// step the clock in 30 s moves to land between a 6 s timeout and a 50 s immunity).
async fn broker_on(clock: &Arc<ManualClock>) -> EmbeddedBroker {
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .transaction_check_interval(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 4).await.unwrap();
    broker
}

fn half_request(queue_id: i32, uniq: &str, extra: &[(&str, &str)]) -> RemotingCommand {
    let mut p = Properties::default();
    p.insert(keys::WAIT, "true");
    p.insert(keys::TRAN_MSG, "true");
    p.insert(keys::PGROUP, GROUP);
    p.insert(keys::UNIQ_KEY, uniq);
    for (k, v) in extra {
        p.insert(*k, *v);
    }
    let h = SendMessageRequestHeaderV2 {
        producer_group: GROUP.into(),
        topic: "T".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: sysflag::TRANSACTION_PREPARED_TYPE,
        born_timestamp: T0,
        properties: Some(p.to_wire_string().unwrap()),
        ..Default::default()
    };
    RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&h)
        .with_body(Bytes::from(format!("body of {uniq}")))
}

async fn send_half(
    conn: &Connection,
    queue_id: i32,
    uniq: &str,
    extra: &[(&str, &str)],
) -> SendMessageResponseHeader {
    let r = conn
        .request(half_request(queue_id, uniq, extra), T)
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    r.decode_header().unwrap()
}

fn end_header(
    sent: &SendMessageResponseHeader,
    kind: TransactionCommitType,
) -> EndTransactionRequestHeader {
    EndTransactionRequestHeader {
        topic: Some("T".into()),
        producer_group: GROUP.into(),
        tran_state_table_offset: sent.queue_offset,
        commit_log_offset: decode_offset_msg_id(&sent.msg_id)
            .unwrap()
            .commit_log_offset,
        commit_or_rollback: kind,
        from_transaction_check: false,
        msg_id: sent.transaction_id.clone().unwrap_or_default(),
        transaction_id: sent.transaction_id.clone(),
        ..Default::default()
    }
}

/// END_TRANSACTION as a normal request, so the broker's verdict comes back.
async fn end(conn: &Connection, h: &EndTransactionRequestHeader) -> RemotingCommand {
    conn.request(
        RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(h),
        T,
    )
    .await
    .unwrap()
}

async fn register_producer(conn: &Connection) {
    let body = HeartbeatData {
        client_id: "tx-client@1".into(),
        producer_data_set: vec![ProducerData {
            group_name: GROUP.into(),
        }],
        ..Default::default()
    }
    .encode()
    .unwrap();
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
}

/// Moves the clock by `ms` and waits until the checker finished a run after it.
async fn advance_and_run(broker: &EmbeddedBroker, clock: &ManualClock, ms: i64) {
    let before = broker.broker(0).transaction_check_runs();
    clock.advance(ms);
    assert!(
        wait_until(|| broker.broker(0).transaction_check_runs() > before).await,
        "the checker ran after the clock moved"
    );
}

fn checks(inbox: &Inbox) -> Vec<RemotingCommand> {
    inbox
        .all()
        .into_iter()
        .filter(|c| c.code == RequestCode::CHECK_TRANSACTION_STATE.value())
        .collect()
}

#[tokio::test]
async fn a_half_waits_in_the_half_topic_and_a_commit_delivers_it_once() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let conn = connect(&broker.broker_addrs()[0]).await;
    let sent = send_half(&conn, 2, "UNIQ-A", &[]).await;
    assert_eq!((sent.queue_id, sent.queue_offset), (2, 0));
    assert_eq!(sent.transaction_id.as_deref(), Some("UNIQ-A"));

    assert!(
        broker.messages("T").unwrap().is_empty(),
        "invisible before commit"
    );
    let halves = broker.messages(TRANS_HALF_TOPIC).unwrap();
    assert_eq!(halves.len(), 1);
    let half = &halves[0];
    assert_eq!(half.queue_id, 0);
    assert_eq!(half.property(keys::REAL_TOPIC), Some("T"));
    assert_eq!(half.property(keys::REAL_QID), Some("2"));
    assert_eq!(half.property(keys::TRANSACTION_ID), Some("UNIQ-A"));
    assert_eq!(
        sysflag::transaction_value(half.sys_flag),
        sysflag::TRANSACTION_NOT_TYPE
    );
    let half_offset = decode_offset_msg_id(&sent.msg_id)
        .unwrap()
        .commit_log_offset;
    assert_eq!(half.commit_log_offset, half_offset);
    let pending = broker.pending_transactions().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].transaction_id.as_str(),
            pending[0].topic.as_str(),
            pending[0].queue_id,
            pending[0].status
        ),
        ("UNIQ-A", "T", 2, TransactionStatus::Pending)
    );

    let commit = end_header(&sent, TransactionCommitType::Commit);
    let r = end(&conn, &commit).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let delivered = broker.messages("T").unwrap();
    assert_eq!(delivered.len(), 1);
    let m = &delivered[0];
    assert_eq!(&m.body[..], b"body of UNIQ-A");
    assert_eq!(m.queue_id, 2);
    assert_eq!(m.uniq_key(), Some("UNIQ-A"));
    assert_eq!(
        sysflag::transaction_value(m.sys_flag),
        sysflag::TRANSACTION_COMMIT_TYPE
    );
    assert_eq!(m.prepared_transaction_offset, half_offset);

    let ops = broker.messages(TRANS_OP_HALF_TOPIC).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].tags(), Some("d"));
    assert_eq!(&ops[0].body[..], b"0,");
    assert!(broker.pending_transactions().unwrap().is_empty());
    let committed = broker
        .transactions_in(TransactionStatus::Committed)
        .unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(
        broker.consumer_offsets("CID_RMQ_SYS_TRANS", TRANS_HALF_TOPIC)[&0],
        1
    );

    // Once settled, a repeated commit is acknowledged and changes nothing.
    let r = end(&conn, &commit).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    let r = end(&conn, &end_header(&sent, TransactionCommitType::Rollback)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 1);
    assert_eq!(broker.messages(TRANS_OP_HALF_TOPIC).unwrap().len(), 1);
}

#[tokio::test]
async fn a_rollback_writes_an_op_record_and_nothing_else() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let conn = connect(&broker.broker_addrs()[0]).await;
    let first = send_half(&conn, 0, "UNIQ-R1", &[]).await;
    let second = send_half(&conn, 1, "UNIQ-R2", &[]).await;
    assert_eq!((first.queue_offset, second.queue_offset), (0, 1));
    let r = end(&conn, &end_header(&second, TransactionCommitType::Rollback)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert!(broker.messages("T").unwrap().is_empty());
    let ops = broker.messages(TRANS_OP_HALF_TOPIC).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(&ops[0].body[..], b"1,");
    let open: Vec<_> = broker
        .pending_transactions()
        .unwrap()
        .into_iter()
        .map(|t| t.transaction_id)
        .collect();
    assert_eq!(open, vec!["UNIQ-R1".to_owned()]);
    assert_eq!(
        broker
            .transactions_in(TransactionStatus::RolledBack)
            .unwrap()
            .len(),
        1
    );
    // The first half is still open, so the checker's progress stays at it.
    assert_eq!(
        broker.consumer_offsets("CID_RMQ_SYS_TRANS", TRANS_HALF_TOPIC)[&0],
        0
    );
}

#[tokio::test]
async fn end_transaction_validation_errors_leave_the_transaction_open() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let conn = connect(&broker.broker_addrs()[0]).await;
    let sent = send_half(&conn, 0, "UNIQ-V", &[]).await;
    let normal = broker_support::send_ok(&conn, "T", 3, b"plain").await;
    let good = end_header(&sent, TransactionCommitType::Commit);

    let expect = async |h: EndTransactionRequestHeader, remark: &str| {
        let r = end(&conn, &h).await;
        assert_eq!(
            r.response_code(),
            ResponseCode::SYSTEM_ERROR,
            "{h:?}: {r:?}"
        );
        assert_eq!(r.remark.as_deref(), Some(remark), "{h:?}");
    };
    let mut h = good.clone();
    h.producer_group = "someone-else".into();
    expect(h, "The producer group wrong").await;
    let mut h = good.clone();
    h.tran_state_table_offset = 7;
    expect(h, "The transaction state table offset wrong").await;
    let not_found = "Find prepared transaction message failed";
    for offset in [
        -1,
        i64::MIN,
        i64::MAX,
        good.commit_log_offset + 1,
        1 << 40,
        decode_offset_msg_id(&normal.msg_id)
            .unwrap()
            .commit_log_offset,
    ] {
        let mut h = good.clone();
        h.commit_log_offset = offset;
        expect(h, not_found).await;
    }
    // A header that does not decode.
    let bad = RemotingCommand::request(RequestCode::END_TRANSACTION);
    let r = conn.request(bad, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR, "{r:?}");
    // UNKNOWN (0) and unknown types get no answer at all, as upstream.
    for kind in [
        TransactionCommitType::Unknown,
        TransactionCommitType::Other(5),
    ] {
        let mut h = good.clone();
        h.commit_or_rollback = kind;
        let r = conn
            .request(
                RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(&h),
                Duration::from_millis(300),
            )
            .await;
        assert!(r.is_err(), "no response to {kind:?}: {r:?}");
    }

    assert_eq!(broker.messages("T").unwrap().len(), 1, "only the plain one");
    assert!(broker.messages(TRANS_OP_HALF_TOPIC).unwrap().is_empty());
    assert_eq!(broker.pending_transactions().unwrap().len(), 1);
    let r = end(&conn, &good).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 2);
}

#[tokio::test]
async fn past_its_immunity_time_only_a_check_answer_may_end_a_transaction() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let conn = connect(&broker.broker_addrs()[0]).await;
    let sent = send_half(
        &conn,
        0,
        "UNIQ-I",
        &[(keys::CHECK_IMMUNITY_TIME_IN_SECONDS, "10")],
    )
    .await;
    clock.advance(10_001);
    let mut h = end_header(&sent, TransactionCommitType::Commit);
    let r = end(&conn, &h).await;
    assert_eq!(r.response_code(), ResponseCode::ILLEGAL_OPERATION, "{r:?}");
    assert!(broker.messages("T").unwrap().is_empty());
    h.from_transaction_check = true;
    let r = end(&conn, &h).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 1);
}

#[tokio::test]
async fn the_checker_asks_a_live_producer_and_its_answer_commits() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let addr = broker.broker_addrs()[0].clone();
    let (conn, inbox) = connect_with_inbox(&addr).await;
    register_producer(&conn).await;
    assert_eq!(broker.broker(0).producer_connections(GROUP), 1);
    clock.advance(25_000);
    let sent = send_half(&conn, 2, "UNIQ-C", &[]).await;
    let first_offset = decode_offset_msg_id(&sent.msg_id)
        .unwrap()
        .commit_log_offset;

    // 5 s old at the first run, younger than the 6 s timeout: not checked.
    advance_and_run(&broker, &clock, 5_000).await;
    assert!(checks(&inbox).is_empty());
    advance_and_run(&broker, &clock, 30_000).await;
    assert!(wait_until(|| checks(&inbox).len() == 1).await);
    let check = checks(&inbox).remove(0);
    let h: CheckTransactionStateRequestHeader = check.decode_header().unwrap();
    assert_eq!(h.topic.as_deref(), Some(TRANS_HALF_TOPIC));
    assert_eq!(h.msg_id.as_deref(), Some("UNIQ-C"));
    assert_eq!(h.transaction_id.as_deref(), Some("UNIQ-C"));
    assert_eq!(h.tran_state_table_offset, 1, "the half was stored again");
    assert!(h.commit_log_offset > first_offset);
    assert_eq!(
        decode_offset_msg_id(h.offset_msg_id.as_deref().unwrap())
            .unwrap()
            .commit_log_offset,
        h.commit_log_offset
    );
    let body = decode_message_ext(&check.body, &DecodeOptions::default()).unwrap();
    assert_eq!((body.topic.as_str(), body.queue_id), ("T", 2));
    assert_eq!(body.property(keys::TRANSACTION_CHECK_TIMES), Some("1"));
    assert_eq!(body.property(keys::PGROUP), Some(GROUP));
    assert_eq!(&body.body[..], b"body of UNIQ-C");
    assert_eq!(broker.messages(TRANS_HALF_TOPIC).unwrap().len(), 2);
    assert_eq!(broker.pending_transactions().unwrap()[0].check_times, 1);

    let answer = EndTransactionRequestHeader {
        topic: Some("T".into()),
        producer_group: GROUP.into(),
        tran_state_table_offset: h.tran_state_table_offset,
        commit_log_offset: h.commit_log_offset,
        commit_or_rollback: TransactionCommitType::Commit,
        from_transaction_check: true,
        msg_id: "UNIQ-C".into(),
        transaction_id: h.transaction_id.clone(),
        ..Default::default()
    };
    conn.send_oneway(RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(&answer))
        .unwrap();
    assert!(wait_until(|| broker.messages("T").unwrap().len() == 1).await);
    assert_eq!(
        &broker.messages(TRANS_OP_HALF_TOPIC).unwrap()[0].body[..],
        b"1,"
    );
    advance_and_run(&broker, &clock, 30_000).await;
    advance_and_run(&broker, &clock, 30_000).await;
    assert_eq!(checks(&inbox).len(), 1, "no check once settled");
    assert_eq!(broker.messages("T").unwrap().len(), 1);
}

#[tokio::test]
async fn a_late_end_and_a_check_answer_deliver_once() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let (conn, inbox) = connect_with_inbox(&broker.broker_addrs()[0]).await;
    register_producer(&conn).await;
    let sent = send_half(&conn, 1, "UNIQ-L", &[]).await;
    advance_and_run(&broker, &clock, 30_000).await;
    assert!(wait_until(|| checks(&inbox).len() == 1).await);
    let h: CheckTransactionStateRequestHeader = checks(&inbox)[0].decode_header().unwrap();
    // The producer's own END_TRANSACTION arrives late, naming the first half...
    let r = end(&conn, &end_header(&sent, TransactionCommitType::Commit)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    // ...and then its answer to the check, naming the second.
    let mut answer = end_header(&sent, TransactionCommitType::Commit);
    answer.tran_state_table_offset = h.tran_state_table_offset;
    answer.commit_log_offset = h.commit_log_offset;
    answer.from_transaction_check = true;
    let r = end(&conn, &answer).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 1, "delivered once");
}

#[tokio::test]
async fn an_immunity_time_delays_the_first_check() {
    let clock = manual_clock();
    let broker = broker_on(&clock).await;
    let (conn, inbox) = connect_with_inbox(&broker.broker_addrs()[0]).await;
    register_producer(&conn).await;
    send_half(
        &conn,
        0,
        "UNIQ-IM",
        &[(keys::CHECK_IMMUNITY_TIME_IN_SECONDS, "50")],
    )
    .await;
    advance_and_run(&broker, &clock, 30_000).await;
    assert!(checks(&inbox).is_empty(), "30 s < 50 s");
    advance_and_run(&broker, &clock, 30_000).await;
    assert!(wait_until(|| checks(&inbox).len() == 1).await);
}

#[tokio::test]
async fn unanswered_transactions_are_parked_after_the_maximum_checks() {
    let clock = manual_clock();
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .transaction_check_interval(Duration::from_secs(10))
        .transaction_timeout(Duration::from_secs(1))
        .transaction_check_max(2)
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 4).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    // No producer of the group is registered: checks go nowhere, but they still count.
    send_half(&conn, 3, "UNIQ-P", &[]).await;
    advance_and_run(&broker, &clock, 10_000).await;
    assert_eq!(broker.pending_transactions().unwrap()[0].check_times, 1);
    advance_and_run(&broker, &clock, 10_000).await;
    assert_eq!(broker.pending_transactions().unwrap()[0].check_times, 2);
    advance_and_run(&broker, &clock, 10_000).await;
    assert!(broker.pending_transactions().unwrap().is_empty());
    let parked = broker.parked_transactions().unwrap();
    assert_eq!(parked.len(), 1);
    let p = &parked[0];
    assert_eq!(p.status, TransactionStatus::Parked);
    assert_eq!(
        (p.transaction_id.as_str(), p.topic.as_str(), p.queue_id),
        ("UNIQ-P", "T", 3)
    );
    assert_eq!(p.check_times, 2);
    assert_eq!(p.message.topic, TRANS_CHECK_MAX_TIME_TOPIC);
    assert_eq!(&p.message.body[..], b"body of UNIQ-P");
    assert!(broker.messages("T").unwrap().is_empty());
    assert_eq!(broker.broker(0).transaction_checks_sent(), 0);
    // Parked means settled: the halves are behind the checker's progress.
    assert_eq!(
        broker.consumer_offsets("CID_RMQ_SYS_TRANS", TRANS_HALF_TOPIC)[&0],
        3
    );

    // Parked transactions stay parked across a restart.
    broker.restart().await.unwrap();
    assert!(broker.pending_transactions().unwrap().is_empty());
    assert_eq!(broker.parked_transactions().unwrap().len(), 1);
}

#[tokio::test]
async fn open_transactions_survive_a_restart() {
    let clock = manual_clock();
    let dir = tempfile::tempdir().unwrap();
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .transaction_check_interval(Duration::from_secs(30))
        .directory(dir.path())
        .start()
        .await
        .unwrap();
    broker.create_topic("T", 4).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let a = send_half(&conn, 0, "UNIQ-X", &[]).await;
    let b = send_half(&conn, 1, "UNIQ-Y", &[]).await;
    let c = send_half(&conn, 2, "UNIQ-Z", &[]).await;
    let r = end(&conn, &end_header(&b, TransactionCommitType::Commit)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    // X gets checked once (its half is stored again), Z is rolled back after that.
    advance_and_run(&broker, &clock, 30_000).await;
    let r = end(&conn, &end_header(&c, TransactionCommitType::Rollback)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(broker.pending_transactions().unwrap().len(), 1);
    drop(conn);

    broker.restart().await.unwrap();
    let pending = broker.pending_transactions().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].transaction_id, "UNIQ-X");
    assert_eq!(pending[0].check_times, 1);
    assert_eq!(broker.messages("T").unwrap().len(), 1);

    // The first half's END still settles it, and it is not checked again.
    let conn = connect(&broker.broker_addrs()[0]).await;
    let r = end(&conn, &end_header(&a, TransactionCommitType::Commit)).await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("T").unwrap().len(), 2);
    drop(conn);

    broker.restart().await.unwrap();
    assert!(broker.pending_transactions().unwrap().is_empty());
    assert_eq!(broker.messages("T").unwrap().len(), 2);
}
