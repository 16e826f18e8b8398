//! The work queues and staff search (SPEC 2.11): queries of the queue
//! partitions and of the `status` / `user_orders` indexes, never a scan.
//! A read asks every partition of its storefronts at once and merges them
//! by sort key, which every partition shares: the cursor is the last sort
//! key shown.

use super::{decode_error, key_map, keys, s, sdk_error, string, DynamoStore, Item};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use domain::backoffice::queues::{
    OrderSearch, QueueEntry, QueuePage, QueueQuery, SearchBy, WorkQueues,
};
use domain::error::StoreError;
use domain::ids::OrderId;
use domain::order::Order;
use domain::ports::{ListError, OrderPage};
use std::collections::{BTreeMap, HashMap};

fn encode(tag: &str, sk: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{tag}:{sk}"))
}

fn decode(tag: &str, cursor: &str) -> Result<String, ListError> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ListError::BadCursor)?;
    let text = String::from_utf8(raw).map_err(|_| ListError::BadCursor)?;
    text.strip_prefix(tag)
        .and_then(|t| t.strip_prefix(':'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or(ListError::BadCursor)
}

/// The sort-key range one queue read covers: `(low, high)` for BETWEEN,
/// or only a lower bound (`sk > cursor`) for a read over every scope.
enum Range {
    Between(String, String),
    After(String),
    All,
}

fn queue_range(q: &QueueQuery, cursor: Option<&str>) -> Result<Range, ListError> {
    match &q.scope {
        Some(scope) => {
            let low = format!("{scope}#");
            let high = match &q.before {
                Some(at) => format!("{scope}#{at}"),
                None => format!("{scope}#~"),
            };
            match cursor {
                None => Ok(Range::Between(low, high)),
                Some(c) if c.starts_with(&low) && c < high.as_str() => {
                    Ok(Range::Between(c.to_owned(), high))
                }
                Some(_) => Err(ListError::BadCursor),
            }
        }
        None => Ok(cursor.map_or(Range::All, |c| Range::After(c.to_owned()))),
    }
}

impl DynamoStore {
    /// Up to `want` items of one partition in `range`, in sort-key order
    /// (`forward`: ascending), reading on past DynamoDB's 1 MB pages.
    #[allow(clippy::too_many_arguments)]
    async fn partition(
        &self,
        index: Option<&str>,
        (pk_name, sk_name): (&str, &str),
        pk: String,
        range: &Range,
        forward: bool,
        want: usize,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(&pk))
                .scan_index_forward(forward)
                .consistent_read(consistent)
                .limit((want - found.len()).clamp(1, 1000) as i32)
                .set_exclusive_start_key(start);
            query = match range {
                Range::Between(lo, hi) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi)),
                Range::After(c) => query
                    .key_condition_expression("#pk = :pk AND #sk > :c")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":c", s(c)),
                Range::All => query.key_condition_expression("#pk = :pk"),
            };
            let out = query.send().await.map_err(sdk_error)?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if found.len() >= want || start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Whole orders by id, in the order asked (missing ones left out).
    async fn orders_by_id(&self, ids: &[OrderId]) -> Result<Vec<Order>, StoreError> {
        let mut got: HashMap<String, Order> = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut keys: Vec<Item> = chunk.iter().map(|id| key_map(keys::order(id))).collect();
            while !keys.is_empty() {
                let ask = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(super::build_error)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ask)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let order: Order =
                        serde_dynamo::from_item(item).map_err(|e| decode_error("order", e))?;
                    got.insert(order.id.as_str().to_owned(), order);
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(ids
            .iter()
            .filter_map(|id| got.remove(id.as_str()))
            .collect())
    }
}

