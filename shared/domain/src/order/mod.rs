//! Orders and packages: their shapes. What they may become is in
//! [`machine`]; the only ways to change them are in [`change`]. Fields that
//! only a transition may change are private and read through getters.

pub mod attention;
pub mod cancel;
pub mod cases;
pub use cases::CaseSummary;
pub mod change;
pub mod events;
pub mod machine;
pub mod read;
pub mod refunds;
pub mod sweep;

use crate::catalog::{Source, StockPolicy};
use crate::config::FreightPolicy;
use crate::ids::{CaseId, OrderId, PackageId, SkuId, UserId};
use crate::messages::Message;
use crate::money::Cents;
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

pub use attention::{AttentionItem, AttentionKind};
pub use machine::{derive_paid_status, IllegalTransition, OrderStatus, PackageStatus, Step};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The SKU's shard count when the order was placed (1: not sharded).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stock_shards: u8,
    /// The shard its stock was taken from, as orders placed before `takes`
    /// record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u8>,
    /// Where a sharded SKU's units were taken from: (shard, units), once
    /// taken (SPEC 2.1: one line may take from several shards); what is
    /// given back goes to the same shards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub takes: Vec<(u8, u32)>,
}

impl OrderLine {
    /// The stock items this line takes (or holds): `(shard, units)` per
    /// shard of a sharded SKU, or the SKU's own item (`None`).
    pub fn stock_items(&self) -> Vec<(Option<u8>, u32)> {
        if self.takes.is_empty() {
            vec![(self.shard, self.qty)]
        } else {
            self.takes.iter().map(|(k, q)| (Some(*k), *q)).collect()
        }
    }
}

