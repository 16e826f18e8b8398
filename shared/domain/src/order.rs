//! Orders and packages: their shapes, state machines and the order status
//! derived from the packages.

use crate::catalog::{Source, StockPolicy};
use crate::ids::{OrderId, PackageId, SkuId, UserId};
use crate::money::Cents;
use crate::split::FreightPolicy;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// SPEC 2.2 / 2.5 / 2.6 order statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Completed,
    CancelRequested,
    Cancelled,
    Closed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::AwaitingShipment => "awaiting_shipment",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::CancelRequested => "cancel_requested",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }

    /// The order state machine. Statuses derived from packages move among the
    /// paid states as packages move; cancel and close are explicit.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        if self == to {
            return false;
        }
        match self {
            PendingPayment => matches!(to, AwaitingShipment | Cancelled | Closed),
            AwaitingShipment => matches!(
                to,
                PartiallyShipped | Shipped | Completed | CancelRequested | Cancelled | Closed
            ),
            PartiallyShipped => matches!(to, Shipped | Completed | Closed),
            Shipped => matches!(to, Completed | Closed),
            CancelRequested => matches!(
                to,
                AwaitingShipment | PartiallyShipped | Shipped | Completed | Cancelled | Closed
            ),
            Completed | Cancelled | Closed => false,
        }
    }
}

/// SPEC 2.5 package statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    Pending,
    Forwarded,
    InterceptRequested,
    Shipped,
    Received,
    Rejected,
    Cancelled,
}

/// What applying a package event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Moved,
    /// Stale or duplicate: acknowledged, nothing changes.
    Ignored,
}

impl PackageStatus {
    /// Has left the warehouse (counts as shipped for the order status).
    pub fn has_shipped(self) -> bool {
        matches!(
            self,
            PackageStatus::Shipped | PackageStatus::Received | PackageStatus::Rejected
        )
    }

    /// Transitions only move forward; anything else is ignored, never an error.
    pub fn step(self, to: PackageStatus) -> Transition {
        use PackageStatus::*;
        let ok = matches!(
            (self, to),
            (Pending, Forwarded | Cancelled)
                | (
                    Forwarded,
                    InterceptRequested | Shipped | Received | Rejected
                )
                | (
                    InterceptRequested,
                    Cancelled | Shipped | Received | Rejected
                )
                | (Shipped, Received | Rejected)
        );
        if ok {
            Transition::Moved
        } else {
            Transition::Ignored
        }
    }
}