impl WorkQueues for DynamoStore {
    async fn queue_page(&self, q: &QueueQuery) -> Result<QueuePage, ListError> {
        let cursor = q.cursor.as_deref().map(|c| decode("q1", c)).transpose()?;
        let range = queue_range(q, cursor.as_deref())?;
        let want = q.limit as usize + 1;
        let reads = q
            .storefronts
            .iter()
            .flat_map(|sf| keys::queue_partitions(q.queue, sf))
            .map(|pk| self.partition(None, (keys::PK, keys::SK), pk, &range, true, want + 1, true));
        let mut found: Vec<(String, Item)> = Vec::new();
        for part in futures::future::join_all(reads).await {
            for item in part? {
                let sk = string(&item, keys::SK).unwrap_or_default().to_owned();
                if cursor.as_deref() != Some(sk.as_str()) {
                    found.push((sk, item));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.truncate(want);
        let next_cursor = (found.len() > q.limit as usize).then(|| {
            found.truncate(q.limit as usize);
            encode("q1", &found[found.len() - 1].0)
        });
        let entries = found
            .into_iter()
            .map(|(_, item)| {
                serde_dynamo::from_item::<_, QueueEntry>(item)
                    .map_err(|e| decode_error("queue entry", e))
            })
            .collect::<Result<_, _>>()?;
        Ok(QueuePage {
            entries,
            next_cursor,
        })
    }

    async fn queue_count(&self, q: &QueueQuery) -> Result<BTreeMap<String, u64>, StoreError> {
        let range = queue_range(q, None).map_err(|_| StoreError::Failed("count range".into()))?;
        let reads = q
            .storefronts
            .iter()
            .flat_map(|sf| keys::queue_partitions(q.queue, sf))
            .map(|pk| {
                self.partition(
                    None,
                    (keys::PK, keys::SK),
                    pk,
                    &range,
                    true,
                    usize::MAX,
                    true,
                )
            });
        // Per scope: the sort key's first part.
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        for part in futures::future::join_all(reads).await {
            for item in part? {
                let sk = string(&item, keys::SK).unwrap_or_default();
                let scope = sk.split('#').next().unwrap_or_default();
                *total.entry(scope.to_owned()).or_default() += 1;
            }
        }
        Ok(total)
    }

    async fn search_orders(&self, q: &OrderSearch) -> Result<OrderPage, ListError> {
        let want = q.limit as usize + 1;
        match &q.by {
            SearchBy::Status(status) => {
                let cursor = q.cursor.as_deref().map(|c| decode("s1", c)).transpose()?;
                let low = q.from.map_or_else(|| "0".to_owned(), |t| t.to_string());
                let mut high = q.to.map_or_else(|| "~".to_owned(), |t| t.to_string());
                if let Some(c) = &cursor {
                    // A cursor resumes below where the range starts only if
                    // it came from another query: refuse it (DynamoDB would).
                    if c.as_str() < low.as_str() {
                        return Err(ListError::BadCursor);
                    }
                    if c.as_str() < high.as_str() {
                        high.clone_from(c);
                    }
                }
                let range = Range::Between(low, high);
                let reads = q
                    .storefronts
                    .iter()
                    .flat_map(|sf| keys::status_partitions(sf, *status))
                    .map(|pk| {
                        self.partition(
                            Some(keys::STATUS_INDEX),
                            (keys::STATUS_PK, keys::STATUS_SK),
                            pk,
                            &range,
                            false,
                            want + 1,
                            false,
                        )
                    });
                let mut found: Vec<(String, OrderId)> = Vec::new();
                for part in futures::future::join_all(reads).await {
                    for item in part.map_err(ListError::Store)? {
                        let sk = string(&item, keys::STATUS_SK).unwrap_or_default();
                        let id = sk.rsplit('#').next().and_then(|i| OrderId::parse(i).ok());
                        if let (Some(id), false) = (id, cursor.as_deref() == Some(sk)) {
                            found.push((sk.to_owned(), id));
                        }
                    }
                }
                found.sort_by(|a, b| b.0.cmp(&a.0));
                found.truncate(want);
                let next_cursor = (found.len() > q.limit as usize).then(|| {
                    found.truncate(q.limit as usize);
                    encode("s1", &found[found.len() - 1].0)
                });
                let ids: Vec<OrderId> = found.into_iter().map(|(_, id)| id).collect();
                Ok(OrderPage {
                    orders: self.orders_by_id(&ids).await?,
                    next_cursor,
                })
            }
            SearchBy::User(user) => {
                let cursor = q.cursor.as_deref().map(|c| decode("u1", c)).transpose()?;
                let cursor = cursor
                    .map(|c| OrderId::parse(&c).map_err(|_| ListError::BadCursor))
                    .transpose()?;
                let low = q
                    .from
                    .map_or_else(|| "0".to_owned(), |t| OrderId::lower_bound(&t));
                let mut high =
                    q.to.map_or_else(|| "~".to_owned(), |t| OrderId::lower_bound(&t));
                if let Some(c) = &cursor {
                    if c.as_str() < low.as_str() {
                        return Err(ListError::BadCursor);
                    }
                    if c.as_str() < high.as_str() {
                        high = c.as_str().to_owned();
                    }
                }
                let names: Vec<(String, String)> = q
                    .storefronts
                    .iter()
                    .enumerate()
                    .map(|(i, sf)| (format!(":sf{i}"), sf.as_str().to_owned()))
                    .collect();
                let listed = names
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                // Orders from before storefronts have none: `default`'s.
                let filter = if q.storefronts.iter().any(|s| s.is_default()) {
                    format!("attribute_not_exists(#sf) OR #sf IN ({listed})")
                } else {
                    format!("#sf IN ({listed})")
                };
                let mut orders: Vec<Order> = Vec::new();
                let mut start = None;
                loop {
                    let mut query = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(keys::USER_ORDERS_INDEX)
                        .key_condition_expression("user_pk = :u AND user_sk BETWEEN :lo AND :hi")
                        .expression_attribute_values(":u", s(keys::user_orders(user)))
                        .expression_attribute_values(":lo", s(&low))
                        .expression_attribute_values(":hi", s(&high))
                        .filter_expression(&filter)
                        .expression_attribute_names("#sf", "storefront")
                        .scan_index_forward(false)
                        .limit((want - orders.len()) as i32)
                        .set_exclusive_start_key(start);
                    for (n, v) in &names {
                        query = query.expression_attribute_values(n, s(v));
                    }
                    let out = query.send().await.map_err(sdk_error)?;
                    for item in out.items.unwrap_or_default() {
                        let o: Order =
                            serde_dynamo::from_item(item).map_err(|e| decode_error("order", e))?;
                        // `high` is exclusive: `to`, or the cursor.
                        if o.id.as_str() != high {
                            orders.push(o);
                        }
                    }
                    start = out.last_evaluated_key;
                    if orders.len() >= want || start.is_none() {
                        break;
                    }
                }
                let next_cursor = (orders.len() > q.limit as usize).then(|| {
                    orders.truncate(q.limit as usize);
                    encode("u1", orders[orders.len() - 1].id.as_str())
                });
                Ok(OrderPage {
                    orders,
                    next_cursor,
                })
            }
        }
    }
}
