//! The order system's domain: values parsed at the edge, the order and package
//! state machines, pricing, splitting, freight and status aggregation.
//! Nothing here knows about AWS; storage is reached through [`ports`].

pub mod after_sales;
pub mod body;
pub mod cancel;
pub mod case;
pub mod catalog;
pub mod config;
pub mod error;
pub mod fulfil;
pub mod ids;
pub mod messages;
pub mod money;
pub mod order;
pub mod packages;
pub mod pay;
pub mod place;
pub mod ports;
pub mod read;
pub mod repurchase;
pub mod shards;
pub mod signature;
pub mod split;
pub mod storefront;
pub mod sweep;
pub mod time;
pub mod transition;
pub mod view;

pub use error::{ErrorKind, Problem};
