//! What the domain needs from storage. The DynamoDB adapter implements these;
//! every write behind them is conditional.

use crate::after_sales::case::AfterSalesCase;
use crate::catalog::{Sku, SkuUpdate};
use crate::error::StoreError;
use crate::ids::{CaseId, IdempotencyKey, OrderId, SkuId, UserId};
use crate::order::Order;
use crate::time::Timestamp;
use serde::Serialize;
use std::future::Future;

/// A short SKU found when the placement transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shortage {
    pub sku: SkuId,
    /// The shard that was short, for a sharded SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u8>,
    pub requested: u32,
    pub available: u64,
}

/// A per-user limit that the placement would exceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitBreach {
    pub sku: SkuId,
    pub limit: u32,
    pub requested: u32,
    /// Units the user already holds in live orders, when known.
    pub held: Option<u32>,
}

/// Remembers which order an `Idempotency-Key` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub user: UserId,
    pub key: IdempotencyKey,
    pub request_hash: String,
    pub order_id: OrderId,
    pub expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("out of stock")]
    OutOfStock(Vec<Shortage>),
    #[error("purchase limit exceeded")]
    LimitExceeded(Vec<LimitBreach>),
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor is not valid for this list")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub trait Catalog: Send + Sync {
    fn get_sku(&self, sku: &SkuId) -> impl Future<Output = Result<Option<Sku>, StoreError>> + Send;
    /// Found SKUs, in any order; missing ones are simply absent. A sharded
    /// SKU comes with its shards' stock (`available` their sum, and
    /// `shard_stock`), read in one more batch for all of them.
    fn get_skus(&self, skus: &[SkuId])
        -> impl Future<Output = Result<Vec<Sku>, StoreError>> + Send;
    /// As [`Catalog::get_skus`], as of up to about a second ago (an
    /// eventually consistent read: half the read units, spread over every
    /// copy of the partition). For a first look only: a refusal drawn from
    /// it is confirmed by `get_skus`, a write by its own condition.
    fn get_skus_recent(
        &self,
        skus: &[SkuId],
    ) -> impl Future<Output = Result<Vec<Sku>, StoreError>> + Send {
        self.get_skus(skus)
    }
    /// These SKUs, as read before, with their stock read again (consistent):
    /// for a sharded SKU its shards only, not its item (the catalog entry
    /// a sale's every buyer reads first: its partition's read units are the
    /// sale's to spend).
    fn get_stock(&self, skus: &[Sku]) -> impl Future<Output = Result<Vec<Sku>, StoreError>> + Send {
        let ids: Vec<SkuId> = skus.iter().map(|s| s.sku.clone()).collect();
        async move { self.get_skus(&ids).await }
    }
    /// Records that a sharded SKU, read at `restocks`, holds nothing: later
    /// reads skip its shards until stock is given back or set (which counts
    /// a restock and clears it). False, and nothing written, when a restock
    /// came in since that read.
    fn mark_sold_out(
        &self,
        sku: &SkuId,
        restocks: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Creates or updates a SKU and returns it as stored.
    fn put_sku(&self, update: &SkuUpdate) -> impl Future<Output = Result<Sku, StoreError>> + Send;
}

