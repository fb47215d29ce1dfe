//! ACL 1.0 on the broker, over loopback with raw requests: who gets in, with which code and
//! which remark, and that a refusal never takes the broker down.

mod broker_support;

use std::sync::Arc;

use broker_support::*;
use bytes::Bytes;
use rocketmq_embedded_broker::acl::{Account, AclConfig, Perm};
use rocketmq_embedded_broker::{BrokerError, EmbeddedBroker};
use rocketmq_sdk::acl::{AclSigner, Credentials, sign_request};
use rocketmq_sdk::protocol::body::JsonBody;
use rocketmq_sdk::protocol::header::{
    CreateTopicRequestHeader, GetRouteInfoRequestHeader, TopicFilterType,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions, RequestHook};

const AK: &str = "producer-ak";
const SK: &str = "producer-secret";

async fn connect_signed(addr: &str, hook: impl RequestHook) -> Connection {
    let mut options = ConnectionOptions::default();
    options.request_hook = Some(Arc::new(hook));
    Connection::connect(addr, options).await.expect("connect")
}

async fn connect_as(addr: &str, access_key: &str, secret_key: &str) -> Connection {
    connect_signed(
        addr,
        AclSigner::new(Credentials::new(access_key, secret_key)),
    )
    .await
}

/// A hook that only adds the access key (no signature).
struct AccessKeyOnly(&'static str);

impl RequestHook for AccessKeyOnly {
    fn before_request(&self, _addr: &str, request: &mut RemotingCommand) {
        request.ext_fields.insert("AccessKey", self.0);
    }
}

/// A hook that signs and then changes the request (a field added after signing).
struct SignThenTamper;

impl RequestHook for SignThenTamper {
    fn before_request(&self, _addr: &str, request: &mut RemotingCommand) {
        sign_request(request, &Credentials::new(AK, SK));
        request.ext_fields.insert("added-after-signing", "1");
    }
}

async fn broker_with(acl: AclConfig) -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .acl(acl)
        .start()
        .await
        .expect("broker starts")
}

fn producer_only() -> AclConfig {
    AclConfig::new().account(
        Account::new(AK, SK)
            .default_topic_perm(Perm::Deny)
            .default_group_perm(Perm::Deny)
            .topic_perm("orders", Perm::Pub),
    )
}

fn assert_refused(r: &RemotingCommand, remark_has: &str) {
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR, "{r:?}");
    let remark = r.remark.as_deref().unwrap_or_default();
    assert!(
        remark.starts_with("org.apache.rocketmq.acl.common.AclException: "),
        "remark {remark:?} should read like a Java broker's"
    );
    assert!(
        remark.contains(remark_has),
        "remark {remark:?} should contain {remark_has:?}"
    );
}

#[tokio::test]
async fn a_signed_send_with_pub_permission_is_stored() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    let conn = connect_as(&broker.broker_addrs()[0], AK, SK).await;
    let r = send(&conn, "orders", 0, b"paid").await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert_eq!(broker.messages("orders").unwrap().len(), 1);
}

#[tokio::test]
async fn unsigned_requests_are_refused_and_the_broker_keeps_serving() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    let addr = &broker.broker_addrs()[0];
    let plain = connect(addr).await;
    let r = send(&plain, "orders", 0, b"x").await;
    assert_refused(&r, "No accessKey is configured");
    assert_refused(&r, "not signed");
    // The same connection still gets answers; a signed client still gets in.
    let r = send(&plain, "orders", 0, b"x").await;
    assert_refused(&r, "No accessKey");
    let signed = connect_as(addr, AK, SK).await;
    assert_eq!(
        send(&signed, "orders", 0, b"y").await.response_code(),
        ResponseCode::SUCCESS
    );
    assert!(
        broker.messages("orders").unwrap().len() == 1,
        "only the signed send landed"
    );
}

#[tokio::test]
async fn an_unknown_access_key_is_refused() {
    let broker = broker_with(producer_only()).await;
    let conn = connect_as(&broker.broker_addrs()[0], "somebody-else", SK).await;
    let r = send(&conn, "orders", 0, b"x").await;
    assert_refused(&r, "No acl config for somebody-else: unknown access key");
}

