//! Quickstart. Today the SDK's finished layer is the wire protocol, so this demo encodes a
//! request the way a Java producer does, decodes it back, and shows both header forms.
//! It grows into the full embedded-broker demo as the broker and clients land.

use bytes::{Bytes, BytesMut};
use rocketmq_sdk::protocol::{RemotingCodec, RemotingCommand, RequestCode, SerializeType};
use tokio_util::codec::{Decoder, Encoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut request = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_opaque(1)
        .with_body(Bytes::from_static(b"hello, RocketMQ"));
    request.ext_fields.insert("a", "quickstart-producer");
    request.ext_fields.insert("b", "orders");

    for form in [SerializeType::Json, SerializeType::RocketMq] {
        request.serialize_type = form;
        let mut wire = BytesMut::new();
        RemotingCodec::new().encode(&request, &mut wire)?;
        println!("{} header: a {}-byte frame", form.name(), wire.len());
        let back = RemotingCodec::new()
            .decode(&mut wire)?
            .ok_or("incomplete frame")?;
        println!(
            "  decoded back: code {:?}, topic {:?}, body {:?}",
            back.request_code(),
            back.ext_fields.get("b").unwrap_or_default(),
            String::from_utf8_lossy(&back.body)
        );
        assert_eq!(back, request);
    }
    println!("The embedded broker and the producer/consumer runtimes are under construction.");
    Ok(())
}