/// SPEC 2.5: the order status shown once the order is paid, derived from its
/// packages (cancelled ones ignored). `None` when every package is cancelled.
pub fn derive_paid_status(packages: &[PackageStatus]) -> Option<OrderStatus> {
    let live: Vec<PackageStatus> = packages
        .iter()
        .copied()
        .filter(|s| *s != PackageStatus::Cancelled)
        .collect();
    if live.is_empty() {
        return None;
    }
    let shipped = live.iter().filter(|s| s.has_shipped()).count();
    if shipped == 0 {
        return Some(OrderStatus::AwaitingShipment);
    }
    if shipped < live.len() {
        return Some(OrderStatus::PartiallyShipped);
    }
    if live.contains(&PackageStatus::Shipped) {
        return Some(OrderStatus::Shipped);
    }
    if live.contains(&PackageStatus::Received) {
        return Some(OrderStatus::Completed);
    }
    Some(OrderStatus::Closed)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub line1: String,
    pub city: String,
    pub postcode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: SkuId,
    pub name: String,
    pub qty: u32,
    pub unit_price_cents: Cents,
    pub line_total_cents: Cents,
    pub source: Source,
    pub stock_policy: StockPolicy,
    /// The SKU's per-user limit when the order was placed, if any.
    pub per_user_limit: Option<u32>,
    pub package_id: PackageId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageLine {
    pub sku: SkuId,
    pub qty: u32,
    pub line_total_cents: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub id: PackageId,
    pub source: Source,
    pub status: PackageStatus,
    pub lines: Vec<PackageLine>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    pub supplier_ref: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount_cents: Cents,
    pub reason: String,
    pub status: RefundStatus,
    pub package_id: Option<PackageId>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    pub sku: SkuId,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub event: String,
    /// `user:<id>`, `staff:<id>`, `system`, `supplier:<id>`, `payment`.
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub packages: Vec<Package>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    pub total_cents: Cents,
    pub freight_policy: FreightPolicy,
    pub address: Address,
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub payment_deadline: Timestamp,
    pub warnings: Vec<Warning>,
    pub refunds: Vec<Refund>,
    pub timeline: Vec<TimelineEntry>,
    /// Why a closed/cancelled order ended, e.g. `expired`, `out_of_stock`.
    pub close_reason: Option<String>,
    /// The payment that paid this order, once paid.
    #[serde(default)]
    pub payment: Option<PaymentInfo>,
    /// All money received for this order, including payments refunded at once.
    #[serde(default)]
    pub received_cents: Cents,
    /// Messages this order's last transitions still owe to the queues. They are
    /// written in the same transaction as the transition, published right after
    /// it, cleared once published, and re-published by the sweep if that failed.
    #[serde(default)]
    pub outbox: Vec<crate::messages::Message>,
    /// Optimistic-concurrency version: every write is conditional on it.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    pub payment_id: String,
    pub amount_cents: Cents,
    pub paid_at: Timestamp,
}

impl Order {
    /// Units of `lock_on_place` stock this order reserved, per SKU.
    pub fn stock_reservations(&self) -> Vec<(SkuId, u32)> {
        self.lines
            .iter()
            .filter(|l| l.stock_policy == StockPolicy::LockOnPlace)
            .map(|l| (l.sku.clone(), l.qty))
            .collect()
    }

    /// Units counted against per-user limits, per SKU.
    pub fn limit_holds(&self) -> Vec<(SkuId, u32, u32)> {
        self.lines
            .iter()
            .filter_map(|l| l.per_user_limit.map(|lim| (l.sku.clone(), l.qty, lim)))
            .collect()
    }

    pub fn refunded_cents(&self) -> Cents {
        self.refunds.iter().map(|r| r.amount_cents).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::PackageStatus::*;
    use super::*;

    #[test]
    fn aggregation_table_of_spec_2_5() {
        assert_eq!(
            derive_paid_status(&[Pending, Forwarded]),
            Some(OrderStatus::AwaitingShipment)
        );
        assert_eq!(
            derive_paid_status(&[Shipped, Forwarded]),
            Some(OrderStatus::PartiallyShipped)
        );
        assert_eq!(
            derive_paid_status(&[Received, Pending]),
            Some(OrderStatus::PartiallyShipped)
        );
        assert_eq!(
            derive_paid_status(&[Shipped, Received]),
            Some(OrderStatus::Shipped)
        );
        assert_eq!(
            derive_paid_status(&[Rejected, Shipped]),
            Some(OrderStatus::Shipped)
        );
        assert_eq!(
            derive_paid_status(&[Received, Rejected]),
            Some(OrderStatus::Completed)
        );
        assert_eq!(
            derive_paid_status(&[Rejected, Rejected]),
            Some(OrderStatus::Closed)
        );
        assert_eq!(
            derive_paid_status(&[Cancelled, Received]),
            Some(OrderStatus::Completed)
        );
        assert_eq!(derive_paid_status(&[Cancelled]), None);
    }

    #[test]
    fn packages_only_move_forward() {
        assert_eq!(Pending.step(Forwarded), Transition::Moved);
        assert_eq!(Forwarded.step(Pending), Transition::Ignored);
        assert_eq!(Forwarded.step(Forwarded), Transition::Ignored);
        assert_eq!(Shipped.step(Received), Transition::Moved);
        assert_eq!(Received.step(Shipped), Transition::Ignored);
        assert_eq!(Cancelled.step(Forwarded), Transition::Ignored);
        assert_eq!(InterceptRequested.step(Cancelled), Transition::Moved);
        assert_eq!(InterceptRequested.step(Shipped), Transition::Moved);
        assert_eq!(Pending.step(Shipped), Transition::Ignored);
    }

    #[test]
    fn order_state_machine() {
        use OrderStatus::*;
        assert!(PendingPayment.can_become(AwaitingShipment));
        assert!(PendingPayment.can_become(Cancelled));
        assert!(!Cancelled.can_become(AwaitingShipment));
        assert!(!Closed.can_become(PendingPayment));
        assert!(!Shipped.can_become(CancelRequested));
        assert!(AwaitingShipment.can_become(CancelRequested));
        assert!(!PendingPayment.can_become(PendingPayment));
    }
}
