//! Payment: the provider's signed notifications, applied once.

pub mod pay;
pub mod refund;
pub mod signature;
