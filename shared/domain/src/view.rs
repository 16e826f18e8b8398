//! What an order answer shows a caller (SPEC 2.10): the order and the
//! `actions` the caller may take now, so that no client re-implements the rules.

use crate::after_sales::eligibility;
use crate::catalog::{Source, StockPolicy};
use crate::config::Config;
use crate::config::FreightPolicy;
use crate::ids::{Caller, CaseId, OrderId, PackageId, SkuId, UserId, WarehouseId};
use crate::money::Cents;
use crate::order::cases::CaseStatus;
use crate::order::{
    Address, AttentionItem, CaseSummary, Order, OrderStatus, PackageLine, PackageStatus,
    PaymentChannel, Refund, RefundFailure, RefundStatus, TimelineEntry, Warning,
};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Action {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    /// The case a `review` or `complete` is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// The attention item an `acknowledge` is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The failed refund a `retry_refund` or `record_refund_offline` is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
}

/// Every action code an order answer may list (the OpenAPI document's enum
/// is this list).
pub const ACTIONS: [&str; 14] = [
    "pay",
    "cancel",
    "cancel_package",
    "resolve",
    "confirm_receipt",
    "after_sales",
    "repurchase",
    "note",
    "ship",
    "review",
    "complete",
    "acknowledge",
    "retry_refund",
    "record_refund_offline",
];

impl Action {
    fn order(action: &'static str) -> Self {
        debug_assert!(ACTIONS.contains(&action), "{action} is not in ACTIONS");
        Self {
            action,
            package_id: None,
            case_id: None,
            item_id: None,
            refund_id: None,
        }
    }
    fn package(action: &'static str, id: &PackageId) -> Self {
        Self {
            package_id: Some(id.clone()),
            ..Self::order(action)
        }
    }
    fn case(action: &'static str, id: &CaseId) -> Self {
        Self {
            case_id: Some(id.clone()),
            ..Self::order(action)
        }
    }
    fn refund(action: &'static str, id: &str) -> Self {
        Self {
            refund_id: Some(id.to_owned()),
            ..Self::order(action)
        }
    }
    fn item(action: &'static str, id: &str) -> Self {
        Self {
            item_id: Some(id.to_owned()),
            ..Self::order(action)
        }
    }
}

/// An order as one caller sees it: what the client needs, none of the
/// store's internals (outbox, version, claims, the payment record).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView<'a> {
    pub id: &'a OrderId,
    pub user_id: &'a UserId,
    /// Where it was placed (SPEC 2.13).
    pub storefront: &'a StorefrontId,
    pub status: OrderStatus,
    pub lines: Vec<LineView<'a>>,
    pub packages: Vec<PackageView<'a>>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    pub total_cents: Cents,
    pub freight_policy: FreightPolicy,
    /// Left out of the payment provider's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a Address>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub note: Option<&'a str>,
    pub created_at: Timestamp,
    pub payment_deadline: Timestamp,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub paid_at: Option<Timestamp>,
    /// The payment that paid the order (the provider's id) and its channel
    /// (`gateway`, `wechatpay`), once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^(gateway|wechatpay)$"))]
    pub payment_channel: Option<&'static str>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub close_reason: Option<&'a str>,
    pub warnings: &'a [Warning],
    pub refunds: Vec<RefundView<'a>>,
    pub cases: &'a [CaseSummary],
    pub timeline: &'a [TimelineEntry],
    /// Open work for staff (SPEC 2.11); shown to staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<&'a [AttentionItem]>,
    pub actions: Vec<Action>,
}

/// A refund and where it stands (SPEC 2.12).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundView<'a> {
    pub id: &'a str,
    pub amount_cents: Cents,
    pub reason: &'a str,
    pub status: RefundStatus,
    /// Why it failed, when it did: `abnormal` or `closed`.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub failure: Option<RefundFailure>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub package_id: Option<&'a PackageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<&'a CaseId>,
    /// The payment it returns.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub payment_id: Option<&'a str>,
    /// The channel that payment came by, and the refund goes back by.
    pub channel: PaymentChannel,
    /// The number the provider knows it by (`out_refund_no`).
    pub provider_no: String,
    /// The provider's own refund id, once known.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub provider_refund_id: Option<&'a str>,
    /// Paid back outside the provider, as staff recorded.
    pub offline: bool,
    /// Applied for again after `abnormal`, it went to the merchant's own
    /// account: the buyer is still owed it (staff record it offline).
    pub to_merchant: bool,
    pub at: Timestamp,
}

