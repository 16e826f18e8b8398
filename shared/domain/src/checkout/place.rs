//! Placing an order (SPEC 2.2): parse and validate the request, price it from
//! the catalog, split it into packages, allocate freight, and hand it to the
//! store to write atomically with its reservations.

use crate::catalog::shards::{Plan, ShardView};
use crate::catalog::{Sku, StockPolicy};
use crate::checkout::split::{allocate_freight, order_freight, split_by_source};
use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, IdempotencyKey, OrderId, PackageId, SkuId, UserId};
use crate::money::Cents;
use crate::order::{
    Address, NewOrder, Order, OrderLine, OrderTerms, Package, PackageLine, Warning,
};
use crate::ports::{
    Catalog, CreateOrderError, IdempotencyRecord, LimitBreach, Orders, Shortage, Storefronts,
};
use crate::storefront::{self, LookupError, Storefront, StorefrontId, UnknownStorefront};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_LINES: usize = 50;
pub const MAX_QTY: u32 = 999;
/// A placement is one atomic write: the order, the idempotency record, and one
/// item per reserved or limited line must fit in it.
pub const MAX_ATOMIC_WRITES: usize = 100;
/// How long an idempotency record is kept.
pub const IDEMPOTENCY_TTL_SECS: u64 = 7 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("qty for {sku} must be between 1 and 999")]
    InvalidQty { sku: String, qty: serde_json::Value },
    #[error("an order has at most 50 lines; this one has {0}")]
    TooManyLines(usize),
    #[error("an order needs at least one line")]
    NoLines,
    #[error("{0}")]
    InvalidAddress(String),
    #[error("unknown SKU: {}", join(.0))]
    SkuNotFound(Vec<SkuId>),
    #[error("no longer sold: {}", join(.0))]
    Delisted(Vec<SkuId>),
    #[error("not sold in storefront {storefront}: {}", join(.skus))]
    NotListedHere {
        skus: Vec<SkuId>,
        storefront: StorefrontId,
    },
    #[error(transparent)]
    UnknownStorefront(#[from] UnknownStorefront),
    #[error("not enough stock for: {}", .0.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>().join(", "))]
    OutOfStock(Vec<Shortage>),
    #[error("purchase limit exceeded for: {}", .0.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>().join(", "))]
    PurchaseLimit(Vec<LimitBreach>),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join(skus: &[SkuId]) -> String {
    skus.iter()
        .map(SkuId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

crate::body_errors!(PlaceError);

impl Problem for PlaceError {
    fn kind(&self) -> ErrorKind {
        use PlaceError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) => ErrorKind::BadRequest,
            InvalidQty { .. }
            | TooManyLines(_)
            | NoLines
            | InvalidAddress(_)
            | Delisted(_)
            | NotListedHere { .. }
            | PurchaseLimit(_)
            | IdempotencyKeyReused => ErrorKind::Unprocessable,
            SkuNotFound(_) => ErrorKind::NotFound,
            UnknownStorefront(e) => e.kind(),
            OutOfStock(_) => ErrorKind::Conflict,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use PlaceError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            InvalidQty { .. } => "invalid_qty",
            TooManyLines(_) => "too_many_lines",
            NoLines => "empty_order",
            InvalidAddress(_) => "invalid_address",
            SkuNotFound(_) => "sku_not_found",
            Delisted(_) => "delisted",
            NotListedHere { .. } => "not_listed_here",
            UnknownStorefront(e) => e.code(),
            OutOfStock(_) => "out_of_stock",
            PurchaseLimit(_) => "purchase_limit",
            IdempotencyKeyReused => "idempotency_key_reused",
            Store(e) => e.code(),
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        use PlaceError::*;
        match self {
            InvalidQty { sku, qty } => {
                Some(json!({ "sku": sku, "qty": qty, "min": 1, "max": MAX_QTY }))
            }
            TooManyLines(n) => Some(json!({ "lines": n, "max": MAX_LINES })),
            SkuNotFound(skus) => Some(json!({ "sku": skus.first(), "skus": skus })),
            Delisted(skus) => Some(json!({ "sku": skus.first(), "skus": skus })),
            NotListedHere { skus, storefront } => {
                Some(json!({ "sku": skus.first(), "skus": skus, "storefront": storefront }))
            }
            UnknownStorefront(e) => e.details(),
            OutOfStock(s) => Some(json!({ "skus": s })),
            PurchaseLimit(b) => Some(json!({ "skus": b })),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PlaceOrderLine))]
struct RawLine {
    #[cfg_attr(feature = "openapi", schema(value_type = SkuId))]
    sku: String,
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 1, maximum = 999))]
    qty: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AddressInput))]
