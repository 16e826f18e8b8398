//! What other systems learn of an order: the domain events one committed
//! change makes, derived from the order's states before and after it (so no
//! use case names its events, and a change that moves nothing visible, such
//! as an outbox cleared, makes none).
//!
//! Each event carries the change, never the whole order, a `sequence` equal
//! to the order's version (events of one change share it: consumers order by
//! it) and an `id` made of the order, the version, the type and the subject,
//! so that the same change seen twice yields the same ids.

use super::cases::{CaseKind, CaseLine, CaseStatus};
use super::*;
use crate::payment::refund::{PaymentChannel, RefundFailure, RefundStatus};
use crate::storefront::StorefrontId;

/// One event, as published (the EventBridge `detail`; its `detail-type`
/// is `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderEvent {
    /// Stable: `<order id>:<sequence>:<type>[:<package, refund or case id>]`.
    /// The same change published twice has the same id; consumers keep the
    /// ids they have seen.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub storefront: StorefrontId,
    /// When it happened (the change's newest timeline entry).
    pub at: Timestamp,
    /// The order's version after the change: later changes have larger ones.
    pub sequence: u64,
    pub change: EventChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.partially_shipped")]
    OrderPartiallyShipped,
    #[serde(rename = "order.shipped")]
    OrderShipped,
    #[serde(rename = "order.completed")]
    OrderCompleted,
    #[serde(rename = "order.cancel_requested")]
    OrderCancelRequested,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.closed")]
    OrderClosed,
    /// Back to awaiting shipment (a cancel request turned down).
    #[serde(rename = "order.awaiting_shipment")]
    OrderAwaitingShipment,
    #[serde(rename = "package.forwarded")]
    PackageForwarded,
    #[serde(rename = "package.intercept_requested")]
    PackageInterceptRequested,
    #[serde(rename = "package.shipped")]
    PackageShipped,
    #[serde(rename = "package.received")]
    PackageReceived,
    #[serde(rename = "package.rejected")]
    PackageRejected,
    #[serde(rename = "package.cancelled")]
    PackageCancelled,
    /// Back to pending (an intercept the supplier refused before forwarding).
    #[serde(rename = "package.pending")]
    PackagePending,
    /// A package added after placement: an exchange's replacement goods.
    #[serde(rename = "package.created")]
    PackageCreated,
    #[serde(rename = "refund.recorded")]
    RefundRecorded,
    #[serde(rename = "refund.processing")]
    RefundProcessing,
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    #[serde(rename = "refund.failed")]
    RefundFailed,
    /// Set aside again for the provider (staff retried a failed refund).
    #[serde(rename = "refund.retried")]
    RefundRetried,
    #[serde(rename = "case.opened")]
    CaseOpened,
    #[serde(rename = "case.approved")]
    CaseApproved,
    #[serde(rename = "case.rejected")]
    CaseRejected,
    #[serde(rename = "case.return_shipped")]
    CaseReturnShipped,
    #[serde(rename = "case.completed")]
    CaseCompleted,
    #[serde(rename = "case.withdrawn")]
    CaseWithdrawn,
}

impl EventType {
    pub const ALL: [EventType; 28] = [
        EventType::OrderPlaced,
        EventType::OrderPaid,
        EventType::OrderPartiallyShipped,
        EventType::OrderShipped,
        EventType::OrderCompleted,
        EventType::OrderCancelRequested,
        EventType::OrderCancelled,
        EventType::OrderClosed,
        EventType::OrderAwaitingShipment,
        EventType::PackageForwarded,
        EventType::PackageInterceptRequested,
        EventType::PackageShipped,
        EventType::PackageReceived,
        EventType::PackageRejected,
        EventType::PackageCancelled,
        EventType::PackagePending,
        EventType::PackageCreated,
        EventType::RefundRecorded,
        EventType::RefundProcessing,
        EventType::RefundSucceeded,
        EventType::RefundFailed,
        EventType::RefundRetried,
        EventType::CaseOpened,
        EventType::CaseApproved,
        EventType::CaseRejected,
        EventType::CaseReturnShipped,
        EventType::CaseCompleted,
        EventType::CaseWithdrawn,
    ];

