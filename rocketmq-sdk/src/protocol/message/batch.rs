//! SEND_BATCH_MESSAGE bodies (in progress).
