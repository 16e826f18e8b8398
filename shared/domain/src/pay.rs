//! Payment notifications (SPEC 2.3): idempotent on the payment id, amount
//! checked, `deduct_on_pay` stock taken in the same transaction as the status
//! change, and every payment ends on a paid order or a recorded refund.

use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::OrderId;
use crate::messages::Publisher;
use crate::money::Cents;
use crate::order::IllegalTransition;
use crate::order::{Order, OrderStatus, PaymentInfo};
use crate::ports::{CommitError, Ledger, PaymentRecord, Shortage};
use crate::shards::ShardsTried;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::OpenApi),
    openapi(components(schemas(RawNotice)))
)]
pub struct PaymentNotice {
    pub order_id: OrderId,
    pub payment_id: String,
    pub amount_cents: Cents,
    pub paid_at: Timestamp,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PaymentNotice))]
struct RawNotice {
    #[cfg_attr(feature = "openapi", schema(value_type = OrderId))]
    order_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    payment_id: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    amount_cents: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Timestamp))]
    paid_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such order")]
    OrderNotFound,
    #[error("amount {got} does not match the order total {expected}")]
    AmountMismatch { expected: Cents, got: Cents },
    #[error("payment {0} was already used for another order")]
    PaymentIdReused(String),
    /// Paid, but a `deduct_on_pay` SKU was short: closed and refunded.
    #[error("out of stock at payment: the order is closed and the payment refunded")]
    OutOfStock {
        order: Box<Order>,
        shortages: Vec<Shortage>,
    },
    /// The order had been cancelled or closed: the payment is refunded.
    #[error("the order is {status}: the payment is refunded")]
    OrderClosed {
        order: Box<Order>,
        status: &'static str,
    },
    /// The order was already paid by another payment: this one is refunded.
    #[error("the order was already paid: this payment is refunded")]
    AlreadyPaid { order: Box<Order> },
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(PayError);

impl Problem for PayError {
    fn kind(&self) -> ErrorKind {
        use PayError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) => ErrorKind::BadRequest,
            OrderNotFound => ErrorKind::NotFound,
            PaymentIdReused(_) => ErrorKind::Unprocessable,
            AmountMismatch { .. } | OutOfStock { .. } | OrderClosed { .. } | AlreadyPaid { .. } => {
                ErrorKind::Conflict
            }
            Illegal(_) => ErrorKind::Internal,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use PayError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            OrderNotFound => "order_not_found",
            AmountMismatch { .. } => "amount_mismatch",
            PaymentIdReused(_) => "payment_id_reused",
            OutOfStock { .. } => "out_of_stock",
            OrderClosed { .. } => "order_closed",
            AlreadyPaid { .. } => "already_paid",
            Illegal(_) => "internal",
            Store(e) => e.code(),
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        use PayError::*;
        match self {
            AmountMismatch { expected, got } => {
                Some(json!({ "expected_cents": expected, "amount_cents": got }))
            }
            OutOfStock { order, shortages } => {
                let mut d = refunded(order);
                d["skus"] = json!(shortages);
                Some(d)
            }
            OrderClosed { order, .. } | AlreadyPaid { order } => Some(refunded(order)),
            _ => None,
        }
    }
}

/// What the payment provider needs of a refused payment: the order's state
/// and the refund that pays it back (never the buyer's address).
fn refunded(order: &Order) -> serde_json::Value {
    let refund = order
        .refunds()
        .iter()
        .rev()
        .find(|r| r.package_id.is_none() && r.case_id.is_none());
    json!({
        "order_id": order.id,
        "status": order.status(),
        "refund": refund.map(|r| json!({ "id": r.id, "amount_cents": r.amount_cents })),
    })
}

