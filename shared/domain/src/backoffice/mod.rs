//! The back office (SPEC 2.11): what staff do beside the order's own life.
//! So far: notes on an order.

pub mod notes;
