//! The only ways an order changes after placement. Each status change is
//! checked against the state machine; an illegal one is an error and nothing
//! is changed. Use cases start from [`Order::next`] and call these.

use super::attention::AttentionKind;
use super::cases::{CaseLine, CaseSummary};
use super::*;
use crate::ports::StockMove;

/// A package event: who says what, when.
#[derive(Debug, Clone)]
pub struct PackageEvent {
    pub to: PackageStatus,
    /// When it happened (a supplier's event time, or now).
    pub at: Timestamp,
    /// When we record it.
    pub now: Timestamp,
    pub actor: String,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    /// For a shipment: when receipt is confirmed automatically, if ever.
    pub auto_confirm_at: Option<Timestamp>,
}

impl Order {
    /// A copy to change: one version up, outbox carried over (still unpublished).
    pub fn next(&self) -> Order {
        let mut o = self.clone();
        o.version += 1;
        o
    }

    /// Adds a timeline entry; the caller may fill in its package, case and cause.
    pub fn log(&mut self, at: Timestamp, event: &str, actor: &str) -> &mut TimelineEntry {
        self.timeline.push(TimelineEntry {
            at,
            event: event.to_owned(),
            actor: actor.to_owned(),
            package_id: None,
            case_id: None,
            cause: None,
        });
        self.timeline.last_mut().expect("just pushed")
    }

    pub(super) fn send(&mut self, message: Message, now: Timestamp) {
        // The age of the oldest unpublished message (an empty outbox has none).
        if self.outbox.is_empty() || self.outbox_since.is_none() {
            self.outbox_since = Some(now);
        }
        self.outbox.insert(message.dedup_id(), message);
    }

    fn set_status(&mut self, to: OrderStatus) -> Result<(), IllegalTransition> {
        self.status.check(to)?;
        self.status = to;
        Ok(())
    }

    fn index_of(&self, id: &PackageId) -> Result<usize, IllegalTransition> {
        self.packages
            .iter()
            .position(|p| &p.id == id)
            .ok_or(IllegalTransition {
                what: "package",
                from: "unknown",
                to: "any",
            })
    }

    /// Records a refund of at most what is still refundable (for a package: at
    /// most its goods and freight less what it already got back), and queues
    /// it. Returns the amount recorded.
    pub fn refund(
        &mut self,
        at: Timestamp,
        amount: Cents,
        reason: &str,
        package: Option<&PackageId>,
        case: Option<&CaseId>,
    ) -> Cents {
        let payment = self.payment.clone();
        self.refund_of(payment.as_ref(), at, amount, reason, package, case)
    }

    /// [`Order::refund`] against `payment`.
    fn refund_of(
        &mut self,
        payment: Option<&PaymentInfo>,
        at: Timestamp,
        amount: Cents,
        reason: &str,
        package: Option<&PackageId>,
        case: Option<&CaseId>,
    ) -> Cents {
        let mut amount = amount.min(self.refundable());
        if let Some(p) = package.and_then(|id| self.package(id)) {
            let cap = (p.goods_cents + p.freight_cents).saturating_sub(self.refunded_for(&p.id));
            amount = amount.min(cap);
        }
        if amount == Cents::ZERO {
            return amount;
        }
        let id = format!("{}-R{:02}", self.id, self.refunds.len() + 1);
        self.refunds.push(Refund {
            id: id.clone(),
            amount_cents: amount,
            reason: reason.to_owned(),
            status: RefundStatus::Pending,
            failure: None,
            package_id: package.cloned(),
            case_id: case.cloned(),
            payment_id: payment.map(|p| p.payment_id.clone()),
            channel: payment.map(|p| p.channel).unwrap_or_default(),
            payment_cents: payment.map_or(Cents::ZERO, |p| p.amount_cents),
            attempt: 0,
            provider_refund_id: None,
            resend: Resend::Create,
            query_at: Some(at.plus_secs(super::refunds::FIRST_QUERY_SECS)),
            offline: false,
            to_merchant: false,
            at,
        });
        let message = self.refund_message(self.refunds.len() - 1);
        self.send(message, at);
        let entry = self.log(at, "refund_recorded", "system");
        entry.package_id = package.cloned();
        entry.case_id = case.cloned();
        entry.cause = Some(format!("{id}: {amount} ({reason})"));
        amount
    }

