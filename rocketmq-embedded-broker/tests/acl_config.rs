//! The ACL file: upstream's `plain_acl.yml` as-is, the same in JSON, and the errors.

use rocketmq_embedded_broker::acl::{AclChecker, AclConfig, AclConfigError, Perm};

/// Upstream's sample `distribution/conf/plain_acl.yml` (4.x), comments included.
const UPSTREAM_SAMPLE: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      # the group should convert to retry topic
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB

  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    # if it is admin, it could access all resources
    admin: true
dataVersion:
  - counter: 1
    timestamp: 1700000000000
"#;

#[test]
fn upstream_sample_file_parses() {
    let acl = AclConfig::from_yaml(UPSTREAM_SAMPLE).unwrap();
    assert_eq!(
        acl.global_white_remote_addresses,
        ["10.10.103.*", "192.168.0.*"]
    );
    assert_eq!(acl.accounts.len(), 2);
    let a = &acl.accounts[0];
    assert_eq!(a.access_key, "RocketMQ");
    assert_eq!(
        a.secret_key, "12345678",
        "a YAML integer is read as a string"
    );
    assert_eq!(a.white_remote_address, None);
    assert!(!a.admin);
    assert_eq!(a.default_topic_perm, Perm::Deny);
    assert_eq!(a.default_group_perm, Perm::Sub);
    assert_eq!(
        a.topic_perms,
        [
            ("topicA".to_owned(), Perm::Deny),
            ("topicB".to_owned(), Perm::PubSub),
            ("topicC".to_owned(), Perm::Sub)
        ]
    );
    assert_eq!(a.group_perms.len(), 3);
    let b = &acl.accounts[1];
    assert!(b.admin);
    assert_eq!(b.white_remote_address.as_deref(), Some("192.168.1.*"));
    assert_eq!(
        b.default_topic_perm,
        Perm::Deny,
        "a missing default is DENY"
    );
    AclChecker::new(&acl).expect("the sample is a valid configuration");
}

#[test]
fn json_is_accepted_too() {
    let json = r#"{
        "globalWhiteRemoteAddresses": ["127.0.0.1"],
        "accounts": [{"accessKey": "json-account", "secretKey": "json-secret",
                      "admin": "true", "defaultTopicPerm": "PUB",
                      "topicPerms": ["t1=SUB|PUB"]}]
    }"#;
    let acl = AclConfig::from_yaml(json).unwrap();
    assert!(acl.accounts[0].admin);
    assert_eq!(acl.accounts[0].default_topic_perm, Perm::Pub);
    assert_eq!(
        acl.accounts[0].topic_perms,
        [("t1".to_owned(), Perm::PubSub)]
    );
}

#[test]
fn empty_documents_mean_nobody_but_errors_are_reported() {
    assert_eq!(AclConfig::from_yaml("").unwrap(), AclConfig::new());
    let bad_perm = "accounts:\n  - accessKey: abcdefgh\n    secretKey: abcdefgh\n    topicPerms: [t=PUBLISH]\n";
    let err = AclConfig::from_yaml(bad_perm).unwrap_err();
    assert!(matches!(err, AclConfigError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("PUBLISH"), "{err}");
    assert!(
        err.to_string().contains("abcdefgh"),
        "names the account: {err}"
    );

    let no_eq = "accounts:\n  - accessKey: abcdefgh\n    secretKey: abcdefgh\n    groupPerms: [justaname]\n";
    let err = AclConfig::from_yaml(no_eq).unwrap_err();
    assert!(err.to_string().contains("name=PERM"), "{err}");

    let err = AclConfig::from_yaml("accounts: [").unwrap_err();
    assert!(matches!(err, AclConfigError::Parse(_)), "{err}");
    let err = AclConfig::from_yaml("- just\n- a list\n").unwrap_err();
    assert!(matches!(err, AclConfigError::Parse(_)), "{err}");
}

#[test]
fn checker_rejects_what_upstream_rejects_and_never_prints_secrets() {
    let short_secret = "accounts:\n  - accessKey: long-enough\n    secretKey: short\n";
    let acl = AclConfig::from_yaml(short_secret).unwrap();
    let err = AclChecker::new(&acl).unwrap_err().to_string();
    assert!(err.contains("shorter than 7"), "{err}");
    assert!(
        !err.contains("short\""),
        "the secret is not in the message: {err}"
    );

    let twice = "accounts:\n  - {accessKey: same-key1, secretKey: secret-one}\n  - {accessKey: same-key1, secretKey: secret-two}\n";
    let err = AclChecker::new(&AclConfig::from_yaml(twice).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("defined twice"), "{err}");
    assert!(!err.contains("secret-"), "{err}");

    let bad_white = "accounts:\n  - {accessKey: abcdefgh, secretKey: abcdefgh, whiteRemoteAddress: 10.0.0.300}\n";
    let err = AclChecker::new(&AclConfig::from_yaml(bad_white).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("whiteRemoteAddress"), "{err}");
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain_acl.yml");
    std::fs::write(&path, UPSTREAM_SAMPLE).unwrap();
    assert_eq!(AclConfig::load(&path).unwrap().accounts.len(), 2);
    let missing = dir.path().join("nope.yml");
    let err = AclConfig::load(&missing).unwrap_err();
    assert!(matches!(err, AclConfigError::Io { .. }));
    assert!(err.to_string().contains("nope.yml"), "{err}");
}
