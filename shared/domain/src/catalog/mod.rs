//! SKUs: what we sell, where it ships from, and how its stock is held.

pub mod shards;

use crate::error::{ErrorKind, Problem};
use crate::ids::{SkuId, SupplierId, WarehouseId};
use crate::money::Cents;
use crate::storefront::StorefrontId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who fulfils a SKU.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Source {
    #[serde(rename = "self")]
    SelfOperated {
        warehouse: WarehouseId,
    },
    Dropship {
        supplier: SupplierId,
    },
    Jd,
}

impl Source {
    /// The split key: one package per distinct value.
    pub fn package_key(&self) -> String {
        match self {
            Source::SelfOperated { warehouse } => format!("self:{warehouse}"),
            Source::Dropship { supplier } => format!("dropship:{supplier}"),
            Source::Jd => "jd".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StockPolicy {
    /// Reserved when the order is placed.
    LockOnPlace,
    /// Deducted when the payment arrives.
    DeductOnPay,
}

/// A catalog entry as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sku {
    pub sku: SkuId,
    pub name: String,
    pub price_cents: Cents,
    pub source: Source,
    pub stock_policy: StockPolicy,
    pub listed: bool,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub per_user_limit: Option<u32>,
    /// The sum of the shards when the stock is sharded.
    pub available: u64,
    /// Items the stock is held in (SPEC 2.1: 1..=64; more let more orders a
    /// second take it, for a flash sale).
    #[serde(default = "one_shard")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub stock_shards: u8,
    /// The storefronts selling it (SPEC 2.13); absent: every storefront.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storefronts: Option<Vec<StorefrontId>>,
    /// Prices in some storefronts, over `price_cents`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<StorefrontId, Cents>,
    /// Units in each shard as read (sharded stock only; never shown).
    #[serde(skip)]
    pub shard_stock: Vec<(u8, u64)>,
    /// How many times stock was given back to the shards or set by staff:
    /// a sold-out hint holds for the count it was written at. Never shown.
    #[serde(skip)]
    pub restocks: u64,
    /// A sharded SKU found sold out with no restock since (the hint on its
    /// item): its shards went unread, they hold nothing. Never shown.
    #[serde(skip)]
    pub sold_out: bool,
}

/// The most shard items one SKU's stock may be spread over.
pub const MAX_SHARDS: u8 = 64;

fn one_shard() -> u8 {
    1
}

/// A shard to start from: placements spread over the shards at random, and
/// fall over to the next one when it is short.
pub fn random_shard(shards: u8) -> u8 {
    let r = ulid::Ulid::new().random();
    (r % u128::from(shards.max(1))) as u8
}

impl Sku {
    /// True when `storefront` sells it (whether it is listed at all is `listed`).
    pub fn sold_in(&self, storefront: &StorefrontId) -> bool {
        self.storefronts
            .as_ref()
            .is_none_or(|list| list.contains(storefront))
    }

    /// Its price in `storefront`.
    pub fn price_in(&self, storefront: &StorefrontId) -> Cents {
        self.prices
            .get(storefront)
            .copied()
            .unwrap_or(self.price_cents)
    }

    /// A shard to take `qty` from: one at random among those read holding
    /// that many, None when none does. Choosing from what was read spares
    /// the shards writes that could only fail: once a sale is over, every
    /// late buyer's try would otherwise cost a write on each empty shard,
    /// the write capacity the sale runs on.
    pub fn pick_shard(&self, qty: u32) -> Option<u8> {
        let able: Vec<u8> = self
            .shard_stock
            .iter()
            .filter(|(k, a)| *a >= u64::from(qty) && *k < self.stock_shards)
            .map(|(k, _)| *k)
            .collect();
        if able.is_empty() {
            return None;
        }
        Some(able[usize::from(random_shard(able.len().min(255) as u8))])
    }

    /// Where to take `qty` from, as read: `(shard, units)`. One shard at
    /// random among those holding it all (buyers spread over the shards);
    /// else the fullest shards first, so the fewest items join the
    /// transaction. None when the shards hold less than `qty` in all.
    pub fn plan_takes(&self, qty: u32) -> Option<Vec<(u8, u32)>> {
        if let Some(k) = self.pick_shard(qty) {
            return Some(vec![(k, qty)]);
        }
        let mut live: Vec<(u8, u64)> = self
            .shard_stock
            .iter()
            .copied()
            .filter(|(k, a)| *k < self.stock_shards && *a > 0)
            .collect();
        live.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut left = u64::from(qty);
        let mut takes = Vec::new();
        for (k, a) in live {
            if left == 0 {
                break;
            }
            let t = a.min(left);
            takes.push((k, t as u32));
            left -= t;
        }
        (left == 0).then_some(takes)
    }

    /// True when the stock is held in shard items.
    pub fn is_sharded(&self) -> bool {
        self.stock_shards > 1
    }

    /// SPEC 2.2: scarce when available < 2 x qty or < 10.
    pub fn is_scarce_for(&self, qty: u32) -> bool {
        self.available < 2 * u64::from(qty) || self.available < 10
    }
}

/// Body of `PUT /skus/{sku}`. `available` may be left out to keep the current stock.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkuInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10000000000_i64))]
    pub price_cents: i64,
    pub source: Source,
    pub stock_policy: StockPolicy,
    #[serde(default = "yes")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub listed: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 999))]
    pub per_user_limit: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub available: Option<i64>,
    /// Left out: kept as it is.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 64))]
    pub stock_shards: Option<i64>,
    /// The storefronts selling it; left out: every storefront (SPEC 2.13).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub storefronts: Option<Vec<StorefrontId>>,
    /// Prices in some storefronts (storefront id to cents), over `price_cents`.
    #[serde(default)]
    pub prices: Option<BTreeMap<StorefrontId, i64>>,
}

fn yes() -> bool {
    true
}

/// A validated catalog write. `available: None` keeps the stored stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuUpdate {
    pub sku: SkuId,
    pub name: String,
    pub price_cents: Cents,
    pub source: Source,
    pub stock_policy: StockPolicy,
    pub listed: bool,
    pub per_user_limit: Option<u32>,
    pub available: Option<u64>,
    /// `None` keeps the stored shard count.
    pub stock_shards: Option<u8>,
    pub storefronts: Option<Vec<StorefrontId>>,
    pub prices: BTreeMap<StorefrontId, Cents>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(String),
    #[error("no SKU {0}")]
    NotFound(String),
    #[error("only staff may change the catalog")]
    Forbidden,
}

