//! Transitions after placement: one transaction per change (the order
//! conditional on its version, stock moves, limit releases, the payment
//! record, the after-sales case and its line locks), the due index, and
//! clearing a published outbox.

use super::item::{case_item, order_item, queue_item};
use super::{
    accepted, build_error, decode_error, key_map, keys, n, number, s, sdk_error, string, update,
    DynamoStore, Item,
};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use domain::after_sales::case::AfterSalesCase;
use domain::error::StoreError;
use domain::ids::{CaseId, OrderId, SkuId};
use domain::order::Order;
use domain::ports::{Change, CommitError, Ledger, PaymentRecord, Shortage};
use domain::time::Timestamp;

/// Where each kind of item sits in a change's transaction, to read refusals.
struct Layout {
    stock: Vec<(SkuId, Option<u8>, i64)>,
    limits: Vec<(SkuId, u32)>,
    payment: Option<usize>,
    case: Option<usize>,
    locks: std::ops::Range<usize>,
}

impl DynamoStore {
    fn change_items(&self, c: &Change<'_>) -> Result<(Vec<TransactWriteItem>, Layout), StoreError> {
        let order = c.order;
        let mut items = Vec::new();
        let put_order = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)?))
            .condition_expression("version = :prev")
            .expression_attribute_values(":prev", n(order.version().saturating_sub(1)))
            .build()
            .map_err(build_error)?;
        items.push(TransactWriteItem::builder().put(put_order).build());

        // One operation per item: moves of the same stock item are netted first.
        let stock = c.stock_by_item();
        for (sku, shard, delta) in &stock {
            items.push(match (*delta < 0, shard) {
                (true, _) => update(
                    &self.table,
                    keys::stock(sku, *shard),
                    "SET available = available - :qty",
                    vec![(":qty", n(-delta))],
                    Some("attribute_exists(pk) AND available >= :qty"),
                )?,
                // Given back to the SKU's own item: counted as a restock too
                // (one write per item, see below).
                (false, None) => update(
                    &self.table,
                    keys::sku(sku),
                    "SET available = available + :qty, restocks = if_not_exists(restocks, :zero) + :one",
                    vec![(":qty", n(delta)), (":zero", n(0)), (":one", n(1))],
                    Some("attribute_exists(pk)"),
                )?,
                // A shard given back to may have gone with a re-balance: it
                // comes back, and the SKU's stock (the sum of its shards)
                // counts it; the next re-balance spreads it again.
                (false, Some(_)) => update(
                    &self.table,
                    keys::stock(sku, *shard),
                    "SET available = if_not_exists(available, :zero) + :qty, entity = :entity",
                    vec![
                        (":qty", n(delta)),
                        (":zero", n(0)),
                        (":entity", s("sku_shard")),
                    ],
                    None,
                )?,
            });
        }

        let mut limits: Vec<(SkuId, u32)> = Vec::new();
        for (sku, qty) in &c.limit_releases {
            match limits.iter_mut().find(|(s, _)| s == sku) {
                Some((_, q)) => *q += qty,
                None => limits.push((sku.clone(), *qty)),
            }
        }
        for (sku, qty) in &limits {
            items.push(update(
                &self.table,
                keys::limit(&order.user_id, sku),
                "SET held = held - :release",
                vec![(":release", n(*qty))],
                Some("held >= :release"),
            )?);
        }

        let mut payment = None;
        if let Some(p) = &c.payment {
            let mut item: Item = serde_dynamo::to_item(p)
                .map_err(|e| StoreError::Failed(format!("encode payment: {e}")))?;
            item.extend(key_map(keys::payment(&p.payment_id)));
            item.insert(keys::ENTITY.to_owned(), s("payment"));
            let (day_pk, day_sk) = keys::payday(p);
            item.insert(keys::PAYDAY_PK.to_owned(), s(day_pk));
            item.insert(keys::PAYDAY_SK.to_owned(), s(day_sk));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_error)?;
            payment = Some(items.len());
            items.push(TransactWriteItem::builder().put(put).build());
        }

        let mut case_at = None;
        let mut locks = items.len()..items.len();
        if let Some(case) = c.case {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(case_item(case)?));
            let put = if case.version() == 1 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("version = :prev")
                    .expression_attribute_values(":prev", n(case.version() - 1))
            };
            case_at = Some(items.len());
            items.push(
                TransactWriteItem::builder()
                    .put(put.build().map_err(build_error)?)
                    .build(),
            );
            locks = items.len()..items.len();
            for line in &case.lines {
                let key = key_map(keys::case_lock(&case.package_id, &line.sku));
                let item = if case.version() == 1 {
                    // Opened: each line is taken, unless another open case holds it.
                    let mut lock = key;
                    lock.insert(keys::ENTITY.to_owned(), s("case_lock"));
                    lock.insert("case_id".to_owned(), s(case.id.as_str()));
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(lock))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().put(put).build()
                } else if !case.status().is_open() {
                    // Ended: its lines are free again.
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .condition_expression("case_id = :case")
                        .expression_attribute_values(":case", s(case.id.as_str()))
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().delete(delete).build()
                } else {
                    continue;
                };
                items.push(item);
            }
            locks.end = items.len();
        }
        // Work-queue entries move with the change that starts or ends the
        // work; the order's version condition makes them exact.
        for e in &c.queue.put {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(queue_item(e)?))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for e in &c.queue.delete {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_map(keys::queue_entry(e))))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        // Stock given back to a shard is a restock of its SKU: it ends the
        // SKU's sold-out hint (the count the hint holds for moves on).
        let restocked: std::collections::BTreeSet<&SkuId> = stock
            .iter()
            .filter(|(sku, shard, delta)| {
                *delta > 0
                    && shard.is_some()
                    && !stock
                        .iter()
                        .any(|(s, k, d)| s == sku && k.is_none() && *d > 0)
            })
            .map(|(sku, _, _)| sku)
            .collect();
        for sku in restocked {
            items.push(update(
                &self.table,
                keys::sku(sku),
                "SET restocks = if_not_exists(restocks, :zero) + :one",
                vec![(":zero", n(0)), (":one", n(1))],
                Some("attribute_exists(pk)"),
            )?);
        }
        Ok((
            items,
            Layout {
                stock,
                limits,
                payment,
                case: case_at,
                locks,
            },
        ))
    }
}