impl PaymentNotice {
    pub fn parse(body: &[u8]) -> Result<Self, PayError> {
        let raw: RawNotice = crate::body::parse(body)?;
        let order_id =
            OrderId::parse(&raw.order_id).map_err(|e| PayError::InvalidRequest(e.to_string()))?;
        let pid = raw.payment_id.trim();
        if pid.is_empty() || pid.len() > 128 || !pid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(PayError::InvalidRequest(
                "payment_id must be 1 to 128 printable characters".into(),
            ));
        }
        if raw.amount_cents < 0 {
            return Err(PayError::InvalidRequest(
                "amount_cents must not be negative".into(),
            ));
        }
        let paid_at = Timestamp::parse(&raw.paid_at)
            .map_err(|_| PayError::InvalidRequest("paid_at must be an RFC 3339 time".into()))?;
        Ok(Self {
            order_id,
            payment_id: pid.to_owned(),
            amount_cents: Cents(raw.amount_cents as u64),
            paid_at,
        })
    }
}

/// The outcome of a successful notification.
#[derive(Debug, Clone)]
pub struct Paid {
    pub order: Order,
    /// A repeated notification: nothing changed.
    pub replayed: bool,
}

fn record(
    n: &PaymentNotice,
    outcome: &str,
    shortages: &[Shortage],
    now: Timestamp,
) -> PaymentRecord {
    PaymentRecord {
        payment_id: n.payment_id.clone(),
        order_id: n.order_id.clone(),
        amount_cents: n.amount_cents,
        outcome: outcome.to_owned(),
        shortages: shortages.to_vec(),
        at: now,
    }
}

/// Answers a repeated notification the way the first one was answered.
async fn replay<S: Ledger>(
    store: &S,
    rec: &PaymentRecord,
    n: &PaymentNotice,
) -> Result<Paid, PayError> {
    if rec.order_id != n.order_id {
        return Err(PayError::PaymentIdReused(n.payment_id.clone()));
    }
    let order = store
        .get_order(&rec.order_id)
        .await?
        .ok_or(PayError::OrderNotFound)?;
    let boxed = || Box::new(order.clone());
    match rec.outcome.as_str() {
        "paid" => Ok(Paid {
            order,
            replayed: true,
        }),
        "out_of_stock" => Err(PayError::OutOfStock {
            order: boxed(),
            shortages: rec.shortages.clone(),
        }),
        "already_paid" => Err(PayError::AlreadyPaid { order: boxed() }),
        _ => Err(PayError::OrderClosed {
            order: boxed(),
            status: order.status().as_str(),
        }),
    }
}

/// True while every short SKU is sharded and has a shard not tried yet.
fn fall_over(tried: &mut ShardsTried, order: &Order, shortages: &[Shortage]) -> bool {
    tried.record(shortages)
        && shortages.iter().all(|s| {
            let shards = order
                .lines
                .iter()
                .find(|l| l.sku == s.sku)
                .map_or(1, |l| l.stock_shards);
            tried.untried(&s.sku, shards, 0).is_some()
        })
}

/// Picks the shard of each sharded `deduct_on_pay` line: one not found short
/// yet, starting at random.
fn choose_shards(tried: &ShardsTried, next: &mut Order) {
    let picks: Vec<(crate::ids::SkuId, u8)> = next
        .lines
        .iter()
        .filter(|l| l.stock_policy == crate::catalog::StockPolicy::DeductOnPay)
        .filter(|l| l.stock_shards > 1)
        .map(|l| {
            let start = crate::catalog::random_shard(l.stock_shards);
            let shard = tried
                .untried(&l.sku, l.stock_shards, start)
                .unwrap_or(start);
            (l.sku.clone(), shard)
        })
        .collect();
    for (sku, shard) in picks {
        next.take_from_shard(&sku, shard);
    }
}

