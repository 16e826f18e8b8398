//! Buying again (SPEC 2.9): check an earlier order's lines against today's
//! catalog, report what changed, and place what can still be bought.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, IdempotencyKey, OrderId, SkuId};
use crate::money::Cents;
use crate::place::{place_order, PlaceError, PlaceRequest, Placed};
use crate::ports::{Catalog, Orders};
use crate::read::{get_order, ReadError};
use crate::time::Timestamp;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    pub sku: SkuId,
    /// `delisted` or `insufficient_stock`.
    pub reason: &'static str,
    pub available: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceChange {
    pub sku: SkuId,
    pub old_price_cents: Cents,
    pub new_price_cents: Cents,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepurchaseReport {
    pub unavailable: Vec<Unavailable>,
    pub price_changes: Vec<PriceChange>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepurchaseError {
    #[error("no such order")]
    NotFound,
    #[error("none of the lines can be bought again")]
    NothingToBuy(RepurchaseReport),
    #[error(transparent)]
    Place(#[from] PlaceError),
}

impl From<StoreError> for RepurchaseError {
    fn from(e: StoreError) -> Self {
        RepurchaseError::Place(PlaceError::Store(e))
    }
}

impl Problem for RepurchaseError {
    fn kind(&self) -> ErrorKind {
        match self {
            RepurchaseError::NotFound => ErrorKind::NotFound,
            RepurchaseError::NothingToBuy(_) => ErrorKind::Conflict,
            RepurchaseError::Place(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            RepurchaseError::NotFound => "order_not_found",
            RepurchaseError::NothingToBuy(_) => "nothing_to_repurchase",
            RepurchaseError::Place(e) => e.code(),
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            RepurchaseError::NothingToBuy(report) => Some(json!({ "report": report })),
            RepurchaseError::Place(e) => e.details(),
            RepurchaseError::NotFound => None,
        }
    }
}

/// The report, and the new order unless `dry_run`.
pub async fn repurchase<S: Catalog + Orders>(
    store: &S,
    cfg: &crate::config::Config,
    caller: &Caller,
    order_id: &OrderId,
    key: Option<IdempotencyKey>,
    dry_run: bool,
    now: Timestamp,
) -> Result<(RepurchaseReport, Option<Placed>), RepurchaseError> {
    let earlier = get_order(store, caller, order_id)
        .await
        .map_err(|e| match e {
            ReadError::Store(s) => RepurchaseError::from(s),
            _ => RepurchaseError::NotFound,
        })?;
    let ids: Vec<SkuId> = earlier.lines.iter().map(|l| l.sku.clone()).collect();
    let catalog: HashMap<SkuId, _> = store
        .get_skus(&ids)
        .await?
        .into_iter()
        .map(|s| (s.sku.clone(), s))
        .collect();

    let mut report = RepurchaseReport::default();
    let mut lines = Vec::new();
    for line in &earlier.lines {
        let Some(sku) = catalog.get(&line.sku).filter(|s| s.listed) else {
            report.unavailable.push(Unavailable {
                sku: line.sku.clone(),
                reason: "delisted",
                available: None,
            });
            continue;
        };
        if sku.price_cents != line.unit_price_cents {
            report.price_changes.push(PriceChange {
                sku: line.sku.clone(),
                old_price_cents: line.unit_price_cents,
                new_price_cents: sku.price_cents,
            });
        }
        if sku.available < u64::from(line.qty) {
            report.unavailable.push(Unavailable {
                sku: line.sku.clone(),
                reason: "insufficient_stock",
                available: Some(sku.available),
            });
            continue;
        }
        lines.push((line.sku.clone(), line.qty));
    }

    if dry_run {
        return Ok((report, None));
    }
    if lines.is_empty() {
        return Err(RepurchaseError::NothingToBuy(report));
    }
    let request = PlaceRequest {
        lines,
        address: earlier.address.clone(),
        note: None,
    };
    let placed = place_order(store, cfg, caller, key, &request, now).await?;
    Ok((report, Some(placed)))
}
