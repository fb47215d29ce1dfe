//! The client transport: multiplexed connections with `opaque` correlation, timeouts,
//! peer-initiated requests, and a pool that reconnects with backoff.

mod connection;
mod error;
mod pool;
#[cfg(feature = "tls")]
mod tls;

pub use connection::{Connection, ConnectionOptions, RequestHook, ServerRequestHandler};
pub use error::RemotingError;
pub use pool::{Backoff, ConnectionPool};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsConnector, TlsError};
