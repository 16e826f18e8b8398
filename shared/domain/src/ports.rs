//! What the domain needs from storage. The DynamoDB adapter implements these;
//! every write behind them is conditional.

use crate::catalog::{Sku, SkuUpdate};
use crate::error::StoreError;
use crate::ids::{IdempotencyKey, OrderId, SkuId, UserId};
use crate::order::Order;
use crate::time::Timestamp;
use serde::Serialize;
use std::future::Future;

/// A short SKU found when the placement transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub sku: SkuId,
    pub requested: u32,
    pub available: u64,
}

/// A per-user limit that the placement would exceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Found SKUs, in any order; missing ones are simply absent.
    fn get_skus(&self, skus: &[SkuId])
        -> impl Future<Output = Result<Vec<Sku>, StoreError>> + Send;
    /// Creates or updates a SKU and returns it as stored.
    fn put_sku(&self, update: &SkuUpdate) -> impl Future<Output = Result<Sku, StoreError>> + Send;
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
    /// The user's orders, newest first.
    fn list_orders(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<OrderPage, ListError>> + Send;
}