struct RawAddress {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    phone: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    line1: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    city: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16))]
    postcode: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PlaceOrderRequest))]
struct RawPlace {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    lines: Vec<RawLine>,
    address: RawAddress,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    note: Option<String>,
}

/// A validated placement request: SKUs merged and sorted, address checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::OpenApi),
    openapi(components(schemas(RawPlace)))
)]
pub struct PlaceRequest {
    pub lines: Vec<(SkuId, u32)>,
    pub address: Address,
    pub note: Option<String>,
}

fn text_field(name: &str, value: String, max: usize) -> Result<String, PlaceError> {
    let v = value.trim().to_owned();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(PlaceError::InvalidAddress(format!(
            "address.{name} must be 1 to {max} characters"
        )));
    }
    Ok(v)
}

impl PlaceRequest {
    /// Parses a `POST /orders` body.
    pub fn parse(body: &[u8]) -> Result<Self, PlaceError> {
        let raw: RawPlace = crate::body::parse(body)?;
        Self::validate(raw)
    }

    fn validate(raw: RawPlace) -> Result<Self, PlaceError> {
        if raw.lines.is_empty() {
            return Err(PlaceError::NoLines);
        }
        if raw.lines.len() > MAX_LINES {
            return Err(PlaceError::TooManyLines(raw.lines.len()));
        }
        let mut merged: BTreeMap<SkuId, u32> = BTreeMap::new();
        for line in raw.lines {
            let qty = match line.qty.as_u64() {
                Some(q) if (1..=u64::from(MAX_QTY)).contains(&q) => q as u32,
                _ => {
                    return Err(PlaceError::InvalidQty {
                        sku: line.sku,
                        qty: line.qty,
                    })
                }
            };
            let sku = SkuId::parse(&line.sku).map_err(|e| {
                PlaceError::InvalidRequest(format!("lines[].sku {:?}: {e}", line.sku))
            })?;
            let total = merged.entry(sku.clone()).or_insert(0);
            *total += qty;
            if *total > MAX_QTY {
                return Err(PlaceError::InvalidQty {
                    sku: sku.to_string(),
                    qty: json!(*total),
                });
            }
        }
        let a = raw.address;
        let address = Address {
            name: text_field("name", a.name, 100)?,
            phone: text_field("phone", a.phone, 32)?,
            line1: text_field("line1", a.line1, 200)?,
            city: text_field("city", a.city, 100)?,
            postcode: text_field("postcode", a.postcode, 16)?,
        };
        let note = match raw.note.map(|n| n.trim().to_owned()) {
            Some(n) if n.chars().count() > 500 => {
                return Err(PlaceError::InvalidRequest(
                    "note must be at most 500 characters".into(),
                ))
            }
            Some(n) if n.is_empty() => None,
            n => n,
        };
        Ok(Self {
            lines: merged.into_iter().collect(),
            address,
            note,
        })
    }

