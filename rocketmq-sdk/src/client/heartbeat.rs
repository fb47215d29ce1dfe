//! HEART_BEAT and UNREGISTER_CLIENT: telling brokers which groups live on this client.

use tracing::{debug, warn};

use super::ClientInner;
use crate::protocol::body::{HeartbeatData, JsonBody, ProducerData};
use crate::protocol::header::UnregisterClientRequestHeader;
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};

/// The Java client always announces this internal producer group.
const CLIENT_INNER_PRODUCER: &str = "CLIENT_INNER_PRODUCER";

impl ClientInner {
    pub(crate) fn heartbeat_data(&self) -> HeartbeatData {
        let mut producers: Vec<ProducerData> = self
            .registry
            .producer_groups()
            .into_iter()
            .map(|g| ProducerData { group_name: g })
            .collect();
        producers.push(ProducerData {
            group_name: CLIENT_INNER_PRODUCER.into(),
        });
        HeartbeatData {
            client_id: self.client_id.clone(),
            producer_data_set: producers,
            consumer_data_set: self.registry.consumer_data(),
            ..Default::default()
        }
    }

    /// Sends one heartbeat to `addr`.
    pub(crate) async fn send_heartbeat(&self, addr: &str) -> crate::Result<()> {
        let body = self.heartbeat_data().encode()?;
        let req = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body);
        let resp = self
            .pool
            .request(addr, req, self.config.request_timeout)
            .await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(crate::Error::Broker {
                addr: addr.to_owned(),
                code: resp.response_code(),
                remark: resp.remark.unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Heartbeats every known broker: masters only when no consumer lives here (as Java).
    pub(crate) async fn send_heartbeat_to_all(&self) {
        let addrs = self.routes.all_broker_addrs(!self.registry.has_consumers());
        let sends = addrs.iter().map(|a| async move {
            if let Err(e) = self.send_heartbeat(a).await {
                debug!(broker = %a, error = %e, "heartbeat failed");
            }
        });
        futures::future::join_all(sends).await;
    }

    pub(crate) async fn unregister_group(&self, producer: Option<&str>, consumer: Option<&str>) {
        let header = UnregisterClientRequestHeader {
            client_id: self.client_id.clone(),
            producer_group: producer.map(String::from),
            consumer_group: consumer.map(String::from),
            ..Default::default()
        };
        for addr in self.routes.all_broker_addrs(false) {
            let req = RemotingCommand::request(RequestCode::UNREGISTER_CLIENT).with_header(&header);
            if let Err(e) = self
                .pool
                .request(&addr, req, self.config.request_timeout)
                .await
            {
                warn!(broker = %addr, error = %e, "unregister failed");
            }
        }
    }

    pub(crate) async fn unregister_all(&self) {
        for g in self.registry.producer_groups() {
            self.unregister_group(Some(&g), None).await;
        }
        let consumers: Vec<String> = self
            .registry
            .consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for g in consumers {
            self.unregister_group(None, Some(&g)).await;
        }
    }
}
