//! Config files: upstream JSON shapes, unquoted integer keys, atomic replace with `.bak`
//! fallback, and crash safety at every byte of a save.

mod store_support;

use std::path::Path;
use std::sync::Arc;

use rocketmq_embedded_broker::store::storage::{
    FaultKind, FaultyStorage, FileStorage, MemoryStorage, Storage,
};
use rocketmq_embedded_broker::store::{
    ConfigDocument, ConfigFiles, ConsumerOffsetTable, DelayOffsetTable, StoreError,
    SubscriptionGroupConfig, SubscriptionGroupTable, TopicConfig, TopicConfigTable,
};
use store_support::write_file;

fn offsets(v: i64) -> ConsumerOffsetTable {
    let mut t = ConsumerOffsetTable::default();
    let m = t.offset_table.entry("T@group".into()).or_default();
    m.insert(0, 12 + v);
    m.insert(1, 7);
    t
}

#[test]
fn consumer_offsets_are_written_with_unquoted_keys_and_read_both_ways() {
    let mem = MemoryStorage::new();
    let files = ConfigFiles::new(Arc::new(mem.clone()), "/c");
    files.save(&offsets(0)).unwrap();
    let text = store_support::read_file(&mem, Path::new("/c/consumerOffset.json"), 0, 1000);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        r#"{"offsetTable":{"T@group":{0:12,1:7}}}"#
    );
    assert_eq!(files.load::<ConsumerOffsetTable>().unwrap(), offsets(0));
    write_file(
        &mem,
        Path::new("/c/consumerOffset.json"),
        0,
        br#"{"offsetTable":{"T@group":{"0":12,"1":7}}}  "#,
    );
    assert_eq!(files.load::<ConsumerOffsetTable>().unwrap(), offsets(0));
}

#[test]
fn all_documents_round_trip_in_upstream_shape() {
    let dir = tempfile::tempdir().unwrap();
    let files = ConfigFiles::new(Arc::new(FileStorage::new()), dir.path());
    let mut topics = TopicConfigTable::default();
    topics
        .topic_config_table
        .insert("T".into(), TopicConfig::new("T", 8));
    topics.data_version.next_version(1000);
    files.save(&topics).unwrap();
    let text = std::fs::read_to_string(dir.path().join("topics.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["topicConfigTable"]["T"]["readQueueNums"], 8);
    assert_eq!(v["topicConfigTable"]["T"]["perm"], 6);
    assert_eq!(v["topicConfigTable"]["T"]["topicFilterType"], "SINGLE_TAG");
    assert_eq!(v["dataVersion"]["counter"], 1);
    assert_eq!(files.load::<TopicConfigTable>().unwrap(), topics);

    let mut groups = SubscriptionGroupTable::default();
    groups
        .subscription_group_table
        .insert("g".into(), SubscriptionGroupConfig::new("g"));
    files.save(&groups).unwrap();
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("subscriptionGroup.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["subscriptionGroupTable"]["g"]["retryMaxTimes"], 16);
    assert_eq!(
        v["subscriptionGroupTable"]["g"]["consumeBroadcastEnable"],
        true
    );
    assert_eq!(files.load::<SubscriptionGroupTable>().unwrap(), groups);

    let mut delay = DelayOffsetTable::default();
    delay.offset_table.insert(1, 0);
    delay.offset_table.insert(2, 57);
    files.save(&delay).unwrap();
    let text = std::fs::read_to_string(dir.path().join("delayOffset.json")).unwrap();
    assert!(
        text.starts_with(r#"{"offsetTable":{1:0,2:57},"dataVersion":{"#),
        "{text}"
    );
    assert_eq!(files.load::<DelayOffsetTable>().unwrap(), delay);
    // Missing files load as empty defaults.
    assert_eq!(
        files.load::<ConsumerOffsetTable>().unwrap(),
        ConsumerOffsetTable::default()
    );
}

#[test]
fn a_java_written_topics_file_keeps_unknown_fields() {
    let java = r#"{
	"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},
	"topicConfigTable":{
		"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
			"topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4,"futureField":{"a":1}}
	}
}"#;
    let t = TopicConfigTable::decode(java).unwrap();
    assert_eq!(t.topic_config_table["TopicTest"].read_queue_nums, 4);
    let again = TopicConfigTable::decode(&t.encode()).unwrap();
    assert_eq!(
        again.topic_config_table["TopicTest"].extra["futureField"]["a"],
        1
    );
}

#[test]
fn a_corrupt_file_falls_back_to_bak() {
    let mem = MemoryStorage::new();
    let files = ConfigFiles::new(Arc::new(mem.clone()), "/c");
    files.save(&offsets(1)).unwrap();
    files.save(&offsets(2)).unwrap();
    // .bak holds the previous version.
    let bak = store_support::read_file(&mem, Path::new("/c/consumerOffset.json.bak"), 0, 1000);
    assert_eq!(
        ConsumerOffsetTable::decode(std::str::from_utf8(&bak).unwrap()).unwrap(),
        offsets(1)
    );
    write_file(
        &mem,
        Path::new("/c/consumerOffset.json"),
        0,
        b"{{{{{{{{ torn",
    );
    assert_eq!(files.load::<ConsumerOffsetTable>().unwrap(), offsets(1));
    mem.remove_file(Path::new("/c/consumerOffset.json"))
        .unwrap();
    assert_eq!(files.load::<ConsumerOffsetTable>().unwrap(), offsets(1));
    write_file(
        &mem,
        Path::new("/c/consumerOffset.json.bak"),
        0,
        b"garbage garbage garbage",
    );
    assert!(matches!(
        files.load::<ConsumerOffsetTable>(),
        Err(StoreError::ConfigFile { .. })
    ));
}

#[test]
fn a_crash_at_any_byte_of_a_save_leaves_old_or_new() {
    let mem = MemoryStorage::new();
    let faulty = FaultyStorage::new(Arc::new(mem.clone()));
    let files = ConfigFiles::new(Arc::new(faulty.clone()), "/c");
    files.save(&offsets(1)).unwrap();
    let written_by_a_save = {
        let before = faulty.faults().bytes_written();
        files.save(&offsets(1)).unwrap();
        faulty.faults().bytes_written() - before
    };
    for budget in 0..=written_by_a_save {
        faulty.faults().heal();
        files.save(&offsets(1)).unwrap();
        faulty
            .faults()
            .fail_writes_after(budget, FaultKind::NoSpace);
        let saved = files.save(&offsets(2));
        faulty.faults().heal();
        mem.power_loss();
        let loaded = files.load::<ConsumerOffsetTable>().unwrap();
        if saved.is_ok() {
            assert_eq!(loaded, offsets(2), "budget {budget}");
        } else {
            assert!(
                loaded == offsets(1) || loaded == offsets(2),
                "budget {budget}: {loaded:?}"
            );
        }
    }
}
