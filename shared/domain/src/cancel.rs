//! Cancelling (SPEC 2.6), by the owner or staff, and expiry of unpaid orders
//! (SPEC 2.7). Stock and limit counts go back in the same transaction as the
//! status change, so exactly once.

use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::lifecycle::{commit_and_publish, STALE_RETRIES};
use crate::messages::{Message, Publisher};
use crate::order::{Order, OrderStatus, PackageStatus};
use crate::ports::{CommitError, Ledger, Transition};
use crate::time::Timestamp;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such order")]
    NotFound,
    #[error("a package has shipped: open an after-sales case instead")]
    UseAfterSales,
    #[error("the order is closed")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Problem for CancelError {
    fn kind(&self) -> ErrorKind {
        match self {
            CancelError::InvalidJson(_) | CancelError::InvalidRequest(_) => ErrorKind::BadRequest,
            CancelError::NotFound => ErrorKind::NotFound,
            CancelError::UseAfterSales | CancelError::Closed => ErrorKind::Conflict,
            CancelError::Store(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            CancelError::InvalidJson(_) => "invalid_json",
            CancelError::InvalidRequest(_) => "invalid_request",
            CancelError::NotFound => "order_not_found",
            CancelError::UseAfterSales => "use_after_sales",
            CancelError::Closed => "order_closed",
            CancelError::Store(_) => "internal",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCancel {
    #[serde(default)]
    reason: Option<String>,
}

/// Parses the optional `{"reason"?}` body; an empty body is fine.
pub fn parse_reason(body: &[u8]) -> Result<Option<String>, CancelError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| CancelError::InvalidJson(e.to_string()))?;
    let raw: RawCancel =
        serde_json::from_value(value).map_err(|e| CancelError::InvalidRequest(e.to_string()))?;
    match raw.reason.map(|r| r.trim().to_owned()) {
        Some(r) if r.chars().count() > 500 => Err(CancelError::InvalidRequest(
            "reason must be at most 500 characters".into(),
        )),
        Some(r) if r.is_empty() => Ok(None),
        r => Ok(r),
    }
}

/// Cancels the order for `caller` (its owner, or staff).
pub async fn cancel_order<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    id: &OrderId,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Order, CancelError> {
    let actor = caller.actor();
    for _ in 0..STALE_RETRIES {
        let order = match store.get_order(id).await? {
            Some(o) if caller.is_staff || o.user_id == caller.user => o,
            _ => return Err(CancelError::NotFound),
        };
        let event = match &reason {
            Some(r) => format!("cancelled: {r}"),
            None => "cancelled".to_owned(),
        };
        let next = match order.status {
            OrderStatus::Cancelled | OrderStatus::CancelRequested => return Ok(order),
            OrderStatus::Closed => return Err(CancelError::Closed),
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Completed => {
                return Err(CancelError::UseAfterSales)
            }
            _ if order.packages.iter().any(|p| p.status.has_shipped()) => {
                return Err(CancelError::UseAfterSales)
            }
            OrderStatus::PendingPayment => whole(&order, "cancelled", &event, &actor, now),
            OrderStatus::AwaitingShipment => {
                let forwarded = order
                    .packages
                    .iter()
                    .any(|p| p.status == PackageStatus::Forwarded);
                if forwarded {
                    intercept(&order, &event, &actor, now)
                } else {
                    whole(&order, "cancelled", &event, &actor, now)
                }
            }
        };
        let (stock, limits) = released(&order, &next);
        let t = Transition::of(&next, stock, limits);
        match commit_and_publish(store, publisher, &t, now).await {
            Ok(()) => {
                return Ok(next);
            }
            Err(CommitError::Stale) => continue,
            Err(CommitError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(StoreError(format!("unexpected refusal of a cancel: {e}")).into()),
        }
    }
    Err(StoreError("cancel kept colliding with other changes".into()).into())
}

/// What `next` gives back: the holdings of packages that became cancelled.
fn released(
    before: &Order,
    next: &Order,
) -> (Vec<crate::ports::StockMove>, Vec<(crate::ids::SkuId, u32)>) {
    let newly: Vec<_> = next
        .packages
        .iter()
        .filter(|p| p.status == PackageStatus::Cancelled)
        .filter(|p| {
            before
                .packages
                .iter()
                .any(|b| b.id == p.id && b.status != PackageStatus::Cancelled)
        })
        .map(|p| p.id.clone())
        .collect();
    before.held_by(|p| newly.contains(&p.id))
}

/// The whole order ends now: every package cancelled, the money refunded.
fn whole(order: &Order, close_reason: &str, event: &str, actor: &str, now: Timestamp) -> Order {
    let mut next = order.next();
    next.status = OrderStatus::Cancelled;
    next.close_reason = Some(close_reason.to_owned());
    for p in &mut next.packages {
        p.status = PackageStatus::Cancelled;
    }
    next.log(now, event, actor);
    let refundable = next.refundable();
    next.refund(now, refundable, "cancelled", None);
    next
}

/// Some packages are with their suppliers: ask them to stop those, cancel the
/// rest at once.
fn intercept(order: &Order, event: &str, actor: &str, now: Timestamp) -> Order {
    let mut next = order.next();
    next.status = OrderStatus::CancelRequested;
    next.log(now, format!("{event} (intercept requested)"), actor);
    for i in 0..next.packages.len() {
        match next.packages[i].status {
            PackageStatus::Pending => next.cancel_package(i, now),
            PackageStatus::Forwarded => {
                next.packages[i].status = PackageStatus::InterceptRequested;
                let id = next.packages[i].id.clone();
                next.outbox.push(Message::Intercept { package_id: id });
            }
            _ => {}
        }
    }
    next
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepSummary {
    pub expired: u32,
    pub skipped: u32,
    pub republished: u32,
    /// More were due than this run's budget: the next run continues.
    pub more_due: bool,
}

/// How long a freshly written outbox is left to its writer before the sweep
/// publishes it.
pub const OUTBOX_GRACE_SECS: u64 = 30;

/// SPEC 2.7: cancels unpaid orders past their deadline (at most `budget` per
/// run; the rest stay in the index for the next run), and re-publishes
/// messages whose first publication failed.
pub async fn sweep<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    _cfg: &Config,
    budget: u32,
    now: Timestamp,
) -> Result<SweepSummary, StoreError> {
    let mut summary = SweepSummary::default();
    let due = store.due_orders(now, budget + 1).await?;
    summary.more_due = due.len() > budget as usize;
    for id in due.iter().take(budget as usize) {
        if expire_one(store, publisher, id, now).await? {
            summary.expired += 1;
        } else {
            summary.skipped += 1;
        }
    }
    let before = Timestamp::from_unix_millis(now.unix_millis() - (OUTBOX_GRACE_SECS as i64) * 1000);
    for id in store.stale_outboxes(before, budget).await? {
        if let Some(order) = store.get_order(&id).await? {
            if !order.outbox.is_empty() {
                crate::lifecycle::flush_outbox(store, publisher, &order, now).await?;
                summary.republished += 1;
            }
        }
    }
    Ok(summary)
}

/// Cancels one unpaid order if it is still unpaid and due. False if it was not.
pub async fn expire_one<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    id: &OrderId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    for _ in 0..STALE_RETRIES {
        let Some(order) = store.get_order(id).await? else {
            return Ok(false);
        };
        if order.status != OrderStatus::PendingPayment || order.payment_deadline > now {
            return Ok(false);
        }
        let next = whole(
            &order,
            "expired",
            "expired: not paid in time",
            "system",
            now,
        );
        let (stock, limits) = released(&order, &next);
        let t = Transition::of(&next, stock, limits);
        match commit_and_publish(store, publisher, &t, now).await {
            Ok(()) => {
                return Ok(true);
            }
            Err(CommitError::Stale) => continue,
            Err(CommitError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError(format!("unexpected refusal of an expiry: {e}"))),
        }
    }
    Err(StoreError(
        "expiry kept colliding with other changes".into(),
    ))
}
