//! Request bodies read with a size limit. A body over the limit is refused
//! before it is read when its `Content-Length` says so, and as soon as it
//! passes the limit otherwise; callers answer 413. The connection then closes
//! (hyper does not keep a connection whose request body was left unread), and
//! the listener drains it so the client can read the answer (`tls.rs`).

use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit (in bytes).
    TooLarge(usize),
    /// The client stopped sending or the connection failed.
    Unreadable(String),
}

impl BodyError {
    /// A message that names the problem.
    pub fn message(&self) -> String {
        match self {
            Self::TooLarge(limit) => format!("request body is larger than {limit} bytes"),
            Self::Unreadable(e) => format!("cannot read the request body: {e}"),
        }
    }
}

/// Reads the whole body, at most `limit` bytes.
pub async fn read_limited<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    match BodyExt::collect(Limited::new(body, limit)).await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge(limit)),
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}
