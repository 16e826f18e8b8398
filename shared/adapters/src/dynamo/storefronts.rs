//! Storefronts' settings (SPEC 2.13): one small partition holds them all,
//! read whole (one query) and kept by each process for
//! [`SETTINGS_FOR_SECS`](domain::storefront::SETTINGS_FOR_SECS), since every
//! buyer request needs its storefront.

use super::{decode_error, key_map, keys, s, sdk_error, DynamoStore, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::error::StoreError;
use domain::ports::Storefronts;
use domain::storefront::{Storefront, StorefrontId, SETTINGS_FOR_SECS};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A storefront missing from the copy is looked up again at most this often.
const MISS_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// Every storefront as read, and when.
type Snapshot = Option<(Instant, Arc<Vec<Storefront>>)>;

/// This process's copy of every storefront.
#[derive(Debug, Clone, Default)]
pub(super) struct StorefrontCopy(Arc<Mutex<Snapshot>>);

impl StorefrontCopy {
    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The copy, if younger than `age`.
    fn younger_than(&self, age: Duration) -> Option<Arc<Vec<Storefront>>> {
        match &*self.lock() {
            Some((at, all)) if at.elapsed() < age => Some(all.clone()),
            _ => None,
        }
    }

    fn keep(&self, all: Vec<Storefront>) -> Arc<Vec<Storefront>> {
        let all = Arc::new(all);
        *self.lock() = Some((Instant::now(), all.clone()));
        all
    }

    fn forget(&self) {
        *self.lock() = None;
    }
}

impl DynamoStore {
    /// Every storefront, read from the table.
    async fn read_storefronts(&self) -> Result<Arc<Vec<Storefront>>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::STOREFRONTS))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                found.push(
                    serde_dynamo::from_item::<Item, Storefront>(item.clone())
                        .map_err(|e| decode_error("storefront", e))?,
                );
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(self.storefronts.keep(found))
    }
}

impl Storefronts for DynamoStore {
    async fn list_storefronts(&self) -> Result<Vec<Storefront>, StoreError> {
        let all = match self
            .storefronts
            .younger_than(Duration::from_secs(SETTINGS_FOR_SECS))
        {
            Some(all) => all,
            None => self.read_storefronts().await?,
        };
        Ok(all.as_ref().clone())
    }

    async fn get_storefront(&self, id: &StorefrontId) -> Result<Option<Storefront>, StoreError> {
        let find = |all: &[Storefront]| all.iter().find(|sf| &sf.id == id).cloned();
        if let Some(all) = self
            .storefronts
            .younger_than(Duration::from_secs(SETTINGS_FOR_SECS))
        {
            if let Some(sf) = find(&all) {
                return Ok(Some(sf));
            }
            // Not in a copy this fresh: not there.
            if self.storefronts.younger_than(MISS_AGAIN_AFTER).is_some() {
                return Ok(None);
            }
        }
        Ok(find(&self.read_storefronts().await?))
    }

    async fn put_storefront(&self, sf: &Storefront) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(sf)
            .map_err(|e| StoreError::Failed(format!("encode storefront: {e}")))?;
        item.extend(key_map(keys::storefront(&sf.id)));
        item.insert(keys::ENTITY.into(), AttributeValue::S("storefront".into()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        self.storefronts.forget();
        Ok(())
    }
}
