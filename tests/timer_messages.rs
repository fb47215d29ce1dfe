//! 5.x timer messages on the embedded broker: a message with a delivery time (or a timer
//! delay) is held in `rmq_sys_wheel_timer` until its time on the broker's clock, then put
//! into its real queue once; the schedule survives a restart without delivering twice.

use std::sync::Arc;
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_sdk::Client;
use rocketmq_sdk::protocol::message::Message;
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(15);
const START: i64 = 1_700_000_000_000;

async fn setup() -> (Arc<ManualClock>, EmbeddedBroker, Client) {
    let clock = Arc::new(ManualClock::new(START));
    let broker = EmbeddedBroker::builder()
        .manual_clock(clock.clone())
        .start()
        .await
        .unwrap();
    broker.create_topic("timed", 1).await.unwrap(); // one queue: store order is time order
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await
        .unwrap();
    (clock, broker, client)
}

fn bodies(broker: &EmbeddedBroker, topic: &str) -> Vec<String> {
    broker
        .messages(topic)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_time_and_timer_delay_follow_the_broker_clock() {
    let (_clock, broker, client) = setup().await;
    let p = client.producer("p-timed").start().await.unwrap();
    let mut at = Message::new("timed", "at +2h");
    at.set_deliver_time_ms(START + 2 * 3_600_000);
    p.send(at).await.unwrap();
    let mut after = Message::new("timed", "after 30m");
    after.set_delay_time_ms(30 * 60_000);
    p.send(after).await.unwrap();
    let mut secs = Message::new("timed", "after 90s");
    secs.set_delay_time_sec(90);
    p.send(secs).await.unwrap();
    let mut past = Message::new("timed", "in the past");
    past.set_deliver_time_ms(START - 1);
    p.send(past).await.unwrap();

    assert_eq!(
        bodies(&broker, "timed"),
        ["in the past"],
        "a past time is now"
    );
    assert_eq!(broker.messages("rmq_sys_wheel_timer").unwrap().len(), 3);
    // Real time passing delivers nothing: the broker's clock stands still.
    assert!(
        !wait_until(Duration::from_millis(300), || async {
            bodies(&broker, "timed").len() > 1
        })
        .await
    );
    broker.advance(Duration::from_secs(60 * 60)).unwrap();
    assert!(
        wait_until(T, || async { bodies(&broker, "timed").len() == 3 }).await,
        "the 90 s and 30 min timers are due after an hour: {:?}",
        bodies(&broker, "timed")
    );
    assert_eq!(
        bodies(&broker, "timed"),
        ["in the past", "after 90s", "after 30m"].map(String::from),
        "delivered in time order, not send order"
    );
    broker.advance(Duration::from_secs(60 * 60)).unwrap();
    assert!(wait_until(T, || async { bodies(&broker, "timed").len() == 4 }).await);
    let delivered = broker.messages("timed").unwrap();
    let last = delivered.last().unwrap();
    assert_eq!(&last.body[..], b"at +2h");
    assert!(last.store_timestamp >= START + 2 * 3_600_000);
    assert_eq!(last.property("REAL_TOPIC"), None);
    client.shutdown().await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_survive_a_restart_and_are_not_delivered_twice() {
    let (_clock, broker, client) = setup().await;
    let p = client.producer("p-timed").start().await.unwrap();
    let mut soon = Message::new("timed", "soon");
    soon.set_delay_time_ms(60_000);
    p.send(soon).await.unwrap();
    let mut later = Message::new("timed", "later");
    later.set_delay_time_ms(3_600_000);
    p.send(later).await.unwrap();
    broker.advance(Duration::from_secs(120)).unwrap();
    assert!(wait_until(T, || async { bodies(&broker, "timed") == ["soon"] }).await);

    broker.broker(0).restart().await.unwrap();
    broker.advance(Duration::from_secs(2 * 3600)).unwrap();
    assert!(
        wait_until(T, || async { bodies(&broker, "timed").len() >= 2 }).await,
        "the pending timer is delivered after the restart"
    );
    // Give a wrongly rescanned "soon" every chance to appear twice.
    broker.advance(Duration::from_secs(60)).unwrap();
    assert!(
        !wait_until(Duration::from_millis(300), || async {
            bodies(&broker, "timed").len() > 2
        })
        .await
    );
    assert_eq!(bodies(&broker, "timed"), ["soon", "later"]);
    client.shutdown().await;
    broker.shutdown().await.unwrap();
}
