//! The DynamoDB store: one table, conditional writes and transactions.

pub mod keys;
pub mod schema;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use domain::catalog::{Sku, SkuUpdate};
use domain::error::StoreError;
use domain::ids::{IdempotencyKey, OrderId, SkuId, UserId};
use domain::order::{Order, OrderStatus};
use domain::ports::{
    Catalog, CommitError, CreateOrderError, IdempotencyRecord, Ledger, LimitBreach, ListError,
    OrderPage, Orders, PaymentRecord, Shortage, Transition,
};
use domain::time::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on items in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts of a transaction that keeps colliding with concurrent ones.
const CONFLICT_ATTEMPTS: u32 = 30;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn sdk_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError(DisplayErrorContext(e).to_string())
}

fn decode_error(what: &str, e: serde_dynamo::Error) -> StoreError {
    StoreError(format!("stored {what} is malformed: {e}"))
}

fn key_map((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// Jittered exponential backoff for transaction conflicts.
async fn backoff(attempt: u32) {
    let cap_ms = (5u64 << attempt.min(6)).min(250);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let ms = 1 + u64::from(nanos) % cap_ms;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// The full item of an order: its document plus keys and index attributes.
pub fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(order).map_err(|e| StoreError(format!("encode order: {e}")))?;
    item.extend(key_map(keys::order(&order.id)));
    item.insert(keys::ENTITY.to_owned(), s("order"));
    item.insert(
        keys::USER_PK.to_owned(),
        s(keys::user_orders(&order.user_id)),
    );
    item.insert(keys::USER_SK.to_owned(), s(order.id.as_str()));
    let due = if order.status == OrderStatus::PendingPayment {
        Some(keys::payment_due(&order.id, &order.payment_deadline))
    } else if !order.outbox.is_empty() {
        let written = order
            .timeline
            .last()
            .map(|e| e.at)
            .unwrap_or(order.created_at);
        Some(keys::outbox_due(&order.id, &written))
    } else {
        None
    };
    if let Some((due_pk, due_sk)) = due {
        item.insert(keys::DUE_PK.to_owned(), s(due_pk));
        item.insert(keys::DUE_SK.to_owned(), s(due_sk));
    }
    Ok(item)
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: (String, String)) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Runs a transaction, retrying while it only collides with concurrent
    /// ones. `refused` turns the cancellation reasons of a failed condition
    /// into the caller's error; `None` means no condition failed.
    async fn transact<E: From<StoreError>>(
        &self,
        items: Vec<TransactWriteItem>,
        refused: impl Fn(&[CancellationReason]) -> Option<E>,
    ) -> Result<(), E> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError(format!("{} items exceed one transaction", items.len())).into());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let retryable = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    if let Some(e) = refused(c.cancellation_reasons()) {
                        return Err(e);
                    }
                    // No condition failed: another transaction held an item.
                    c.cancellation_reasons()
                        .iter()
                        .any(|r| matches!(r.code(), Some("TransactionConflict")))
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
                Some(other) => other.code() == Some("TransactionConflict"),
                None => false,
            };
            if !retryable || attempt >= CONFLICT_ATTEMPTS {
                return Err(sdk_error(err).into());
            }
            backoff(attempt).await;
        }
    }

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
            .map_err(sdk_error)?;
        items.push(TransactWriteItem::builder().put(put_order).build());

        for (sku, qty) in order.stock_reservations() {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_map(keys::sku(&sku))))
                .update_expression("SET available = available - :qty")
                .condition_expression("attribute_exists(pk) AND available >= :qty")
                .expression_attribute_values(":qty", n(qty))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(sdk_error)?;
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
                .map_err(sdk_error)?;
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
                .map_err(sdk_error)?;
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
            .map(|(i, (sku, qty))| Shortage {
                sku: sku.clone(),
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

impl Catalog for DynamoStore {
    async fn get_sku(&self, sku: &SkuId) -> Result<Option<Sku>, StoreError> {
        match self.get(keys::sku(sku)).await? {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| decode_error("SKU", e)),
        }
    }

    async fn get_skus(&self, skus: &[SkuId]) -> Result<Vec<Sku>, StoreError> {
        let mut found = Vec::with_capacity(skus.len());
        for chunk in skus.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|s| key_map(keys::sku(s))).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(sdk_error)?,
            );
            let mut attempt = 0;
            while let Some(keys_and_attrs) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys_and_attrs)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    found.push(serde_dynamo::from_item(item).map_err(|e| decode_error("SKU", e))?);
                }
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                if request.is_some() {
                    attempt += 1;
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    async fn put_sku(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        let source = serde_dynamo::to_attribute_value(&u.source)
            .map_err(|e| StoreError(format!("encode source: {e}")))?;
        let policy = serde_dynamo::to_attribute_value(u.stock_policy)
            .map_err(|e| StoreError(format!("encode policy: {e}")))?;
        let mut set = vec![
            "entity = :entity",
            "sku = :sku",
            "#name = :name",
            "price_cents = :price",
            "#source = :source",
            "stock_policy = :policy",
            "listed = :listed",
        ];
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(keys::sku(&u.sku))))
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":entity", s("sku"))
            .expression_attribute_values(":sku", s(u.sku.as_str()))
            .expression_attribute_values(":name", s(&u.name))
            .expression_attribute_values(":price", n(u.price_cents.0))
            .expression_attribute_values(":source", source)
            .expression_attribute_values(":policy", policy)
            .expression_attribute_values(":listed", AttributeValue::Bool(u.listed))
            .return_values(ReturnValue::AllNew);
        match u.available {
            Some(a) => {
                set.push("available = :available");
                req = req.expression_attribute_values(":available", n(a));
            }
            None => {
                set.push("available = if_not_exists(available, :zero)");
                req = req.expression_attribute_values(":zero", n(0));
            }
        }
        let mut expr = format!("SET {}", set.join(", "));
        match u.per_user_limit {
            Some(l) => {
                expr.push_str(", per_user_limit = :limit");
                req = req.expression_attribute_values(":limit", n(l));
            }
            None => expr.push_str(" REMOVE per_user_limit"),
        }
        let out = req
            .update_expression(expr)
            .send()
            .await
            .map_err(sdk_error)?;
        serde_dynamo::from_item(out.attributes.unwrap_or_default())
            .map_err(|e| decode_error("SKU", e))
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
        let malformed = || StoreError("stored idempotency record is malformed".into());
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
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ListError> {
        let user_pk = keys::user_orders(user);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::USER_ORDERS_INDEX)
            .key_condition_expression("user_pk = :u")
            .expression_attribute_values(":u", s(&user_pk))
            .scan_index_forward(false)
            // One more than asked tells whether another page exists.
            .limit(limit as i32 + 1);
        if let Some(cursor) = cursor {
            // The cursor is the last order id shown; it only ever resumes the caller's own list.
            let after = decode_cursor(cursor).ok_or(ListError::BadCursor)?;
            let mut start = key_map(keys::order(&after));
            start.insert(keys::USER_PK.to_owned(), s(&user_pk));
            start.insert(keys::USER_SK.to_owned(), s(after.as_str()));
            query = query.set_exclusive_start_key(Some(start));
        }
        let out = query
            .send()
            .await
            .map_err(|e| ListError::Store(sdk_error(e)))?;
        let mut orders: Vec<Order> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(|e| decode_error("order", e)))
            .collect::<Result<_, _>>()?;
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

