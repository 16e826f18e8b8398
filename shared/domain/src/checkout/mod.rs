//! Checkout: placing an order (prices, the split into packages, freight)
//! and buying an earlier order again.

pub mod place;
pub mod repurchase;
pub mod split;
