//! SKUs: read one or many (consistent), and staff's create-or-update.

use super::{
    build_error, decode_error, key_map, keys, n, number, s, sdk_error, string, Again, DynamoStore,
    Item,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use domain::catalog::{random_shard, Sku, SkuUpdate, MAX_SHARDS};
use domain::error::StoreError;
use domain::ids::SkuId;
use domain::ports::Catalog;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rounds of a batch read whose keys DynamoDB left unprocessed (throttling).
const UNPROCESSED_ATTEMPTS: u32 = 8;

/// The most shards a SKU ever had (the shard items to read).
const SHARD_SPAN: &str = "shard_span";

/// Times stock was given back to a sharded SKU or set by staff (on the SKU item).
pub(super) const RESTOCKS: &str = "restocks";
/// The restock count a sold-out hint was written at: valid while it is the count.
const SOLD_OUT_AT: &str = "sold_out_at";

/// How long a SKU item read for a placement's first look serves others
/// (as long as an eventually consistent read may lag).
const RECENT_FOR: Duration = Duration::from_secs(1);

/// Shards a first look reads of a sharded SKU, at random: enough to plan a
/// line, few enough that a sale's buyers spread their reads.
const SHARDS_LOOKED_AT: u8 = 4;

/// SKU items read recently, by SKU, for placements' first looks: a sale's
/// every buyer reads its SKU's item, and one partition serves ~6,000 such
/// reads a second; a process reads each at most once a second. Forgotten
/// when this process changes the SKU or gives stock back to it.
#[derive(Debug, Clone, Default)]
pub(super) struct RecentSkus(Arc<Mutex<HashMap<SkuId, (Instant, Item)>>>);

impl RecentSkus {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SkuId, (Instant, Item)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, sku: &SkuId) -> Option<Item> {
        let map = self.lock();
        let (at, item) = map.get(sku)?;
        (at.elapsed() < RECENT_FOR).then(|| item.clone())
    }

    fn keep(&self, items: &[Item]) {
        let mut map = self.lock();
        if map.len() > 4_096 {
            map.retain(|_, (at, _)| at.elapsed() < RECENT_FOR);
        }
        let now = Instant::now();
        for item in items {
            if let Some(id) = string(item, "sku").and_then(|s| SkuId::parse(s).ok()) {
                map.insert(id, (now, item.clone()));
            }
        }
    }

    pub(super) fn forget<'a>(&self, skus: impl IntoIterator<Item = &'a SkuId>) {
        let mut map = self.lock();
        for s in skus {
            map.remove(s);
        }
    }
}

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
        sku.restocks = number(&self.item, RESTOCKS).unwrap_or(0);
        sku.sold_out = hinted(&self.item);
        if sku.stock_shards > 1 || !self.shards.is_empty() {
            // Sharded: the stock is the sum of the shards (a shard given
            // back to after a re-balance counts until the next one).
            sku.available = self.shards.iter().map(|(_, a)| a).sum::<u64>()
                + number(&self.item, "available").unwrap_or(0);
            sku.shard_stock = self.shards.clone();
        }
        Ok(sku)
    }
}

/// How a SKU is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Consistent, every shard (none when the sold-out hint holds).
    Fresh,
    /// Consistent, every shard item as stored, the hint ignored: what a
    /// re-balance writes over.
    Whole,
    /// A placement's first look: the item as recently read, a few of its
    /// shards at random, eventually consistent.
    FirstLook,
}

/// A sharded SKU item whose sold-out hint holds: its shards hold nothing.
fn hinted(item: &Item) -> bool {
    number(item, "stock_shards").unwrap_or(1) > 1
        && number(item, SOLD_OUT_AT) == Some(number(item, RESTOCKS).unwrap_or(0))
}

impl DynamoStore {
    /// The SKU item, then (sharded stock only) its shard items.
    async fn read_sku(&self, sku: &SkuId, read: Read) -> Result<Option<StoredSku>, StoreError> {
        let Some(item) = self.get(keys::sku(sku)).await? else {
            return Ok(None);
        };
        let mut shards = self.read_shards(std::slice::from_ref(&item), read).await?;
        Ok(Some(StoredSku {
            item,
            shards: shards.remove(sku).unwrap_or_default(),
        }))
    }

