//! Cancelling (SPEC 2.6), by the owner or staff. Stock and limit counts go
//! back in the same transaction as the status change, so exactly once.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId, PackageId};
use crate::messages::Publisher;
use crate::order::change::PackageEvent;
use crate::order::{IllegalTransition, Order, OrderStatus, PackageStatus};
use crate::ports::Ledger;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
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
    #[error("staff only")]
    StaffOnly,
    #[error("the package is {0}: only a package not yet with its supplier is cancelled alone")]
    PackageNotCancellable(&'static str),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(CancelError);

impl Problem for CancelError {
    fn kind(&self) -> ErrorKind {
        match self {
            CancelError::InvalidJson(_) | CancelError::InvalidRequest(_) => ErrorKind::BadRequest,
            CancelError::NotFound => ErrorKind::NotFound,
            CancelError::UseAfterSales
            | CancelError::Closed
            | CancelError::Illegal(_)
            | CancelError::PackageNotCancellable(_) => ErrorKind::Conflict,
            CancelError::StaffOnly => ErrorKind::Forbidden,
            CancelError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            CancelError::InvalidJson(_) => "invalid_json",
            CancelError::InvalidRequest(_) => "invalid_request",
            CancelError::NotFound => "order_not_found",
            CancelError::UseAfterSales => "use_after_sales",
            CancelError::Closed => "order_closed",
            CancelError::Illegal(_) => "invalid_state",
            CancelError::StaffOnly => "forbidden",
            CancelError::PackageNotCancellable(_) => "package_not_cancellable",
            CancelError::Store(e) => e.code(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CancelRequest))]
struct RawCancel {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    reason: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<PackageId>))]
    package_id: Option<String>,
}

/// A parsed `{"reason"?, "package_id"?}` cancel body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::OpenApi),
    openapi(components(schemas(RawCancel)))
)]
pub struct CancelBody {
    pub reason: Option<String>,
    /// Staff only: cancel and refund this one package (one the queue gave
    /// up forwarding), not the whole order.
    pub package_id: Option<PackageId>,
}

/// Parses the optional cancel body; an empty body is fine, whitespace alone
/// is not JSON.
pub fn parse_body(body: &[u8]) -> Result<CancelBody, CancelError> {
    if body.is_empty() {
        return Ok(CancelBody::default());
    }
    let raw: RawCancel = crate::body::parse(body)?;
    let package_id = raw
        .package_id
        .map(|p| PackageId::parse(&p).map_err(|e| CancelError::InvalidRequest(e.to_string())))
        .transpose()?;
    let reason = match raw.reason.map(|r| r.trim().to_owned()) {
        Some(r) if r.chars().count() > 500 => {
            return Err(CancelError::InvalidRequest(
                "reason must be at most 500 characters".into(),
            ))
        }
        Some(r) if r.is_empty() => None,
        r => r,
    };
    Ok(CancelBody { reason, package_id })
}

/// Staff cancel one package that has not reached its supplier (typically one
/// whose forwarding the queue gave up on): its goods and freight share are
/// refunded, its stock given back, and the order's status derived again. One
/// whose hand-over was attempted may be with the supplier: it is intercepted.
pub async fn cancel_package<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &crate::config::Config,
    caller: &Caller,
    package_id: &PackageId,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Order, CancelError> {
    if !caller.is_staff() {
        return Err(CancelError::StaffOnly);
    }
    let id = &package_id.order_id();
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(id), now, |cur| {
        let order = cur.order.as_ref().ok_or(CancelError::NotFound)?;
        if !caller.serves(&order.storefront) {
            return Err(CancelError::NotFound);
        }
        let p = order.package(package_id).ok_or(CancelError::NotFound)?;
        match p.status() {
            PackageStatus::Cancelled => return Ok(Decision::Done(order.clone())),
            PackageStatus::Pending if order.is_paid() && !p.is_being_forwarded(now) => {}
            other => return Err(CancelError::PackageNotCancellable(other.as_str())),
        }
        let mut next = order.next();
        if p.may_be_with_supplier() {
            // Its hand-over was attempted: the supplier may have it (SPEC 2.6).
            let retry_at = now.plus_secs(cfg.intercept_retry_secs);
            next.request_intercept(package_id, &actor, now, retry_at)?;
        } else {
            next.move_package(
                package_id,
                &PackageEvent::now(PackageStatus::Cancelled, &actor, now),
            )?;
        }
        if let Some(r) = &reason {
            next.log(now, "package_cancelled_by_staff", &actor).cause = Some(r.clone());
        }
        let value = next.clone();
        Ok(Decision::write(Write::order(next), value))
    })
    .await?;
    Ok(outcome.value)
}

/// Cancels the order for `caller` (its owner, or staff).
pub async fn cancel_order<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &crate::config::Config,
    caller: &Caller,
    id: &OrderId,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Order, CancelError> {
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(id), now, |cur| {
        let order = match &cur.order {
            Some(o) if caller.may_see(&o.user_id, &o.storefront) => o,
            _ => return Err(CancelError::NotFound),
        };
        let shipped = order.packages().iter().any(|p| p.status().has_shipped());
        let with_supplier = order
            .packages()
            .iter()
            .any(|p| p.status() == PackageStatus::Forwarded || p.may_be_with_supplier());
        let mut next = order.next();
        match order.status() {
            OrderStatus::Cancelled | OrderStatus::CancelRequested => {
                return Ok(Decision::Done(order.clone()))
            }
            OrderStatus::Closed => return Err(CancelError::Closed),
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Completed => {
                return Err(CancelError::UseAfterSales)
            }
            _ if shipped => return Err(CancelError::UseAfterSales),
            OrderStatus::AwaitingShipment if with_supplier => next.request_cancel(
                &actor,
                reason.clone(),
                now,
                now.plus_secs(cfg.intercept_retry_secs),
            )?,
            OrderStatus::PendingPayment | OrderStatus::AwaitingShipment => next.end(
                OrderStatus::Cancelled,
                "cancelled",
                &actor,
                reason.clone(),
                now,
            )?,
        }
        let value = next.clone();
        Ok(Decision::write(Write::order(next), value))
    })
    .await?;
    Ok(outcome.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schemathesis (ST201): a body of whitespace alone was taken for no body.
    #[test]
    fn no_body_is_fine_but_whitespace_alone_is_not_json() {
        assert!(parse_body(b"").is_ok());
        assert!(parse_body(b"{}").is_ok());
        for bad in [&b"\n"[..], b"  ", b"\t\r\n"] {
            assert!(
                matches!(parse_body(bad), Err(CancelError::InvalidJson(_))),
                "{bad:?}"
            );
        }
    }
}