#[tokio::test]
async fn a_wrong_secret_a_missing_signature_and_a_tampered_request_are_refused() {
    let broker = broker_with(producer_only()).await;
    let addr = &broker.broker_addrs()[0];

    let wrong = connect_as(addr, AK, "not-the-secret").await;
    let r = send(&wrong, "orders", 0, b"x").await;
    assert_refused(&r, &format!("Check signature failed for accessKey={AK}"));
    assert_refused(&r, "signature mismatch");
    assert!(
        !r.remark.unwrap().contains(SK),
        "the remark never shows the secret"
    );

    let unsigned = connect_signed(addr, AccessKeyOnly(AK)).await;
    assert_refused(
        &send(&unsigned, "orders", 0, b"x").await,
        "the request has no Signature",
    );

    let tampered = connect_signed(addr, SignThenTamper).await;
    assert_refused(
        &send(&tampered, "orders", 0, b"x").await,
        "signature mismatch",
    );
    assert!(broker.messages("orders").unwrap().is_empty());
}

#[tokio::test]
async fn a_permission_on_one_topic_does_not_leak_to_another() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    broker.create_topic("payments", 4).await.unwrap();
    let conn = connect_as(&broker.broker_addrs()[0], AK, SK).await;
    let r = send(&conn, "payments", 0, b"x").await;
    assert_refused(
        &r,
        &format!(
            "No default permission for topic:payments: accessKey={AK} lacks PUB (payments is not in \
             topicPerms and defaultTopicPerm is DENY)"
        ),
    );
    // PUB on orders does not give SUB on it either.
    let r = conn
        .request(pull_request(&pull_header("g1", "orders", 0, 0)), T)
        .await
        .unwrap();
    assert_refused(&r, "No default permission for topic:orders");
    assert_eq!(
        send(&conn, "orders", 0, b"ok").await.response_code(),
        ResponseCode::SUCCESS
    );
    assert!(broker.messages("payments").unwrap().is_empty());
}

#[tokio::test]
async fn a_deny_beats_the_default() {
    let acl = AclConfig::new().account(
        Account::new(AK, SK)
            .default_topic_perm(Perm::PubSub)
            .default_group_perm(Perm::Sub)
            .topic_perm("secret", Perm::Deny)
            .group_perm("banned", Perm::Deny),
    );
    let broker = broker_with(acl).await;
    broker.create_topic("secret", 4).await.unwrap();
    broker.create_topic("open", 4).await.unwrap();
    let conn = connect_as(&broker.broker_addrs()[0], AK, SK).await;
    assert_refused(
        &send(&conn, "secret", 0, b"x").await,
        "No default permission for topic:secret: accessKey=producer-ak lacks PUB (topicPerms has secret=DENY)",
    );
    assert_eq!(
        send(&conn, "open", 0, b"x").await.response_code(),
        ResponseCode::SUCCESS
    );
    // Groups: the default SUB lets g1 pull, the DENY on `banned` does not.
    let ok = conn
        .request(pull_request(&pull_header("g1", "open", 0, 0)), T)
        .await
        .unwrap();
    assert_ne!(ok.response_code(), ResponseCode::SYSTEM_ERROR, "{ok:?}");
    let denied = conn
        .request(pull_request(&pull_header("banned", "open", 0, 0)), T)
        .await
        .unwrap();
    assert_refused(
        &denied,
        "No default permission for group:banned: accessKey=producer-ak lacks SUB (groupPerms has banned=DENY)",
    );
}

#[tokio::test]
async fn heartbeats_need_sub_on_their_groups_and_topics() {
    let acl = AclConfig::new().account(
        Account::new(AK, SK)
            .default_group_perm(Perm::Sub)
            .topic_perm("feed", Perm::Sub),
    );
    let broker = broker_with(acl).await;
    let conn = connect_as(&broker.broker_addrs()[0], AK, SK).await;
    heartbeat(&conn, "c1", "g1", "feed", "*").await;
    let body = heartbeat_body("c1", "g1", "other", "*").encode().unwrap();
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body),
            T,
        )
        .await
        .unwrap();
    assert_refused(&r, "No default permission for topic:other");
}