impl Problem for CatalogError {
    fn kind(&self) -> ErrorKind {
        match self {
            CatalogError::Invalid(_) => ErrorKind::Unprocessable,
            CatalogError::NotFound(_) => ErrorKind::NotFound,
            CatalogError::Forbidden => ErrorKind::Forbidden,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            CatalogError::Invalid(_) => "invalid_sku",
            CatalogError::NotFound(_) => "sku_not_found",
            CatalogError::Forbidden => "forbidden",
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            CatalogError::NotFound(sku) => Some(serde_json::json!({ "sku": sku })),
            _ => None,
        }
    }
}

impl SkuInput {
    pub fn validate(self, sku: SkuId) -> Result<SkuUpdate, CatalogError> {
        let invalid = |m: &str| Err(CatalogError::Invalid(m.to_owned()));
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return invalid("name must be 1 to 200 characters");
        }
        if self.price_cents < 0 || self.price_cents as u64 > Cents::MAX_PRICE.0 {
            return invalid("price_cents must be between 0 and 10000000000");
        }
        let per_user_limit = match self.per_user_limit {
            None => None,
            Some(n) if (1..=999).contains(&n) => Some(n as u32),
            Some(_) => return invalid("per_user_limit must be between 1 and 999"),
        };
        let available = match self.available {
            None => None,
            Some(n) if (0..=1_000_000_000).contains(&n) => Some(n as u64),
            Some(_) => return invalid("available must be between 0 and 1000000000"),
        };
        let stock_shards = match self.stock_shards {
            None => None,
            Some(n) if (1..=i64::from(MAX_SHARDS)).contains(&n) => Some(n as u8),
            Some(_) => return invalid("stock_shards must be between 1 and 64"),
        };
        if self.storefronts.as_ref().is_some_and(|l| l.len() > 50) {
            return invalid("storefronts: at most 50");
        }
        let mut prices = BTreeMap::new();
        for (sf, cents) in self.prices.unwrap_or_default() {
            if cents < 0 || cents as u64 > Cents::MAX_PRICE.0 {
                return invalid("prices must be between 0 and 10000000000");
            }
            prices.insert(sf, Cents(cents as u64));
        }
        if prices.len() > 50 {
            return invalid("prices: at most 50 storefronts");
        }
        let storefronts = self.storefronts.map(|mut l| {
            l.sort();
            l.dedup();
            l
        });
        Ok(SkuUpdate {
            storefronts,
            prices,
            stock_shards,
            sku,
            name,
            price_cents: Cents(self.price_cents as u64),
            source: self.source,
            stock_policy: self.stock_policy,
            listed: self.listed,
            per_user_limit,
            available,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_json_matches_spec() {
        let s: Source = serde_json::from_str(r#"{"kind":"self","warehouse":"WH-1"}"#).unwrap();
        assert_eq!(s.package_key(), "self:WH-1");
        let d: Source = serde_json::from_str(r#"{"kind":"dropship","supplier":"S-1"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"kind":"dropship","supplier":"S-1"}"#
        );
        let j: Source = serde_json::from_str(r#"{"kind":"jd"}"#).unwrap();
        assert_eq!(j, Source::Jd);
        assert!(serde_json::from_str::<Source>(r#"{"kind":"mars"}"#).is_err());
    }

    #[test]
    fn scarcity_rule() {
        let mut s = Sku {
            sku: SkuId::parse("A").unwrap(),
            name: "a".into(),
            price_cents: Cents(100),
            source: Source::Jd,
            stock_policy: StockPolicy::DeductOnPay,
            listed: true,
            per_user_limit: None,
            available: 9,
            stock_shards: 1,
            shard_stock: vec![],
            restocks: 0,
            sold_out: false,
            storefronts: None,
            prices: Default::default(),
        };
        assert!(s.is_scarce_for(1));
        s.available = 10;
        assert!(!s.is_scarce_for(5));
        assert!(s.is_scarce_for(6));
    }

    #[test]
    fn a_shard_is_picked_among_those_holding_the_quantity() {
        let mut s = Sku {
            sku: SkuId::parse("HOT").unwrap(),
            name: "hot".into(),
            price_cents: Cents(100),
            source: Source::Jd,
            stock_policy: StockPolicy::LockOnPlace,
            listed: true,
            per_user_limit: None,
            available: 5,
            stock_shards: 4,
            // Shard 5 is left over from a re-balance to fewer shards.
            shard_stock: vec![(0, 0), (1, 3), (2, 1), (3, 0), (5, 9)],
            restocks: 0,
            sold_out: false,
            storefronts: None,
            prices: Default::default(),
        };
        for _ in 0..50 {
            assert!(matches!(s.pick_shard(1), Some(1 | 2)));
            assert_eq!(s.pick_shard(2), Some(1));
        }
        assert_eq!(s.pick_shard(4), None, "no shard holds 4");
        s.shard_stock = vec![(0, 0), (1, 0), (2, 0), (3, 0)];
        assert_eq!(s.pick_shard(1), None, "sold out: nothing to write");
        assert_eq!(s.plan_takes(1), None);
    }

    #[test]
    fn a_quantity_no_shard_holds_is_taken_from_several_fullest_first() {
        let mut s = Sku {
            sku: SkuId::parse("HOT").unwrap(),
            name: "n".into(),
            price_cents: Cents(1),
            source: Source::Jd,
            stock_policy: StockPolicy::LockOnPlace,
            listed: true,
            per_user_limit: None,
            available: 13,
            stock_shards: 4,
            // Shard 5 is left over from a re-balance: never taken from.
            shard_stock: vec![(0, 2), (1, 3), (2, 0), (3, 1), (5, 9)],
            restocks: 0,
            sold_out: false,
            storefronts: None,
            prices: Default::default(),
        };
        assert_eq!(s.plan_takes(5), Some(vec![(1, 3), (0, 2)]));
        assert_eq!(s.plan_takes(6), Some(vec![(1, 3), (0, 2), (3, 1)]));
        assert_eq!(s.plan_takes(7), None, "six units in the live shards");
        let one = s.plan_takes(3).unwrap();
        assert_eq!(one, vec![(1, 3)], "one shard holds it all");
        s.shard_stock = (0..4).map(|k| (k, 1)).collect();
        let spread = s.plan_takes(4).unwrap();
        assert_eq!(crate::catalog::shards::units(&spread), 4);
        assert_eq!(spread.len(), 4);
    }

    #[test]
    fn input_is_validated() {
        let validate = |extra: serde_json::Value| {
            let mut body = serde_json::json!({"name": " Tea ", "price_cents": 1300,
                "source": {"kind": "jd"}, "stock_policy": "lock_on_place"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<SkuInput>(body)
                .unwrap()
                .validate(SkuId::parse("T").unwrap())
        };
        let ok = validate(
            serde_json::json!({"per_user_limit": 999, "available": 1_000_000_000,
            "stock_shards": 64, "listed": false}),
        )
        .unwrap();
        assert_eq!(ok.name, "Tea", "trimmed");
        assert_eq!(
            (
                ok.price_cents,
                ok.per_user_limit,
                ok.available,
                ok.stock_shards,
                ok.listed
            ),
            (Cents(1300), Some(999), Some(1_000_000_000), Some(64), false)
        );
        let kept = validate(serde_json::json!({})).unwrap();
        assert_eq!(
            (kept.available, kept.stock_shards, kept.listed),
            (None, None, true)
        );
        for bad in [
            serde_json::json!({"price_cents": -1}),
            serde_json::json!({"price_cents": 10_000_000_001_i64}),
            serde_json::json!({"name": "  "}),
            serde_json::json!({"name": "x".repeat(201)}),
            serde_json::json!({"per_user_limit": 0}),
            serde_json::json!({"per_user_limit": 1000}),
            serde_json::json!({"available": -1}),
            serde_json::json!({"available": 1_000_000_001}),
            serde_json::json!({"stock_shards": 0}),
            serde_json::json!({"stock_shards": 65}),
        ] {
            assert!(validate(bad.clone()).is_err(), "{bad} was accepted");
        }
    }
}
