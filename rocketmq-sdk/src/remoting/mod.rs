//! The client transport: multiplexed connections with `opaque` correlation, timeouts,
//! peer-initiated requests, and a pool that reconnects with backoff.

mod connection;
mod error;
mod pool;

pub use connection::{Connection, ConnectionOptions, ServerRequestHandler};
pub use error::RemotingError;
pub use pool::{Backoff, ConnectionPool};
