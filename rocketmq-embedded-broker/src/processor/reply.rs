//! Building responses: success, errors with a remark, bodies, and the answer to a header
//! that does not decode.

use rocketmq_sdk::protocol::body::JsonBody;
use rocketmq_sdk::protocol::{
    LanguageCode, ProtocolError, RemotingCommand, RequestCode, ResponseCode,
};

/// An empty SUCCESS response.
pub(crate) fn success() -> RemotingCommand {
    RemotingCommand::new_response(ResponseCode::SUCCESS)
}

/// An error response whose remark says what is wrong.
pub(crate) fn error(code: ResponseCode, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::new_response(code).with_remark(remark)
}

/// A request header that does not decode: upstream's `decodeCommandCustomHeader` throws,
/// and the generic handler answers SYSTEM_ERROR with the exception text.
pub(crate) fn bad_header(e: &ProtocolError) -> RemotingCommand {
    error(
        ResponseCode::SYSTEM_ERROR,
        format!("the request header is invalid: {e}"),
    )
}

/// A request body that does not decode.
pub(crate) fn bad_body(what: &str, e: &ProtocolError) -> RemotingCommand {
    error(
        ResponseCode::SYSTEM_ERROR,
        format!("the {what} body is invalid: {e}"),
    )
}

/// SUCCESS with a JSON body, in fastjson's shape (or standard JSON when asked).
pub(crate) fn json_body<T: JsonBody>(body: &T, standard: bool) -> RemotingCommand {
    let encoded = if standard {
        body.encode_standard()
    } else {
        body.encode()
    };
    match encoded {
        Ok(b) => success().with_body(b),
        Err(e) => error(ResponseCode::SYSTEM_ERROR, e.to_string()),
    }
}

/// A request the broker sends to a client, written the way the Java broker writes it.
pub(crate) fn broker_request(code: RequestCode) -> RemotingCommand {
    let mut r = RemotingCommand::request(code);
    r.language = LanguageCode::JAVA;
    r
}
