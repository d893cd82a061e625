//! Argument types both tools take (flattened into their clap definitions,
//! so the two spell these options and document them the same way).

use clap::{Args, ValueEnum};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable, aligned columns.
    Table,
    /// One JSON object per line (stable field names).
    Json,
}

/// The account and where its stored PostgreSQL credentials point
/// (`pgcreds set`); the password is read apart, never from an argument.
#[derive(Debug, Args)]
pub struct PgTarget {
    /// Account id or username.
    pub account: String,
    /// Database host.
    #[arg(long)]
    pub host: String,
    /// Database port.
    #[arg(long, default_value_t = 5432)]
    pub port: u16,
    /// Database name.
    #[arg(long)]
    pub database: String,
    /// Database user.
    #[arg(long)]
    pub username: String,
}

/// The audit filters by event type and time (`audit list`, `audit query`).
#[derive(Debug, Args)]
pub struct EventFilter {
    /// Only events of this type, e.g. login_failure.
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
    /// Only events at or after this time: RFC 3339, Unix seconds, or an
    /// age such as 15m, 1h, 7d.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

impl EventFilter {
    /// `--since` as Unix seconds; the error is a usage message.
    pub fn since_unix(&self) -> Result<Option<i64>, String> {
        self.since
            .as_deref()
            .map(crate::output::parse_since)
            .transpose()
    }
}

/// An account and one role (`role grant`, `role revoke`).
#[derive(Debug, Args)]
pub struct AccountRole {
    /// Account id or username.
    pub account: String,
    /// The role.
    pub role: String,
}

/// A change to an account's role list, the same in both tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleEdit {
    /// Replace the list.
    Set(Vec<String>),
    /// Add a role.
    Grant(String),
    /// Remove a role.
    Revoke(String),
}

impl RoleEdit {
    /// The list after the change (the server or `idm` sorts and
    /// deduplicates it).
    pub fn apply(self, mut current: Vec<String>) -> Vec<String> {
        match self {
            Self::Set(roles) => roles,
            Self::Grant(role) => {
                current.push(role);
                current
            }
            Self::Revoke(role) => {
                current.retain(|r| r != &role);
                current
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RoleEdit;

    #[test]
    fn role_edits() {
        let v = |s: &[&str]| s.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();
        assert_eq!(RoleEdit::Grant("b".into()).apply(v(&["a"])), v(&["a", "b"]));
        assert_eq!(
            RoleEdit::Revoke("a".into()).apply(v(&["a", "b"])),
            v(&["b"])
        );
        assert_eq!(RoleEdit::Set(v(&["c"])).apply(v(&["a", "b"])), v(&["c"]));
    }
}