/// How the transition ended for the notification.
enum Applied {
    Paid,
    /// Refunded at once; the code answered (`order_closed`, `already_paid`).
    Refunded(&'static str),
    Short(Vec<Shortage>),
    /// Another delivery of this payment got there first.
    Recorded,
}

/// Applies a payment notification (its signature already verified).
pub async fn apply_payment<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    n: &PaymentNotice,
    now: Timestamp,
) -> Result<Paid, PayError> {
    // A repeated notification is found by the payment record's condition in
    // the transaction (`PaymentRecorded`), not by a read before it.
    let mut tried = ShardsTried::default();
    let forward_at = now.plus_secs(u64::from(cfg.intercept_window_secs));
    let outcome = transition(store, publisher, Target::Order(&n.order_id), now, |cur| {
        let order = cur.order.as_ref().ok_or(PayError::OrderNotFound)?;
        if n.amount_cents != order.total_cents {
            return Err(PayError::AmountMismatch {
                expected: order.total_cents,
                got: n.amount_cents,
            });
        }
        let mut next = order.next();
        let mut short: Vec<Shortage> = Vec::new();
        let (code, applied) = match &cur.refusal {
            Some(CommitError::PaymentRecorded) => return Ok(Decision::Done(Applied::Recorded)),
            // A short shard of a sharded SKU: take from another one.
            Some(CommitError::OutOfStock(shortages))
                if order.status() == OrderStatus::PendingPayment
                    && fall_over(&mut tried, order, shortages) =>
            {
                let info = PaymentInfo {
                    payment_id: n.payment_id.clone(),
                    amount_cents: n.amount_cents,
                    paid_at: n.paid_at,
                };
                next.pay(info, forward_at, now)?;
                choose_shards(&tried, &mut next);
                ("paid", Applied::Paid)
            }
            // Paid, but `deduct_on_pay` stock ran out: close, refund everything.
            Some(CommitError::OutOfStock(shortages))
                if order.status() == OrderStatus::PendingPayment =>
            {
                let shortages = tried.totals(shortages);
                short = shortages.clone();
                next.refund_payment(n.amount_cents, "out_of_stock", now);
                next.end(
                    OrderStatus::Closed,
                    "out_of_stock",
                    "payment",
                    Some("out of stock at payment".into()),
                    now,
                )?;
                ("out_of_stock", Applied::Short(shortages.clone()))
            }
            _ => match order.status() {
                OrderStatus::PendingPayment => {
                    let info = PaymentInfo {
                        payment_id: n.payment_id.clone(),
                        amount_cents: n.amount_cents,
                        paid_at: n.paid_at,
                    };
                    next.pay(info, forward_at, now)?;
                    choose_shards(&tried, &mut next);
                    ("paid", Applied::Paid)
                }
                OrderStatus::Cancelled | OrderStatus::Closed => {
                    next.refund_payment(n.amount_cents, "paid_after_close", now);
                    ("order_closed", Applied::Refunded("order_closed"))
                }
                _ => {
                    next.refund_payment(n.amount_cents, "duplicate_payment", now);
                    ("already_paid", Applied::Refunded("already_paid"))
                }
            },
        };
        let write = Write {
            order: next,
            payment: Some(record(n, code, &short, now)),
            case: None,
        };
        Ok(Decision::write(write, applied))
    })
    .await?;
    let order = || -> Result<Box<Order>, PayError> {
        outcome
            .written
            .clone()
            .map(|w| Box::new(w.order))
            .ok_or_else(|| StoreError::Failed("a payment outcome without its order".into()).into())
    };
    match outcome.value {
        Applied::Recorded => match store.payment(&n.payment_id).await? {
            Some(rec) => replay(store, &rec, n).await,
            None => Err(StoreError::Failed("a recorded payment went missing".into()).into()),
        },
        Applied::Paid => Ok(Paid {
            order: *order()?,
            replayed: false,
        }),
        Applied::Short(shortages) => Err(PayError::OutOfStock {
            order: order()?,
            shortages,
        }),
        Applied::Refunded("already_paid") => Err(PayError::AlreadyPaid { order: order()? }),
        Applied::Refunded(_) => {
            let order = order()?;
            Err(PayError::OrderClosed {
                status: order.status().as_str(),
                order,
            })
        }
    }
}
