//! The order system's domain: values parsed at the edge, the order and package
//! state machines, pricing, splitting, freight and status aggregation.
//! Nothing here knows about AWS or HTTP; storage is reached through [`ports`].
//!
//! Arranged by context, each with its model, its use cases and what it asks
//! of the store:
//! - [`catalog`]: SKUs, listing and prices per storefront, sharded stock.
//! - [`storefront`]: the storefronts sharing this back end and their terms.
//! - [`checkout`]: placing an order (pricing, split, freight), buying again.
//! - [`order`]: the order aggregate and its state machines, cancelling,
//!   reading, the schedule's sweep.
//! - [`payment`]: payment notifications, signatures.
//! - [`fulfilment`]: forwarding packages to suppliers, their status events.
//! - [`after_sales`]: cases, from opening to completion.
//! - [`backoffice`]: what staff do beside an order's own life (notes).
//!
//! And the shared kernel: ids, money, time, configuration, errors, the
//! ports, queue messages, the one transition loop, body parsing; and
//! [`view`], what a caller is shown of an order (it reads every context).

pub mod after_sales;
pub mod backoffice;
pub mod body;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod error;
pub mod fulfilment;
pub mod ids;
pub mod messages;
pub mod money;
pub mod order;
pub mod payment;
pub mod ports;
pub mod storefront;
pub mod time;
pub mod transition;
pub mod view;

pub use error::{ErrorKind, Problem};
