//! Every key and attribute name of the single table, in one place.
//!
//! | entity            | pk                     | sk        | indexes                                   |
//! |-------------------|------------------------|-----------|-------------------------------------------|
//! | SKU               | `SKU#<sku>`            | `SKU`     | attributes `restocks`, `sold_out_at` (hint) |
//! | SKU stock shard   | `SKU#<sku>#SHARD#<nn>` | `SHARD`   | attribute `available` (sharded SKUs)      |
//! | order (+packages) | `ORDER#<order id>`     | `ORDER`   | user_orders: `USER#<user>` / `<order id>` |
//! |                   |                        |           | due: `DUE#<shard>` / `<due at>#<order id>` while anything is due |
//! | after-sales case  | `CASE#<case id>`       | `CASE`    |                                           |
//! | case line lock    | `CASELOCK#<package id>#<sku>` | `CASELOCK` | attribute `case_id`                |
//! | per-user limit    | `LIMIT#<user>#<sku>`   | `LIMIT`   |                                           |
//! | idempotency       | `IDEM#<user>#<key>`    | `IDEM`    | TTL attribute `ttl`                       |
//! | payment           | `PAYMENT#<payment id>` | `PAYMENT` | payments_by_day: `PAYDAY#<storefront>#<channel>#<date>#<nn>` / `<payment id>` |
//! | storefront        | `STOREFRONTS`          | `STOREFRONT#<id>` | all in one partition, read whole  |
//! | order, by status  | (the order item)       |           | status: `STATUS#<storefront>#<status>#<nn>` / `<created at>#<order id>` |
//! | queue entry       | `Q#<queue>#<storefront>#<nn>` | `<scope>#<since>#<subject>` | written and removed with its order's change |

use domain::ids::{CaseId, IdempotencyKey, OrderId, PackageId, SkuId, UserId};
use domain::time::Timestamp;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const USER_PK: &str = "user_pk";
pub const USER_SK: &str = "user_sk";
pub const DUE_PK: &str = "due_pk";
pub const DUE_SK: &str = "due_sk";
pub const STATUS_PK: &str = "status_pk";
pub const STATUS_SK: &str = "status_sk";
pub const TTL: &str = "ttl";
pub const ENTITY: &str = "entity";

pub const USER_ORDERS_INDEX: &str = "user_orders";
pub const DUE_INDEX: &str = "due";
pub const STATUS_INDEX: &str = "status";
pub const PAYDAY_PK: &str = "pday_pk";
pub const PAYDAY_SK: &str = "pday_sk";
pub const PAYMENTS_BY_DAY_INDEX: &str = "payments_by_day";

/// A day's payments of one account are spread over this many partitions
/// (a flash sale's payments land on one day).
pub const PAYDAY_SHARDS: u32 = 16;

/// Due orders are spread over this many due-index partitions. Every order
/// placed writes an entry (its payment deadline), 1 WCU on one partition of
/// at most 1,000 WCU/s: 16 admit 16,000 placements a second, above the
/// flash-sale target (5,000/s for one SKU). Once 4: entries under `DUE#0..3`
/// written then are still read (they are among the 16) and move on the
/// order's next write.
pub const DUE_SHARDS: u32 = 16;

pub fn sku(id: &SkuId) -> (String, String) {
    (format!("SKU#{id}"), "SKU".to_owned())
}

/// One shard of a sharded SKU's stock. Each shard has a partition key of its
/// own: DynamoDB's write limit (about 1,000 WCU/s) is per partition, and
/// shards under the SKU's key would all share one.
pub fn sku_shard(id: &SkuId, shard: u8) -> (String, String) {
    (format!("SKU#{id}#SHARD#{shard:02}"), "SHARD".to_owned())
}