    /// The name on the wire (`order.paid`).
    pub fn as_str(self) -> &'static str {
        use EventType::*;
        match self {
            OrderPlaced => "order.placed",
            OrderPaid => "order.paid",
            OrderPartiallyShipped => "order.partially_shipped",
            OrderShipped => "order.shipped",
            OrderCompleted => "order.completed",
            OrderCancelRequested => "order.cancel_requested",
            OrderCancelled => "order.cancelled",
            OrderClosed => "order.closed",
            OrderAwaitingShipment => "order.awaiting_shipment",
            PackageForwarded => "package.forwarded",
            PackageInterceptRequested => "package.intercept_requested",
            PackageShipped => "package.shipped",
            PackageReceived => "package.received",
            PackageRejected => "package.rejected",
            PackageCancelled => "package.cancelled",
            PackagePending => "package.pending",
            PackageCreated => "package.created",
            RefundRecorded => "refund.recorded",
            RefundProcessing => "refund.processing",
            RefundSucceeded => "refund.succeeded",
            RefundFailed => "refund.failed",
            RefundRetried => "refund.retried",
            CaseOpened => "case.opened",
            CaseApproved => "case.approved",
            CaseRejected => "case.rejected",
            CaseReturnShipped => "case.return_shipped",
            CaseCompleted => "case.completed",
            CaseWithdrawn => "case.withdrawn",
        }
    }

    fn of_order(to: OrderStatus) -> Option<EventType> {
        Some(match to {
            OrderStatus::PendingPayment => return None,
            OrderStatus::AwaitingShipment => EventType::OrderAwaitingShipment,
            OrderStatus::PartiallyShipped => EventType::OrderPartiallyShipped,
            OrderStatus::Shipped => EventType::OrderShipped,
            OrderStatus::Completed => EventType::OrderCompleted,
            OrderStatus::CancelRequested => EventType::OrderCancelRequested,
            OrderStatus::Cancelled => EventType::OrderCancelled,
            OrderStatus::Closed => EventType::OrderClosed,
        })
    }

    fn of_package(to: PackageStatus) -> EventType {
        match to {
            PackageStatus::Pending => EventType::PackagePending,
            PackageStatus::Forwarded => EventType::PackageForwarded,
            PackageStatus::InterceptRequested => EventType::PackageInterceptRequested,
            PackageStatus::Shipped => EventType::PackageShipped,
            PackageStatus::Received => EventType::PackageReceived,
            PackageStatus::Rejected => EventType::PackageRejected,
            PackageStatus::Cancelled => EventType::PackageCancelled,
        }
    }

    fn of_refund(to: RefundStatus) -> EventType {
        match to {
            RefundStatus::Pending => EventType::RefundRetried,
            RefundStatus::Processing => EventType::RefundProcessing,
            RefundStatus::Succeeded => EventType::RefundSucceeded,
            RefundStatus::Failed => EventType::RefundFailed,
        }
    }

    fn of_case(to: CaseStatus) -> EventType {
        match to {
            CaseStatus::Requested => EventType::CaseOpened,
            CaseStatus::Approved => EventType::CaseApproved,
            CaseStatus::Rejected => EventType::CaseRejected,
            CaseStatus::ReturnShipped => EventType::CaseReturnShipped,
            CaseStatus::Completed => EventType::CaseCompleted,
            CaseStatus::Withdrawn => EventType::CaseWithdrawn,
        }
    }
}

/// What changed; which one follows from the event's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventChange {
    Placed(PlacedChange),
    Paid(PaidChange),
    Order(OrderChange),
    Package(PackageChange),
    Refund(RefundChange),
    Case(CaseChange),
}

/// `order.placed`: what was bought, for how much, and how it ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlacedChange {
    pub status: OrderStatus,
    pub lines: Vec<PlacedLine>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    pub total_cents: Cents,
    pub payment_deadline: Timestamp,
    pub packages: Vec<PlacedPackage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlacedLine {
    pub sku: SkuId,
    pub qty: u32,
    pub unit_price_cents: Cents,
    pub package_id: PackageId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlacedPackage {
    pub package_id: PackageId,
    pub source: Source,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
}

/// `order.paid`: the payment, and the status it moved the order to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaidChange {
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub payment_id: String,
    pub amount_cents: Cents,
    pub channel: PaymentChannel,
    pub paid_at: Timestamp,
}

