//! The OpenAPI 3 document, generated from the same route table and
//! descriptors as the transcoder, so it cannot drift from what is served.

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value as Json, json};

use super::routes::{BodySpec, Route, RouteTable, find_field};
use crate::api::permissions::{self, Permission};

fn scalar_schema(f: &FieldDescriptor, refs: &mut Vec<MessageDescriptor>) -> Json {
    match f.kind() {
        Kind::String => json!({ "type": "string" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295u64 })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
        }
        Kind::Float | Kind::Double => json!({ "type": "number" }),
        Kind::Bytes => json!({ "type": "string", "format": "byte" }),
        Kind::Enum(e) => {
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            json!({ "type": "string", "enum": names })
        }
        Kind::Message(m) => message_ref(&m, refs),
    }
}

fn message_ref(m: &MessageDescriptor, refs: &mut Vec<MessageDescriptor>) -> Json {
    match m.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        _ => {
            if !refs.iter().any(|r| r.full_name() == m.full_name()) {
                refs.push(m.clone());
            }
            json!({ "$ref": format!("#/components/schemas/{}", m.full_name()) })
        }
    }
}

fn field_schema(f: &FieldDescriptor, refs: &mut Vec<MessageDescriptor>) -> Json {
    let item = scalar_schema(f, refs);
    if f.is_list() {
        json!({ "type": "array", "items": item })
    } else {
        item
    }
}

fn object_schema(
    m: &MessageDescriptor,
    skip: &[String],
    refs: &mut Vec<MessageDescriptor>,
) -> Json {
    let mut props = serde_json::Map::new();
    for f in m.fields() {
        if skip.iter().any(|s| s == f.name()) {
            continue;
        }
        props.insert(f.json_name().to_owned(), field_schema(&f, refs));
    }
    json!({ "type": "object", "properties": props, "additionalProperties": false })
}

fn comment_of(route: &Route) -> String {
    let file = route.rpc.parent_file();
    let path = route.rpc.path();
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.as_deref())
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn query_parameters(route: &Route, refs: &mut Vec<MessageDescriptor>) -> Vec<Json> {
    let bound: Vec<String> = route
        .template
        .bound_fields()
        .into_iter()
        .filter(|b| b.len() == 1)
        .map(|b| b[0].clone())
        .collect();
    let input = route.rpc.input();
    let mut out = Vec::new();
    for f in input.fields() {
        if bound.iter().any(|b| b == f.name()) {
            continue;
        }
        if let BodySpec::Field(body) = &route.body
            && body == f.name()
        {
            continue;
        }
        let schema = field_schema(&f, refs);
        let mut p = json!({
            "name": f.json_name(),
            "in": "query",
            "required": false,
            "schema": schema,
        });
        if f.is_list() {
            p["explode"] = json!(true);
            p["style"] = json!("form");
        }
        out.push(p);
    }
    out
}

fn operation(
    route: &Route,
    perm: Option<Permission>,
    refs: &mut Vec<MessageDescriptor>,
    schemas: &mut BTreeMap<String, Json>,
) -> Json {
    let input = route.rpc.input();
    let mut params: Vec<Json> = route
        .template
        .bound_fields()
        .into_iter()
        .map(|f| {
            let schema = super::routes::resolve_path(&input, &f)
                .map(|fd| field_schema(&fd, refs))
                .unwrap_or_else(|| json!({ "type": "string" }));
            json!({ "name": f.join("."), "in": "path", "required": true, "schema": schema })
        })
        .collect();
    let mut op = json!({
        "operationId": format!("{}_{}", route.rpc.parent_service().name(), route.rpc.name()),
        "summary": comment_of(route),
        "tags": [route.rpc.parent_service().name()],
        "responses": {
            "200": {
                "description": "OK",
                "content": { "application/json": { "schema": message_ref(&route.rpc.output(), refs) } }
            },
            "default": {
                "description": "An error, with the HTTP status derived from the gRPC code",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } }
            }
        }
    });
    match &route.body {
        BodySpec::None => params.extend(query_parameters(route, refs)),
        BodySpec::All => {
            let bound: Vec<String> = route
                .template
                .bound_fields()
                .into_iter()
                .filter(|b| b.len() == 1)
                .filter_map(|b| find_field(&input, &b[0]).map(|f| f.name().to_owned()))
                .collect();
            let name = format!("{}.Body", input.full_name());
            schemas.insert(name.clone(), object_schema(&input, &bound, refs));
            op["requestBody"] = json!({
                "required": false,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } }
            });
        }
        BodySpec::Field(f) => {
            params.extend(query_parameters(route, refs));
            if let Some(fd) = input.get_field_by_name(f) {
                op["requestBody"] = json!({
                    "required": false,
                    "content": { "application/json": { "schema": field_schema(&fd, refs) } }
                });
            }
        }
    }
    if !params.is_empty() {
        op["parameters"] = Json::Array(params);
    }
    op["security"] = match perm {
        Some(Permission::Public) | None => json!([]),
        Some(_) => json!([{ "bearerAuth": [] }]),
    };
    op
}

/// The OpenAPI document for every route.
pub fn document(table: &RouteTable) -> Json {
    let perms: BTreeMap<String, Option<Permission>> = permissions::declared(&table.pool)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut refs: Vec<MessageDescriptor> = Vec::new();
    let mut schemas: BTreeMap<String, Json> = BTreeMap::new();
    let mut paths: BTreeMap<String, serde_json::Map<String, Json>> = BTreeMap::new();
    for route in &table.routes {
        let perm = perms.get(&route.grpc_path).copied().flatten();
        let op = operation(route, perm, &mut refs, &mut schemas);
        paths
            .entry(route.template.openapi_path())
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), op);
    }
    let mut done = 0;
    while done < refs.len() {
        let m = refs[done].clone();
        let schema = object_schema(&m, &[], &mut refs);
        schemas.insert(m.full_name().to_owned(), schema);
        done += 1;
    }
    schemas.insert(
        "Status".into(),
        json!({
            "type": "object",
            "properties": {
                "code": { "type": "integer", "format": "int32", "description": "The gRPC status code" },
                "message": { "type": "string" },
                "details": { "type": "array", "items": { "type": "object" } }
            },
            "required": ["code", "message", "details"]
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "MCIAS",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The MCIAS API over REST/JSON, transcoded from the gRPC definitions (package mcias.v1)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } }
        }
    })
}
