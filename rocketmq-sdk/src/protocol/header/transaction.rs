//! END_TRANSACTION (37) and CHECK_TRANSACTION_STATE (39).

use super::macros::command_header;
use super::{RpcBase, TransactionCommitType};

command_header! {
    /// Producer → broker (oneway): commit, roll back or leave a half message.
    pub struct EndTransactionRequestHeader {
        /// Topic.
        topic: Option<String> = optional "topic",
        /// Producer group (must equal the half message's `PGROUP`).
        producer_group: String = required "producerGroup",
        /// The half message's queue offset.
        tran_state_table_offset: i64 = required "tranStateTableOffset",
        /// The half message's commit-log offset.
        commit_log_offset: i64 = required "commitLogOffset",
        /// Commit (8), rollback (12) or unknown (0).
        commit_or_rollback: TransactionCommitType = required "commitOrRollback",
        /// Whether this answers a check; defaults to false upstream.
        from_transaction_check: bool = primitive "fromTransactionCheck",
        /// The message's `UNIQ_KEY`.
        msg_id: String = required "msgId",
        /// Transaction id.
        transaction_id: Option<String> = optional "transactionId",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Broker → producer (oneway): asks for the state of a half message in the body.
    pub struct CheckTransactionStateRequestHeader {
        /// Topic as stored (`RMQ_SYS_TRANS_HALF_TOPIC`).
        topic: Option<String> = optional "topic",
        /// The half message's queue offset.
        tran_state_table_offset: i64 = required "tranStateTableOffset",
        /// The half message's commit-log offset.
        commit_log_offset: i64 = required "commitLogOffset",
        /// The message's `UNIQ_KEY`.
        msg_id: Option<String> = optional "msgId",
        /// Transaction id.
        transaction_id: Option<String> = optional "transactionId",
        /// Offset message id.
        offset_msg_id: Option<String> = optional "offsetMsgId",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}
