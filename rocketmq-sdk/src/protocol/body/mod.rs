//! Typed command bodies (`R/protocol/{body,heartbeat,route}`), JSON in the shapes the Java
//! peers write and read, fastjson quirks included.
