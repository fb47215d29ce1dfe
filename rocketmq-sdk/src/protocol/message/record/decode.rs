//! Decoding stored records into owned [`MessageExt`] values, as the Java client's
//! `MessageDecoder.decode` does for pull, query and view bodies.

use bytes::Bytes;

use super::view::{RecordIter, RecordView};
use crate::protocol::error::ProtocolError;
use crate::protocol::message::compress::{self, DEFAULT_MAX_INFLATED_LEN};
use crate::protocol::message::model::{Message, MessageExt};
use crate::protocol::message::sysflag;

/// What [`decode_message_ext`] does beyond reading the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Keep the body; when false the body is left empty (Java `readBody`).
    pub read_body: bool,
    /// Inflate a compressed body and clear the COMPRESSED bit, as the Java client does.
    pub decompress_body: bool,
    /// Fail with [`ProtocolError::CrcMismatch`] when BODYCRC does not match.
    pub check_crc: bool,
    /// Largest inflated body accepted; bigger ones fail with [`ProtocolError::Decompress`].
    pub max_inflated_len: usize,
}

impl Default for DecodeOptions {
    /// The Java client's defaults: read and inflate the body, no CRC check, 4 MiB cap.
    fn default() -> Self {
        DecodeOptions {
            read_body: true,
            decompress_body: true,
            check_crc: false,
            max_inflated_len: DEFAULT_MAX_INFLATED_LEN,
        }
    }
}

impl DecodeOptions {
    /// Sets [`DecodeOptions::read_body`].
    pub fn with_read_body(mut self, v: bool) -> Self {
        self.read_body = v;
        self
    }

    /// Sets [`DecodeOptions::decompress_body`].
    pub fn with_decompress_body(mut self, v: bool) -> Self {
        self.decompress_body = v;
        self
    }

    /// Sets [`DecodeOptions::check_crc`].
    pub fn with_check_crc(mut self, v: bool) -> Self {
        self.check_crc = v;
        self
    }

    /// Sets [`DecodeOptions::max_inflated_len`].
    pub fn with_max_inflated_len(mut self, v: usize) -> Self {
        self.max_inflated_len = v;
        self
    }
}

/// Builds the owned message; `body` is the stored body, already owned by the caller.
pub(super) fn to_ext(
    view: &RecordView<'_>,
    body: impl FnOnce() -> Bytes,
    opts: &DecodeOptions,
) -> Result<MessageExt, ProtocolError> {
    if opts.check_crc {
        view.check_crc()?;
    }
    let mut sys_flag = view.sys_flag();
    let body = if !opts.read_body {
        Bytes::new()
    } else if opts.decompress_body && sysflag::is_compressed(sys_flag) {
        let ty = sysflag::compression_type(sys_flag)?;
        let inflated = compress::decompress(view.body(), ty, opts.max_inflated_len)?;
        sys_flag = sysflag::clear_compressed(sys_flag);
        Bytes::from(inflated)
    } else {
        body()
    };
    Ok(MessageExt {
        message: Message {
            topic: view.topic().to_owned(),
            flag: view.flag(),
            properties: view.properties(),
            body,
            transaction_id: None,
        },
        store_size: view.total_size(),
        queue_id: view.queue_id(),
        queue_offset: view.queue_offset(),
        sys_flag,
        born_timestamp: view.born_timestamp(),
        born_host: view.born_host(),
        store_timestamp: view.store_timestamp(),
        store_host: view.store_host(),
        commit_log_offset: view.physical_offset(),
        body_crc: view.body_crc(),
        reconsume_times: view.reconsume_times(),
        prepared_transaction_offset: view.prepared_transaction_offset(),
    })
}

impl RecordView<'_> {
    /// An owned copy of this record as a [`MessageExt`] (the body is copied; see
    /// [`decode_message_ext`] to share it instead).
    ///
    /// # Errors
    /// [`ProtocolError`] for a truncated record, a bad
    /// magic code, a length that lies, or a body that does not inflate.
    pub fn to_message_ext(&self, opts: &DecodeOptions) -> Result<MessageExt, ProtocolError> {
        to_ext(self, || Bytes::copy_from_slice(self.body()), opts)
    }
}

/// Decodes the record at the start of `buf` (extra bytes after it are ignored; the
/// record's length is `store_size`). The body shares `buf`'s storage unless inflated.
///
/// # Errors
/// [`ProtocolError`] for a truncated record, a bad magic
/// code, a length that lies, or a body that does not inflate.
pub fn decode_message_ext(buf: &Bytes, opts: &DecodeOptions) -> Result<MessageExt, ProtocolError> {
    let view = RecordView::parse(buf)?;
    to_ext(&view, || buf.slice(view.body_range()), opts)
}

/// Decodes the record at the start of `buf`, copying the body.
///
/// # Errors
/// [`ProtocolError`] for a truncated record, a bad magic
/// code, a length that lies, or a body that does not inflate.
pub fn decode_message_ext_from_slice(
    buf: &[u8],
    opts: &DecodeOptions,
) -> Result<MessageExt, ProtocolError> {
    RecordView::parse(buf)?.to_message_ext(opts)
}

/// Decodes every record of a pull, query or view body with the default options.
///
/// Unlike Java, which silently drops everything from the first bad record on, this
/// fails: a body the broker produced is never partly garbage.
///
/// # Errors
/// [`ProtocolError`] for a truncated record, a bad magic
/// code, a length that lies, or a body that does not inflate.
pub fn decode_all(body: Bytes) -> Result<Vec<MessageExt>, ProtocolError> {
    decode_all_with(body, &DecodeOptions::default())
}

/// [`decode_all`] with explicit options.
///
/// # Errors
/// [`ProtocolError`] for a truncated record, a bad magic
/// code, a length that lies, or a body that does not inflate.
pub fn decode_all_with(
    body: Bytes,
    opts: &DecodeOptions,
) -> Result<Vec<MessageExt>, ProtocolError> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for view in RecordIter::new(&body) {
        let view = view?;
        let start = offset;
        offset += view.len();
        let range = view.body_range();
        out.push(to_ext(
            &view,
            || body.slice(start + range.start..start + range.end),
            opts,
        )?);
    }
    Ok(out)
}
