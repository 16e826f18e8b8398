//! What every operation error can say about itself, so the HTTP edge can map
//! any of them to one JSON error shape without knowing the operation.

/// How an error should be classified by a caller (mapped to HTTP by the adapters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    PayloadTooLarge,
    /// A dependency failed; the message is never shown to clients.
    Internal,
}

/// An operation error with a stable machine-readable code.
pub trait Problem: std::fmt::Display {
    fn kind(&self) -> ErrorKind;
    fn code(&self) -> &'static str;
    fn details(&self) -> Option<serde_json::Value> {
        None
    }
}

/// A storage failure that is not a domain conflict (network, throttling...).
#[derive(Debug, thiserror::Error)]
#[error("storage unavailable: {0}")]
pub struct StoreError(pub String);

impl Problem for StoreError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
    fn code(&self) -> &'static str {
        "internal"
    }
}