impl Ledger for DynamoStore {
    async fn commit(&self, c: &Change<'_>) -> Result<(), CommitError> {
        let (items, layout) = self.change_items(c)?;
        let restocked: Vec<SkuId> = layout
            .stock
            .iter()
            .filter(|(_, _, d)| *d > 0)
            .map(|(s, _, _)| s.clone())
            .collect();
        let committed = self
            .transact(items, |reasons| {
                let failed = |i: usize| {
                    reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                };
                if layout.payment.is_some_and(failed) {
                    return Some(CommitError::PaymentRecorded);
                }
                if failed(0) || layout.case.is_some_and(failed) {
                    return Some(CommitError::Stale);
                }
                if layout.locks.clone().any(failed) {
                    return Some(CommitError::CaseLineTaken);
                }
                // A give-back that finds no SKU, or a limit counter holding less
                // than it gives back, means an invariant broke: refuse, loudly.
                let limits_at = 1 + layout.stock.len();
                let broken: Vec<String> = layout
                    .stock
                    .iter()
                    .enumerate()
                    .filter(|(i, (_, _, delta))| *delta > 0 && failed(1 + i))
                    .map(|(_, (sku, _, _))| format!("stock of {sku} to give back to is missing"))
                    .chain(
                        layout
                            .limits
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| failed(limits_at + i))
                            .map(|(_, (sku, qty))| {
                                format!(
                                    "limit counter of {sku} holds less than the {qty} given back"
                                )
                            }),
                    )
                    .collect();
                if !broken.is_empty() {
                    return Some(CommitError::Store(StoreError::Failed(format!(
                        "refused to break an invariant: {}",
                        broken.join("; ")
                    ))));
                }
                let short: Vec<Shortage> = layout
                    .stock
                    .iter()
                    .enumerate()
                    .filter(|(i, (_, _, delta))| *delta < 0 && failed(1 + i))
                    .map(|(i, (sku, shard, delta))| Shortage {
                        sku: sku.clone(),
                        shard: *shard,
                        requested: (-delta) as u32,
                        available: reasons[1 + i]
                            .item()
                            .and_then(|it| number(it, "available"))
                            .unwrap_or(0),
                    })
                    .collect();
                (!short.is_empty()).then_some(CommitError::OutOfStock(short))
            })
            .await;
        // Stock given back: this process's first looks read the SKU again.
        self.recent_skus.forget(&restocked);
        committed
    }

    async fn payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        match self.get(keys::payment(payment_id)).await? {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| decode_error("payment", e)),
        }
    }

    async fn payments_on(
        &self,
        storefront: &domain::storefront::StorefrontId,
        channel: domain::payment::refund::PaymentChannel,
        date: &str,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        // Every partition at once, each read to its end.
        let partitions = keys::payday_partitions(storefront, channel, date);
        let reads = partitions.into_iter().map(|partition| async move {
            let mut items = Vec::new();
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(keys::PAYMENTS_BY_DAY_INDEX)
                    .key_condition_expression("pday_pk = :p")
                    .expression_attribute_values(":p", s(partition.clone()))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                items.extend(out.items.unwrap_or_default());
                start = out.last_evaluated_key;
                if start.is_none() {
                    return Ok::<_, StoreError>(items);
                }
            }
        });
        let mut records = Vec::new();
        for items in futures::future::join_all(reads).await {
            for item in items? {
                records
                    .push(serde_dynamo::from_item(item).map_err(|e| decode_error("payment", e))?);
            }
        }
        Ok(records)
    }

    async fn due_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        // Every due partition at once: the sweep waits for the slowest only.
        let queries = keys::due_partitions().into_iter().map(|partition| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(keys::DUE_INDEX)
                .key_condition_expression("due_pk = :p AND due_sk <= :until")
                .expression_attribute_values(":p", s(partition))
                .expression_attribute_values(":until", s(keys::due_until(&now)))
                .limit(limit as i32)
                .send()
        });
        let mut found: Vec<String> = Vec::new();
        for out in futures::future::join_all(queries).await {
            found.extend(
                out.map_err(sdk_error)?
                    .items()
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

    async fn clear_outbox(&self, order: &Order) -> Result<bool, StoreError> {
        if order.outbox().is_empty() {
            return Ok(true);
        }
        let names: Vec<(String, String)> = order
            .outbox()
            .keys()
            .enumerate()
            .map(|(i, id)| (format!("#m{i}"), id.clone()))
            .collect();
        let removals = names
            .iter()
            .map(|(name, _)| format!("outbox.{name}"))
            .collect::<Vec<_>>()
            .join(", ");
        let update = || {
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_map(keys::order(&order.id))));
            for (name, id) in &names {
                req = req.expression_attribute_names(name, id);
            }
            req
        };
        // Still at its version: the outbox empties and the due slot moves to
        // whatever else is due, or leaves the index.
        let req = update()
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(order.version()));
        let req = match order.due_at_once_published() {
            Some(at) => {
                let (due_pk, due_sk) = keys::due(&order.id, &at);
                req.update_expression(format!(
                    "SET due_pk = :due_pk, due_sk = :due_sk REMOVE outbox_since, {removals}"
                ))
                .expression_attribute_values(":due_pk", s(due_pk))
                .expression_attribute_values(":due_sk", s(due_sk))
            }
            None => {
                req.update_expression(format!("REMOVE outbox_since, due_pk, due_sk, {removals}"))
            }
        };
        if accepted(req.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })? {
            return Ok(true);
        }
        // It moved on, carrying these messages: take out just them. What is
        // left was written since, so its age starts now (never older: the
        // sweep would take it from its writer). Its due slot is left as it
        // is; the sweep sets it right when it finds nothing due.
        let req = update()
            .update_expression(format!("SET outbox_since = :now REMOVE {removals}"))
            .condition_expression("attribute_type(outbox, :map)")
            .expression_attribute_values(":map", s("M"))
            .expression_attribute_values(":now", s(domain::time::Timestamp::now().to_rfc3339()));
        accepted(req.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })?;
        Ok(false)
    }

    fn out_of_time(&self) -> bool {
        DynamoStore::out_of_time(self)
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<AfterSalesCase>, StoreError> {
        match self.get(keys::case(id)).await? {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| decode_error("case", e)),
        }
    }
}