/// Storefronts' settings (SPEC 2.13). Reads may be served from a copy up to
/// [`crate::storefront::SETTINGS_FOR_SECS`] old: every buyer request reads them.
pub trait Storefronts: Send + Sync {
    /// Every stored storefront, by id.
    fn list_storefronts(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::storefront::Storefront>, StoreError>> + Send;
    /// One stored storefront; a miss is looked up again in the store (a
    /// storefront added since the copy was read is found at once).
    fn get_storefront(
        &self,
        id: &crate::storefront::StorefrontId,
    ) -> impl Future<Output = Result<Option<crate::storefront::Storefront>, StoreError>> + Send;
    /// Creates or replaces a storefront.
    fn put_storefront(
        &self,
        storefront: &crate::storefront::Storefront,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait Orders: Send + Sync {
    fn idempotency(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;
    /// Writes the order, its stock reservations, its limit counts and the
    /// idempotency record in one transaction: all or nothing.
    fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
    ) -> impl Future<Output = Result<(), CreateOrderError>> + Send;
    fn get_order(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// The user's orders, newest first: `limit` of them, and a cursor exactly
    /// when older ones exist, however large the orders are (a store that
    /// reads in pages of bounded size keeps reading until it knows). With
    /// `storefront`, only those placed there (orders from before storefronts
    /// count as `default`'s).
    fn list_orders(
        &self,
        user: &UserId,
        storefront: Option<&crate::storefront::StorefrontId>,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<OrderPage, ListError>> + Send;
}

/// A package handed to whoever fulfils it. The package id is the idempotency
/// key the supplier sees: a repeated submission must not create a second shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardRequest {
    pub package_id: crate::ids::PackageId,
    pub order_id: OrderId,
    pub source: crate::catalog::Source,
    pub lines: Vec<crate::order::PackageLine>,
    pub goods_cents: crate::money::Cents,
    pub address: crate::order::Address,
}

/// What a supplier said to an intercept (cancel-before-shipping) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterceptOutcome {
    /// Stopped: the package will not ship.
    Intercepted,
    /// Too late: it has shipped or is about to.
    Refused,
    /// Accepted for review; the answer comes later through the status callback.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplierError {
    /// The supplier refused the request itself; retrying will not help.
    #[error("supplier rejected the request: {0}")]
    Rejected(String),
    /// Network failure, timeout or a 5xx: worth retrying.
    #[error("supplier unavailable: {0}")]
    Unavailable(String),
}

/// One fulfilment channel: our warehouses, a dropship supplier, or JD Kepler.
pub trait Supplier: Send + Sync {
    /// Submits the package; returns the supplier's reference for it.
    fn forward(
        &self,
        req: &ForwardRequest,
    ) -> impl Future<Output = Result<String, SupplierError>> + Send;
    /// Asks the supplier to stop a forwarded package.
    fn intercept(
        &self,
        package: &crate::ids::PackageId,
        source: &crate::catalog::Source,
        supplier_ref: &str,
    ) -> impl Future<Output = Result<InterceptOutcome, SupplierError>> + Send;
}

/// A stock movement made together with an order transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMove {
    pub sku: SkuId,
    /// The shard item of a sharded SKU; `None`: the SKU's own item.
    pub shard: Option<u8>,
    /// Negative takes stock (refused when short), positive gives it back.
    pub delta: i64,
}

/// How a payment notification ended, remembered under its payment id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PaymentRecord {
    pub payment_id: String,
    pub order_id: OrderId,
    pub amount_cents: crate::money::Cents,
    /// `paid`, or the error code answered when the money was refunded instead.
    pub outcome: String,
    /// For `out_of_stock`: the short SKUs, so that a replay answers the same.
    #[serde(default)]
    pub shortages: Vec<Shortage>,
    pub at: Timestamp,
    /// When the provider says it was paid (the day its bill counts it in).
    #[serde(default)]
    pub paid_at: Option<Timestamp>,
    #[serde(default)]
    pub channel: crate::payment::refund::PaymentChannel,
    /// Whose merchant account took it (the notification's route).
    #[serde(default)]
    pub storefront: crate::storefront::StorefrontId,
}

impl PaymentRecord {
    /// The day (Asia/Shanghai) the provider's bill counts this payment in.
    pub fn bill_date(&self) -> String {
        self.paid_at.unwrap_or(self.at).shanghai_date()
    }
}

/// One atomic change of an order: the new order state (its `version` one above
/// the stored one), and what moves with it. Built by [`crate::transition`].
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub order: &'a Order,
    /// Stock taken (negative) or given back (positive), per SKU.
    pub stock: Vec<StockMove>,
    /// Units given back to the owner's per-user limit counters.
    pub limit_releases: Vec<(SkuId, u32)>,
    /// Written only if no record exists for its payment id yet.
    pub payment: Option<PaymentRecord>,
    /// An after-sales case written with the order: created at version 1
    /// (taking a lock per line), or moved on from the stored version
    /// (giving the locks back when it ends).
    pub case: Option<&'a AfterSalesCase>,
    /// Work-queue entries joining and leaving with this change
    /// ([`crate::backoffice::queues::moves_between`]).
    pub queue: crate::backoffice::queues::QueueMoves,
}

impl Change<'_> {
    /// The stock moves netted per stock item (one write each), none zero.
    pub fn stock_by_item(&self) -> Vec<(SkuId, Option<u8>, i64)> {
        let mut stock: Vec<(SkuId, Option<u8>, i64)> = Vec::new();
        for m in &self.stock {
            match stock
                .iter_mut()
                .find(|(sku, shard, _)| *sku == m.sku && *shard == m.shard)
            {
                Some((_, _, d)) => *d += m.delta,
                None => stock.push((m.sku.clone(), m.shard, m.delta)),
            }
        }
        stock.retain(|(_, _, d)| *d != 0);
        stock
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The stored order (or case) is no longer the version this change was made from.
    #[error("the order changed meanwhile")]
    Stale,
    #[error("out of stock")]
    OutOfStock(Vec<Shortage>),
    /// Another delivery of the same payment was recorded first.
    #[error("payment already recorded")]
    PaymentRecorded,
    /// Another open case holds one of the package lines.
    #[error("another open case holds a line of this package")]
    CaseLineTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Order transitions after placement, and the index the sweep reads.
pub trait Ledger: Orders {
    /// Writes a change atomically, conditional on the stored versions; a
    /// refused condition is one of [`CommitError`]'s conflicts, never a partial write.
    fn commit(&self, c: &Change<'_>) -> impl Future<Output = Result<(), CommitError>> + Send;
    fn payment(
        &self,
        payment_id: &str,
    ) -> impl Future<Output = Result<Option<PaymentRecord>, StoreError>> + Send;
    /// The payments `storefront`'s account took through `channel` whose bill
    /// day (Asia/Shanghai, [`PaymentRecord::bill_date`]) is `date`, every
    /// outcome included.
    fn payments_on(
        &self,
        storefront: &crate::storefront::StorefrontId,
        channel: crate::payment::refund::PaymentChannel,
        date: &str,
    ) -> impl Future<Output = Result<Vec<PaymentRecord>, StoreError>> + Send;
    /// Orders with something due at or before `now` (see [`Order::due_at`]), oldest first.
    fn due_orders(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OrderId>, StoreError>> + Send;
    /// Removes the messages of `order`'s outbox from the stored order, now
    /// that they are published, even if the order moved on meanwhile (so no
    /// later step sends them again); false if it had moved on.
    fn clear_outbox(&self, order: &Order) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn get_case(
        &self,
        id: &CaseId,
    ) -> impl Future<Output = Result<Option<AfterSalesCase>, StoreError>> + Send;
    /// True once this request's time budget is spent: a change that has to
    /// be decided again gives up with [`StoreError::Busy`] instead.
    fn out_of_time(&self) -> bool {
        false
    }
}
