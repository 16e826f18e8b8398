//! SKUs: read one or many (consistent), and staff's create-or-update.

use super::{backoff, decode_error, key_map, keys, n, s, sdk_error, DynamoStore};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use domain::catalog::{Sku, SkuUpdate};
use domain::error::StoreError;
use domain::ids::SkuId;
use domain::ports::Catalog;

/// Rounds of a batch read whose keys DynamoDB left unprocessed (throttling).
const UNPROCESSED_ATTEMPTS: u32 = 8;

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