    /// Money arrived that will not pay this order (closed, or paid twice):
    /// counted as received, and refunded at once.
    pub fn refund_payment(&mut self, payment: &PaymentInfo, reason: &str, now: Timestamp) {
        self.received_cents = self.received_cents + payment.amount_cents;
        self.log(now, "payment_refunded", "payment").cause = Some(reason.to_owned());
        self.refund_of(Some(payment), now, payment.amount_cents, reason, None, None);
    }

    /// Paid: every package is queued for forwarding at `forward_at`.
    pub fn pay(
        &mut self,
        payment: PaymentInfo,
        forward_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        self.set_status(OrderStatus::AwaitingShipment)?;
        self.received_cents = self.received_cents + payment.amount_cents;
        self.log(now, "paid", "payment").cause = Some(payment.payment_id.clone());
        self.payment = Some(payment);
        for i in 0..self.packages.len() {
            let package_id = self.packages[i].id.clone();
            self.send(
                Message::Forward {
                    package_id,
                    not_before: forward_at,
                },
                now,
            );
        }
        Ok(())
    }

    /// Every package still open is cancelled (none may have shipped).
    fn cancel_open_packages(&mut self) -> Result<(), IllegalTransition> {
        for p in &mut self.packages {
            if p.status != PackageStatus::Cancelled {
                p.status.check(PackageStatus::Cancelled)?;
                p.status = PackageStatus::Cancelled;
                p.forwarding_until = None;
            }
        }
        Ok(())
    }

    /// The whole order ends now (`cancelled` or `closed`): every package is
    /// cancelled and what was paid is refunded.
    pub fn end(
        &mut self,
        to: OrderStatus,
        reason: &str,
        actor: &str,
        cause: Option<String>,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        self.set_status(to)?;
        self.cancel_open_packages()?;
        self.close_reason = Some(reason.to_owned());
        self.log(now, to.as_str(), actor).cause = cause.or_else(|| Some(reason.to_owned()));
        let refundable = self.refundable();
        self.refund(now, refundable, reason, None, None);
        Ok(())
    }

    /// SPEC 2.6, some package already with its supplier: those are asked to
    /// stop (through the queue), the others are cancelled at once.
    /// Each intercept is asked again from `retry_at` on (the sweep's due slot).
    pub fn request_cancel(
        &mut self,
        actor: &str,
        cause: Option<String>,
        now: Timestamp,
        retry_at: Timestamp,
    ) -> Result<(), IllegalTransition> {
        self.set_status(OrderStatus::CancelRequested)?;
        self.log(now, "cancel_requested", actor).cause = cause;
        // Intercepts first: while one is requested, the order stays
        // `cancel_requested` as the others are cancelled.
        let (stop, cancel): (Vec<_>, Vec<_>) = self
            .packages
            .iter()
            .filter(|p| p.status == PackageStatus::Pending || p.status == PackageStatus::Forwarded)
            .map(|p| {
                let with_supplier =
                    p.status == PackageStatus::Forwarded || p.may_be_with_supplier();
                (p.id.clone(), with_supplier)
            })
            .partition(|(_, with_supplier)| *with_supplier);
        for (id, _) in stop {
            self.request_intercept(&id, actor, now, retry_at)?;
        }
        for (id, _) in cancel {
            self.move_package(
                &id,
                &PackageEvent::now(PackageStatus::Cancelled, actor, now),
            )?;
        }
        Ok(())
    }

    /// Asks a package's supplier to stop it (through the queue); the sweep
    /// asks again from `retry_at` on while nobody answers.
    pub fn request_intercept(
        &mut self,
        id: &PackageId,
        actor: &str,
        now: Timestamp,
        retry_at: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let event = PackageEvent::now(PackageStatus::InterceptRequested, actor, now);
        if self.move_package(id, &event)? == Step::Ignored {
            return Err(IllegalTransition {
                what: "package",
                from: self.packages[self.index_of(id)?].status.as_str(),
                to: PackageStatus::InterceptRequested.as_str(),
            });
        }
        let i = self.index_of(id)?;
        self.packages[i].intercept_due_at = Some(retry_at);
        self.send(
            Message::Intercept {
                package_id: id.clone(),
            },
            now,
        );
        Ok(())
    }