/// `Ok(false)` when a conditional write was refused by its condition.
fn accepted<O, E>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
    refused: impl Fn(&E) -> bool,
) -> Result<bool, StoreError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(&refused) => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}

fn update(
    table: &str,
    key: (String, String),
    expr: &str,
    values: Vec<(&str, AttributeValue)>,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key_map(key)))
        .update_expression(expr)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, value) in values {
        u = u.expression_attribute_values(name, value);
    }
    if let Some(c) = condition {
        u = u.condition_expression(c);
    }
    Ok(TransactWriteItem::builder()
        .update(u.build().map_err(sdk_error)?)
        .build())
}

impl DynamoStore {
    /// Queries due-index partitions for sort keys at or before `until`, oldest first.
    async fn due(
        &self,
        partitions: Vec<String>,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        let mut found: Vec<String> = Vec::new();
        for partition in partitions {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::DUE_INDEX)
                .key_condition_expression("due_pk = :p AND due_sk <= :until")
                .expression_attribute_values(":p", s(partition))
                .expression_attribute_values(":until", s(keys::due_until(&until)))
                .limit(limit as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            found.extend(
                out.items()
                    .iter()
                    .filter_map(|i| string(i, keys::DUE_SK).map(str::to_owned)),
            );
        }
        found.sort();
        Ok(found
            .iter()
            .filter_map(|sk| keys::order_of_due(sk))
            .take(limit as usize)
            .collect())
    }
}