impl<'a> RefundView<'a> {
    fn of(r: &'a Refund) -> Self {
        Self {
            id: &r.id,
            amount_cents: r.amount_cents,
            reason: &r.reason,
            status: r.status,
            failure: r.failure,
            package_id: r.package_id.as_ref(),
            case_id: r.case_id.as_ref(),
            payment_id: r.payment_id.as_deref(),
            channel: r.channel,
            provider_no: r.provider_no(),
            provider_refund_id: r.provider_refund_id.as_deref(),
            offline: r.offline,
            to_merchant: r.to_merchant,
            at: r.at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineView<'a> {
    pub sku: &'a SkuId,
    pub name: &'a str,
    pub qty: u32,
    pub unit_price_cents: Cents,
    pub line_total_cents: Cents,
    pub source: &'a Source,
    pub stock_policy: StockPolicy,
    pub package_id: &'a PackageId,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageView<'a> {
    pub id: &'a PackageId,
    pub source: &'a Source,
    pub status: PackageStatus,
    pub lines: &'a [PackageLine],
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub supplier_ref: Option<&'a str>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub carrier: Option<&'a str>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub tracking_no: Option<&'a str>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub shipped_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub received_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rejected_at: Option<Timestamp>,
    /// When receipt will be confirmed automatically, while shipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_confirm_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_for: Option<&'a CaseId>,
    /// When the queue gave up handing it to its supplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_failed_at: Option<Timestamp>,
}

impl<'a> OrderView<'a> {
    /// The order for `caller` (its owner or staff), with their actions; for
    /// a warehouse user, [`OrderView::for_warehouse`].
    pub fn new(order: &'a Order, caller: &Caller, cfg: &Config, now: Timestamp) -> Self {
        if caller.user != order.user_id && !caller.is_staff() {
            if let Some(w) = &caller.roles.warehouse {
                return Self::for_warehouse(order, w);
            }
        }
        let mut view = Self::bare(order);
        view.address = Some(&order.address);
        view.actions = actions(order, caller, cfg, now);
        if caller.is_staff() {
            view.attention = Some(order.attention());
        }
        view
    }

    /// What a warehouse user is shown (SPEC 2.11: its own parcels, nothing
    /// else): the packages from `warehouse` and their lines, and the address
    /// to ship to; no other package, no money beyond those parcels' goods,
    /// no refunds, cases, timeline or actions.
    pub fn for_warehouse(order: &'a Order, warehouse: &WarehouseId) -> Self {
        let mut view = Self::bare(order);
        let from_here =
            |s: &Source| matches!(s, Source::SelfOperated { warehouse: w } if w == warehouse);
        view.packages.retain(|p| from_here(p.source));
        view.lines.retain(|l| from_here(l.source));
        view.goods_cents = view.packages.iter().map(|p| p.goods_cents).sum();
        view.freight_cents = Cents::ZERO;
        view.total_cents = view.goods_cents;
        view.address = Some(&order.address);
        view.refunds = Vec::new();
        view.cases = &[];
        view.timeline = &[];
        view.warnings = &[];
        view.actions = order
            .packages()
            .iter()
            .filter(|p| from_here(&p.source) && may_ship(order, p))
            .map(|p| Action::package("ship", &p.id))
            .collect();
        view
    }

    /// The order for the payment provider: no address, no actions.
    pub fn for_payment_provider(order: &'a Order) -> Self {
        Self::bare(order)
    }

    fn bare(order: &'a Order) -> Self {
        Self {
            id: &order.id,
            user_id: &order.user_id,
            storefront: &order.storefront,
            status: order.status(),
            lines: order
                .lines
                .iter()
                .map(|l| LineView {
                    sku: &l.sku,
                    name: &l.name,
                    qty: l.qty,
                    unit_price_cents: l.unit_price_cents,
                    line_total_cents: l.line_total_cents,
                    source: &l.source,
                    stock_policy: l.stock_policy,
                    package_id: &l.package_id,
                })
                .collect(),
            packages: order
                .packages()
                .iter()
                .map(|p| PackageView {
                    id: &p.id,
                    source: &p.source,
                    status: p.status(),
                    lines: &p.lines,
                    goods_cents: p.goods_cents,
                    freight_cents: p.freight_cents,
                    supplier_ref: p.supplier_ref(),
                    carrier: p.carrier(),
                    tracking_no: p.tracking_no(),
                    shipped_at: p.shipped_at(),
                    received_at: p.received_at(),
                    rejected_at: p.rejected_at(),
                    auto_confirm_at: p
                        .auto_confirm_at()
                        .filter(|_| p.status() == PackageStatus::Shipped),
                    exchange_for: p.exchange_for(),
                    forward_failed_at: p.forward_failed_at(),
                })
                .collect(),
            goods_cents: order.goods_cents,
            freight_cents: order.freight_cents,
            total_cents: order.total_cents,
            freight_policy: order.freight_policy,
            address: None,
            note: order.note.as_deref(),
            created_at: order.created_at,
            payment_deadline: order.payment_deadline,
            paid_at: order.payment().map(|p| p.paid_at),
            payment_id: order.payment().map(|p| p.payment_id.as_str()),
            payment_channel: order.payment().map(|p| p.channel.as_str()),
            close_reason: order.close_reason(),
            warnings: &order.warnings,
            refunds: order.refunds().iter().map(RefundView::of).collect(),
            cases: order.cases(),
            timeline: order.timeline(),
            attention: None,
            actions: Vec::new(),
        }
    }
}

/// What `caller` may do with `order` now.
pub fn actions(order: &Order, caller: &Caller, cfg: &Config, now: Timestamp) -> Vec<Action> {
    let owner = caller.user == order.user_id;
    let staff = caller.is_staff();
    let mut out = Vec::new();
    let status = order.status();
    if owner && status == OrderStatus::PendingPayment && order.payment_deadline > now {
        out.push(Action::order("pay"));
    }
    let shipped = order.packages().iter().any(|p| p.status().has_shipped());
    let cancellable = matches!(
        status,
        OrderStatus::PendingPayment | OrderStatus::AwaitingShipment
    );
    if (owner || staff) && cancellable && !shipped {
        out.push(Action::order("cancel"));
    }
    for p in order.packages() {
        let failed_handover =
            p.status() == PackageStatus::Pending && p.forward_failed_at().is_some();
        if staff && failed_handover {
            out.push(Action::package("cancel_package", &p.id));
        }
        if staff && (failed_handover || p.status() == PackageStatus::InterceptRequested) {
            out.push(Action::package("resolve", &p.id));
        }
        if (owner || staff) && p.status() == PackageStatus::Shipped {
            out.push(Action::package("confirm_receipt", &p.id));
        }
        if owner && eligibility(order, &p.id, cfg, now).is_ok() {
            let claimable = p
                .lines
                .iter()
                .any(|l| order.claimed_by_cases(&p.id, &l.sku) < l.qty);
            let free_line = p.lines.iter().any(|l| {
                !order.cases().iter().any(|c| {
                    c.package_id == p.id
                        && c.status.is_open()
                        && c.lines.iter().any(|cl| cl.sku == l.sku)
                })
            });
            if claimable && free_line {
                out.push(Action::package("after_sales", &p.id));
            }
        }
    }
    if owner && status != OrderStatus::PendingPayment {
        out.push(Action::order("repurchase"));
    }
    // The staff actions of SPEC 2.11.
    for p in order.packages() {
        if let Source::SelfOperated { warehouse } = &p.source {
            if caller.ships_from(warehouse) && may_ship(order, p) {
                out.push(Action::package("ship", &p.id));
            }
        }
    }
    if staff {
        for c in order.cases() {
            if c.status == CaseStatus::Requested {
                out.push(Action::case("review", &c.id));
            }
            if c.status.can_become(c.kind, CaseStatus::Completed) {
                out.push(Action::case("complete", &c.id));
            }
        }
        for a in order.attention() {
            if a.actions.iter().any(|x| x == "acknowledge") {
                out.push(Action::item("acknowledge", &a.id));
            }
        }
        for r in order.refunds() {
            if r.status == RefundStatus::Failed {
                if !r.to_merchant {
                    out.push(Action::refund("retry_refund", &r.id));
                }
                out.push(Action::refund("record_refund_offline", &r.id));
            }
        }
        // Staff may always write a note.
        out.push(Action::order("note"));
    }
    out
}

/// A self-operated package its warehouse may ship now: paid for and handed
/// over (on the pick list).
fn may_ship(order: &Order, p: &crate::order::Package) -> bool {
    order.is_paid()
        && p.status() == PackageStatus::Forwarded
        && matches!(p.source, Source::SelfOperated { .. })
}
