//! Payment notifications (SPEC 2.3): idempotent on the payment id, amount
//! checked, `deduct_on_pay` stock taken in the same transaction as the status
//! change, and every payment ends on a paid order or a recorded refund.

use crate::catalog::shards::{Plan, ShardView};
use crate::catalog::StockPolicy;
use crate::checkout::place::MAX_ATOMIC_WRITES;
use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::OrderId;
use crate::ids::SkuId;
use crate::messages::Publisher;
use crate::money::Cents;
use crate::order::IllegalTransition;
use crate::order::{Order, OrderStatus, PaymentInfo, PaymentOutcome};
use crate::payment::refund::PaymentChannel;
use crate::ports::Catalog;
use crate::ports::{CommitError, Ledger, PaymentRecord, Shortage};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use crate::transition::Outcome;
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
    /// The storefront whose credentials signed it (from the route, never
    /// the body: SPEC 2.13); it must be the order's.
    pub storefront: StorefrontId,
    /// Which route it came by.
    pub channel: crate::payment::refund::PaymentChannel,
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
    /// Signed with another storefront's credentials than the order's.
    #[error("the notification is not signed with the order's storefront's credentials")]
    WrongStorefront,
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
            WrongStorefront => ErrorKind::Unauthorized,
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
            WrongStorefront => "invalid_signature",
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
            storefront: StorefrontId::default_id(),
            channel: crate::payment::refund::PaymentChannel::Gateway,
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
        paid_at: Some(n.paid_at),
        channel: n.channel,
        storefront: n.storefront.clone(),
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
    answer_again(order, &rec.outcome, &rec.shortages)
}

/// The answer a payment that ended with `outcome` gets again.
fn answer_again(order: Order, outcome: &str, shortages: &[Shortage]) -> Result<Paid, PayError> {
    let boxed = || Box::new(order.clone());
    match outcome {
        "paid" => Ok(Paid {
            order,
            replayed: true,
        }),
        "out_of_stock" => Err(PayError::OutOfStock {
            order: boxed(),
            shortages: shortages.to_vec(),
        }),
        "already_paid" => Err(PayError::AlreadyPaid { order: boxed() }),
        "amount_mismatch" => Err(PayError::AmountMismatch {
            expected: order.total_cents,
            got: order
                .refunds()
                .iter()
                .rev()
                .find(|r| r.reason == "amount_mismatch")
                .map(|r| r.amount_cents)
                .unwrap_or_default(),
        }),
        _ => Err(PayError::OrderClosed {
            order: boxed(),
            status: order.status().as_str(),
        }),
    }
}

/// Why a decision could not be made yet: it needs the shards of these SKUs
/// read (again), its write lost these shards to other buyers, or it failed.
enum Attempt {
    ReadShards(Vec<SkuId>),
    Lost(Vec<Shortage>),
    Failed(PayError),
}

impl From<PayError> for Attempt {
    fn from(e: PayError) -> Self {
        Attempt::Failed(e)
    }
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        Attempt::Failed(e.into())
    }
}

impl From<IllegalTransition> for Attempt {
    fn from(e: IllegalTransition) -> Self {
        Attempt::Failed(e.into())
    }
}

/// Where each `deduct_on_pay` line of `next` takes its stock: a SKU this
/// notification read by its shards as they are now (a re-shard since the
/// placement is followed), one sharded at placement and not read yet asks
/// for a read, any other from the SKU's own item. The lines whose SKU holds
/// too little are returned as shortages.
fn plan_payment(next: &mut Order, view: &ShardView) -> Result<Vec<Shortage>, Attempt> {
    let deduct: Vec<(SkuId, u32, u8)> = next
        .lines
        .iter()
        .filter(|l| l.stock_policy == StockPolicy::DeductOnPay)
        .map(|l| (l.sku.clone(), l.qty, l.stock_shards))
        .collect();
    let unread: Vec<SkuId> = deduct
        .iter()
        .filter(|(sku, _, shards)| *shards > 1 && view.get(sku).is_none())
        .map(|(sku, _, _)| sku.clone())
        .collect();
    if !unread.is_empty() {
        return Err(Attempt::ReadShards(unread));
    }
    let mut short = Vec::new();
    for (sku, qty, _) in deduct {
        if view.get(&sku).is_none() {
            next.take_at_payment(&sku, Vec::new());
            continue;
        }
        match view.plan(&sku, qty) {
            Plan::Takes(takes) => next.take_at_payment(&sku, takes),
            Plan::Read => return Err(Attempt::ReadShards(vec![sku])),
            Plan::Short(available) => short.push(Shortage {
                sku,
                shard: None,
                requested: qty,
                available,
            }),
        }
    }
    Ok(short)
}

