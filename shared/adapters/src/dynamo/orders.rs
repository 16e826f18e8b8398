//! Orders as placed and read: the one-transaction placement (order, stock
//! reservations, limit counters, idempotency record), reads by id, and a
//! user's orders newest first.

use super::cursor::{decode_cursor, encode_cursor};
use super::{
    build_error, decode_error, item::order_item, key_map, keys, n, number, s, sdk_error, string,
    DynamoStore,
};
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use domain::error::StoreError;
use domain::ids::{IdempotencyKey, OrderId, UserId};
use domain::order::Order;
use domain::ports::{
    CreateOrderError, IdempotencyRecord, LimitBreach, ListError, OrderPage, Orders, Shortage,
};
use domain::storefront::StorefrontId;
use domain::time::Timestamp;

impl DynamoStore {
    fn placement_items(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        let put_order = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        items.push(TransactWriteItem::builder().put(put_order).build());

        for (sku, shard, qty) in order.stock_reservations() {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_map(keys::stock(&sku, shard))))
                .update_expression("SET available = available - :qty")
                .condition_expression("attribute_exists(pk) AND available >= :qty")
                .expression_attribute_values(":qty", n(qty))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }

        for (sku, qty, limit) in order.limit_holds() {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_map(keys::limit(&order.user_id, &sku))))
                .update_expression("ADD held :qty SET entity = :entity")
                .condition_expression("attribute_not_exists(held) OR held <= :room")
                .expression_attribute_values(":qty", n(qty))
                .expression_attribute_values(":room", n(i64::from(limit) - i64::from(qty)))
                .expression_attribute_values(":entity", s("limit"))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }

        if let Some(rec) = idempotency {
            let mut item = key_map(keys::idempotency(&rec.user, &rec.key));
            item.insert(keys::ENTITY.to_owned(), s("idempotency"));
            item.insert("request_hash".to_owned(), s(&rec.request_hash));
            item.insert("order_id".to_owned(), s(rec.order_id.as_str()));
            item.insert(keys::TTL.to_owned(), n(rec.expires_at.unix()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                // An expired record (TTL deletion lags) no longer holds the key.
                .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":now", n(order.created_at.unix()))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }

    /// Turns a refused placement into the domain's reasons, in the order the
    /// items were written: order, reservations, limits, idempotency record.
    fn placement_conflict(
        order: &Order,
        has_idempotency: bool,
        reasons: &[CancellationReason],
    ) -> Option<CreateOrderError> {
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        let reservations = order.stock_reservations();
        let limits = order.limit_holds();
        let idem_index = 1 + reservations.len() + limits.len();
        if has_idempotency && failed(idem_index) {
            return Some(CreateOrderError::IdempotencyKeyTaken);
        }
        let shortages: Vec<Shortage> = reservations
            .iter()
            .enumerate()
            .filter(|(i, _)| failed(1 + i))
            .map(|(i, (sku, shard, qty))| Shortage {
                sku: sku.clone(),
                shard: *shard,
                requested: *qty,
                available: reasons[1 + i]
                    .item()
                    .and_then(|it| number(it, "available"))
                    .unwrap_or(0),
            })
            .collect();
        if !shortages.is_empty() {
            return Some(CreateOrderError::OutOfStock(shortages));
        }
        let breaches: Vec<LimitBreach> = limits
            .iter()
            .enumerate()
            .filter(|(i, _)| failed(1 + reservations.len() + i))
            .map(|(i, (sku, qty, limit))| LimitBreach {
                sku: sku.clone(),
                limit: *limit,
                requested: *qty,
                held: reasons[1 + reservations.len() + i]
                    .item()
                    .and_then(|it| number(it, "held"))
                    .map(|h| h as u32),
            })
            .collect();
        if !breaches.is_empty() {
            return Some(CreateOrderError::LimitExceeded(breaches));
        }
        None
    }
}

impl Orders for DynamoStore {
    async fn idempotency(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(item) = self.get(keys::idempotency(user, key)).await? else {
            return Ok(None);
        };
        let expires = number(&item, keys::TTL).unwrap_or(0) as i64;
        if expires < Timestamp::now().unix() {
            return Ok(None);
        }
        let malformed = || StoreError::Failed("stored idempotency record is malformed".into());
        let order_id = string(&item, "order_id")
            .and_then(|s| OrderId::parse(s).ok())
            .ok_or_else(malformed)?;
        Ok(Some(IdempotencyRecord {
            user: user.clone(),
            key: key.clone(),
            request_hash: string(&item, "request_hash")
                .ok_or_else(malformed)?
                .to_owned(),
            order_id,
            expires_at: Timestamp::from_unix(expires),
        }))
    }

    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateOrderError> {
        let items = self.placement_items(order, idempotency)?;
        let has_idem = idempotency.is_some();
        self.transact(items, |reasons| {
            Self::placement_conflict(order, has_idem, reasons)
        })
        .await
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        match self.get(keys::order(id)).await? {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| decode_error("order", e)),
        }
    }

    async fn list_orders(
        &self,
        user: &UserId,
        storefront: Option<&StorefrontId>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ListError> {
        let user_pk = keys::user_orders(user);
        let mut start = None;
        if let Some(cursor) = cursor {
            // The cursor is the last order id shown; it only ever resumes the caller's own list.
            let after = decode_cursor(cursor).ok_or(ListError::BadCursor)?;
            let mut key = key_map(keys::order(&after));
            key.insert(keys::USER_PK.to_owned(), s(&user_pk));
            key.insert(keys::USER_SK.to_owned(), s(after.as_str()));
            start = Some(key);
        }
        // One more than asked tells whether another page exists. The index
        // holds whole orders, so one query answers at most 1 MB of them:
        // keep reading until that many are found or the index ends.
        let wanted = limit as usize + 1;
        let mut orders: Vec<Order> = Vec::with_capacity(wanted);
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::USER_ORDERS_INDEX)
                .key_condition_expression("user_pk = :u")
                .expression_attribute_values(":u", s(&user_pk))
                .scan_index_forward(false)
                .limit((wanted - orders.len()) as i32)
                .set_exclusive_start_key(start);
            if let Some(sf) = storefront {
                // Orders from before storefronts have none: `default`'s.
                query = query
                    .filter_expression(if sf.is_default() {
                        "attribute_not_exists(#sf) OR #sf = :sf"
                    } else {
                        "#sf = :sf"
                    })
                    .expression_attribute_names("#sf", "storefront")
                    .expression_attribute_values(":sf", s(sf.as_str()));
            }
            let out = query
                .send()
                .await
                .map_err(|e| ListError::Store(sdk_error(e)))?;
            for item in out.items.unwrap_or_default() {
                orders.push(serde_dynamo::from_item(item).map_err(|e| decode_error("order", e))?);
            }
            start = out.last_evaluated_key;
            if orders.len() >= wanted || start.is_none() {
                break;
            }
        }
        let next_cursor = if orders.len() > limit as usize {
            orders.truncate(limit as usize);
            orders.last().map(|o| encode_cursor(&o.id))
        } else {
            None
        };
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }
}
