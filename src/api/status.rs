//! The one mapping from the crate's error to a gRPC status. Exhaustive by
//! design: a new error kind does not compile until it is mapped here. REST
//! derives its HTTP status from the gRPC code, so this is the only mapping.

use tonic::{Code, Status};

use mcias_core::error::{Error, ErrorKind};

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

/// The gRPC status of a domain error; `internal` detail stays in the log.
pub fn status(e: Error) -> Status {
    match e.kind {
        ErrorKind::Internal => {
            // The detail may name tables or files; it stays in the log.
            tracing::error!(code = e.code, detail = %e.message, "internal error");
            Status::internal("internal error")
        }
        kind => Status::new(code(kind), e.message),
    }
}

/// `result.or_status()?` in a service handler: a domain result as a gRPC one.
pub trait OrStatus<T> {
    /// Maps the error with [`status`].
    fn or_status(self) -> Result<T, Status>;
}

impl<T> OrStatus<T> for Result<T, Error> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(status)
    }
}

/// The HTTP status for a gRPC code (the google.rpc mapping). REST derives
/// its status from here, so the error → code → status chain has one source.
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as S;
    match code {
        Code::Ok => S::OK,
        Code::Cancelled => S::from_u16(499).unwrap_or(S::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
        Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        Code::NotFound => S::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => S::CONFLICT,
        Code::PermissionDenied => S::FORBIDDEN,
        Code::Unauthenticated => S::UNAUTHORIZED,
        Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
        Code::Unimplemented => S::NOT_IMPLEMENTED,
        Code::Unavailable => S::SERVICE_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_a_code_and_status() {
        use mcias_core::error::ErrorKind as K;
        for (kind, status) in [
            (K::InvalidArgument, 400),
            (K::Unauthenticated, 401),
            (K::PermissionDenied, 403),
            (K::NotFound, 404),
            (K::AlreadyExists, 409),
            (K::FailedPrecondition, 400),
            (K::ResourceExhausted, 429),
            (K::Unavailable, 503),
            (K::Internal, 500),
        ] {
            assert_eq!(http_status(code(kind)).as_u16(), status, "{kind:?}");
        }
    }

    #[test]
    fn internal_detail_is_not_returned() {
        let s = status(Error::internal("table accounts is on fire"));
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("accounts"));
    }
}
