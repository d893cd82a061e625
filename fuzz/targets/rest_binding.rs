//! REST binding: method, path, query, body and content type → the request
//! message, through the route table built from the descriptor
//! (`rest::bind`), then the message to proto3 JSON and back.

use std::sync::OnceLock;

use bytes::Bytes;
use http::Method;
use mcias_server::api::rest::{self, RouteTable};
use prost::Message;
use prost_reflect::ReflectMessage;

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        RouteTable::from_descriptor_set(mcias_proto::FILE_DESCRIPTOR_SET).expect("route table")
    })
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Input: one byte choosing the method, then path, query, body and
/// content type separated by 0xFF.
pub fn run(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = &METHODS[usize::from(m) % METHODS.len()];
    let parts = super::split(rest, 4);
    let path = String::from_utf8_lossy(parts[0]);
    let query = String::from_utf8_lossy(parts[1]);
    let body = Bytes::copy_from_slice(parts[2]);
    let ct = String::from_utf8_lossy(parts[3]);
    let query = (!parts[1].is_empty()).then_some(query.as_ref());
    let ct = (!parts[3].is_empty()).then_some(ct.as_ref());
    if let Ok((route, msg)) = rest::bind(table(), method, &path, query, &body, ct) {
        assert_eq!(msg.descriptor(), route.rpc.input());
        // What the transcoder sends on is a well-formed message of the
        // route's request type, and its JSON form reads back.
        let wire = msg.encode_to_vec();
        prost_reflect::DynamicMessage::decode(route.rpc.input(), wire.as_slice())
            .expect("a bound message decodes");
        let json = rest::to_json(&msg);
        rest::from_json(&route.rpc.input(), json.to_string().as_bytes())
            .expect("a bound message's JSON reads back");
    }
}
