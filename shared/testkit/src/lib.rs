//! Test support. [`memory`]: the store's ports (catalog, orders, ledger),
//! the queues and the suppliers in memory, honouring the same conditions
//! and all-or-nothing transactions as the DynamoDB adapter, so a use case
//! runs in microseconds. [`lives`]: random order lives checked against the
//! invariants after every step, on any store. [`stream`]: the order events
//! a stream of order writes yields, replayed as a consumer would;
//! [`schema`]: a JSON Schema check for the documents the code generates.

pub mod lives;
pub mod memory;
pub mod schema;
pub mod stream;
