//! Allocation strategies against vectors derived from the algorithms' definitions (the
//! Java client's `AllocateMessageQueue*` classes): block averaging, round-robin, the MD5
//! consistent-hash ring (computed independently from the hash definition: first four
//! MD5 bytes big-endian, 10 virtual nodes `cid-i`, first node at or after the queue's
//! `toString()` hash, wrapping), and a fixed configuration.

use rocketmq_sdk::consumer::{
    AllocateStrategy, Averagely, AveragelyByCircle, ByConfig, ConsistentHash,
};
use rocketmq_sdk::protocol::message::MessageQueue;

fn mq_all() -> Vec<MessageQueue> {
    let mut v: Vec<_> = ["broker-b", "broker-a"]
        .iter()
        .flat_map(|b| (0..4).map(move |i| MessageQueue::new("TopicTest", *b, i)))
        .collect();
    v.sort();
    v
}

fn cid_all() -> Vec<String> {
    vec![
        "192.168.0.1@a".to_owned(),
        "192.168.0.2@b".to_owned(),
        "192.168.0.3@c".to_owned(),
    ]
}

fn names(qs: &[MessageQueue]) -> Vec<String> {
    qs.iter()
        .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
        .collect()
}

fn share(s: &dyn AllocateStrategy, cids: &[String], me: usize) -> Vec<String> {
    names(&s.allocate("G", &cids[me], &mq_all(), cids))
}

#[test]
fn averagely_gives_contiguous_blocks_remainder_first() {
    let cids = cid_all();
    assert_eq!(Averagely.name(), "AVG");
    // 8 queues, 3 consumers: mod 2, so the first two take 3 and the last takes 2.
    assert_eq!(
        share(&Averagely, &cids, 0),
        ["broker-a:0", "broker-a:1", "broker-a:2"]
    );
    assert_eq!(
        share(&Averagely, &cids, 1),
        ["broker-a:3", "broker-b:0", "broker-b:1"]
    );
    assert_eq!(share(&Averagely, &cids, 2), ["broker-b:2", "broker-b:3"]);
    // More consumers than queues: one each, the surplus gets nothing.
    let many: Vec<String> = (0..10).map(|i| format!("c{i:02}")).collect();
    assert_eq!(share(&Averagely, &many, 7), ["broker-b:3"]);
    assert!(share(&Averagely, &many, 8).is_empty());
    assert!(share(&Averagely, &many, 9).is_empty());
}

#[test]
fn averagely_by_circle_deals_round_robin() {
    let cids = cid_all();
    assert_eq!(AveragelyByCircle.name(), "AVG_BY_CIRCLE");
    assert_eq!(
        share(&AveragelyByCircle, &cids, 0),
        ["broker-a:0", "broker-a:3", "broker-b:2"]
    );
    assert_eq!(
        share(&AveragelyByCircle, &cids, 1),
        ["broker-a:1", "broker-b:0", "broker-b:3"]
    );
    assert_eq!(
        share(&AveragelyByCircle, &cids, 2),
        ["broker-a:2", "broker-b:1"]
    );
}

#[test]
fn md5_hash_is_the_first_four_digest_bytes() {
    // md5("") = d41d8cd9..., md5("abc") = 90015098...
    assert_eq!(ConsistentHash::hash(""), 0xd41d_8cd9);
    assert_eq!(ConsistentHash::hash("abc"), 0x9001_5098);
    assert_eq!(
        ConsistentHash::hash("MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=0]"),
        1_987_926_524
    );
    assert_eq!(ConsistentHash::hash("192.168.0.1@a-0"), 3_149_272_168);
}

#[test]
fn consistent_hash_matches_the_ring() {
    let cids = cid_all();
    let s = ConsistentHash::default();
    assert_eq!(s.name(), "CONSISTENT_HASH");
    assert_eq!(share(&s, &cids, 0), ["broker-b:0"]);
    assert_eq!(
        share(&s, &cids, 1),
        ["broker-a:1", "broker-a:3", "broker-b:2", "broker-b:3"]
    );
    assert_eq!(
        share(&s, &cids, 2),
        ["broker-a:0", "broker-a:2", "broker-b:1"]
    );
    // Three virtual nodes give another ring.
    let s3 = ConsistentHash::new(3);
    assert_eq!(share(&s3, &cids, 0), ["broker-a:0", "broker-b:0"]);
    assert_eq!(share(&s3, &cids, 1), ["broker-a:2", "broker-b:1"]);
    assert_eq!(
        share(&s3, &cids, 2),
        ["broker-a:1", "broker-a:3", "broker-b:2", "broker-b:3"]
    );
}

#[test]
fn consistent_hash_moves_only_the_leavers_queues() {
    let s = ConsistentHash::default();
    let three = cid_all();
    let two = three[..2].to_vec();
    let before_a = share(&s, &three, 0);
    let before_b = share(&s, &three, 1);
    let after_a = share(&s, &two, 0);
    let after_b = share(&s, &two, 1);
    assert_eq!(after_a, ["broker-b:0"]);
    assert_eq!(
        after_b,
        [
            "broker-a:0",
            "broker-a:1",
            "broker-a:2",
            "broker-a:3",
            "broker-b:1",
            "broker-b:2",
            "broker-b:3"
        ]
    );
    assert!(before_a.iter().all(|q| after_a.contains(q)));
    assert!(before_b.iter().all(|q| after_b.contains(q)));
}

#[test]
fn by_config_returns_its_list() {
    let fixed = vec![
        MessageQueue::new("TopicTest", "broker-b", 3),
        MessageQueue::new("TopicTest", "broker-a", 1),
    ];
    let s = ByConfig::new(fixed.clone());
    assert_eq!(s.name(), "CONFIG");
    assert_eq!(s.allocate("G", "anyone", &mq_all(), &cid_all()), fixed);
}

#[test]
fn a_consumer_unknown_to_the_broker_takes_nothing() {
    let cids = cid_all();
    for s in [
        &Averagely as &dyn AllocateStrategy,
        &AveragelyByCircle,
        &ConsistentHash::default(),
    ] {
        assert!(s.allocate("G", "10.0.0.9@x", &mq_all(), &cids).is_empty());
        assert!(s.allocate("G", &cids[0], &[], &cids).is_empty());
    }
}