/// The shortages a refused payment answers with: a SKU this notification
/// read, with what it held then.
fn as_read(shortages: &[Shortage], view: &ShardView) -> Vec<Shortage> {
    shortages
        .iter()
        .map(|s| match view.get(&s.sku) {
            Some(r) => Shortage {
                shard: None,
                available: r.available,
                ..s.clone()
            },
            None => s.clone(),
        })
        .collect()
}

/// How the transition ended for the notification.
enum Applied {
    Paid,
    /// Refunded at once; the code answered (`order_closed`, `already_paid`).
    Refunded(&'static str),
    Short(Vec<Shortage>),
    /// Another delivery of this payment got there first.
    Recorded,
    /// This payment was applied to the order before, with this outcome.
    Seen(Box<(Order, PaymentOutcome)>),
}

/// One decision on the stored order with the SKUs read so far.
async fn pay_once<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    n: &PaymentNotice,
    view: &ShardView,
    now: Timestamp,
) -> Result<Outcome<Applied>, Attempt> {
    // A repeated notification is found by the payment record's condition in
    // the transaction (`PaymentRecorded`), not by a read before it.
    let forward_at = now.plus_secs(u64::from(cfg.intercept_window_secs));
    transition(store, publisher, Target::Order(&n.order_id), now, |cur| {
        let order = cur.order.as_ref().ok_or(PayError::OrderNotFound)?;
        // Another storefront's credentials prove nothing about this order.
        if order.storefront != n.storefront {
            return Err(PayError::WrongStorefront.into());
        }
        // The same notification again: the order says how it ended.
        if let Some(seen) = order.payment_seen(&n.payment_id) {
            return Ok(Decision::Done(Applied::Seen(Box::new((
                order.clone(),
                seen.clone(),
            )))));
        }
        let info = PaymentInfo {
            payment_id: n.payment_id.clone(),
            amount_cents: n.amount_cents,
            paid_at: n.paid_at,
            channel: n.channel,
        };
        if n.amount_cents != order.total_cents {
            // WeChat Pay took this money before telling us: a wrong amount
            // goes back whole (the order stays as it was). A gateway's
            // notification is refused instead, as before.
            if n.channel != PaymentChannel::Wechatpay || n.amount_cents.0 == 0 {
                return Err(PayError::AmountMismatch {
                    expected: order.total_cents,
                    got: n.amount_cents,
                }
                .into());
            }
            if let Some(CommitError::PaymentRecorded) = &cur.refusal {
                return Ok(Decision::Done(Applied::Recorded));
            }
            let mut next = order.next();
            next.refund_payment(&info, "amount_mismatch", now);
            next.remember_payment(PaymentOutcome {
                payment_id: n.payment_id.clone(),
                outcome: "amount_mismatch".into(),
                shortages: Vec::new(),
            });
            let write = Write {
                order: next,
                payment: Some(record(n, "amount_mismatch", &[], now)),
                case: None,
            };
            return Ok(Decision::write(write, Applied::Refunded("amount_mismatch")));
        }
        let mut next = order.next();
        let pending = order.status() == OrderStatus::PendingPayment;
        let mut short: Vec<Shortage> = match &cur.refusal {
            Some(CommitError::PaymentRecorded) => return Ok(Decision::Done(Applied::Recorded)),
            // Stock ran out between the read and the write: a SKU not read
            // yet may have been re-sharded since the placement, a sharded one
            // lost a race for a shard; either is read (again). One read and
            // unsharded is simply short.
            Some(CommitError::OutOfStock(shortages)) if pending => {
                let unread: Vec<SkuId> = shortages
                    .iter()
                    .filter(|s| view.get(&s.sku).is_none())
                    .map(|s| s.sku.clone())
                    .collect();
                if !unread.is_empty() {
                    return Err(Attempt::ReadShards(unread));
                }
                if shortages.iter().all(|s| s.shard.is_some()) {
                    return Err(Attempt::Lost(shortages.clone()));
                }
                as_read(shortages, view)
            }
            _ => Vec::new(),
        };
        let (code, applied) = match order.status() {
            OrderStatus::PendingPayment => {
                if short.is_empty() {
                    next.pay(info.clone(), forward_at, now)?;
                    short = plan_payment(&mut next, view)?;
                    if short.is_empty() && next.largest_transaction() > MAX_ATOMIC_WRITES {
                        // More shards than one transaction holds: short too.
                        short = as_read(&shortages_of(&next), view);
                    }
                }
                if short.is_empty() {
                    ("paid", Applied::Paid)
                } else {
                    // Paid, but `deduct_on_pay` stock ran out: close, refund everything.
                    next = order.next();
                    next.refund_payment(&info, "out_of_stock", now);
                    next.end(
                        OrderStatus::Closed,
                        "out_of_stock",
                        "payment",
                        Some("out of stock at payment".into()),
                        now,
                    )?;
                    ("out_of_stock", Applied::Short(short.clone()))
                }
            }
            OrderStatus::Cancelled | OrderStatus::Closed => {
                next.refund_payment(&info, "paid_after_close", now);
                ("order_closed", Applied::Refunded("order_closed"))
            }
            _ => {
                next.refund_payment(&info, "duplicate_payment", now);
                ("already_paid", Applied::Refunded("already_paid"))
            }
        };
        next.remember_payment(PaymentOutcome {
            payment_id: n.payment_id.clone(),
            outcome: code.to_owned(),
            shortages: short.clone(),
        });
        let write = Write {
            order: next,
            payment: Some(record(n, code, &short, now)),
            case: None,
        };
        Ok(Decision::write(write, applied))
    })
    .await
}