    /// Identifies the request for idempotency: equal requests hash equally
    /// whatever their JSON spacing or line order.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&canonical);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Prices, splits and allocates freight: the order as it will be written.
/// `skus` must hold every SKU of the request, all listed.
pub fn build_order(
    id: OrderId,
    user: &UserId,
    req: &PlaceRequest,
    skus: &BTreeMap<SkuId, Sku>,
    storefront: &Storefront,
    env: &Config,
    now: Timestamp,
) -> Order {
    let cfg = &storefront.terms(env);
    let catalog: Vec<&Sku> = req.lines.iter().map(|(sku, _)| &skus[sku]).collect();
    let sources: Vec<_> = catalog.iter().map(|s| &s.source).collect();
    let groups = split_by_source(&sources);

    let mut package_of = vec![0usize; req.lines.len()];
    for (p, group) in groups.iter().enumerate() {
        for &i in group {
            package_of[i] = p;
        }
    }
    let package_ids: Vec<PackageId> = (0..groups.len())
        .map(|p| PackageId::new(&id, p + 1))
        .collect();

    let lines: Vec<OrderLine> = req
        .lines
        .iter()
        .zip(&catalog)
        .enumerate()
        .map(|(i, ((sku, qty), s))| OrderLine {
            sku: sku.clone(),
            name: s.name.clone(),
            qty: *qty,
            unit_price_cents: s.price_in(&storefront.id),
            line_total_cents: s.price_in(&storefront.id).times(*qty),
            source: s.source.clone(),
            stock_policy: s.stock_policy,
            per_user_limit: s.per_user_limit,
            package_id: package_ids[package_of[i]].clone(),
            stock_shards: s.stock_shards.max(1),
            shard: None,
            // A sharded reservation takes from the shards as read (none
            // holding enough: out of stock before anything is written).
            takes: if s.stock_policy == StockPolicy::LockOnPlace && s.is_sharded() {
                s.plan_takes(*qty).unwrap_or_default()
            } else {
                Vec::new()
            },
        })
        .collect();

    let goods_cents: Cents = lines.iter().map(|l| l.line_total_cents).sum();
    let freight_cents = order_freight(goods_cents, cfg.freight, cfg.free_shipping_over);
    let package_goods: Vec<Cents> = groups
        .iter()
        .map(|g| g.iter().map(|&i| lines[i].line_total_cents).sum())
        .collect();
    let freight_parts = allocate_freight(cfg.freight_policy, freight_cents, &package_goods);

    let packages = groups
        .iter()
        .enumerate()
        .map(|(p, group)| {
            Package::new(
                package_ids[p].clone(),
                lines[group[0]].source.clone(),
                group
                    .iter()
                    .map(|&i| PackageLine {
                        sku: lines[i].sku.clone(),
                        qty: lines[i].qty,
                        line_total_cents: lines[i].line_total_cents,
                    })
                    .collect(),
                package_goods[p],
                freight_parts[p],
            )
        })
        .collect();

    let warnings = req
        .lines
        .iter()
        .zip(&catalog)
        .filter(|((_, qty), s)| s.stock_policy == StockPolicy::DeductOnPay && s.is_scarce_for(*qty))
        .map(|((sku, _), _)| Warning {
            code: "scarce".to_owned(),
            sku: sku.clone(),
            message: "in short supply, pay promptly".to_owned(),
        })
        .collect();

    Order::place(NewOrder {
        id,
        user_id: user.clone(),
        lines,
        packages,
        freight_cents,
        freight_policy: cfg.freight_policy,
        address: req.address.clone(),
        note: req.note.clone(),
        warnings,
        created_at: now,
        payment_deadline: now.plus_secs(cfg.payment_ttl_secs),
        storefront: storefront.id.clone(),
        terms: OrderTerms {
            after_sales_days: cfg.after_sales_days,
            customer_service_phone: cfg.customer_service_phone.clone(),
        },
    })
}

/// The outcome of a placement.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    /// True when an earlier request with the same Idempotency-Key made it.
    pub replayed: bool,
}

/// Places an order for `caller`. With an Idempotency-Key, a retry returns the
/// order the first request made, and a different body under the same key is refused.
pub async fn place_order<S: Catalog + Orders + Storefronts>(
    store: &S,
    cfg: &Config,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    req: &PlaceRequest,
    now: Timestamp,
) -> Result<Placed, PlaceError> {
    let mut fingerprint = req.fingerprint();
    if !caller.storefront.is_default() {
        // The same key in another storefront is another request.
        fingerprint = format!("{fingerprint}@{}", caller.storefront);
    }
    if let Some(key) = &key {
        if let Some(found) = replay(store, &caller.user, key, &fingerprint).await? {
            return Ok(found);
        }
    }
    place_fingerprinted(store, cfg, caller, key, req, &fingerprint, now).await
}

