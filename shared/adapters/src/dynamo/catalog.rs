//! SKUs: read one or many (consistent), and staff's create-or-update.

use super::{
    backoff, decode_error, key_map, keys, n, number, s, sdk_error, string, DynamoStore, Item,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use domain::catalog::{Sku, SkuUpdate};
use domain::error::StoreError;
use domain::ids::SkuId;
use domain::ports::Catalog;

/// Rounds of a batch read whose keys DynamoDB left unprocessed (throttling).
const UNPROCESSED_ATTEMPTS: u32 = 8;

/// Rounds of a re-balance that kept meeting placements on the same shards.
const RESHARD_ATTEMPTS: u32 = 20;

/// A SKU as stored: its item, and its shard items (sharded stock) by shard.
struct StoredSku {
    item: Item,
    shards: Vec<(u8, u64)>,
}

impl StoredSku {
    fn sku(&self) -> Result<Sku, StoreError> {
        let mut sku: Sku =
            serde_dynamo::from_item(self.item.clone()).map_err(|e| decode_error("SKU", e))?;
        if sku.stock_shards > 1 || !self.shards.is_empty() {
            // Sharded: the stock is the sum of the shards (a shard given
            // back to after a re-balance counts until the next one).
            sku.available = self.shards.iter().map(|(_, a)| a).sum::<u64>()
                + number(&self.item, "available").unwrap_or(0);
        }
        Ok(sku)
    }
}

impl DynamoStore {
    /// The SKU item and its shards: one query of the SKU's partition.
    async fn read_sku(&self, sku: &SkuId) -> Result<Option<StoredSku>, StoreError> {
        let (pk, _) = keys::sku(sku);
        let mut item = None;
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(&pk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for i in out.items.unwrap_or_default() {
                match string(&i, keys::SK).and_then(|sk| sk.strip_prefix("SHARD#")) {
                    Some(k) => {
                        let k = k
                            .parse()
                            .map_err(|_| StoreError::Failed(format!("malformed shard of {sku}")))?;
                        shards.push((k, number(&i, "available").unwrap_or(0)));
                    }
                    None => item = Some(i),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(item.map(|item| StoredSku { item, shards }))
    }

    /// Writes a SKU whose stock is (or becomes) sharded: the SKU item and
    /// every shard in one transaction, each conditional on what was read,
    /// so that no unit reserved meanwhile is lost; retried on a collision.
    async fn put_sharded(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        for attempt in 1..=RESHARD_ATTEMPTS {
            let stored = self.read_sku(&u.sku).await?;
            let old_shards: u8 = stored
                .as_ref()
                .and_then(|st| number(&st.item, "stock_shards"))
                .unwrap_or(1) as u8;
            let seen_total = match &stored {
                Some(st) => st.sku()?.available,
                None => 0,
            };
            let shards = u.stock_shards.unwrap_or(old_shards).max(1);
            let total = u.available.unwrap_or(seen_total);
            let mut item = sku_attributes(u)?;
            item.extend(key_map(keys::sku(&u.sku)));
            item.insert("stock_shards".into(), n(shards));
            item.insert("available".into(), n(if shards == 1 { total } else { 0 }));
            let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
            put = match stored.as_ref().and_then(|st| number(&st.item, "available")) {
                Some(seen) => put
                    .condition_expression("available = :seen")
                    .expression_attribute_values(":seen", n(seen)),
                None => put.condition_expression("attribute_not_exists(available)"),
            };
            let mut items = vec![TransactWriteItem::builder()
                .put(put.build().map_err(sdk_error)?)
                .build()];
            let seen: Vec<(u8, u64)> = stored.map(|st| st.shards).unwrap_or_default();
            let part = |k: u8| {
                let base = total / u64::from(shards);
                base + u64::from(u64::from(k) < total % u64::from(shards))
            };
            let last = seen
                .iter()
                .map(|(k, _)| k + 1)
                .max()
                .unwrap_or(0)
                .max(shards);
            for k in 0..last {
                let was = seen.iter().find(|(s, _)| *s == k).map(|(_, a)| *a);
                let key = key_map(keys::sku_shard(&u.sku, k));
                let write = if shards > 1 && k < shards {
                    let mut shard = key;
                    shard.insert(keys::ENTITY.into(), s("sku_shard"));
                    shard.insert("available".into(), n(part(k)));
                    let put = Put::builder().table_name(&self.table).set_item(Some(shard));
                    let put = match was {
                        Some(a) => put
                            .condition_expression("available = :seen")
                            .expression_attribute_values(":seen", n(a)),
                        None => put.condition_expression("attribute_not_exists(pk)"),
                    };
                    TransactWriteItem::builder()
                        .put(put.build().map_err(sdk_error)?)
                        .build()
                } else if let Some(a) = was {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .condition_expression("available = :seen")
                        .expression_attribute_values(":seen", n(a))
                        .build()
                        .map_err(sdk_error)?;
                    TransactWriteItem::builder().delete(delete).build()
                } else {
                    continue;
                };
                items.push(write);
            }
            let collided = self
                .transact(items, |reasons| {
                    reasons
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
                        .then_some(StoreError::Busy("stock moved while re-balancing".into()))
                })
                .await;
            match collided {
                Ok(()) => {
                    return self
                        .read_sku(&u.sku)
                        .await?
                        .ok_or_else(|| StoreError::Failed("a SKU just written is missing".into()))?
                        .sku()
                }
                Err(StoreError::Busy(_)) if attempt < RESHARD_ATTEMPTS => backoff(attempt).await,
                Err(e) => return Err(e),
            }
        }
        Err(self.busy("re-balancing a SKU's shards"))
    }
}

/// The catalog attributes of a SKU item (everything but its stock).
fn sku_attributes(u: &SkuUpdate) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert(keys::ENTITY.into(), s("sku"));
    item.insert("sku".into(), s(u.sku.as_str()));
    item.insert("name".into(), s(&u.name));
    item.insert("price_cents".into(), n(u.price_cents.0));
    item.insert(
        "source".into(),
        serde_dynamo::to_attribute_value(&u.source)
            .map_err(|e| StoreError::Failed(format!("encode source: {e}")))?,
    );
    item.insert(
        "stock_policy".into(),
        serde_dynamo::to_attribute_value(u.stock_policy)
            .map_err(|e| StoreError::Failed(format!("encode policy: {e}")))?,
    );
    item.insert("listed".into(), AttributeValue::Bool(u.listed));
    if let Some(l) = u.per_user_limit {
        item.insert("per_user_limit".into(), n(l));
    }
    Ok(item)
}

impl Catalog for DynamoStore {
    async fn get_sku(&self, sku: &SkuId) -> Result<Option<Sku>, StoreError> {
        self.read_sku(sku).await?.map(|st| st.sku()).transpose()
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
                    let sku: Sku =
                        serde_dynamo::from_item(item).map_err(|e| decode_error("SKU", e))?;
                    found.push(if sku.stock_shards > 1 {
                        // Its stock is in its shards: one more read, for flash sales only.
                        match self.get_sku(&sku.sku).await? {
                            Some(whole) => whole,
                            None => continue,
                        }
                    } else {
                        sku
                    });
                }
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                if request.is_some() {
                    attempt += 1;
                    if attempt > UNPROCESSED_ATTEMPTS || self.out_of_time() {
                        return Err(self.busy("reading SKUs"));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    async fn put_sku(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        if u.stock_shards.is_some_and(|s| s > 1) {
            return self.put_sharded(u).await;
        }
        let source = serde_dynamo::to_attribute_value(&u.source)
            .map_err(|e| StoreError::Failed(format!("encode source: {e}")))?;
        let policy = serde_dynamo::to_attribute_value(u.stock_policy)
            .map_err(|e| StoreError::Failed(format!("encode policy: {e}")))?;
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
            .expression_attribute_values(":one", n(1))
            // Only while its stock is one item: a sharded SKU is re-balanced.
            .condition_expression("attribute_not_exists(stock_shards) OR stock_shards = :one")
            .return_values(ReturnValue::AllNew);
        set.push("stock_shards = :one");
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
        let out = match req.update_expression(expr).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return self.put_sharded(u).await;
            }
            Err(e) => return Err(sdk_error(e)),
        };
        serde_dynamo::from_item(out.attributes.unwrap_or_default())
            .map_err(|e| decode_error("SKU", e))
    }
}