/// Every other `order.*`: the unified status before and after, and why an
/// order ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderChange {
    pub from: OrderStatus,
    pub to: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `package.*`: `from` is absent for `package.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageChange {
    pub package_id: PackageId,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PackageStatus>,
    pub to: PackageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_no: Option<String>,
    /// The exchange case a replacement package ships for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_for: Option<CaseId>,
}

/// `refund.*`: `from` is absent for `refund.recorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundChange {
    pub refund_id: String,
    pub amount_cents: Cents,
    pub reason: String,
    pub channel: PaymentChannel,
    /// The payment it returns: the order's, or one refunded as it came (a
    /// second payment, one after the order closed, a wrong amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<RefundStatus>,
    pub to: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RefundFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
}

/// `case.*`: `from` is absent for `case.opened`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseChange {
    pub case_id: CaseId,
    pub package_id: PackageId,
    pub kind: CaseKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<CaseStatus>,
    pub to: CaseStatus,
    pub lines: Vec<CaseLine>,
}

/// The events of the change from `before` (None: the order is new) to `after`.
pub fn between(before: Option<&Order>, after: &Order) -> Vec<OrderEvent> {
    let mut out: Vec<(EventType, Option<String>, EventChange)> = Vec::new();
    let Some(before) = before else {
        let placed = PlacedChange {
            status: after.status,
            lines: after
                .lines
                .iter()
                .map(|l| PlacedLine {
                    sku: l.sku.clone(),
                    qty: l.qty,
                    unit_price_cents: l.unit_price_cents,
                    package_id: l.package_id.clone(),
                })
                .collect(),
            goods_cents: after.goods_cents,
            freight_cents: after.freight_cents,
            total_cents: after.total_cents,
            payment_deadline: after.payment_deadline,
            packages: after
                .packages
                .iter()
                .map(|p| PlacedPackage {
                    package_id: p.id.clone(),
                    source: p.source.clone(),
                    goods_cents: p.goods_cents,
                    freight_cents: p.freight_cents,
                })
                .collect(),
        };
        return envelop(
            None,
            after,
            vec![(EventType::OrderPlaced, None, EventChange::Placed(placed))],
        );
    };

    let (from, to) = (before.status, after.status);
    let paid = match (&after.payment, &before.payment) {
        (Some(p), None) => {
            out.push((
                EventType::OrderPaid,
                None,
                EventChange::Paid(PaidChange {
                    from,
                    to,
                    payment_id: p.payment_id.clone(),
                    amount_cents: p.amount_cents,
                    channel: p.channel,
                    paid_at: p.paid_at,
                }),
            ));
            true
        }
        _ => false,
    };
    if from != to && !(paid && to == OrderStatus::AwaitingShipment) {
        if let Some(kind) = EventType::of_order(to) {
            let reason = matches!(to, OrderStatus::Cancelled | OrderStatus::Closed)
                .then(|| after.close_reason.clone())
                .flatten();
            out.push((
                kind,
                None,
                EventChange::Order(OrderChange { from, to, reason }),
            ));
        }
    }

    for p in &after.packages {
        let from = before
            .packages
            .iter()
            .find(|o| o.id == p.id)
            .map(|o| o.status);
        let kind = match from {
            None => EventType::PackageCreated,
            Some(f) if f != p.status => EventType::of_package(p.status),
            Some(_) => continue,
        };
        {
            out.push((
                kind,
                Some(p.id.to_string()),
                EventChange::Package(PackageChange {
                    package_id: p.id.clone(),
                    source: p.source.clone(),
                    from,
                    to: p.status,
                    supplier_ref: p.supplier_ref.clone(),
                    carrier: p.carrier.clone(),
                    tracking_no: p.tracking_no.clone(),
                    exchange_for: p.exchange_for.clone(),
                }),
            ));
        }
    }

    for r in &after.refunds {
        let old = before.refunds.iter().find(|o| o.id == r.id);
        let from = old.map(|o| o.status);
        let kind = match from {
            None => EventType::RefundRecorded,
            Some(f) if f != r.status => EventType::of_refund(r.status),
            Some(_) => continue,
        };
        out.push((
            kind,
            Some(r.id.clone()),
            EventChange::Refund(RefundChange {
                refund_id: r.id.clone(),
                amount_cents: r.amount_cents,
                reason: r.reason.clone(),
                channel: r.channel,
                payment_id: r.payment_id.clone(),
                from,
                to: r.status,
                failure: r.failure,
                package_id: r.package_id.clone(),
                case_id: r.case_id.clone(),
            }),
        ));
    }

    for c in &after.cases {
        let from = before.cases.iter().find(|o| o.id == c.id).map(|o| o.status);
        let kind = match from {
            None => EventType::CaseOpened,
            Some(f) if f != c.status => EventType::of_case(c.status),
            Some(_) => continue,
        };
        out.push((
            kind,
            Some(c.id.to_string()),
            EventChange::Case(CaseChange {
                case_id: c.id.clone(),
                package_id: c.package_id.clone(),
                kind: c.kind,
                from,
                to: c.status,
                lines: c.lines.clone(),
            }),
        ));
    }
    envelop(Some(before), after, out)
}

