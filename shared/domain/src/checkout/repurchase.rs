//! Buying again (SPEC 2.9): check an earlier order's lines against today's
//! catalog, report what changed, and place what can still be bought.

use crate::catalog::Sku;
use crate::checkout::place::{place_fingerprinted, replay, PlaceError, PlaceRequest, Placed};
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, IdempotencyKey, OrderId, SkuId};
use crate::money::Cents;
use crate::order::read::{get_order, ReadError};
use crate::order::Order;
use crate::ports::{Catalog, Orders, Storefronts};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Why a line cannot be bought again (the OpenAPI document's enum is this list).
pub const UNAVAILABLE_REASONS: [&str; 3] = ["delisted", "not_listed_here", "insufficient_stock"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unavailable {
    pub sku: SkuId,
    /// One of [`UNAVAILABLE_REASONS`].
    pub reason: &'static str,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub available: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceChange {
    pub sku: SkuId,
    pub old_price_cents: Cents,
    pub new_price_cents: Cents,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// What an `Idempotency-Key` stands for in a buy-again: buying `source` again.
/// Not the placed lines, which depend on the stock at the time (the first call
/// may itself take the last units); never equal to a placement's fingerprint.
pub fn fingerprint(source: &OrderId) -> String {
    let digest = Sha256::digest(format!("repurchase:v1:{source}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The report, and the new order unless `dry_run`. With an Idempotency-Key a
/// retry returns the order the first call made, before anything is checked
/// against today's stock (which that order itself has reduced).
pub async fn repurchase<S: Catalog + Orders + Storefronts>(
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
    // Buying again is the owner's: staff see the order but do not buy it.
    if earlier.user_id != caller.user {
        return Err(RepurchaseError::NotFound);
    }
    let fingerprint = fingerprint(order_id);
    // The key is checked first; a dry run writes nothing and only reports.
    if let Some(key) = key.as_ref().filter(|_| !dry_run) {
        if let Some(placed) = replay(store, &caller.user, key, &fingerprint).await? {
            let report = replayed_report(store, &earlier, &placed.order).await?;
            return Ok((report, Some(placed)));
        }
    }

    let catalog = skus_of(store, earlier.lines.iter().map(|l| &l.sku)).await?;
    let (report, lines) = check(&earlier, &catalog, &caller.storefront, None);
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
    let placed = place_fingerprinted(store, cfg, caller, key, &request, &fingerprint, now).await?;
    Ok((report, Some(placed)))
}

/// The report a replay answers with. What the first call reported is not
/// stored, so it is rebuilt from what is: a line the replayed order holds was
/// bought, and reports only its price change (the earlier order's price against
/// the one it was bought at, exactly as first reported); a line it lacks was
/// left out, and is checked against today's catalog like any line, since why
/// it was left out (delisted or short, and how short) was not kept.
async fn replayed_report<S: Catalog>(
    store: &S,
    earlier: &Order,
    bought: &Order,
) -> Result<RepurchaseReport, RepurchaseError> {
    let left_out = earlier
        .lines
        .iter()
        .map(|l| &l.sku)
        .filter(|sku| !bought.lines.iter().any(|b| &b.sku == *sku));
    let catalog = skus_of(store, left_out).await?;
    Ok(check(earlier, &catalog, &bought.storefront, Some(bought)).0)
}

async fn skus_of<'a, S: Catalog>(
    store: &S,
    ids: impl Iterator<Item = &'a SkuId>,
) -> Result<HashMap<SkuId, Sku>, StoreError> {
    let ids: Vec<SkuId> = ids.cloned().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(store
        .get_skus(&ids)
        .await?
        .into_iter()
        .map(|s| (s.sku.clone(), s))
        .collect())
}

/// Checks each line of the earlier order: the report, and the lines that can
/// be bought. A line of `bought` (the order a replayed key made) counts as
/// bought at that order's price; any other line is checked against `catalog`.
/// What can be bought again in `storefront`, at its prices there.
fn check(
    earlier: &Order,
    catalog: &HashMap<SkuId, Sku>,
    storefront: &StorefrontId,
    bought: Option<&Order>,
) -> (RepurchaseReport, Vec<(SkuId, u32)>) {
    let mut report = RepurchaseReport::default();
    let mut lines = Vec::new();
    for line in &earlier.lines {
        let price_change = |new_price_cents: Cents| {
            (new_price_cents != line.unit_price_cents).then(|| PriceChange {
                sku: line.sku.clone(),
                old_price_cents: line.unit_price_cents,
                new_price_cents,
            })
        };
        if let Some(b) = bought.and_then(|o| o.lines.iter().find(|b| b.sku == line.sku)) {
            report
                .price_changes
                .extend(price_change(b.unit_price_cents));
            lines.push((line.sku.clone(), b.qty));
            continue;
        }
        let Some(sku) = catalog.get(&line.sku).filter(|s| s.listed) else {
            report.unavailable.push(Unavailable {
                sku: line.sku.clone(),
                reason: "delisted",
                available: None,
            });
            continue;
        };
        if !sku.sold_in(storefront) {
            report.unavailable.push(Unavailable {
                sku: line.sku.clone(),
                reason: "not_listed_here",
                available: None,
            });
            continue;
        }
        report
            .price_changes
            .extend(price_change(sku.price_in(storefront)));
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
    (report, lines)
}