impl Ledger for DynamoStore {
    async fn commit(&self, t: &Transition<'_>) -> Result<(), CommitError> {
        let order = t.order;
        let mut items = Vec::new();
        let put_order = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)?))
            .condition_expression("version = :prev")
            .expression_attribute_values(":prev", n(order.version.saturating_sub(1)))
            .build()
            .map_err(sdk_error)?;
        items.push(TransactWriteItem::builder().put(put_order).build());

        // One operation per item: moves of the same SKU are netted first.
        let mut stock: Vec<(SkuId, i64)> = Vec::new();
        for m in &t.stock {
            match stock.iter_mut().find(|(sku, _)| *sku == m.sku) {
                Some((_, d)) => *d += m.delta,
                None => stock.push((m.sku.clone(), m.delta)),
            }
        }
        stock.retain(|(_, d)| *d != 0);
        for (sku, delta) in &stock {
            let item = if *delta < 0 {
                update(
                    &self.table,
                    keys::sku(sku),
                    "SET available = available - :qty",
                    vec![(":qty", n(-delta))],
                    Some("attribute_exists(pk) AND available >= :qty"),
                )?
            } else {
                update(
                    &self.table,
                    keys::sku(sku),
                    "SET available = available + :qty",
                    vec![(":qty", n(delta))],
                    Some("attribute_exists(pk)"),
                )?
            };
            items.push(item);
        }

        let mut limits: Vec<(SkuId, u32)> = Vec::new();
        for (sku, qty) in &t.limit_releases {
            match limits.iter_mut().find(|(s, _)| s == sku) {
                Some((_, q)) => *q += qty,
                None => limits.push((sku.clone(), *qty)),
            }
        }
        for (sku, qty) in &limits {
            items.push(update(
                &self.table,
                keys::limit(&order.user_id, sku),
                "ADD held :release",
                vec![(":release", n(-i64::from(*qty)))],
                None,
            )?);
        }

        let payment_index = items.len();
        if let Some(p) = &t.payment {
            let mut item: Item =
                serde_dynamo::to_item(p).map_err(|e| StoreError(format!("encode payment: {e}")))?;
            item.extend(key_map(keys::payment(&p.payment_id)));
            item.insert(keys::ENTITY.to_owned(), s("payment"));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(sdk_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }

        let has_payment = t.payment.is_some();
        self.transact(items, |reasons| {
            let failed =
                |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
            if has_payment && failed(payment_index) {
                return Some(CommitError::PaymentRecorded);
            }
            if failed(0) {
                return Some(CommitError::Stale);
            }
            let short: Vec<Shortage> = stock
                .iter()
                .enumerate()
                .filter(|(i, _)| failed(1 + i))
                .map(|(i, (sku, delta))| Shortage {
                    sku: sku.clone(),
                    requested: (-delta) as u32,
                    available: reasons[1 + i]
                        .item()
                        .and_then(|it| number(it, "available"))
                        .unwrap_or(0),
                })
                .collect();
            (!short.is_empty()).then_some(CommitError::OutOfStock(short))
        })
        .await
    }

    async fn payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        match self.get(keys::payment(payment_id)).await? {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| decode_error("payment", e)),
        }
    }

    async fn due_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        self.due(keys::payment_due_partitions(), now, limit).await
    }

    async fn stale_outboxes(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, StoreError> {
        self.due(keys::outbox_partitions(), before, limit).await
    }

    async fn clear_outbox(&self, id: &OrderId, version: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(keys::order(id))))
            .update_expression("SET outbox = :empty REMOVE due_pk, due_sk")
            .condition_expression("version = :v AND #status <> :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":pending", s(OrderStatus::PendingPayment.as_str()))
            .send()
            .await;
        accepted(result, |e| e.is_conditional_check_failed_exception())
    }

    async fn lease(
        &self,
        name: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut item = key_map(keys::lease(name));
        item.insert(keys::ENTITY.to_owned(), s("lease"));
        item.insert("until_ms".to_owned(), n(until.unix_millis()));
        item.insert(keys::TTL.to_owned(), n(until.unix() + 86_400));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR until_ms < :now")
            .expression_attribute_values(":now", n(now.unix_millis()))
            .send()
            .await;
        accepted(result, |e| e.is_conditional_check_failed_exception())
    }

    async fn release_lease(&self, name: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(keys::lease(name))))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

fn encode_cursor(id: &OrderId) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<OrderId> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    OrderId::parse(text.strip_prefix("v1:")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let id = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        assert_eq!(decode_cursor(&encode_cursor(&id)), Some(id));
        assert_eq!(decode_cursor("nonsense!"), None);
        assert_eq!(decode_cursor(""), None);
    }
}