fn envelop(
    before: Option<&Order>,
    after: &Order,
    changes: Vec<(EventType, Option<String>, EventChange)>,
) -> Vec<OrderEvent> {
    let seen = before.map_or(0, |b| b.timeline.len());
    let at = after.timeline[seen.min(after.timeline.len())..]
        .iter()
        .map(|e| e.at)
        .max()
        .or_else(|| after.timeline.last().map(|e| e.at))
        .unwrap_or(after.created_at);
    changes
        .into_iter()
        .map(|(kind, subject, change)| OrderEvent {
            id: match subject {
                Some(s) => format!("{}:{}:{}:{s}", after.id, after.version, kind.as_str()),
                None => format!("{}:{}:{}", after.id, after.version, kind.as_str()),
            },
            kind,
            order_id: after.id.clone(),
            user_id: after.user_id.clone(),
            storefront: after.storefront.clone(),
            at,
            sequence: after.version,
            change,
        })
        .collect()
}

/// Counts a committed change as metrics, by storefront: one per event
/// type (`order.placed`...), `order.expired` for an order cancelled because
/// its payment time ran out, the money paid and refunded in cents (and
/// `ReceivedCents`: every payment taken, the order's or not), and the
/// attention items raised (`AttentionRaised`, `ForwardGiveUps`).
pub fn count(before: Option<&Order>, after: &Order) {
    for e in between(before, after) {
        let sf = e.storefront.to_string();
        metrics::counter!(e.kind.as_str(), "storefront" => sf.clone()).increment(1);
        if let EventChange::Order(c) = &e.change {
            if c.reason.as_deref() == Some(super::sweep::EXPIRED) {
                metrics::counter!("order.expired", "storefront" => sf.clone()).increment(1);
            }
        }
        if let Some((name, cents)) = money(&e) {
            metrics::counter!(name, "storefront" => sf).increment(cents.0);
        }
    }
    // Money in: every payment the order took, including those refunded as
    // they came (a second payment, a late one), which `PaidCents` leaves out.
    let sf = after.storefront.to_string();
    let received = after
        .received_cents
        .saturating_sub(before.map_or(Cents::ZERO, |b| b.received_cents));
    if received > Cents::ZERO {
        metrics::counter!("ReceivedCents", "storefront" => sf.clone()).increment(received.0);
    }
    // Work handed to staff: every item raised, and hand-overs given up.
    for a in &after.attention {
        if before.is_some_and(|b| b.attention.iter().any(|o| o.id == a.id)) {
            continue;
        }
        metrics::counter!("AttentionRaised", "storefront" => sf.clone()).increment(1);
        if a.kind == super::attention::AttentionKind::ForwardFailed {
            metrics::counter!("ForwardGiveUps", "storefront" => sf.clone()).increment(1);
        }
    }
}

/// Money an event moves, for the metrics: (`paid`, cents) or (`refunded`, cents).
pub fn money(e: &OrderEvent) -> Option<(&'static str, Cents)> {
    match (&e.kind, &e.change) {
        (EventType::OrderPaid, EventChange::Paid(p)) => Some(("PaidCents", p.amount_cents)),
        (EventType::RefundRecorded, EventChange::Refund(r)) => {
            Some(("RefundRecordedCents", r.amount_cents))
        }
        (EventType::RefundSucceeded, EventChange::Refund(r)) => {
            Some(("RefundSucceededCents", r.amount_cents))
        }
        _ => None,
    }
}