    /// When a reported event happened (SPEC 2.5): the reporter's time, taken
    /// between the package's previous event on the timeline and now, so that
    /// an old time cannot confirm a receipt or close a window at once.
    pub fn event_time(
        &self,
        id: &PackageId,
        reported: Option<Timestamp>,
        now: Timestamp,
    ) -> Timestamp {
        let previous = self
            .timeline
            .iter()
            .filter(|t| t.package_id.as_ref() == Some(id))
            .map(|t| t.at)
            .max()
            .unwrap_or(self.created_at);
        reported.unwrap_or(now).min(now).max(previous.min(now))
    }

    /// Moves one package as an event asks. A stale or duplicate event is
    /// [`Step::Ignored`] and changes nothing; a legal one records its times,
    /// tracking and refunds, and the order status is derived again.
    pub fn move_package(
        &mut self,
        id: &PackageId,
        e: &PackageEvent,
    ) -> Result<Step, IllegalTransition> {
        let i = self.index_of(id)?;
        let from = self.packages[i].status;
        if from.step(e.to) == Step::Ignored {
            return Ok(Step::Ignored);
        }
        let p = &mut self.packages[i];
        p.status = e.to;
        p.forwarding_until = None;
        if from == PackageStatus::InterceptRequested {
            p.intercept_sent_at = None;
            p.intercept_due_at = None;
        }
        if e.to == PackageStatus::InterceptRequested {
            p.intercept_requested_at = Some(e.now);
        }
        if e.carrier.is_some() {
            p.carrier.clone_from(&e.carrier);
        }
        if e.tracking_no.is_some() {
            p.tracking_no.clone_from(&e.tracking_no);
        }
        let mut recorded_shipment = false;
        if e.to.has_shipped() && p.shipped_at.is_none() {
            p.shipped_at = Some(e.at);
            recorded_shipment = e.to != PackageStatus::Shipped;
        }
        match e.to {
            PackageStatus::Shipped => p.auto_confirm_at = e.auto_confirm_at,
            PackageStatus::Received => p.received_at = Some(e.at),
            PackageStatus::Rejected => p.rejected_at = Some(e.at),
            _ => {}
        }
        let (goods, freight) = (p.goods_cents, p.freight_cents);
        if recorded_shipment {
            // Received (or rejected) before we heard it shipped: both steps.
            self.log(e.now, "package_shipped", &e.actor).package_id = Some(id.clone());
        }
        let event = match (from, e.to) {
            (PackageStatus::InterceptRequested, PackageStatus::Cancelled) => "package_intercepted",
            (PackageStatus::InterceptRequested, PackageStatus::Forwarded) => {
                "package_intercept_refused"
            }
            (_, to) => match to {
                PackageStatus::Forwarded => "package_forwarded",
                PackageStatus::InterceptRequested => "package_intercept_requested",
                PackageStatus::Shipped => "package_shipped",
                PackageStatus::Received => "package_received",
                PackageStatus::Rejected => "package_rejected",
                PackageStatus::Cancelled => "package_cancelled",
                PackageStatus::Pending => "package_pending",
            },
        };
        let entry = self.log(e.now, event, &e.actor);
        entry.package_id = Some(id.clone());
        entry.cause = e.tracking_no.clone();
        if matches!(e.to, PackageStatus::Cancelled | PackageStatus::Rejected) {
            let reason = if e.to == PackageStatus::Rejected {
                "rejected"
            } else {
                "cancelled"
            };
            self.refund(e.now, goods + freight, reason, Some(id), None);
        }
        self.rederive(&e.actor, e.now)?;
        self.settle_attention(&e.actor, e.now);
        Ok(Step::Moved)
    }

