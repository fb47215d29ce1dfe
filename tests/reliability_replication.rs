//! Reliability scenario 8 against real clients over loopback: a SYNC_MASTER whose slave is
//! slowed down, killed and restarted, then the master crashes. The producer must see each
//! send's true status through the SDK's `SendReceipt` (SEND_OK, FLUSH_SLAVE_TIMEOUT,
//! SLAVE_NOT_AVAILABLE), and every SEND_OK message must survive on the slave and be
//! consumed from it through the SDK's slave fallback.
//!
//! CI size: 400 messages (the report runs 2,000; `RELIABILITY_HEAVY=1` runs 10,000 here).

use rocketmq_suite::reliability::{heavy, sync_replication_failover};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_replication_reports_slave_trouble_and_loses_no_send_ok_when_the_master_dies() {
    let messages = if heavy() { 10_000 } else { 400 };
    let (r, s) = sync_replication_failover(messages).await.unwrap();
    eprintln!("{r}");
    eprintln!("{s:?}");
    assert_eq!(s.errors, 0, "every send got a receipt: {s:?}");
    assert_eq!(s.unexpected, 0, "statuses match the slave's state: {s:?}");
    assert!(
        s.send_ok > 0 && s.flush_slave_timeout > 0 && s.slave_not_available > 0,
        "{s:?}"
    );
    assert_eq!(r.acknowledged, s.send_ok);
    assert_eq!(r.lost, 0, "SEND_OK messages missing on the slave: {r:?}");
    assert_eq!(
        s.consumed_from_slave, s.send_ok,
        "every SEND_OK message consumed from the slave after the master died"
    );
}
