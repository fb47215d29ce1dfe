//! Client configuration (`ClientConfig.java`), with the Java client's defaults.

use std::time::Duration;

use crate::acl::Credentials;
use crate::error::{Error, Result};

/// Settings shared by every producer and consumer of one [`Client`](super::Client).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Name-server addresses (`host:port`). Required: from the builder, or else from the
    /// `NAMESRV_ADDR` environment variable (`;`-separated), as the Java client reads it.
    pub name_servers: Vec<String>,
    /// Instance name. Default `"DEFAULT"`, which becomes `pid#nanos` in the client id, so
    /// two clients of one process never share an id.
    pub instance_name: String,
    /// The IP put in the client id. Default: `ROCKETMQ_CLIENT_IP` if set, else `127.0.0.1`.
    pub client_ip: String,
    /// Optional unit name appended to the client id.
    pub unit_name: Option<String>,
    /// Timeout of administrative requests (routes, heartbeats, offsets). Default 3 s.
    pub request_timeout: Duration,
    /// TCP connect timeout. Default 3 s.
    pub connect_timeout: Duration,
    /// Heartbeat period to every broker. Default 30 s.
    pub heartbeat_interval: Duration,
    /// Route refresh period. Default 30 s.
    pub route_poll_interval: Duration,
    /// Consumer offset persistence period. Default 5 s.
    pub persist_offset_interval: Duration,
    /// Largest frame sent or accepted. Default 16 MiB.
    pub max_frame: usize,
    /// ACL 1.0 credentials: when set, every request (to name servers and brokers) is
    /// signed with them, as the Java `AclClientRPCHook` does. Default none. `Debug`
    /// redacts the secret.
    pub credentials: Option<Credentials>,
    /// TLS for every connection (crate feature `tls`). Default none: plaintext.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::remoting::TlsConfig>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            name_servers: Vec::new(),
            instance_name: "DEFAULT".into(),
            client_ip: std::env::var("ROCKETMQ_CLIENT_IP").unwrap_or_else(|_| "127.0.0.1".into()),
            unit_name: None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(30),
            route_poll_interval: Duration::from_secs(30),
            persist_offset_interval: Duration::from_secs(5),
            max_frame: crate::protocol::frame::DEFAULT_MAX_FRAME,
            credentials: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientConfig {
    /// Checks every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::Config`] with the field's name.
    pub fn validate(&mut self) -> Result<()> {
        if self.name_servers.is_empty()
            && let Ok(env) = std::env::var("NAMESRV_ADDR")
        {
            self.name_servers = env
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if self.name_servers.is_empty() {
            return Err(config(
                "name_servers",
                "at least one name server address is required",
            ));
        }
        for ns in &self.name_servers {
            let ok = ns.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                return Err(config("name_servers", format!("{ns:?} is not host:port")));
            }
        }
        if self.instance_name.is_empty() || self.instance_name.contains('@') {
            return Err(config(
                "instance_name",
                "must be non-empty and contain no '@'",
            ));
        }
        for (field, d) in [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
            ("heartbeat_interval", self.heartbeat_interval),
            ("route_poll_interval", self.route_poll_interval),
            ("persist_offset_interval", self.persist_offset_interval),
        ] {
            if d.is_zero() {
                return Err(config(field, "must be greater than zero"));
            }
        }
        if let Some(c) = &self.credentials {
            if c.access_key().is_empty() {
                return Err(config(
                    "credentials",
                    "the access key must not be empty (a security token needs credentials)",
                ));
            }
            if c.secret_key().is_empty() {
                return Err(config("credentials", "the secret key must not be empty"));
            }
        }
        Ok(())
    }

    /// The client id: `ip@instance[@unit]`, with `DEFAULT` replaced by `pid#nanos`.
    pub(crate) fn client_id(&self) -> String {
        let instance = if self.instance_name == "DEFAULT" {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            format!("{}#{}", std::process::id(), nanos)
        } else {
            self.instance_name.clone()
        };
        match &self.unit_name {
            Some(u) => format!("{}@{}@{}", self.client_ip, instance, u),
            None => format!("{}@{}", self.client_ip, instance),
        }
    }
}

pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        field,
        reason: reason.into(),
    }
}
