//! The back office (SPEC 2.11): what staff do beside the order's own life.
//! Notes on an order, the work queues and the staff reads over them.

pub mod acknowledge;
pub mod notes;
pub mod queues;
pub mod work;