/// Places `req`, recording `fingerprint` as what the key stands for. The caller
/// has looked for a replay under that fingerprint already.
pub(crate) async fn place_fingerprinted<S: Catalog + Orders + Storefronts>(
    store: &S,
    cfg: &Config,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    req: &PlaceRequest,
    fingerprint: &str,
    now: Timestamp,
) -> Result<Placed, PlaceError> {
    let storefront = storefront::find(store, &caller.storefront)
        .await
        .map_err(|e| match e {
            LookupError::Unknown(u) => PlaceError::UnknownStorefront(u),
            LookupError::Store(s) => PlaceError::Store(s),
        })?;
    let ids: Vec<SkuId> = req.lines.iter().map(|(s, _)| s.clone()).collect();
    let by_id = |skus: Vec<Sku>| -> BTreeMap<SkuId, Sku> {
        skus.into_iter().map(|s| (s.sku.clone(), s)).collect()
    };
    // A first look as of about a second ago; a refusal it would lead to is
    // confirmed by a fresh read, except a sold-out hint's.
    let recent = by_id(store.get_skus_recent(&ids).await?);
    let fresh = doubtful(&recent, req, &storefront.id);
    let skus = if fresh {
        by_id(store.get_skus(&ids).await?)
    } else {
        recent
    };
    let missing: Vec<SkuId> = ids
        .iter()
        .filter(|s| !skus.contains_key(*s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(PlaceError::SkuNotFound(missing));
    }
    let delisted: Vec<SkuId> = ids.iter().filter(|s| !skus[*s].listed).cloned().collect();
    if !delisted.is_empty() {
        return Err(PlaceError::Delisted(delisted));
    }
    let elsewhere: Vec<SkuId> = ids
        .iter()
        .filter(|s| !skus[*s].sold_in(&storefront.id))
        .cloned()
        .collect();
    if !elsewhere.is_empty() {
        return Err(PlaceError::NotListedHere {
            skus: elsewhere,
            storefront: storefront.id.clone(),
        });
    }
    let over: Vec<LimitBreach> = req
        .lines
        .iter()
        .filter_map(|(sku, qty)| {
            let limit = skus[sku].per_user_limit?;
            (*qty > limit).then(|| LimitBreach {
                sku: sku.clone(),
                limit,
                requested: *qty,
                held: None,
            })
        })
        .collect();
    if !over.is_empty() {
        return Err(PlaceError::PurchaseLimit(over));
    }

    // A sharded line that no shard holds (as read) is out of stock before
    // anything is written.
    let unheld: Vec<Shortage> = req
        .lines
        .iter()
        .filter(|(sku, qty)| unheld(&skus[sku], *qty))
        .map(|(sku, qty)| Shortage {
            sku: sku.clone(),
            shard: None,
            requested: *qty,
            available: skus[sku].available,
        })
        .collect();
    if !unheld.is_empty() {
        if fresh {
            let gone = unheld.iter().filter(|s| s.available == 0);
            mark_sold_out(store, gone.map(|s| &skus[&s.sku])).await;
        }
        return Err(PlaceError::OutOfStock(unheld));
    }

    let mut order = build_order(
        OrderId::generate(&now),
        &caller.user,
        req,
        &skus,
        &storefront,
        cfg,
        now,
    );
    if order.largest_transaction() > MAX_ATOMIC_WRITES {
        return Err(PlaceError::TooManyLines(req.lines.len()));
    }
    let record = key.as_ref().map(|key| IdempotencyRecord {
        user: caller.user.clone(),
        key: key.clone(),
        request_hash: fingerprint.to_owned(),
        order_id: order.id.clone(),
        expires_at: now.plus_secs(IDEMPOTENCY_TTL_SECS),
    });
    let mut view = ShardView::new(skus.into_values());
    let mut last_read = false;
    let result = loop {
        match store.create_order(&order, record.as_ref()).await {
            // Another buyer took a shard first: plan its lines again.
            Err(CreateOrderError::OutOfStock(short)) if short.iter().all(|s| s.shard.is_some()) => {
                if !view.lost(&short) {
                    // The budget is spent: one last read tells a sale that
                    // is over (409) from one still going (503, try again).
                    if last_read {
                        break Err(PlaceError::Store(StoreError::Busy(
                            "the shards kept being taken first".into(),
                        )));
                    }
                    last_read = true;
                    let ids: BTreeSet<&SkuId> = short.iter().map(|s| &s.sku).collect();
                    let read: Vec<Sku> =
                        ids.iter().filter_map(|id| view.get(id).cloned()).collect();
                    view.refresh(store.get_stock(&read).await?);
                }
                if let Some(short) = plan_again(store, &mut view, &mut order, &short).await? {
                    break Err(PlaceError::OutOfStock(short));
                }
                if order.largest_transaction() > MAX_ATOMIC_WRITES {
                    break Err(PlaceError::TooManyLines(req.lines.len()));
                }
            }
            other => break Ok(other),
        }
    };
    match result {
        Err(e) => Err(e),
        Ok(Ok(())) => {
            crate::order::events::count(None, &order);
            Ok(Placed {
                order,
                replayed: false,
            })
        }
        Ok(Err(CreateOrderError::OutOfStock(s))) => Err(PlaceError::OutOfStock(s)),
        Ok(Err(CreateOrderError::LimitExceeded(b))) => Err(PlaceError::PurchaseLimit(b)),
        Ok(Err(CreateOrderError::Store(e))) => Err(PlaceError::Store(e)),
        Ok(Err(CreateOrderError::IdempotencyKeyTaken)) => {
            // A concurrent request with the same key won the race.
            let key = key.expect("only keyed placements write a record");
            replay(store, &caller.user, &key, fingerprint)
                .await?
                .ok_or_else(|| {
                    PlaceError::Store(StoreError::Failed("idempotency record vanished".into()))
                })
        }
    }
}

/// A sharded `lock_on_place` line the shards hold too little for.
fn unheld(sku: &Sku, qty: u32) -> bool {
    sku.stock_policy == StockPolicy::LockOnPlace
        && sku.is_sharded()
        && sku.plan_takes(qty).is_none()
}

/// True when a recent read would refuse the request for a reason a fresh
/// read might not: a SKU missing or delisted (just created or listed), a
/// line short (stock just given back), unless a sold-out hint says so.
fn doubtful(recent: &BTreeMap<SkuId, Sku>, req: &PlaceRequest, sf: &StorefrontId) -> bool {
    req.lines.iter().any(|(id, qty)| match recent.get(id) {
        None => true,
        Some(s) => !s.listed || !s.sold_in(sf) || (unheld(s, *qty) && !s.sold_out),
    })
}

/// Leaves a sold-out hint on these sharded SKUs, freshly read as holding
/// nothing, so late buyers are answered without reading every shard. A hint
/// is an optimisation: failing to write one changes no answer.
async fn mark_sold_out<'a, S: Catalog>(store: &S, skus: impl Iterator<Item = &'a Sku>) {
    for s in skus.filter(|s| s.is_sharded() && !s.sold_out && s.available == 0) {
        if let Err(e) = store.mark_sold_out(&s.sku, s.restocks).await {
            tracing::warn!(sku = %s.sku, error = %e, "sold-out hint not written");
        }
    }
}