#[tokio::test]
async fn admin_request_codes_need_an_admin_account() {
    let acl = producer_only().account(Account::new("admin-ak", "admin-secret").admin(true));
    let broker = broker_with(acl).await;
    let addr = &broker.broker_addrs()[0];
    let create = || {
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: "created-by-admin".into(),
                read_queue_nums: 2,
                write_queue_nums: 2,
                perm: 6,
                topic_filter_type: TopicFilterType::SingleTag,
                ..Default::default()
            },
        )
    };
    let user = connect_as(addr, AK, SK).await;
    let r = user.request(create(), T).await.unwrap();
    assert_refused(
        &r,
        "Need admin permission for request code=17, but accessKey=producer-ak is not",
    );
    let admin = connect_as(addr, "admin-ak", "admin-secret").await;
    let r = admin.request(create(), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    // An admin without per-resource permissions may also send anywhere.
    assert_eq!(
        send(&admin, "created-by-admin", 0, b"x")
            .await
            .response_code(),
        ResponseCode::SUCCESS
    );
}

#[tokio::test]
async fn a_globally_whitelisted_address_needs_no_signature() {
    let broker = broker_with(producer_only().global_white_remote_address("127.0.0.*")).await;
    broker.create_topic("payments", 4).await.unwrap();
    let plain = connect(&broker.broker_addrs()[0]).await;
    // Upstream semantics: the global whitelist skips every check, permissions included.
    assert_eq!(
        send(&plain, "payments", 0, b"x").await.response_code(),
        ResponseCode::SUCCESS
    );

    let elsewhere = broker_with(producer_only().global_white_remote_address("10.1.2.*")).await;
    let plain = connect(&elsewhere.broker_addrs()[0]).await;
    assert_refused(
        &send(&plain, "orders", 0, b"x").await,
        "127.0.0.1 is not whitelisted",
    );
}

#[tokio::test]
async fn an_accounts_own_whitelist_skips_the_signature_but_not_the_access_key() {
    let acl = AclConfig::new().account(
        Account::new(AK, SK)
            .white_remote_address("127.0.0.1")
            .default_topic_perm(Perm::Deny),
    );
    let broker = broker_with(acl).await;
    broker.create_topic("orders", 4).await.unwrap();
    let addr = &broker.broker_addrs()[0];
    let key_only = connect_signed(addr, AccessKeyOnly(AK)).await;
    assert_eq!(
        send(&key_only, "orders", 0, b"x").await.response_code(),
        ResponseCode::SUCCESS
    );
    let anonymous = connect(addr).await;
    assert_refused(&send(&anonymous, "orders", 0, b"x").await, "No accessKey");
}

#[tokio::test]
async fn refused_oneway_requests_get_no_answer_and_change_nothing() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    let plain = connect(&broker.broker_addrs()[0]).await;
    plain
        .send_oneway(send_request("orders", 0, b"oneway", None))
        .unwrap();
    // The connection is still usable, and nothing was stored.
    assert_refused(&send(&plain, "orders", 0, b"x").await, "No accessKey");
    assert!(broker.messages("orders").unwrap().is_empty());
    assert!(!plain.is_closed());
}

#[tokio::test]
async fn the_name_server_does_not_enforce_acl() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    let ns = connect(&broker.name_server_addr()).await;
    let header = GetRouteInfoRequestHeader {
        topic: "orders".into(),
        ..Default::default()
    };
    let r = ns
        .request(
            RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(&header),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
}

#[tokio::test]
async fn an_unusable_acl_configuration_stops_the_start() {
    let err = EmbeddedBroker::builder()
        .acl(AclConfig::new().account(Account::new("short", "long-enough-secret")))
        .start()
        .await
        .unwrap_err();
    match err {
        BrokerError::Config { field, reason } => {
            assert_eq!(field, "acl");
            assert!(reason.contains("shorter than 7"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = EmbeddedBroker::builder()
        .acl(AclConfig::new().global_white_remote_address("127.0.0"))
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Config { field: "acl", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_send_body_is_covered_by_the_signature() {
    let broker = broker_with(producer_only()).await;
    broker.create_topic("orders", 4).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let mut r = send_request("orders", 0, b"original", None);
    sign_request(&mut r, &Credentials::new(AK, SK));
    r.body = Bytes::from_static(b"swapped!");
    let resp = conn.request(r, T).await.unwrap();
    assert_refused(&resp, "signature mismatch");
}