/// The stock item of a SKU: its own item, or one of its shards.
pub fn stock(id: &SkuId, shard: Option<u8>) -> (String, String) {
    match shard {
        Some(k) => sku_shard(id, k),
        None => sku(id),
    }
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

/// Every due-index partition.
pub fn due_partitions() -> Vec<String> {
    (0..DUE_SHARDS).map(|s| format!("DUE#{s}")).collect()
}

/// The due-index key of an order with something due at `at` (its payment
/// deadline, unpublished messages, an automatic receipt: whichever is first).
pub fn due(id: &OrderId, at: &Timestamp) -> (String, String) {
    (format!("DUE#{}", shard(id)), format!("{at}#{id}"))
}

/// Upper bound of due-index sort keys at or before `at` (`~` sorts after ids).
pub fn due_until(at: &Timestamp) -> String {
    format!("{at}#~")
}

/// The order id at the end of a due-index sort key.
pub fn order_of_due(due_sk: &str) -> Option<OrderId> {
    OrderId::parse(due_sk.rsplit('#').next()?).ok()
}

/// Queue entries and the status index are spread over this many partitions
/// per storefront (and queue, and status): an order's entries sit on the
/// shard of its id, so a flash sale's orders meet on none of them.
pub const QUEUE_SHARDS: u32 = 16;

fn queue_shard(id: &OrderId) -> u32 {
    id.as_str().bytes().map(u32::from).sum::<u32>() % QUEUE_SHARDS
}

/// The status-index key of an order: newest first within a partition.
pub fn status(
    storefront: &domain::storefront::StorefrontId,
    status: domain::order::OrderStatus,
    id: &OrderId,
    created_at: &Timestamp,
) -> (String, String) {
    (
        format!(
            "STATUS#{storefront}#{}#{:02}",
            status.as_str(),
            queue_shard(id)
        ),
        format!("{created_at}#{id}"),
    )
}

/// Every status-index partition of a storefront's orders in `status`.
pub fn status_partitions(
    storefront: &domain::storefront::StorefrontId,
    status: domain::order::OrderStatus,
) -> Vec<String> {
    (0..QUEUE_SHARDS)
        .map(|n| format!("STATUS#{storefront}#{}#{n:02}", status.as_str()))
        .collect()
}

/// The key of a queue entry: its queue and storefront pick the partitions,
/// the scope (warehouse, case status) leads the sort key, oldest first.
pub fn queue_entry(e: &domain::backoffice::queues::QueueEntry) -> (String, String) {
    (
        format!(
            "Q#{}#{}#{:02}",
            e.queue.as_str(),
            e.storefront,
            queue_shard(&e.order_id)
        ),
        format!("{}#{}#{}", e.scope, e.since, e.subject),
    )
}

/// Every partition of a queue in a storefront.
pub fn queue_partitions(
    queue: domain::backoffice::queues::Queue,
    storefront: &domain::storefront::StorefrontId,
) -> Vec<String> {
    (0..QUEUE_SHARDS)
        .map(|n| format!("Q#{}#{storefront}#{n:02}", queue.as_str()))
        .collect()
}

/// The one partition every storefront's settings live in.
pub const STOREFRONTS: &str = "STOREFRONTS";

pub fn storefront(id: &domain::storefront::StorefrontId) -> (String, String) {
    (STOREFRONTS.to_owned(), format!("STOREFRONT#{id}"))
}

pub fn payment(payment_id: &str) -> (String, String) {
    (format!("PAYMENT#{payment_id}"), "PAYMENT".to_owned())
}

fn payday_prefix(
    storefront: &domain::storefront::StorefrontId,
    channel: domain::payment::refund::PaymentChannel,
    date: &str,
) -> String {
    format!("PAYDAY#{storefront}#{}#{date}", channel.as_str())
}

/// The payments-by-day key of a payment record: its account, channel and
/// bill day (Asia/Shanghai), then the payment id.
pub fn payday(p: &domain::ports::PaymentRecord) -> (String, String) {
    let shard = p.payment_id.bytes().map(u32::from).sum::<u32>() % PAYDAY_SHARDS;
    (
        format!(
            "{}#{shard:02}",
            payday_prefix(&p.storefront, p.channel, &p.bill_date())
        ),
        p.payment_id.clone(),
    )
}

/// Every payments-by-day partition of one account, channel and day.
pub fn payday_partitions(
    storefront: &domain::storefront::StorefrontId,
    channel: domain::payment::refund::PaymentChannel,
    date: &str,
) -> Vec<String> {
    let prefix = payday_prefix(storefront, channel, date);
    (0..PAYDAY_SHARDS)
        .map(|s| format!("{prefix}#{s:02}"))
        .collect()
}

pub fn case(id: &CaseId) -> (String, String) {
    (format!("CASE#{id}"), "CASE".to_owned())
}

/// One open case per package line: held by the case's id while it is open.
pub fn case_lock(package: &PackageId, sku: &SkuId) -> (String, String) {
    (format!("CASELOCK#{package}#{sku}"), "CASELOCK".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_has_a_partition_of_its_own() {
        let sku = SkuId::parse("HOT").unwrap();
        let pks: std::collections::BTreeSet<String> = (0..64)
            .map(|k| sku_shard(&sku, k).0)
            .chain([self::sku(&sku).0])
            .collect();
        assert_eq!(
            pks.len(),
            65,
            "the SKU item and 64 shards: 65 partition keys"
        );
        assert_eq!(stock(&sku, None), self::sku(&sku));
        assert_eq!(stock(&sku, Some(3)), sku_shard(&sku, 3));
    }
}
