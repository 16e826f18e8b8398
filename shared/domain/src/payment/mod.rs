//! Payment: the provider's signed notifications, applied once; payments
//! started with a provider; refunds back through the payment's channel.

pub mod pay;
pub mod reconcile;
pub mod refund;
pub mod signature;
pub mod start;