fn one() -> u8 {
    1
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageLine {
    pub sku: SkuId,
    pub qty: u32,
    pub line_total_cents: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub id: PackageId,
    pub source: Source,
    status: PackageStatus,
    pub lines: Vec<PackageLine>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    supplier_ref: Option<String>,
    carrier: Option<String>,
    tracking_no: Option<String>,
    #[serde(default)]
    shipped_at: Option<Timestamp>,
    #[serde(default)]
    received_at: Option<Timestamp>,
    #[serde(default)]
    rejected_at: Option<Timestamp>,
    /// When receipt is confirmed automatically, for sources that report none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auto_confirm_at: Option<Timestamp>,
    /// A forwarder (or an intercept) is calling the supplier until then. Left
    /// set, expired, after a forward that did not record a reference: the
    /// supplier may have the package, so a cancel must intercept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forwarding_until: Option<Timestamp>,
    /// The supplier took an intercept request and will answer by callback:
    /// another delivery of the request is not sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intercept_sent_at: Option<Timestamp>,
    /// When the intercept was requested (SPEC 2.6: staff take it over after
    /// `INTERCEPT_GIVE_UP_SECS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intercept_requested_at: Option<Timestamp>,
    /// When the sweep asks the supplier again (or, past give-up, hands the
    /// intercept to staff), while one is requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intercept_due_at: Option<Timestamp>,
    /// The queue gave up handing it to its supplier (its message went to the
    /// dead-letter queue): staff may cancel and refund it, or redrive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forward_failed_at: Option<Timestamp>,
    /// Set on a replacement package sent by an after-sales exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exchange_for: Option<CaseId>,
    /// The stock an exchange package took: `(sku, shard, units)` per item,
    /// held while it is not cancelled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exchange_stock: Vec<(SkuId, Option<u8>, u32)>,
}

impl Package {
    pub fn new(
        id: PackageId,
        source: Source,
        lines: Vec<PackageLine>,
        goods_cents: Cents,
        freight_cents: Cents,
    ) -> Self {
        Self {
            id,
            source,
            status: PackageStatus::Pending,
            lines,
            goods_cents,
            freight_cents,
            supplier_ref: None,
            carrier: None,
            tracking_no: None,
            shipped_at: None,
            received_at: None,
            rejected_at: None,
            auto_confirm_at: None,
            forwarding_until: None,
            intercept_sent_at: None,
            intercept_requested_at: None,
            intercept_due_at: None,
            forward_failed_at: None,
            exchange_for: None,
            exchange_stock: Vec::new(),
        }
    }
    pub fn status(&self) -> PackageStatus {
        self.status
    }
    pub fn supplier_ref(&self) -> Option<&str> {
        self.supplier_ref.as_deref()
    }
    pub fn carrier(&self) -> Option<&str> {
        self.carrier.as_deref()
    }
    pub fn tracking_no(&self) -> Option<&str> {
        self.tracking_no.as_deref()
    }
    pub fn shipped_at(&self) -> Option<Timestamp> {
        self.shipped_at
    }
    pub fn received_at(&self) -> Option<Timestamp> {
        self.received_at
    }
    pub fn rejected_at(&self) -> Option<Timestamp> {
        self.rejected_at
    }
    pub fn auto_confirm_at(&self) -> Option<Timestamp> {
        self.auto_confirm_at
    }
    pub fn forward_failed_at(&self) -> Option<Timestamp> {
        self.forward_failed_at
    }
    pub fn exchange_for(&self) -> Option<&CaseId> {
        self.exchange_for.as_ref()
    }
    /// What `qty` units of `sku` in this package were paid: its line's
    /// total, pro rata (an exchange package: the value of what it replaced).
    pub fn paid_value(&self, sku: &SkuId, qty: u32) -> Cents {
        self.lines
            .iter()
            .find(|l| &l.sku == sku && l.qty > 0)
            .map_or(Cents::ZERO, |l| {
                Cents(l.line_total_cents.0 * u64::from(qty) / u64::from(l.qty))
            })
    }
    /// A forwarder holds the package at `now` (it may be with the supplier already).
    pub fn is_being_forwarded(&self, now: Timestamp) -> bool {
        self.status == PackageStatus::Pending && self.forwarding_until.is_some_and(|t| t > now)
    }
    /// Still pending, but a forward was attempted: the supplier may have it.
    pub fn may_be_with_supplier(&self) -> bool {
        self.status == PackageStatus::Pending && self.forwarding_until.is_some()
    }
    /// Someone is calling the supplier about it right now.
    pub fn is_claimed(&self, now: Timestamp) -> bool {
        self.forwarding_until.is_some_and(|t| t > now)
    }
    pub fn intercept_sent_at(&self) -> Option<Timestamp> {
        self.intercept_sent_at
    }
    pub fn forwarding_until(&self) -> Option<Timestamp> {
        self.forwarding_until
    }
    pub fn intercept_requested_at(&self) -> Option<Timestamp> {
        self.intercept_requested_at
    }
    pub fn intercept_due_at(&self) -> Option<Timestamp> {
        self.intercept_due_at
    }
}

pub use crate::payment::refund::{PaymentChannel, RefundFailure, RefundStatus, Resend};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount_cents: Cents,
    pub reason: String,
    /// `pending` (recorded) -> `processing` (the provider took it) ->
    /// `succeeded` | `failed` (SPEC 2.12). Changed only through
    /// [`crate::order::Order`]'s refund transitions.
    pub status: RefundStatus,
    /// Why it failed: `abnormal` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RefundFailure>,
    pub package_id: Option<PackageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// The payment it returns money of (SPEC 2.12): the order's payment, or
    /// a payment refunded as it came (a second payment, a late one). None
    /// only on refunds recorded before payments were named.
    #[serde(default)]
    pub payment_id: Option<String>,
    /// The channel of that payment: the refund goes back through it.
    #[serde(default)]
    pub channel: PaymentChannel,
    /// What that payment was (the provider's `amount.total`).
    #[serde(default)]
    pub payment_cents: Cents,
    /// How many numbers it has had at the provider: a closed refund sent
    /// again goes under a new one ([`Refund::provider_no`]).
    #[serde(default, skip_serializing_if = "is_first")]
    pub attempt: u32,
    /// The provider's own id for it, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<String>,
    /// What the next send asks of the provider.
    #[serde(default, skip_serializing_if = "Resend::is_create")]
    pub resend: Resend,
    /// When the sweep asks the provider where it stands, while unsettled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_at: Option<Timestamp>,
    /// Paid back outside the provider, as staff recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// An abnormal refund applied for again went to the merchant's own
    /// account (WeChat `MERCHANT_BANK_CARD`): the buyer is still owed it,
    /// staff pay it and record it offline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub to_merchant: bool,
    pub at: Timestamp,
}

fn is_first(n: &u32) -> bool {
    *n <= 1
}