/// Plans the short lines again from `view`, reading a SKU's shards again
/// only when the view runs dry; the shortages to answer when, freshly read,
/// they hold too little.
async fn plan_again<S: Catalog>(
    store: &S,
    view: &mut ShardView,
    order: &mut Order,
    short: &[Shortage],
) -> Result<Option<Vec<Shortage>>, PlaceError> {
    let ids: BTreeSet<&SkuId> = short.iter().map(|s| &s.sku).collect();
    let mut out = Vec::new();
    for line in order.lines.iter_mut().filter(|l| ids.contains(&l.sku)) {
        loop {
            match view.plan(&line.sku, line.qty) {
                Plan::Takes(takes) => line.takes = takes,
                // A read makes the view fresh: the next plan decides.
                Plan::Read => {
                    let read: Vec<Sku> = view.get(&line.sku).cloned().into_iter().collect();
                    view.refresh(store.get_stock(&read).await?);
                    continue;
                }
                // Freshly read: the refusals made the view stale before.
                Plan::Short(available) => {
                    mark_sold_out(store, view.get(&line.sku).into_iter()).await;
                    out.push(Shortage {
                        sku: line.sku.clone(),
                        shard: None,
                        requested: line.qty,
                        available,
                    })
                }
            }
            break;
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// The order an earlier request with this key made, if any; a key recorded
/// for another request (another fingerprint) is refused.
pub(crate) async fn replay<S: Orders>(
    store: &S,
    user: &UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<Placed>, PlaceError> {
    let Some(record) = store.idempotency(user, key).await? else {
        return Ok(None);
    };
    if record.request_hash != fingerprint {
        return Err(PlaceError::IdempotencyKeyReused);
    }
    let order = store.get_order(&record.order_id).await?.ok_or_else(|| {
        PlaceError::Store(StoreError::Failed(
            "order of an idempotency record is missing".into(),
        ))
    })?;
    Ok(Some(Placed {
        order,
        replayed: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;
    use crate::config::FreightPolicy;
    use crate::ids::{SupplierId, WarehouseId};

    fn sku(id: &str, price: u64, source: Source, policy: StockPolicy, available: u64) -> Sku {
        Sku {
            sku: SkuId::parse(id).unwrap(),
            name: id.to_owned(),
            price_cents: Cents(price),
            source,
            stock_policy: policy,
            listed: true,
            per_user_limit: None,
            available,
            stock_shards: 1,
            shard_stock: vec![],
            restocks: 0,
            sold_out: false,
            storefronts: None,
            prices: Default::default(),
        }
    }

    fn body(lines: &str) -> Vec<u8> {
        format!(
            r#"{{"lines":{lines},"address":{{"name":"A","phone":"1","line1":"x","city":"y","postcode":"1"}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn parse_merges_duplicates_and_checks_qty() {
        let r = PlaceRequest::parse(&body(
            r#"[{"sku":"B","qty":2},{"sku":"A","qty":1},{"sku":"B","qty":3}]"#,
        ))
        .unwrap();
        assert_eq!(
            r.lines,
            vec![
                (SkuId::parse("A").unwrap(), 1),
                (SkuId::parse("B").unwrap(), 5)
            ]
        );
        for bad in ["0", "-1", "1000000000", "1.5", "\"2\""] {
            let e =
                PlaceRequest::parse(&body(&format!(r#"[{{"sku":"A","qty":{bad}}}]"#))).unwrap_err();
            assert_eq!(e.code(), "invalid_qty", "{bad}");
        }
        let e = PlaceRequest::parse(&body(r#"[{"sku":"A","qty":500},{"sku":"A","qty":500}]"#))
            .unwrap_err();
        assert_eq!(e.code(), "invalid_qty");
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        assert_eq!(
            PlaceRequest::parse(b"{").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            PlaceRequest::parse(b"[]").unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            PlaceRequest::parse(&body("[]")).unwrap_err().code(),
            "empty_order"
        );
        let extra = br#"{"lines":[{"sku":"A","qty":1,"price_cents":1}],"address":{"name":"A","phone":"1","line1":"x","city":"y","postcode":"1"}}"#;
        assert_eq!(
            PlaceRequest::parse(extra).unwrap_err().code(),
            "invalid_request"
        );
        let lines: Vec<String> = (0..51)
            .map(|i| format!(r#"{{"sku":"S{i}","qty":1}}"#))
            .collect();
        let e = PlaceRequest::parse(&body(&format!("[{}]", lines.join(",")))).unwrap_err();
        assert_eq!(e.code(), "too_many_lines");
        let no_city = br#"{"lines":[{"sku":"A","qty":1}],"address":{"name":"A","phone":"1","line1":"x","city":" ","postcode":"1"}}"#;
        assert_eq!(
            PlaceRequest::parse(no_city).unwrap_err().code(),
            "invalid_address"
        );
    }

    #[test]
    fn fingerprint_ignores_spacing_and_order() {
        let a = PlaceRequest::parse(&body(r#"[{"sku":"A","qty":1},{"sku":"B","qty":1}]"#)).unwrap();
        let b =
            PlaceRequest::parse(&body(r#"[ {"sku":"B","qty":1}, {"sku":"A","qty":1} ]"#)).unwrap();
        let c = PlaceRequest::parse(&body(r#"[{"sku":"A","qty":2},{"sku":"B","qty":1}]"#)).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn build_prices_splits_and_allocates() {
        let wh = Source::SelfOperated {
            warehouse: WarehouseId::parse("WH-1").unwrap(),
        };
        let s1 = Source::Dropship {
            supplier: SupplierId::parse("S-1").unwrap(),
        };
        let skus: BTreeMap<SkuId, Sku> = [
            sku("TEA", 1000, wh.clone(), StockPolicy::LockOnPlace, 100),
            sku("MUG", 500, wh, StockPolicy::DeductOnPay, 5),
            sku("LAMP", 3000, s1, StockPolicy::LockOnPlace, 100),
            sku("CABLE", 100, Source::Jd, StockPolicy::DeductOnPay, 1000),
        ]
        .into_iter()
        .map(|s| (s.sku.clone(), s))
        .collect();
        let req = PlaceRequest::parse(&body(
            r#"[{"sku":"TEA","qty":2},{"sku":"MUG","qty":1},{"sku":"LAMP","qty":1},{"sku":"CABLE","qty":3}]"#,
        ))
        .unwrap();
        let now = Timestamp::from_unix(1_800_000_000);
        let user = UserId::parse("u1").unwrap();
        let mut cfg = Config {
            free_shipping_over: Cents(1_000_000),
            ..Config::default()
        };
        let order = build_order(
            OrderId::generate(&now),
            &user,
            &req,
            &skus,
            &Storefront::implicit_default(),
            &cfg,
            now,
        );
        assert_eq!(order.goods_cents, Cents(2000 + 500 + 3000 + 300));
        assert_eq!(order.freight_cents, Cents(1000));
        assert_eq!(order.total_cents, Cents(6800));
        assert_eq!(order.packages().len(), 3);
        let keys: Vec<String> = order
            .packages()
            .iter()
            .map(|p| p.source.package_key())
            .collect();
        assert_eq!(keys, ["dropship:S-1", "jd", "self:WH-1"]);
        let goods: Vec<u64> = order.packages().iter().map(|p| p.goods_cents.0).collect();
        assert_eq!(goods, [3000, 300, 2500]);
        // single: all freight on the largest package.
        let freight: Vec<u64> = order.packages().iter().map(|p| p.freight_cents.0).collect();
        assert_eq!(freight, [1000, 0, 0]);
        assert_eq!(order.payment_deadline, now.plus_secs(86_400));
        // Only the scarce deduct_on_pay line warns.
        assert_eq!(order.warnings.len(), 1);
        assert_eq!(order.warnings[0].sku.as_str(), "MUG");
        for line in &order.lines {
            let pkg = order
                .packages()
                .iter()
                .find(|p| p.id == line.package_id)
                .unwrap();
            assert!(pkg.lines.iter().any(|l| l.sku == line.sku));
        }

        cfg.freight_policy = FreightPolicy::Apportioned;
        let order = build_order(
            OrderId::generate(&now),
            &user,
            &req,
            &skus,
            &Storefront::implicit_default(),
            &cfg,
            now,
        );
        let freight: Vec<u64> = order.packages().iter().map(|p| p.freight_cents.0).collect();
        assert_eq!(freight.iter().sum::<u64>(), 1000);
        assert_eq!(freight, [517, 52, 431]);
    }
}
