//! Item shapes: what an order and an after-sales case look like stored.

use super::{key_map, keys, s, Item};
use domain::after_sales::case::AfterSalesCase;
use domain::error::StoreError;
use domain::order::Order;

/// The full item of an order: its document plus keys and index attributes.
/// The due index holds one slot per order, at the first thing due.
pub fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(order)
        .map_err(|e| StoreError::Failed(format!("encode order: {e}")))?;
    item.extend(key_map(keys::order(&order.id)));
    item.insert(keys::ENTITY.to_owned(), s("order"));
    item.insert(
        keys::USER_PK.to_owned(),
        s(keys::user_orders(&order.user_id)),
    );
    item.insert(keys::USER_SK.to_owned(), s(order.id.as_str()));
    let (status_pk, status_sk) = keys::status(
        &order.storefront,
        order.status(),
        &order.id,
        &order.created_at,
    );
    item.insert(keys::STATUS_PK.to_owned(), s(status_pk));
    item.insert(keys::STATUS_SK.to_owned(), s(status_sk));
    if let Some(at) = order.due_at() {
        let (due_pk, due_sk) = keys::due(&order.id, &at);
        item.insert(keys::DUE_PK.to_owned(), s(due_pk));
        item.insert(keys::DUE_SK.to_owned(), s(due_sk));
    }
    Ok(item)
}

/// A queue entry as stored: its keys and the entry.
pub fn queue_item(e: &domain::backoffice::queues::QueueEntry) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(e)
        .map_err(|e| StoreError::Failed(format!("encode queue entry: {e}")))?;
    item.extend(key_map(keys::queue_entry(e)));
    item.insert(keys::ENTITY.to_owned(), s("queue"));
    Ok(item)
}

pub fn case_item(case: &AfterSalesCase) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(case).map_err(|e| StoreError::Failed(format!("encode case: {e}")))?;
    item.extend(key_map(keys::case(&case.id)));
    item.insert(keys::ENTITY.to_owned(), s("case"));
    Ok(item)
}
