//! The scheduled sweep: whatever an order has due, found through one index
//! slot per order ([`Order::due_at`]): unpaid orders past their deadline are
//! expired (SPEC 2.7), shipped packages past `AUTO_CONFIRM_DAYS` are received
//! (SPEC 2.5), unanswered intercepts are asked again or handed to staff
//! (SPEC 2.6), and messages whose first publication failed are published.
//! Each order is handled on its own: one that fails is reported, the rest go on.

use crate::config::Config;
use crate::error::StoreError;
use crate::ids::OrderId;
use crate::messages::Publisher;
use crate::order::change::PackageEvent;
use crate::order::{OrderStatus, PackageStatus, OUTBOX_GRACE_SECS};
use crate::ports::Ledger;
use crate::time::Timestamp;
use crate::transition::{flush_outbox, transition, Decision, Target, Write};

/// The close reason of an order whose payment time ran out.
pub const EXPIRED: &str = "expired";

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SweepSummary {
    pub expired: u32,
    /// Packages whose receipt was confirmed automatically.
    pub confirmed: u32,
    pub republished: u32,
    /// Unanswered intercepts asked again (SPEC 2.6).
    pub intercepts_asked: u32,
    /// Intercepts past `INTERCEPT_GIVE_UP_SECS`, handed to staff.
    pub intercepts_to_staff: u32,
    /// Unsettled refunds whose provider is asked where they stand (SPEC 2.12).
    pub refunds_queried: u32,
    /// Due orders with nothing left to do (someone else got there first).
    pub skipped: u32,
    /// Orders that failed; they stay due and are tried again next run.
    pub failed: u32,
    /// More were due than this run's budget: the next run continues.
    pub more_due: bool,
}

impl Tended {
    fn did_something(&self) -> bool {
        self.expired
            || self.confirmed
                + self.intercepts_asked
                + self.intercepts_to_staff
                + self.refunds_queried
                > 0
    }
}

#[derive(Debug, Default)]
struct Tended {
    expired: bool,
    confirmed: u32,
    intercepts_asked: u32,
    intercepts_to_staff: u32,
    refunds_queried: u32,
    /// Nothing else was due, but messages of an earlier write are unpublished.
    leftover: Option<crate::order::Order>,
    /// Nothing was due: only its due slot was written again.
    refreshed: bool,
}

/// Runs once per schedule tick, handling at most `budget` due orders.
pub async fn sweep<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    budget: u32,
    now: Timestamp,
) -> Result<SweepSummary, StoreError> {
    let mut summary = SweepSummary::default();
    let due = store.due_orders(now, budget.saturating_add(1)).await?;
    summary.more_due = due.len() > budget as usize;
    for id in due.iter().take(budget as usize) {
        match tend(store, publisher, cfg, id, now).await {
            Ok((t, republished)) => {
                summary.expired += u32::from(t.expired);
                summary.confirmed += t.confirmed;
                summary.republished += u32::from(republished);
                summary.intercepts_asked += t.intercepts_asked;
                summary.intercepts_to_staff += t.intercepts_to_staff;
                summary.refunds_queried += t.refunds_queried;
                if !t.did_something() && !republished {
                    summary.skipped += 1;
                }
            }
            Err(e) => {
                tracing::error!(order = %id, error = %e, "sweep could not handle an order");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

/// Does what one order has due; true in the second place if it published
/// messages left over from an earlier write.
async fn tend<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    id: &OrderId,
    now: Timestamp,
) -> Result<(Tended, bool), StoreError> {
    let outcome = transition(store, publisher, Target::Order(id), now, |cur| {
        let Some(order) = &cur.order else {
            return Ok(Decision::Done(Tended::default()));
        };
        let illegal = |e: crate::order::IllegalTransition| StoreError::Failed(e.to_string());
        let mut next = order.next();
        let mut t = Tended::default();
        if order.status() == OrderStatus::PendingPayment && order.payment_deadline <= now {
            next.end(
                OrderStatus::Cancelled,
                EXPIRED,
                "system",
                Some("not paid in time".into()),
                now,
            )
            .map_err(illegal)?;
            t.expired = true;
        }
        for p in order.packages() {
            let due = p.auto_confirm_at().is_some_and(|at| at <= now);
            if p.status() == PackageStatus::Shipped && due {
                let event = PackageEvent::now(PackageStatus::Received, "system", now);
                next.move_package(&p.id, &event).map_err(illegal)?;
                t.confirmed += 1;
            }
            let intercept_due = p.intercept_due_at().is_some_and(|at| at <= now);
            if p.status() == PackageStatus::InterceptRequested && intercept_due {
                let give_up = p
                    .intercept_requested_at()
                    .unwrap_or(now)
                    .plus_secs(cfg.intercept_give_up_secs);
                if give_up <= now {
                    next.hand_intercept_to_staff(&p.id, now).map_err(illegal)?;
                    t.intercepts_to_staff += 1;
                } else {
                    let again = now.plus_secs(cfg.intercept_retry_secs).min(give_up);
                    next.ask_intercept_again(&p.id, now, again)
                        .map_err(illegal)?;
                    t.intercepts_asked += 1;
                }
            }
        }
        t.refunds_queried = next.ask_refund_queries(now, now.plus_secs(cfg.refund_query_secs));
        if !t.did_something() {
            let stale = order
                .outbox_since()
                .is_some_and(|at| at.plus_secs(OUTBOX_GRACE_SECS) <= now);
            if stale && !order.outbox().is_empty() {
                t.leftover = Some(order.clone());
                return Ok(Decision::Done(t));
            }
            // Listed as due with nothing due: its slot is stale (messages
            // were removed after it moved on). Writing it sets the slot right,
            // unless messages wait in their writer's grace period (a write
            // would publish them now): then the slot is merely early.
            if order.due_at().is_none_or(|at| at > now) && order.outbox().is_empty() {
                t.refreshed = true;
                return Ok(Decision::write(Write::order(order.next()), t));
            }
            return Ok(Decision::Done(t));
        }
        Ok(Decision::write(Write::order(next), t))
    })
    .await?;
    let mut t = outcome.value;
    match t.leftover.take() {
        Some(order) => {
            flush_outbox(store, publisher, &order, now).await?;
            Ok((t, true))
        }
        None => Ok((t, false)),
    }
}
