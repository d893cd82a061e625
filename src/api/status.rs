//! The one mapping from the crate's error to a gRPC status. Exhaustive by
//! design: a new error kind does not compile until it is mapped here. REST
//! derives its HTTP status from the gRPC code, so this is the only mapping.

use tonic::{Code, Status};

use crate::error::{Error, ErrorKind};

/// The gRPC code of an error kind.
pub fn code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e.kind {
            ErrorKind::Internal => {
                // The detail may name tables or files; it stays in the log.
                tracing::error!(code = e.code, detail = %e.message, "internal error");
                Status::internal("internal error")
            }
            kind => Status::new(code(kind), e.message),
        }
    }
}
