mod broker_support;
use broker_support::*;
use rocketmq_embedded_broker::EmbeddedBroker;
#[tokio::test]
async fn timing() {
    let t = std::time::Instant::now();
    let broker = EmbeddedBroker::start().await.unwrap();
    eprintln!("start {:?}", t.elapsed());
    broker.create_topic("T", 1).await.unwrap();
    let conn = connect(&broker.broker_addrs()[0]).await;
    let t = std::time::Instant::now();
    for i in 0..20 {
        send_ok(&conn, "T", 0, format!("m{i}").as_bytes()).await;
    }
    eprintln!("20 sends {:?}", t.elapsed());
    let t = std::time::Instant::now();
    broker.shutdown().await.unwrap();
    eprintln!("shutdown {:?}", t.elapsed());
}