impl Refund {
    /// The number the provider knows it by (`out_refund_no`, the gateway's
    /// `refund_id`): the refund id, then `<id>-<n>` for its n-th number.
    pub fn provider_no(&self) -> String {
        if self.attempt <= 1 {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.attempt)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    pub code: String,
    pub sku: SkuId,
    pub message: String,
}

/// One transition, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// A stable code: `placed`, `paid`, `package_shipped`, `case_opened`...
    pub event: String,
    /// `user:<id>`, `staff:<id>`, `system`, `supplier:<id>`, `payment`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// Why, in words (a reason, a supplier reference, an amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The most an order may weigh as JSON. DynamoDB holds 400 KB per item; this
/// leaves room for attribute names and index keys. Every external string is
/// capped where it is parsed; this is the last guard.
pub const MAX_ORDER_BYTES: usize = 300_000;

/// How long a freshly written outbox is left to its writer before the sweep
/// publishes it.
pub const OUTBOX_GRACE_SECS: u64 = 30;

/// How a payment notification for this order ended, so that the same
/// notification again is answered from the order alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOutcome {
    pub payment_id: String,
    /// `paid`, or the code answered when the money was refunded instead.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shortages: Vec<crate::ports::Shortage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    pub payment_id: String,
    pub amount_cents: Cents,
    pub paid_at: Timestamp,
    /// How it came (payments from before channels: `gateway`).
    #[serde(default)]
    pub channel: PaymentChannel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    status: OrderStatus,
    pub lines: Vec<OrderLine>,
    packages: Vec<Package>,
    pub goods_cents: Cents,
    pub freight_cents: Cents,
    pub total_cents: Cents,
    pub freight_policy: FreightPolicy,
    pub address: Address,
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub payment_deadline: Timestamp,
    pub warnings: Vec<Warning>,
    refunds: Vec<Refund>,
    timeline: Vec<TimelineEntry>,
    /// Why a closed/cancelled order ended, e.g. `expired`, `out_of_stock`.
    close_reason: Option<String>,
    /// The payment that paid this order, once paid.
    #[serde(default)]
    payment: Option<PaymentInfo>,
    /// All money received for this order, including payments refunded at once.
    #[serde(default)]
    received_cents: Cents,
    /// Every payment notification applied to this order, and how it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    payments_seen: Vec<PaymentOutcome>,
    #[serde(default)]
    cases: Vec<CaseSummary>,
    /// Open work for staff (SPEC 2.11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attention: Vec<AttentionItem>,
    /// Messages this order's last transitions still owe to the queues, by
    /// their de-duplication id. They are written in the same transaction as
    /// the transition, published right after it, removed once published, and
    /// re-published by the sweep if that failed.
    #[serde(default, deserialize_with = "outbox_entries")]
    outbox: BTreeMap<String, Message>,
    /// When the oldest unpublished message was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outbox_since: Option<Timestamp>,
    /// Where it was placed (SPEC 2.13); orders from before storefronts read
    /// as `default`.
    #[serde(default)]
    pub storefront: StorefrontId,
    /// Its storefront's terms at placement; None on orders from before
    /// storefronts (the environment's terms hold for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    terms: Option<OrderTerms>,
    /// Optimistic-concurrency version: every write is conditional on it.
    version: u64,
}

/// The terms an order keeps from its storefront at placement, beyond its
/// freight and payment deadline (which it records anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTerms {
    pub after_sales_days: u32,
    pub customer_service_phone: String,
}

/// Reads an outbox stored by id, or as the list earlier versions wrote.
fn outbox_entries<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Message>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        ById(BTreeMap<String, Message>),
        List(Vec<Message>),
    }
    Ok(match Stored::deserialize(d)? {
        Stored::ById(map) => map,
        Stored::List(list) => list.into_iter().map(|m| (m.dedup_id(), m)).collect(),
    })
}

/// A priced, split order about to be written for the first time.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: OrderId,
    pub user_id: UserId,
    pub lines: Vec<OrderLine>,
    pub packages: Vec<Package>,
    pub freight_cents: Cents,
    pub freight_policy: FreightPolicy,
    pub address: Address,
    pub note: Option<String>,
    pub warnings: Vec<Warning>,
    pub created_at: Timestamp,
    pub payment_deadline: Timestamp,
    pub storefront: StorefrontId,
    pub terms: OrderTerms,
}

impl Order {
    /// The after-sales window, in seconds: its storefront's at placement.
    pub fn after_sales_secs(&self, env: &crate::config::Config) -> u64 {
        self.terms.as_ref().map_or(env.after_sales_secs(), |t| {
            u64::from(t.after_sales_days) * 86_400
        })
    }

