//! TLS on the remoting connection: a self-signed certificate made in the test, the
//! embedded broker serving TLS only, SDK clients trusting that certificate.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rcgen::CertifiedKey;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::acl::{Account, AclConfig, Perm};
use rocketmq_embedded_broker::server::TlsServerConfig;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use rocketmq_sdk::remoting::{Connection, ConnectionOptions, RemotingError, TlsConfig};
use rocketmq_sdk::{Client, Error};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(20);

fn self_signed(names: &[&str]) -> CertifiedKey<rcgen::KeyPair> {
    rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("certificate")
}

fn server_tls(cert: &CertifiedKey<rcgen::KeyPair>) -> TlsServerConfig {
    TlsServerConfig::from_pem(
        cert.cert.pem().as_bytes(),
        cert.signing_key.serialize_pem().as_bytes(),
    )
    .expect("server TLS config")
}

fn client_tls(cert: &CertifiedKey<rcgen::KeyPair>) -> TlsConfig {
    TlsConfig::new()
        .add_ca_pem(cert.cert.pem().as_bytes())
        .expect("CA PEM")
}

async fn tls_broker(cert: &CertifiedKey<rcgen::KeyPair>) -> EmbeddedBroker {
    let broker = EmbeddedBroker::builder()
        .tls(server_tls(cert))
        .start()
        .await
        .expect("broker starts");
    broker.create_topic("secure", 4).await.unwrap();
    broker
}

fn msg(topic: &str, body: String) -> Message {
    Message::new(topic, Bytes::from(body))
}

fn tls_options(tls: &TlsConfig) -> ConnectionOptions {
    let mut options = ConnectionOptions::default();
    options.tls = Some(tls.connector().unwrap());
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_tls_with_acl_signatures() {
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let broker = EmbeddedBroker::builder()
        .tls(server_tls(&cert))
        .acl(
            AclConfig::new().account(
                Account::new("tls-account", "tls-secret-1")
                    .default_topic_perm(Perm::PubSub)
                    .default_group_perm(Perm::Sub),
            ),
        )
        .start()
        .await
        .unwrap();
    broker.create_topic("secure", 4).await.unwrap();
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .tls(client_tls(&cert))
        .credentials("tls-account", "tls-secret-1")
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let producer = client.producer("tls-producer").start().await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let consumer = client
        .push_consumer("tls-consumer")
        .subscribe("secure", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let log = log.clone();
            async move {
                for m in msgs {
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&m.body).into_owned());
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..10 {
        let body = format!("secret-{i}");
        producer.send(msg("secure", body.clone())).await.unwrap();
        sent.push(body);
    }
    assert_eq!(broker.messages("secure").unwrap().len(), 10);
    assert!(
        wait_until(T, || async {
            let s = seen.lock().unwrap();
            sent.iter().all(|b| s.contains(b))
        })
        .await,
        "every message consumed over TLS: {:?}",
        seen.lock().unwrap()
    );
    consumer.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_plaintext_client_against_a_tls_broker_fails_cleanly() {
    let cert = self_signed(&["127.0.0.1"]);
    let broker = tls_broker(&cert).await;
    let broker_addr = broker.broker_addrs()[0].clone();

    // Raw connection: the broker drops the connection at its first plaintext frame, so the
    // request fails at once with a typed error (not a timeout).
    let plain = Connection::connect(&broker_addr, ConnectionOptions::default())
        .await
        .expect("TCP connects");
    let started = Instant::now();
    let err = plain
        .request(
            RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast");

    // Through the SDK: the name server speaks TLS too, so the route lookup fails, typed.
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .request_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let producer = client.producer("plain").start().await.unwrap();
    let err = producer.send(msg("secure", "x".into())).await.unwrap_err();
    assert!(matches!(err, Error::Remoting(_)), "{err:?}");
    client.shutdown().await;

    // The broker is alive and serves TLS clients.
    let tls = Connection::connect(&broker_addr, tls_options(&client_tls(&cert)))
        .await
        .expect("TLS connects");
    let r = tls
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{r:?}");
    assert!(broker.broker(0).is_running());
}

#[tokio::test]
async fn a_tls_client_against_a_plaintext_broker_gets_a_tls_error() {
    let cert = self_signed(&["127.0.0.1"]);
    let broker = EmbeddedBroker::start().await.unwrap();
    let err = Connection::connect(&broker.broker_addrs()[0], tls_options(&client_tls(&cert)))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Tls { .. }), "{err:?}");
    assert!(err.is_not_sent());
    // Plaintext clients are still served.
    let plain = Connection::connect(&broker.broker_addrs()[0], ConnectionOptions::default())
        .await
        .unwrap();
    let r = plain
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_is_refused_by_the_client() {
    let cert = self_signed(&["broker.test"]);
    let broker = tls_broker(&cert).await;
    let addr = broker.broker_addrs()[0].clone();

    // Another self-signed certificate is not a trust anchor for this one.
    let other = self_signed(&["broker.test"]);
    let err = Connection::connect(&addr, tls_options(&client_tls(&other)))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Tls { .. }), "{err:?}");

    // The right certificate, but it names broker.test and we dialled 127.0.0.1.
    let err = Connection::connect(&addr, tls_options(&client_tls(&cert)))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Tls { .. }), "{err:?}");

    // With the server name set, it verifies.
    let named = client_tls(&cert).server_name("broker.test");
    let conn = Connection::connect(&addr, tls_options(&named))
        .await
        .expect("verified by name");
    let r = conn
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
}

#[tokio::test]
async fn a_tls_config_without_trust_anchors_is_a_config_error() {
    let err = Client::builder()
        .name_server("127.0.0.1:9876")
        .tls(TlsConfig::new())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { field: "tls", .. }), "{err:?}");
    assert!(TlsServerConfig::from_pem(b"garbage", b"garbage").is_err());
}