    /// The shard items of these SKU items, by SKU: one batch read for all.
    /// A SKU's shards are 0..`shard_span`, the most it ever had (a unit given
    /// back after a re-balance returns to the shard it came from). A SKU
    /// whose sold-out hint holds costs no read.
    async fn read_shards(
        &self,
        skus: &[Item],
        read: Read,
    ) -> Result<HashMap<SkuId, Vec<(u8, u64)>>, StoreError> {
        let mut wanted = Vec::new();
        for item in skus.iter().filter(|i| read == Read::Whole || !hinted(i)) {
            let span = number(item, SHARD_SPAN)
                .unwrap_or(1)
                .min(u64::from(MAX_SHARDS)) as u8;
            if span > 1 {
                let sku = SkuId::parse(string(item, "sku").unwrap_or_default())
                    .map_err(|_| StoreError::Failed("a stored SKU has a malformed id".into()))?;
                let shards = number(item, "stock_shards").unwrap_or(1) as u8;
                match read {
                    Read::FirstLook if shards > SHARDS_LOOKED_AT => {
                        // Distinct shards at random (the first steps of a shuffle).
                        let mut ks: Vec<u8> = (0..shards).collect();
                        for i in 0..SHARDS_LOOKED_AT {
                            let j = i + random_shard(shards - i);
                            ks.swap(usize::from(i), usize::from(j));
                        }
                        wanted.extend(
                            ks[..usize::from(SHARDS_LOOKED_AT)]
                                .iter()
                                .map(|k| (sku.clone(), *k)),
                        );
                    }
                    _ => wanted.extend((0..span).map(|k| (sku.clone(), k))),
                }
            }
        }
        let mut shards: HashMap<SkuId, Vec<(u8, u64)>> = HashMap::new();
        let keys = wanted
            .iter()
            .map(|(sku, k)| key_map(keys::sku_shard(sku, *k)));
        let found: HashMap<String, u64> = self
            .batch_get(keys.collect(), read != Read::FirstLook)
            .await?
            .iter()
            .filter_map(|i| Some((string(i, keys::PK)?.to_owned(), number(i, "available")?)))
            .collect();
        for (sku, k) in wanted {
            if let Some(a) = found.get(&keys::sku_shard(&sku, k).0) {
                shards.entry(sku).or_default().push((k, *a));
            }
        }
        Ok(shards)
    }

    /// Items by key, whatever DynamoDB leaves unprocessed for a round
    /// (retried with backoff, within the request's time).
    async fn batch_get(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(build_error)?,
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
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                if request.is_some() {
                    attempt += 1;
                    if attempt > UNPROCESSED_ATTEMPTS || self.out_of_time() {
                        return Err(self.busy("reading items"));
                    }
                    self.backoff(Again::Throttled, attempt).await;
                }
            }
        }
        Ok(found)
    }

    /// Writes a SKU whose stock is (or becomes) sharded: the SKU item and
    /// every shard in one transaction, each conditional on what was read,
    /// so that no unit reserved meanwhile is lost; retried on a collision.
    async fn put_sharded(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        for attempt in 1..=RESHARD_ATTEMPTS {
            let stored = self.read_sku(&u.sku, Read::Whole).await?;
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
            let span = stored
                .as_ref()
                .and_then(|st| number(&st.item, SHARD_SPAN))
                .unwrap_or(1)
                .max(u64::from(old_shards))
                .max(u64::from(shards));
            item.insert(SHARD_SPAN.into(), n(span));
            item.insert("available".into(), n(if shards == 1 { total } else { 0 }));
            // Stock set by staff is a restock: it ends a sold-out hint, or
            // starts one when there is none to sell.
            let restocks = stored.as_ref().and_then(|st| number(&st.item, RESTOCKS));
            let next = restocks.unwrap_or(0) + 1;
            item.insert(RESTOCKS.into(), n(next));
            if total == 0 && shards > 1 {
                item.insert(SOLD_OUT_AT.into(), n(next));
            }
            // Written over what was read: no unit reserved, no restock
            // counted meanwhile is lost.
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .expression_attribute_names("#restocks", RESTOCKS);
            let mut seen = Vec::new();
            match restocks {
                Some(r) => {
                    put = put.expression_attribute_values(":restocks", n(r));
                    seen.push("#restocks = :restocks");
                }
                None => seen.push("attribute_not_exists(#restocks)"),
            }
            match stored.as_ref().and_then(|st| number(&st.item, "available")) {
                Some(a) => {
                    put = put.expression_attribute_values(":seen", n(a));
                    seen.push("available = :seen");
                }
                None => seen.push("attribute_not_exists(available)"),
            }
            put = put.condition_expression(seen.join(" AND "));
            let mut items = vec![TransactWriteItem::builder()
                .put(put.build().map_err(build_error)?)
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
                        .put(put.build().map_err(build_error)?)
                        .build()
                } else if let Some(a) = was {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .condition_expression("available = :seen")
                        .expression_attribute_values(":seen", n(a))
                        .build()
                        .map_err(build_error)?;
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
                        .read_sku(&u.sku, Read::Fresh)
                        .await?
                        .ok_or_else(|| StoreError::Failed("a SKU just written is missing".into()))?
                        .sku()
                }
                Err(StoreError::Busy(_)) if attempt < RESHARD_ATTEMPTS => {
                    self.backoff(Again::Conflict, attempt).await
                }
                Err(e) => return Err(e),
            }
        }
        Err(self.busy("re-balancing a SKU's shards"))
    }
}