    /// After a package moved: the status its packages now give (SPEC 2.5).
    /// An exchange package belongs to its case, not to the order's status.
    fn rederive(&mut self, actor: &str, now: Timestamp) -> Result<(), IllegalTransition> {
        if !self.is_paid() || self.status.is_final() {
            return Ok(());
        }
        let statuses: Vec<PackageStatus> = self
            .packages
            .iter()
            .filter(|p| p.exchange_for.is_none())
            .map(|p| p.status)
            .collect();
        let cancel_pending = self.status == OrderStatus::CancelRequested;
        if cancel_pending && statuses.contains(&PackageStatus::InterceptRequested) {
            return Ok(());
        }
        let derived = derive_paid_status(&statuses).unwrap_or(OrderStatus::Cancelled);
        if derived == self.status {
            return Ok(());
        }
        self.set_status(derived)?;
        match derived {
            OrderStatus::Cancelled => {
                self.close_reason = Some("cancelled".to_owned());
                self.log(now, "cancelled", actor);
            }
            OrderStatus::Closed => {
                self.close_reason = Some("rejected".to_owned());
                self.log(now, "closed", actor).cause = Some("every package rejected".into());
            }
            _ if cancel_pending => {
                self.log(now, "cancel_failed", actor).cause =
                    Some("a package could not be stopped: use after-sales".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// A forwarder (or an intercept) takes the package until `until` before
    /// calling its supplier.
    pub fn claim_forward(
        &mut self,
        id: &PackageId,
        until: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        self.packages[i].status.check(PackageStatus::Forwarded)?;
        self.packages[i].forwarding_until = Some(until);
        Ok(())
    }

    /// The supplier call failed: others may try again at once. The claim is
    /// left expired, not removed: the supplier may have the package anyway.
    pub fn release_forward(
        &mut self,
        id: &PackageId,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        self.packages[i].forwarding_until = Some(now);
        Ok(())
    }

    /// The supplier took the intercept request and answers later.
    pub fn record_intercept_sent(
        &mut self,
        id: &PackageId,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        self.packages[i].status.check(PackageStatus::Cancelled)?;
        self.packages[i].intercept_sent_at = Some(now);
        self.packages[i].forwarding_until = None;
        let entry = self.log(now, "package_intercept_sent", "system");
        entry.package_id = Some(id.clone());
        Ok(())
    }

    /// The supplier took the package under `supplier_ref`. A pending package
    /// becomes forwarded; one that moved meanwhile (a cancel now intercepting
    /// it, a shipment reported first) keeps its status and gains the reference.
    pub fn record_forwarded(
        &mut self,
        id: &PackageId,
        supplier_ref: String,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        self.packages[i].supplier_ref = Some(supplier_ref.clone());
        self.packages[i].forwarding_until = None;
        self.packages[i].forward_failed_at = None;
        if self.packages[i].status == PackageStatus::Pending {
            self.move_package(
                id,
                &PackageEvent::now(PackageStatus::Forwarded, "system", now),
            )?;
            if let Some(entry) = self.timeline.last_mut() {
                entry.cause = Some(supplier_ref);
            }
        } else {
            let entry = self.log(now, "package_supplier_ref", "system");
            entry.package_id = Some(id.clone());
            entry.cause = Some(supplier_ref);
        }
        Ok(())
    }

    /// The queue gave up on a package's message (forward or intercept) after
    /// its last retry: the timeline says so, once. False if already said, or
    /// the package has moved on.
    pub fn record_queue_failure(
        &mut self,
        id: &PackageId,
        intercept: bool,
        cause: &str,
        now: Timestamp,
    ) -> Result<bool, IllegalTransition> {
        let i = self.index_of(id)?;
        let p = &mut self.packages[i];
        let waiting = if intercept {
            PackageStatus::InterceptRequested
        } else {
            PackageStatus::Pending
        };
        if p.status != waiting || p.forward_failed_at.is_some() {
            return Ok(false);
        }
        // The claim is left as it was: a hand-over that was attempted may have
        // reached the supplier, so a cancel intercepts it (SPEC 2.6).
        p.forward_failed_at = Some(now);
        let event = if intercept {
            "package_intercept_failed"
        } else {
            "package_forward_failed"
        };
        let cause: String = cause.chars().take(200).collect();
        let entry = self.log(now, event, "system");
        entry.package_id = Some(id.clone());
        entry.cause = Some(cause.clone());
        // An intercept stays the sweep's to ask again; a hand-over is staff's.
        if !intercept {
            self.raise_attention(AttentionKind::ForwardFailed, Some(id), cause, now);
        }
        Ok(true)
    }

    /// Sets where a `deduct_on_pay` line takes its stock at payment: the
    /// shards of `takes`, or the SKU's own item when empty.
    pub fn take_at_payment(&mut self, sku: &SkuId, takes: Vec<(u8, u32)>) {
        if self.status != OrderStatus::AwaitingShipment {
            return;
        }
        if let Some(line) = self.lines.iter_mut().find(|l| &l.sku == sku) {
            if line.stock_policy == StockPolicy::DeductOnPay {
                line.shard = None;
                line.takes = takes;
            }
        }
    }

    /// The sweep asks the supplier again about an unanswered intercept
    /// (SPEC 2.6), and again from `next` on if this goes unanswered too.
    pub fn ask_intercept_again(
        &mut self,
        id: &PackageId,
        now: Timestamp,
        next: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        let p = &mut self.packages[i];
        p.status.check(PackageStatus::Cancelled)?;
        p.intercept_sent_at = None;
        p.intercept_due_at = Some(next);
        self.log(now, "package_intercept_asked_again", "system")
            .package_id = Some(id.clone());
        self.send(
            Message::Intercept {
                package_id: id.clone(),
            },
            now,
        );
        Ok(())
    }

    /// Past `INTERCEPT_GIVE_UP_SECS`: staff resolve the intercept (SPEC 2.6).
    pub fn hand_intercept_to_staff(
        &mut self,
        id: &PackageId,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        self.packages[i].status.check(PackageStatus::Cancelled)?;
        self.packages[i].intercept_due_at = None;
        let cause = match self.packages[i].supplier_ref() {
            Some(_) => "the supplier never answered the intercept",
            None => "the hand-over never recorded a reference to intercept",
        };
        self.raise_attention(
            AttentionKind::InterceptUnanswered,
            Some(id),
            cause.to_owned(),
            now,
        );
        Ok(())
    }

    /// A package whose hand-over the queue gave up on is queued again (staff).
    pub fn retry_forward(
        &mut self,
        id: &PackageId,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        let i = self.index_of(id)?;
        let p = &mut self.packages[i];
        if p.status != PackageStatus::Pending || p.forward_failed_at.is_none() {
            return Err(IllegalTransition {
                what: "package",
                from: p.status.as_str(),
                to: "retry_forward",
            });
        }
        p.forward_failed_at = None;
        self.send(
            Message::Forward {
                package_id: id.clone(),
                not_before: now,
            },
            now,
        );
        Ok(())
    }

    /// An event that can no longer apply (SPEC 2.5): no state, no money; kept
    /// on the timeline and put on the attention list. False for a repeat.
    pub fn record_late_event(
        &mut self,
        id: &PackageId,
        reported: PackageStatus,
        actor: &str,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, IllegalTransition> {
        let i = self.index_of(id)?;
        let cause = format!(
            "{} reported for a {} package of a {} order",
            reported.as_str(),
            self.packages[i].status.as_str(),
            self.status.as_str()
        );
        if !self.raise_attention(AttentionKind::LateEvent, Some(id), cause.clone(), now) {
            return Ok(false);
        }
        let entry = self.log(now, "late_event", actor);
        entry.package_id = Some(id.clone());
        entry.cause = Some(format!("{cause} (event time {at})"));
        Ok(true)
    }

    /// Records a case being opened or moving on (as `summary` says, with
    /// the step's `note`), with its timeline entry.
    pub fn track_case(
        &mut self,
        summary: CaseSummary,
        note: Option<String>,
        actor: &str,
        now: Timestamp,
    ) {
        let (id, package_id, status) = (
            summary.id.clone(),
            summary.package_id.clone(),
            summary.status,
        );
        match self.cases.iter_mut().find(|c| c.id == summary.id) {
            Some(c) => *c = summary,
            None => self.cases.push(summary),
        }
        let entry = self.log(now, &format!("case_{}", status.as_str()), actor);
        entry.case_id = Some(id);
        entry.package_id = Some(package_id);
        entry.cause = note;
    }

    /// Units of `sku` in `package` that cases already claim (open or completed).
    pub fn claimed_by_cases(&self, package: &PackageId, sku: &SkuId) -> u32 {
        self.cases
            .iter()
            .filter(|c| &c.package_id == package && c.status.claims_lines())
            .flat_map(|c| &c.lines)
            .filter(|l| &l.sku == sku)
            .map(|l| l.qty)
            .sum()
    }

    /// The next case id of this order.
    pub fn next_case_id(&self) -> CaseId {
        CaseId::new(&self.id, self.cases.len() + 1)
    }

    /// An exchange (SPEC 2.8): a new package with the case's lines, from the
    /// same source, carrying the paid value of the lines it replaces (no
    /// freight) and the stock it takes (`stock`), queued for forwarding at
    /// once. Nothing is charged for it.
    pub fn add_exchange_package(
        &mut self,
        case: &CaseSummary,
        stock: Vec<(SkuId, Option<u8>, u32)>,
        now: Timestamp,
    ) -> Result<PackageId, IllegalTransition> {
        let original = self.index_of(&case.package_id)?;
        let replaced = &self.packages[original];
        let source = replaced.source.clone();
        let lines: Vec<PackageLine> = case
            .lines
            .iter()
            .map(|l: &CaseLine| PackageLine {
                sku: l.sku.clone(),
                qty: l.qty,
                line_total_cents: replaced.paid_value(&l.sku, l.qty),
            })
            .collect();
        let goods: Cents = lines.iter().map(|l| l.line_total_cents).sum();
        let id = PackageId::new(&self.id, self.packages.len() + 1);
        let mut package = Package::new(id.clone(), source, lines, goods, Cents::ZERO);
        package.exchange_for = Some(case.id.clone());
        package.exchange_stock = stock;
        self.packages.push(package);
        let entry = self.log(now, "package_created", "system");
        entry.package_id = Some(id.clone());
        entry.case_id = Some(case.id.clone());
        self.send(
            Message::Forward {
                package_id: id.clone(),
                not_before: now,
            },
            now,
        );
        Ok(id)
    }

    /// Stock and per-user limit units this order holds in its current state:
    /// the lines of packages not cancelled (`lock_on_place` from placement,
    /// `deduct_on_pay` once paid), and what exchange packages not cancelled
    /// took; limit units only while the order is live.
    pub fn holdings(&self) -> (Vec<StockMove>, Vec<(SkuId, u32)>) {
        let live = |id: &PackageId| {
            self.package(id)
                .is_some_and(|p| p.status != PackageStatus::Cancelled)
        };
        let order_live = !matches!(self.status, OrderStatus::Cancelled | OrderStatus::Closed);
        let mut stock = Vec::new();
        let mut limits = Vec::new();
        for line in self.lines.iter().filter(|l| live(&l.package_id)) {
            if line.stock_policy == StockPolicy::LockOnPlace || self.is_paid() {
                for (shard, qty) in line.stock_items() {
                    stock.push(StockMove {
                        sku: line.sku.clone(),
                        shard,
                        delta: i64::from(qty),
                    });
                }
            }
            if order_live && line.per_user_limit.is_some() {
                limits.push((line.sku.clone(), line.qty));
            }
        }
        // An exchange package holds the stock it took while not cancelled.
        for p in self
            .packages
            .iter()
            .filter(|p| p.status != PackageStatus::Cancelled)
        {
            for (sku, shard, qty) in &p.exchange_stock {
                stock.push(StockMove {
                    sku: sku.clone(),
                    shard: *shard,
                    delta: i64::from(*qty),
                });
            }
        }
        (stock, limits)
    }
}

impl PackageEvent {
    /// An event happening now, with nothing but its status and actor.
    pub fn now(to: PackageStatus, actor: &str, now: Timestamp) -> Self {
        Self {
            to,
            at: now,
            now,
            actor: actor.to_owned(),
            carrier: None,
            tracking_no: None,
            auto_confirm_at: None,
        }
    }
}

/// What a change from `before` to `after` moves: stock given back (positive)
/// or taken (negative) per SKU, and limit units given back per SKU.
pub fn moves_between(before: &Order, after: &Order) -> (Vec<StockMove>, Vec<(SkuId, u32)>) {
    let (stock_before, limits_before) = before.holdings();
    let (stock_after, limits_after) = after.holdings();
    let mut stock: Vec<StockMove> = Vec::new();
    let mut add = |sku: &SkuId, shard: Option<u8>, delta: i64| match stock
        .iter_mut()
        .find(|m| &m.sku == sku && m.shard == shard)
    {
        Some(m) => m.delta += delta,
        None => stock.push(StockMove {
            sku: sku.clone(),
            shard,
            delta,
        }),
    };
    for m in &stock_before {
        add(&m.sku, m.shard, m.delta);
    }
    for m in &stock_after {
        add(&m.sku, m.shard, -m.delta);
    }
    stock.retain(|m| m.delta != 0);
    let total = |held: &[(SkuId, u32)], sku: &SkuId| -> u32 {
        held.iter().filter(|(s, _)| s == sku).map(|(_, q)| q).sum()
    };
    let mut limits: Vec<(SkuId, u32)> = Vec::new();
    for (sku, _) in &limits_before {
        let given_back = total(&limits_before, sku).saturating_sub(total(&limits_after, sku));
        if given_back > 0 && !limits.iter().any(|(s, _)| s == sku) {
            limits.push((sku.clone(), given_back));
        }
    }
    (stock, limits)
}
