//! The route table: derived from the `google.api.http` rules in the compiled
//! descriptor set, so REST routes cannot drift from the protos.

use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ReflectMessage, Value,
};

use mcias_core::error::{Error, Result};

/// How the request body maps onto the request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySpec {
    /// No body; unbound fields come from the query string.
    None,
    /// `body: "*"`: every field not bound by the path.
    All,
    /// `body: "field"`: that top-level field; the rest from the query string.
    Field(String),
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text.
    Literal(String),
    /// A variable bound to a field path; `multi` for `**`.
    Var {
        /// The field path, e.g. `["account", "id"]`.
        field: Vec<String>,
        /// Matches one or more segments (`{x=**}`).
        multi: bool,
    },
}

/// A parsed path template such as `/v1/accounts/{account_id}/roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template as written in the proto.
    pub raw: String,
    /// Its segments.
    pub segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses a template; only the forms MCIAS supports are accepted.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |why: &str| Error::internal(format!("path template {raw:?}: {why}"));
        let rest = raw
            .strip_prefix('/')
            .ok_or_else(|| bad("must start with '/'"))?;
        if rest.contains(':') && !rest.contains('{') {
            return Err(bad("custom verbs are not supported"));
        }
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            if seg.is_empty() {
                return Err(bad("empty segment"));
            }
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                let multi = match pattern {
                    "*" => false,
                    "**" => true,
                    _ => return Err(bad("only {x}, {x=*} and {x=**} are supported")),
                };
                segments.push(Segment::Var {
                    field: name.split('.').map(str::to_owned).collect(),
                    multi,
                });
            } else if seg.contains(['{', '}', '*']) {
                return Err(bad("unsupported segment"));
            } else {
                segments.push(Segment::Literal(seg.to_owned()));
            }
        }
        Ok(Self {
            raw: raw.to_owned(),
            segments,
        })
    }

    /// Matches a request path; returns the raw (still percent-encoded)
    /// values of the variables.
    pub fn matches<'a>(&self, path: &'a str) -> Option<Vec<(&[String], &'a str)>> {
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        let mut vars = Vec::new();
        let mut i = 0;
        for (n, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Var {
                    field,
                    multi: false,
                } => {
                    let v = parts.get(i).filter(|v| !v.is_empty())?;
                    vars.push((field.as_slice(), *v));
                    i += 1;
                }
                Segment::Var { field, multi: true } => {
                    let tail = self.segments.len() - n - 1;
                    let end = parts.len().checked_sub(tail)?;
                    if end <= i {
                        return None;
                    }
                    let start: usize = parts[..i].iter().map(|p| p.len() + 1).sum();
                    let len: usize = parts[i..end].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
                    vars.push((field.as_slice(), &rest[start..start + len]));
                    i = end;
                }
            }
        }
        (i == parts.len()).then_some(vars)
    }

    /// The OpenAPI form: `{account.id}` for each variable.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Var { field, .. } => {
                    out.push('{');
                    out.push_str(&field.join("."));
                    out.push('}');
                }
            }
        }
        out
    }

    /// The field paths bound by the path.
    pub fn bound_fields(&self) -> Vec<Vec<String>> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Var { field, .. } => Some(field.clone()),
                Segment::Literal(_) => None,
            })
            .collect()
    }
}

/// One REST route.
#[derive(Debug, Clone)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// How the body binds.
    pub body: BodySpec,
    /// The RPC.
    pub rpc: MethodDescriptor,
    /// `/package.Service/Method`
    pub grpc_path: String,
}

/// Every REST route of the API.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// The routes, in descriptor order.
    pub routes: Vec<Route>,
    /// The descriptor pool they come from.
    pub pool: DescriptorPool,
}

