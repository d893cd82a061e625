//! The permission table, read from the `mcias.v1.permission` method option in
//! the descriptor set. There is no list of method names in the code: the
//! proto is the only place where access rules are written.

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, Value};

use mcias_core::error::{Error, Result};

/// What a caller needs to invoke an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Anyone.
    Public,
    /// Any valid token.
    Authenticated,
    /// A valid token for the named account, or an admin (the handler compares
    /// the account).
    SelfOrAdmin,
    /// A valid token with the admin role.
    Admin,
}

/// gRPC path (`/pkg.Service/Method`) → permission.
#[derive(Debug, Clone)]
pub struct PermissionTable {
    by_path: HashMap<String, Permission>,
    public_services: Vec<String>,
}

/// The extension's full name.
pub const EXTENSION: &str = "mcias.v1.permission";

/// Every RPC in `pool` under package `mcias.`, with its declared permission
/// (`None` when undeclared or unspecified).
pub fn declared(pool: &DescriptorPool) -> Result<Vec<(String, Option<Permission>)>> {
    let ext = pool
        .get_extension_by_name(EXTENSION)
        .ok_or_else(|| Error::internal(format!("descriptor set lacks {EXTENSION}")))?;
    let mut out = Vec::new();
    for service in pool.services() {
        if !service.package_name().starts_with("mcias.") {
            continue;
        }
        for method in service.methods() {
            let opts = method.options();
            let perm = if opts.has_extension(&ext) {
                match opts.get_extension(&ext).as_ref() {
                    Value::EnumNumber(1) => Some(Permission::Public),
                    Value::EnumNumber(2) => Some(Permission::Authenticated),
                    Value::EnumNumber(3) => Some(Permission::SelfOrAdmin),
                    Value::EnumNumber(4) => Some(Permission::Admin),
                    _ => None,
                }
            } else {
                None
            };
            out.push((format!("/{}/{}", service.full_name(), method.name()), perm));
        }
    }
    Ok(out)
}

impl PermissionTable {
    /// Builds the table from an encoded descriptor set. Fails when any RPC
    /// lacks a permission, so a forgotten option stops the server at start.
    /// `public_services` are infrastructure services (health, reflection)
    /// that anyone may call.
    pub fn from_descriptor_set(bytes: &[u8], public_services: &[&str]) -> Result<Self> {
        let pool = DescriptorPool::decode(bytes)
            .map_err(|e| Error::internal(format!("descriptor set: {e}")))?;
        let mut by_path = HashMap::new();
        for (path, perm) in declared(&pool)? {
            let perm =
                perm.ok_or_else(|| Error::internal(format!("RPC {path} declares no permission")))?;
            by_path.insert(path, perm);
        }
        Ok(Self {
            by_path,
            public_services: public_services.iter().map(|s| format!("/{s}/")).collect(),
        })
    }

    /// The permission for a request path; `None` for unknown paths, which are
    /// refused.
    pub fn get(&self, path: &str) -> Option<Permission> {
        if let Some(p) = self.by_path.get(path) {
            return Some(*p);
        }
        if self
            .public_services
            .iter()
            .any(|s| path.starts_with(s.as_str()))
        {
            return Some(Permission::Public);
        }
        None
    }

    /// Number of RPCs with a declared permission.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}