/// Every sharded `deduct_on_pay` line of `order`, as a shortage.
fn shortages_of(order: &Order) -> Vec<Shortage> {
    order
        .lines
        .iter()
        .filter(|l| l.stock_policy == StockPolicy::DeductOnPay && l.takes.len() > 1)
        .map(|l| Shortage {
            sku: l.sku.clone(),
            shard: None,
            requested: l.qty,
            available: 0,
        })
        .collect()
}

/// Applies a payment notification (its signature already verified).
pub async fn apply_payment<S: Ledger + Catalog, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    n: &PaymentNotice,
    now: Timestamp,
) -> Result<Paid, PayError> {
    // What this notification knows of its SKUs' shards: read when a line
    // needs them, then as its refused writes reported them.
    let mut view = ShardView::default();
    let mut last_read = false;
    let busy =
        || -> PayError { StoreError::Busy("the shards kept being taken first".into()).into() };
    let outcome = loop {
        match pay_once(store, publisher, cfg, n, &view, now).await {
            // A read makes the view fresh: the next decision plans from it.
            Err(Attempt::ReadShards(skus)) => view.refresh(store.get_skus(&skus).await?),
            Err(Attempt::Lost(short)) => {
                if !view.lost(&short) {
                    // The budget is spent: one last read tells a sale that is
                    // over (closed, refunded) from one still going (503).
                    if last_read {
                        return Err(busy());
                    }
                    last_read = true;
                    let skus: Vec<SkuId> = short.iter().map(|s| s.sku.clone()).collect();
                    view.refresh(store.get_skus(&skus).await?);
                }
            }
            Err(Attempt::Failed(e)) => return Err(e),
            Ok(outcome) => break outcome,
        }
    };
    let order = || -> Result<Box<Order>, PayError> {
        outcome
            .written
            .clone()
            .map(|w| Box::new(w.order))
            .ok_or_else(|| StoreError::Failed("a payment outcome without its order".into()).into())
    };
    match outcome.value {
        Applied::Seen(seen) => {
            let (order, seen) = *seen;
            answer_again(order, &seen.outcome, &seen.shortages)
        }
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
        Applied::Refunded("amount_mismatch") => {
            let order = order()?;
            Err(PayError::AmountMismatch {
                expected: order.total_cents,
                got: n.amount_cents,
            })
        }
        Applied::Refunded(_) => {
            let order = order()?;
            Err(PayError::OrderClosed {
                status: order.status().as_str(),
                order,
            })
        }
    }
}
