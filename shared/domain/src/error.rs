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
    /// The request's retry budget ran out while others held the items it
    /// needs: worth retrying shortly (503 with `Retry-After`).
    Busy,
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

/// A storage failure that is not a domain conflict.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Network, throttling, a malformed item, a broken invariant.
    #[error("storage unavailable: {0}")]
    Failed(String),
    /// The request ran out of time or retries while colliding with others.
    #[error("busy: {0}")]
    Busy(String),
    /// The order would outgrow what one item may hold.
    #[error("the order has grown too large to change further ({0} bytes)")]
    TooLarge(usize),
}

impl Problem for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Failed(_) => ErrorKind::Internal,
            StoreError::Busy(_) => ErrorKind::Busy,
            StoreError::TooLarge(_) => ErrorKind::Conflict,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            StoreError::Failed(_) => "internal",
            StoreError::Busy(_) => "busy",
            StoreError::TooLarge(_) => "order_too_large",
        }
    }
}
