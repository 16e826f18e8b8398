//! Fulfilment: handing packages to their suppliers (and asking them to stop),
//! and the package status events that come back.

pub mod fulfil;
pub mod packages;
