//! What every transition after placement shares: the next version of an
//! order, its timeline, refunds capped by what was paid, and the stock and
//! limit counts a set of packages gives back.

use crate::catalog::StockPolicy;
use crate::error::StoreError;
use crate::ids::{PackageId, SkuId};
use crate::messages::{Message, Publisher};
use crate::money::Cents;
use crate::order::{
    Order, OrderStatus, Package, PackageStatus, Refund, RefundStatus, TimelineEntry,
};
use crate::ports::{CommitError, Ledger, StockMove, Transition};
use crate::time::Timestamp;

impl Order {
    /// A copy to change: one version up, outbox carried over (still unpublished).
    pub fn next(&self) -> Order {
        let mut o = self.clone();
        o.version += 1;
        o
    }

    pub fn log(&mut self, at: Timestamp, event: impl Into<String>, actor: impl Into<String>) {
        self.timeline.push(TimelineEntry {
            at,
            event: event.into(),
            actor: actor.into(),
        });
    }

    /// Money received and not yet refunded.
    pub fn refundable(&self) -> Cents {
        self.received_cents.saturating_sub(self.refunded_cents())
    }

    /// Records a refund of at most what is still refundable, and queues it.
    pub fn refund(
        &mut self,
        at: Timestamp,
        amount: Cents,
        reason: &str,
        package: Option<PackageId>,
    ) -> Option<Cents> {
        let amount = amount.min(self.refundable());
        if amount == Cents::ZERO {
            return None;
        }
        let id = format!("{}-R{:02}", self.id, self.refunds.len() + 1);
        self.outbox.push(Message::Refund {
            order_id: self.id.clone(),
            refund_id: id.clone(),
            amount_cents: amount,
            reason: reason.to_owned(),
        });
        self.refunds.push(Refund {
            id,
            amount_cents: amount,
            reason: reason.to_owned(),
            status: RefundStatus::Pending,
            package_id: package,
            at,
        });
        Some(amount)
    }

    /// Cancels package `i` and refunds its goods and its share of freight.
    pub fn cancel_package(&mut self, i: usize, now: Timestamp) {
        self.packages[i].status = PackageStatus::Cancelled;
        let p = self.packages[i].clone();
        self.refund(
            now,
            p.goods_cents + p.freight_cents,
            "cancelled",
            Some(p.id),
        );
    }

    pub fn is_paid(&self) -> bool {
        self.payment.is_some()
    }

    /// Stock and per-user limit units held by the lines of the matching
    /// packages: `lock_on_place` lines hold stock from placement,
    /// `deduct_on_pay` lines once paid; limited lines hold limit units.
    pub fn held_by(
        &self,
        packages: impl Fn(&Package) -> bool,
    ) -> (Vec<StockMove>, Vec<(SkuId, u32)>) {
        let chosen: Vec<&PackageId> = self
            .packages
            .iter()
            .filter(|p| packages(p))
            .map(|p| &p.id)
            .collect();
        let lines = self
            .lines
            .iter()
            .filter(|l| chosen.contains(&&l.package_id));
        let mut stock = Vec::new();
        let mut limits = Vec::new();
        for line in lines {
            if line.stock_policy == StockPolicy::LockOnPlace || self.is_paid() {
                stock.push(StockMove {
                    sku: line.sku.clone(),
                    delta: i64::from(line.qty),
                });
            }
            if line.per_user_limit.is_some() {
                limits.push((line.sku.clone(), line.qty));
            }
        }
        (stock, limits)
    }

    /// After a package moved: the order status its packages now give.
    pub fn rederive_status(&mut self) {
        if !self.is_paid() || matches!(self.status, OrderStatus::Cancelled | OrderStatus::Closed) {
            return;
        }
        let statuses: Vec<PackageStatus> = self.packages.iter().map(|p| p.status).collect();
        if self.status == OrderStatus::CancelRequested
            && statuses.contains(&PackageStatus::InterceptRequested)
        {
            return;
        }
        self.status = match crate::order::derive_paid_status(&statuses) {
            Some(s) => s,
            None => {
                self.close_reason = Some("cancelled".to_owned());
                OrderStatus::Cancelled
            }
        };
    }
}

/// Publishes what a committed order owes the queues, then clears its outbox.
/// A failure is logged by the caller and left to the sweep, which re-publishes.
pub async fn flush_outbox<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    order: &Order,
    now: Timestamp,
) -> Result<(), StoreError> {
    if order.outbox.is_empty() {
        return Ok(());
    }
    publisher.publish(&order.outbox, now).await?;
    store.clear_outbox(&order.id, order.version).await?;
    Ok(())
}

/// Publishes right away; the sweep re-publishes whatever this fails to send.
pub async fn publish<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    order: &Order,
    now: Timestamp,
) {
    if let Err(e) = flush_outbox(store, publisher, order, now).await {
        tracing::warn!(order = %order.id, error = %e, "messages left for the sweep");
    }
}

/// Commits a transition, then publishes what the order owes the queues.
pub async fn commit_and_publish<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    t: &Transition<'_>,
    now: Timestamp,
) -> Result<(), CommitError> {
    store.commit(t).await?;
    publish(store, publisher, t.order, now).await;
    Ok(())
}

/// How many times a transition is recomputed when the order moved meanwhile.
pub const STALE_RETRIES: usize = 20;
