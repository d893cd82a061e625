//! The one error type of the crate: a small kind, a stable code string and a
//! message that is safe to show to the caller.
//!
//! `Internal` errors keep their detail for the log only; the API layer answers
//! them with a generic message (see `api::status`).

use std::fmt;

/// What went wrong, in the terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or names an invalid value.
    InvalidArgument,
    /// Missing, wrong or expired credentials.
    Unauthenticated,
    /// Authenticated, but not allowed.
    PermissionDenied,
    /// The named thing does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The system is not in a state where the operation is allowed.
    FailedPrecondition,
    /// A rate limit or a bounded queue is full.
    ResourceExhausted,
    /// A dependency (the database) cannot serve right now.
    Unavailable,
    /// A bug or an unexpected failure; the detail is for the log only.
    Internal,
}

/// An error with a stable machine-readable `code` and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind, which decides the gRPC code.
    pub kind: ErrorKind,
    /// A stable snake_case code such as `invalid_username`.
    pub code: &'static str,
    /// A message naming the problem. For `Internal` it is log-only detail.
    pub message: String,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of any kind.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    /// An invalid argument naming the problem.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, code, message)
    }

    /// The one generic authentication failure, identical for every cause.
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "unauthenticated",
            "invalid credentials",
        )
    }

    /// A missing or invalid bearer token.
    pub fn bad_token() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "invalid_token",
            "missing, invalid, expired or revoked access token",
        )
    }

    /// Permission denied with a message naming what was needed.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, "permission_denied", message)
    }

    /// A named thing that does not exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// A precondition that does not hold.
    pub fn precondition(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FailedPrecondition, code, message)
    }

    /// A full queue or an exceeded rate.
    pub fn exhausted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceExhausted, "resource_exhausted", message)
    }

    /// An unexpected failure; `detail` goes to the log, never to the caller.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, "internal", detail)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}