/// The outcome of matching a request.
#[derive(Debug)]
pub enum Match<'r, 'p> {
    /// A route and its raw variable values.
    Found(&'r Route, Vec<(&'r [String], &'p str)>),
    /// The path exists, the method does not; the allowed methods.
    MethodNotAllowed(Vec<Method>),
    /// No route has this path.
    NotFound,
}

/// Finds a field by its proto name or its JSON name.
pub fn find_field(msg: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    msg.get_field_by_name(name)
        .or_else(|| msg.get_field_by_json_name(name))
}

/// Resolves a field path to its last field (and checks every step is a
/// singular message field).
pub fn resolve_path(msg: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (last, init) = path.split_last()?;
    let mut current = msg.clone();
    for step in init {
        let f = find_field(&current, step)?;
        if f.is_list() || f.is_map() {
            return None;
        }
        let Kind::Message(m) = f.kind() else {
            return None;
        };
        current = m;
    }
    find_field(&current, last)
}

fn rule_parts(rule: &DynamicMessage) -> Result<Option<(Method, String, String)>> {
    let text = |name: &str| -> Option<String> {
        let f = rule.descriptor().get_field_by_name(name)?;
        if !rule.has_field(&f) {
            return None;
        }
        match rule.get_field(&f).as_ref() {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    let body = text("body").unwrap_or_default();
    for (name, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if let Some(path) = text(name) {
            return Ok(Some((method, path, body)));
        }
    }
    Ok(None)
}

impl RouteTable {
    /// Builds the table from an encoded descriptor set. Fails on a rule that
    /// names a field the request message lacks.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self> {
        let pool = DescriptorPool::decode(bytes)
            .map_err(|e| Error::internal(format!("descriptor set: {e}")))?;
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or_else(|| Error::internal("descriptor set lacks google.api.http"))?;
        let mut routes = Vec::new();
        for service in pool
            .services()
            .filter(|s| s.package_name().starts_with("mcias."))
        {
            for rpc in service.methods() {
                let opts = rpc.options();
                if !opts.has_extension(&http) {
                    continue;
                }
                let ext = opts.get_extension(&http);
                let Value::Message(rule) = ext.as_ref() else {
                    continue;
                };
                let Some((method, path, body)) = rule_parts(rule)? else {
                    return Err(Error::internal(format!(
                        "{}: HTTP rule without a pattern",
                        rpc.full_name()
                    )));
                };
                let template = PathTemplate::parse(&path)?;
                let input = rpc.input();
                for f in template.bound_fields() {
                    if resolve_path(&input, &f).is_none() {
                        return Err(Error::internal(format!(
                            "{}: path variable {} is not a field of {}",
                            rpc.full_name(),
                            f.join("."),
                            input.full_name()
                        )));
                    }
                }
                let body = match body.as_str() {
                    "" => BodySpec::None,
                    "*" => BodySpec::All,
                    f => {
                        if input.get_field_by_name(f).is_none() {
                            return Err(Error::internal(format!(
                                "{}: body field {f} does not exist",
                                rpc.full_name()
                            )));
                        }
                        BodySpec::Field(f.to_owned())
                    }
                };
                routes.push(Route {
                    method,
                    template,
                    body,
                    grpc_path: format!("/{}/{}", service.full_name(), rpc.name()),
                    rpc,
                });
            }
        }
        Ok(Self { routes, pool })
    }

    /// Matches a method and path.
    pub fn find<'r, 'p>(&'r self, method: &Method, path: &'p str) -> Match<'r, 'p> {
        let mut allowed = Vec::new();
        for r in &self.routes {
            if let Some(vars) = r.template.matches(path) {
                if r.method == *method {
                    return Match::Found(r, vars);
                }
                allowed.push(r.method.clone());
            }
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::MethodNotAllowed(allowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match() -> Result<()> {
        let t = PathTemplate::parse("/v1/accounts/{account_id}/roles")?;
        let m = t
            .matches("/v1/accounts/abc/roles")
            .ok_or_else(|| Error::internal("no match"))?;
        assert_eq!(m, vec![(&["account_id".to_string()][..], "abc")]);
        assert!(t.matches("/v1/accounts//roles").is_none());
        assert!(t.matches("/v1/accounts/abc/roles/").is_none());
        assert!(t.matches("/v1/accounts/abc").is_none());
        let t = PathTemplate::parse("/v1/files/{path=**}/meta")?;
        let m = t
            .matches("/v1/files/a/b/c/meta")
            .ok_or_else(|| Error::internal("no match"))?;
        assert_eq!(m[0].1, "a/b/c");
        assert_eq!(t.openapi_path(), "/v1/files/{path}/meta");
        let t = PathTemplate::parse("/v1/x/{a.b}")?;
        assert_eq!(
            t.bound_fields(),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
        assert!(PathTemplate::parse("v1/x").is_err());
        assert!(PathTemplate::parse("/v1/{x=foo/*}").is_err());
        Ok(())
    }

    #[test]
    fn the_api_has_a_route_per_rpc() -> Result<()> {
        let t = RouteTable::from_descriptor_set(crate::api::pb::FILE_DESCRIPTOR_SET)?;
        assert!(t.routes.len() >= 22);
        assert!(
            matches!(t.find(&Method::GET, "/v1/accounts/x/roles"), Match::Found(r, _) if r.grpc_path.ends_with("/GetRoles"))
        );
        assert!(
            matches!(t.find(&Method::POST, "/v1/accounts/x/roles"), Match::MethodNotAllowed(m) if m.contains(&Method::GET) && m.contains(&Method::PUT))
        );
        assert!(matches!(
            t.find(&Method::GET, "/v2/nothing"),
            Match::NotFound
        ));
        Ok(())
    }
}
