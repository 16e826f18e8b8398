//! Every key and attribute name of the single table, in one place.
//!
//! | entity            | pk                     | sk        | indexes                                   |
//! |-------------------|------------------------|-----------|-------------------------------------------|
//! | SKU               | `SKU#<sku>`            | `SKU`     |                                           |
//! | order (+packages) | `ORDER#<order id>`     | `ORDER`   | user_orders: `USER#<user>` / `<order id>` |
//! |                   |                        |           | due (while unpaid): `PAY#<shard>` / `<deadline>#<order id>` |
//! |                   |                        |           | due (outbox not yet published): `OUTBOX#<shard>` / `<written at>#<order id>` |
//! | per-user limit    | `LIMIT#<user>#<sku>`   | `LIMIT`   |                                           |
//! | idempotency       | `IDEM#<user>#<key>`    | `IDEM`    | TTL attribute `ttl`                       |
//! | payment           | `PAYMENT#<payment id>` | `PAYMENT` |                                           |
//! | lease             | `LEASE#<name>`         | `LEASE`   | TTL attribute `ttl`                       |

use domain::ids::{IdempotencyKey, OrderId, SkuId, UserId};
use domain::time::Timestamp;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const USER_PK: &str = "user_pk";
pub const USER_SK: &str = "user_sk";
pub const DUE_PK: &str = "due_pk";
pub const DUE_SK: &str = "due_sk";
pub const TTL: &str = "ttl";
pub const ENTITY: &str = "entity";

pub const USER_ORDERS_INDEX: &str = "user_orders";
pub const DUE_INDEX: &str = "due";

/// Unpaid orders are spread over this many due-index partitions.
pub const DUE_SHARDS: u32 = 4;

pub fn sku(id: &SkuId) -> (String, String) {
    (format!("SKU#{id}"), "SKU".to_owned())
}

pub fn order(id: &OrderId) -> (String, String) {
    (format!("ORDER#{id}"), "ORDER".to_owned())
}

pub fn user_orders(user: &UserId) -> String {
    format!("USER#{user}")
}

pub fn limit(user: &UserId, sku: &SkuId) -> (String, String) {
    (format!("LIMIT#{user}#{sku}"), "LIMIT".to_owned())
}

pub fn idempotency(user: &UserId, key: &IdempotencyKey) -> (String, String) {
    (format!("IDEM#{user}#{}", key.as_str()), "IDEM".to_owned())
}

fn shard(id: &OrderId) -> u32 {
    id.as_str().bytes().map(u32::from).sum::<u32>() % DUE_SHARDS
}

/// Due-index partitions of unpaid orders.
pub fn payment_due_partitions() -> Vec<String> {
    (0..DUE_SHARDS).map(|s| format!("PAY#{s}")).collect()
}

/// Due-index partitions of orders with unpublished messages.
pub fn outbox_partitions() -> Vec<String> {
    (0..DUE_SHARDS).map(|s| format!("OUTBOX#{s}")).collect()
}

/// The due-index key of an unpaid order.
pub fn payment_due(id: &OrderId, deadline: &Timestamp) -> (String, String) {
    (format!("PAY#{}", shard(id)), format!("{deadline}#{id}"))
}

/// The due-index key of an order whose outbox was written at `at`.
pub fn outbox_due(id: &OrderId, at: &Timestamp) -> (String, String) {
    (format!("OUTBOX#{}", shard(id)), format!("{at}#{id}"))
}

/// Upper bound of due-index sort keys at or before `at` (`~` sorts after ids).
pub fn due_until(at: &Timestamp) -> String {
    format!("{at}#~")
}

/// The order id at the end of a due-index sort key.
pub fn order_of_due(due_sk: &str) -> Option<OrderId> {
    OrderId::parse(due_sk.rsplit('#').next()?).ok()
}

pub fn payment(payment_id: &str) -> (String, String) {
    (format!("PAYMENT#{payment_id}"), "PAYMENT".to_owned())
}

pub fn lease(name: &str) -> (String, String) {
    (format!("LEASE#{name}"), "LEASE".to_owned())
}
