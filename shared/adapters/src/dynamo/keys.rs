//! Every key and attribute name of the single table, in one place.
//!
//! | entity            | pk                     | sk        | indexes                                   |
//! |-------------------|------------------------|-----------|-------------------------------------------|
//! | SKU               | `SKU#<sku>`            | `SKU`     |                                           |
//! | order (+packages) | `ORDER#<order id>`     | `ORDER`   | user_orders: `USER#<user>` / `<order id>` |
//! |                   |                        |           | due (while unpaid): `PAY#<shard>` / `<deadline>#<order id>` |
//! | per-user limit    | `LIMIT#<user>#<sku>`   | `LIMIT`   |                                           |
//! | idempotency       | `IDEM#<user>#<key>`    | `IDEM`    | TTL attribute `ttl`                       |

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

/// The due-index key of an unpaid order.
pub fn payment_due(id: &OrderId, deadline: &Timestamp) -> (String, String) {
    let shard = id.as_str().bytes().map(u32::from).sum::<u32>() % DUE_SHARDS;
    (format!("PAY#{shard}"), format!("{deadline}#{id}"))
}