    /// The service phone shown on its after-sales cases.
    pub fn service_phone<'a>(&'a self, env: &'a crate::config::Config) -> &'a str {
        self.terms
            .as_ref()
            .map_or(env.customer_service_phone.as_str(), |t| {
                t.customer_service_phone.as_str()
            })
    }

    /// A new order: `pending_payment`, version 1, its placement on the timeline.
    pub fn place(n: NewOrder) -> Order {
        let goods_cents: Cents = n.lines.iter().map(|l| l.line_total_cents).sum();
        let actor = format!("user:{}", n.user_id);
        Order {
            id: n.id,
            user_id: n.user_id,
            status: OrderStatus::PendingPayment,
            lines: n.lines,
            packages: n.packages,
            goods_cents,
            freight_cents: n.freight_cents,
            total_cents: goods_cents + n.freight_cents,
            freight_policy: n.freight_policy,
            address: n.address,
            note: n.note,
            created_at: n.created_at,
            payment_deadline: n.payment_deadline,
            warnings: n.warnings,
            refunds: Vec::new(),
            timeline: vec![TimelineEntry {
                at: n.created_at,
                event: "placed".to_owned(),
                actor,
                package_id: None,
                case_id: None,
                cause: None,
            }],
            close_reason: None,
            payment: None,
            received_cents: Cents::ZERO,
            payments_seen: Vec::new(),
            cases: Vec::new(),
            attention: Vec::new(),
            outbox: BTreeMap::new(),
            outbox_since: None,
            storefront: n.storefront,
            terms: Some(n.terms),
            version: 1,
        }
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }
    pub fn package(&self, id: &PackageId) -> Option<&Package> {
        self.packages.iter().find(|p| &p.id == id)
    }
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }
    pub fn close_reason(&self) -> Option<&str> {
        self.close_reason.as_deref()
    }
    pub fn payment(&self) -> Option<&PaymentInfo> {
        self.payment.as_ref()
    }
    pub fn received_cents(&self) -> Cents {
        self.received_cents
    }
    /// How the notification of `payment_id` ended, if it was applied here.
    pub fn payment_seen(&self, payment_id: &str) -> Option<&PaymentOutcome> {
        self.payments_seen
            .iter()
            .find(|p| p.payment_id == payment_id)
    }
    /// Records how a payment's notification ended (written with its change).
    pub fn remember_payment(&mut self, outcome: PaymentOutcome) {
        self.payments_seen.push(outcome);
    }
    pub fn cases(&self) -> &[CaseSummary] {
        &self.cases
    }
    /// Unpublished messages, by de-duplication id.
    pub fn outbox(&self) -> &BTreeMap<String, Message> {
        &self.outbox
    }
    pub fn outbox_since(&self) -> Option<Timestamp> {
        self.outbox_since
    }
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn is_paid(&self) -> bool {
        self.payment.is_some()
    }

    /// Units of `lock_on_place` stock this order reserves, per SKU (and
    /// shard, for a sharded SKU).
    pub fn stock_reservations(&self) -> Vec<(SkuId, Option<u8>, u32)> {
        self.lines
            .iter()
            .filter(|l| l.stock_policy == StockPolicy::LockOnPlace)
            .flat_map(|l| {
                l.stock_items()
                    .into_iter()
                    .map(|(shard, qty)| (l.sku.clone(), shard, qty))
            })
            .collect()
    }

    /// Units counted against per-user limits, per SKU.
    pub fn limit_holds(&self) -> Vec<(SkuId, u32, u32)> {
        self.lines
            .iter()
            .filter_map(|l| l.per_user_limit.map(|lim| (l.sku.clone(), l.qty, lim)))
            .collect()
    }

    /// Refuses an order that would outgrow one item.
    pub fn check_size(&self) -> Result<(), crate::error::StoreError> {
        let bytes = serde_json::to_vec(self).map_or(usize::MAX, |b| b.len());
        if bytes > MAX_ORDER_BYTES {
            return Err(crate::error::StoreError::TooLarge(bytes));
        }
        Ok(())
    }

    /// Items in the largest transaction this order will ever need, so that
    /// an order is only placed if every later step fits one transaction:
    /// placing (order, reservations, limits, idempotency record), paying
    /// (order, `deduct_on_pay` takes, payment record; or closing short:
    /// order, releases, limits, payment record), a paid cancel (order, one
    /// stock move per line, limits) and an after-sales step (order, case,
    /// one lock per line of a package). Lines are merged by SKU; a line is
    /// one stock item per shard it takes from, and a sharded line given
    /// back counts a restock on its SKU's item too. Work-queue entries
    /// move with a change too: a paid cancel takes each package off its
    /// queue (one entry each, no payment record then), so the largest is
    /// the order, one per stock item, restock and limit, and the larger of
    /// one record and one queue entry per package.
    pub fn largest_transaction(&self) -> usize {
        let stock_items: usize = self.lines.iter().map(|l| l.stock_items().len()).sum();
        let restocks = self
            .lines
            .iter()
            .filter(|l| l.stock_items().iter().any(|(k, _)| k.is_some()))
            .count();
        1 + stock_items + restocks + self.limit_holds().len() + self.packages.len().max(1)
    }

    pub fn refunded_cents(&self) -> Cents {
        self.refunds.iter().map(|r| r.amount_cents).sum()
    }

    /// Money received and not yet refunded.
    pub fn refundable(&self) -> Cents {
        self.received_cents.saturating_sub(self.refunded_cents())
    }

    /// What has been refunded against one package (its rejection, cancel, cases).
    pub fn refunded_for(&self, package: &PackageId) -> Cents {
        self.refunds
            .iter()
            .filter(|r| r.package_id.as_ref() == Some(package))
            .map(|r| r.amount_cents)
            .sum()
    }

    /// The next time the sweep has something to do for this order: its payment
    /// deadline, messages left unpublished for [`OUTBOX_GRACE_SECS`], a
    /// package's automatic receipt, an intercept to ask again, or a refund to
    /// ask its provider about. One slot per order, whatever is due.
    pub fn due_at(&self) -> Option<Timestamp> {
        let deadline =
            (self.status == OrderStatus::PendingPayment).then_some(self.payment_deadline);
        let outbox = self
            .outbox_since
            .filter(|_| !self.outbox.is_empty())
            .map(|t| t.plus_secs(OUTBOX_GRACE_SECS));
        let receipt = self
            .packages
            .iter()
            .filter(|p| p.status == PackageStatus::Shipped)
            .filter_map(|p| p.auto_confirm_at)
            .min();
        let intercept = self
            .packages
            .iter()
            .filter(|p| p.status == PackageStatus::InterceptRequested)
            .filter_map(|p| p.intercept_due_at)
            .min();
        let refund = self.refunds.iter().filter_map(|r| r.query_at).min();
        [deadline, outbox, receipt, intercept, refund]
            .into_iter()
            .flatten()
            .min()
    }

    /// For stores: the messages `ids` were published. What is left (written
    /// since) counts its age from `restart`; an empty outbox has no age.
    pub fn remove_published(&mut self, ids: &[String], restart: Option<Timestamp>) {
        for id in ids {
            self.outbox.remove(id);
        }
        self.outbox_since = if self.outbox.is_empty() {
            None
        } else {
            restart.or(self.outbox_since)
        };
    }

    /// [`Order::due_at`] once the outbox has been published.
    pub fn due_at_once_published(&self) -> Option<Timestamp> {
        let mut published = self.clone();
        published.outbox.clear();
        published.outbox_since = None;
        published.due_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_past_the_item_limit_is_refused() {
        let now = Timestamp::from_unix(1_800_000_000);
        let id = OrderId::generate(&now);
        let order = |note: &str| {
            Order::place(NewOrder {
                id: id.clone(),
                user_id: UserId::parse("u").unwrap(),
                lines: Vec::new(),
                packages: Vec::new(),
                freight_cents: Cents::ZERO,
                freight_policy: FreightPolicy::Single,
                address: Address {
                    name: "n".into(),
                    phone: "p".into(),
                    line1: "l".into(),
                    city: "c".into(),
                    postcode: "0".into(),
                },
                note: Some(note.to_owned()),
                warnings: Vec::new(),
                created_at: now,
                payment_deadline: now,
                storefront: StorefrontId::default_id(),
                terms: OrderTerms {
                    after_sales_days: 7,
                    customer_service_phone: "400".into(),
                },
            })
        };
        assert!(order("small").check_size().is_ok());
        let err = order(&"x".repeat(MAX_ORDER_BYTES))
            .check_size()
            .unwrap_err();
        assert!(matches!(err, crate::error::StoreError::TooLarge(n) if n > MAX_ORDER_BYTES));
    }
}
