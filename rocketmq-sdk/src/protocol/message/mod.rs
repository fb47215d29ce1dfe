//! Messages: the model, the properties string, the stored record, batch bodies, message
//! ids, Java-compatible hashes and body compression.
