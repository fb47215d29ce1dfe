//! Typed custom headers: each request or response header of the remoting protocol as a
//! Rust struct, converted to and from a command's `extFields` with the exact Java field
//! names (`R/protocol/header/*`).

use super::{ExtFields, ProtocolError};

/// A typed custom header.
pub trait CommandHeader {
    /// Writes every non-null field into `ext` under its Java name.
    fn write_to(&self, ext: &mut ExtFields);

    /// Reads the header from `ext`; a missing required field or an unparsable value is
    /// an error, unknown keys are ignored.
    fn read_from(ext: &ExtFields) -> Result<Self, ProtocolError>
    where
        Self: Sized;
}
