//! The name server's key-value config (`KVConfigManager`): PUT_KV_CONFIG (100),
//! GET_KV_CONFIG (101), DELETE_KV_CONFIG (102), GET_KVLIST_BY_NAMESPACE (219).

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// Stores one value (`PutKVConfigRequestHeader`).
    pub struct PutKvConfigRequestHeader {
        /// Namespace, e.g. `ORDER_TOPIC_CONFIG`.
        namespace: String = required "namespace",
        /// Key.
        key: String = required "key",
        /// Value.
        value: String = required "value",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Reads one value (`GetKVConfigRequestHeader`).
    pub struct GetKvConfigRequestHeader {
        /// Namespace.
        namespace: String = required "namespace",
        /// Key.
        key: String = required "key",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// GET_KV_CONFIG's answer (`GetKVConfigResponseHeader`).
    pub struct GetKvConfigResponseHeader {
        /// The value, absent when not found.
        value: Option<String> = optional "value",
    }
}

command_header! {
    /// Deletes one value (`DeleteKVConfigRequestHeader`).
    pub struct DeleteKvConfigRequestHeader {
        /// Namespace.
        namespace: String = required "namespace",
        /// Key.
        key: String = required "key",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Reads a whole namespace (`GetKVListByNamespaceRequestHeader`); the answer body is a
    /// `KVTable`.
    pub struct GetKvListByNamespaceRequestHeader {
        /// Namespace.
        namespace: String = required "namespace",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}