impl DynamoStore {
    /// SKU items in one batch, then the shards of the sharded ones in another.
    async fn read_skus(&self, skus: &[SkuId], read: Read) -> Result<Vec<Sku>, StoreError> {
        let mut items = Vec::with_capacity(skus.len());
        let mut unread = Vec::new();
        for s in skus {
            match self.recent_skus.get(s).filter(|_| read == Read::FirstLook) {
                Some(item) => items.push(item),
                None => unread.push(key_map(keys::sku(s))),
            }
        }
        if !unread.is_empty() {
            let found = self.batch_get(unread, read != Read::FirstLook).await?;
            self.recent_skus.keep(&found);
            items.extend(found);
        }
        let mut shards = self.read_shards(&items, read).await?;
        items
            .into_iter()
            .map(|item| {
                let id = string(&item, "sku")
                    .and_then(|s| SkuId::parse(s).ok())
                    .ok_or_else(|| StoreError::Failed("a stored SKU has a malformed id".into()))?;
                let shards = shards.remove(&id).unwrap_or_default();
                StoredSku { item, shards }.sku()
            })
            .collect()
    }
}

/// Where a SKU is sold and at what price, as stored (absent when unset).
fn listing(u: &SkuUpdate) -> Result<Item, StoreError> {
    let mut item = Item::new();
    let encode = |e: serde_dynamo::Error| StoreError::Failed(format!("encode listing: {e}"));
    if let Some(list) = &u.storefronts {
        item.insert(
            "storefronts".into(),
            serde_dynamo::to_attribute_value(list).map_err(encode)?,
        );
    }
    if !u.prices.is_empty() {
        item.insert(
            "prices".into(),
            serde_dynamo::to_attribute_value(&u.prices).map_err(encode)?,
        );
    }
    Ok(item)
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
    item.extend(listing(u)?);
    Ok(item)
}

impl Catalog for DynamoStore {
    async fn get_sku(&self, sku: &SkuId) -> Result<Option<Sku>, StoreError> {
        self.read_sku(sku, Read::Fresh)
            .await?
            .map(|st| st.sku())
            .transpose()
    }

    async fn get_skus(&self, skus: &[SkuId]) -> Result<Vec<Sku>, StoreError> {
        self.read_skus(skus, Read::Fresh).await
    }

    async fn get_skus_recent(&self, skus: &[SkuId]) -> Result<Vec<Sku>, StoreError> {
        self.read_skus(skus, Read::FirstLook).await
    }

    async fn get_stock(&self, skus: &[Sku]) -> Result<Vec<Sku>, StoreError> {
        if skus.iter().any(|s| !s.is_sharded()) {
            let ids: Vec<SkuId> = skus.iter().map(|s| s.sku.clone()).collect();
            return self.read_skus(&ids, Read::Fresh).await;
        }
        // Shards 0.. up to the most the SKU had as read (a shard given back to
        // after a re-balance included).
        let wanted: Vec<(SkuId, u8)> = skus
            .iter()
            .flat_map(|s| {
                let span = s
                    .shard_stock
                    .iter()
                    .map(|(k, _)| k + 1)
                    .max()
                    .unwrap_or(0)
                    .max(s.stock_shards);
                (0..span).map(move |k| (s.sku.clone(), k))
            })
            .collect();
        let found: HashMap<String, u64> = self
            .batch_get(
                wanted
                    .iter()
                    .map(|(sku, k)| key_map(keys::sku_shard(sku, *k)))
                    .collect(),
                true,
            )
            .await?
            .iter()
            .filter_map(|i| Some((string(i, keys::PK)?.to_owned(), number(i, "available")?)))
            .collect();
        Ok(skus
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.shard_stock = wanted
                    .iter()
                    .filter(|(sku, _)| *sku == s.sku)
                    .filter_map(|(sku, k)| Some((*k, *found.get(&keys::sku_shard(sku, *k).0)?)))
                    .collect();
                s.available = s.shard_stock.iter().map(|(_, a)| a).sum();
                s.sold_out = false;
                s
            })
            .collect())
    }

    async fn mark_sold_out(&self, sku: &SkuId, restocks: u64) -> Result<bool, StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(keys::sku(sku))))
            .update_expression("SET #hint = :at")
            .condition_expression("attribute_exists(pk) AND (#restocks = :at OR (attribute_not_exists(#restocks) AND :at = :zero))")
            .expression_attribute_names("#hint", SOLD_OUT_AT)
            .expression_attribute_names("#restocks", RESTOCKS)
            .expression_attribute_values(":at", n(restocks))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        self.recent_skus.forget([sku]);
        match written {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn put_sku(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        self.recent_skus.forget([&u.sku]);
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
        let listed = listing(u)?;
        let mut remove = Vec::new();
        for name in ["storefronts", "prices"] {
            match listed.get(name) {
                Some(v) => {
                    set.push(if name == "prices" {
                        "prices = :prices"
                    } else {
                        "storefronts = :storefronts"
                    });
                    req = req.expression_attribute_values(format!(":{name}"), v.clone());
                }
                None => remove.push(name),
            }
        }
        match u.per_user_limit {
            Some(l) => {
                set.push("per_user_limit = :limit");
                req = req.expression_attribute_values(":limit", n(l));
            }
            None => remove.push("per_user_limit"),
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
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
