//! The order events as a consumer sees them: [`check`] replays a stream of
//! order writes (old and new image, as DynamoDB Streams gives them) through
//! [`domain::order::events::between`] and holds that a consumer applying the
//! events alone knows every status the orders reached, that each event
//! moves something from the state it names, that a write moving nothing
//! yields nothing, and that no id is used twice.

use domain::ids::{CaseId, OrderId, PackageId};
use domain::order::cases::CaseStatus;
use domain::order::events::{between, EventChange, EventType, OrderEvent};
use domain::order::{Order, OrderStatus, PackageStatus};
use domain::payment::refund::RefundStatus;
use std::collections::{BTreeMap, BTreeSet};

/// What a consumer knows of an order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    pub status: Option<OrderStatus>,
    pub paid: Option<String>,
    pub packages: BTreeMap<PackageId, PackageStatus>,
    pub refunds: BTreeMap<String, RefundStatus>,
    pub cases: BTreeMap<CaseId, CaseStatus>,
}

impl Projection {
    /// The same, read from the order itself.
    pub fn of(o: &Order) -> Projection {
        Projection {
            status: Some(o.status()),
            paid: o.payment().map(|p| p.payment_id.clone()),
            packages: o
                .packages()
                .iter()
                .map(|p| (p.id.clone(), p.status()))
                .collect(),
            refunds: o
                .refunds()
                .iter()
                .map(|r| (r.id.clone(), r.status))
                .collect(),
            cases: o.cases().iter().map(|c| (c.id.clone(), c.status)).collect(),
        }
    }

    /// Applies one event, checking it starts from what is known.
    pub fn apply(&mut self, e: &OrderEvent) -> Result<(), String> {
        let moved = |what: &str, from: String, to: String| {
            if from == to {
                Err(format!("{} {what} moves nothing ({to})", e.id))
            } else {
                Ok(())
            }
        };
        match (&e.change, e.kind) {
            (EventChange::Placed(p), EventType::OrderPlaced) => {
                if self.status.is_some() {
                    return Err(format!("{} placed twice", e.id));
                }
                self.status = Some(p.status);
                for pk in &p.packages {
                    self.packages
                        .insert(pk.package_id.clone(), PackageStatus::Pending);
                }
            }
            (EventChange::Paid(p), EventType::OrderPaid) => {
                self.expect_order(p.from, e)?;
                if self.paid.replace(p.payment_id.clone()).is_some() {
                    return Err(format!("{} paid twice", e.id));
                }
                self.status = Some(p.to);
            }
            (EventChange::Order(c), kind) if kind.as_str().starts_with("order.") => {
                self.expect_order(c.from, e)?;
                moved("order", format!("{:?}", c.from), format!("{:?}", c.to))?;
                self.status = Some(c.to);
            }
            (EventChange::Package(c), kind) if kind.as_str().starts_with("package.") => {
                let known = self.packages.get(&c.package_id).copied();
                if known != c.from {
                    return Err(format!("{}: package was {known:?}, not {:?}", e.id, c.from));
                }
                if (kind == EventType::PackageCreated) != c.from.is_none() {
                    return Err(format!("{}: created is the first package event", e.id));
                }
                moved(
                    "package",
                    format!("{:?}", c.from),
                    format!("{:?}", Some(c.to)),
                )?;
                self.packages.insert(c.package_id.clone(), c.to);
            }
            (EventChange::Refund(c), kind) if kind.as_str().starts_with("refund.") => {
                let known = self.refunds.get(&c.refund_id).copied();
                if known != c.from {
                    return Err(format!("{}: refund was {known:?}, not {:?}", e.id, c.from));
                }
                if (kind == EventType::RefundRecorded) != c.from.is_none() {
                    return Err(format!("{}: recorded is the first refund event", e.id));
                }
                self.refunds.insert(c.refund_id.clone(), c.to);
            }
            (EventChange::Case(c), kind) if kind.as_str().starts_with("case.") => {
                let known = self.cases.get(&c.case_id).copied();
                if known != c.from {
                    return Err(format!("{}: case was {known:?}, not {:?}", e.id, c.from));
                }
                if (kind == EventType::CaseOpened) != c.from.is_none() {
                    return Err(format!("{}: opened is the first case event", e.id));
                }
                self.cases.insert(c.case_id.clone(), c.to);
            }
            (change, kind) => {
                return Err(format!(
                    "{}: a {} event carries {change:?}",
                    e.id,
                    kind.as_str()
                ))
            }
        }
        Ok(())
    }

    fn expect_order(&self, from: OrderStatus, e: &OrderEvent) -> Result<(), String> {
        if self.status != Some(from) {
            return Err(format!(
                "{}: order was {:?}, not {from:?}",
                e.id, self.status
            ));
        }
        Ok(())
    }
}

/// Replays `stream` and compares what the events tell with `orders` as
/// stored. Returns the events, in stream order.
pub fn check(
    stream: &[(Option<Order>, Order)],
    orders: &[Order],
) -> Result<Vec<OrderEvent>, String> {
    let mut known: BTreeMap<OrderId, Projection> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut all = Vec::new();
    for (old, new) in stream {
        let events = between(old.as_ref(), new);
        let before = old.as_ref().map(Projection::of).unwrap_or_default();
        let after = Projection::of(new);
        if events.is_empty() != (before == after) {
            return Err(format!(
                "order {} v{}: {} events for a write that {} its statuses",
                new.id,
                new.version(),
                events.len(),
                if before == after { "keeps" } else { "changes" }
            ));
        }
        let p = known.entry(new.id.clone()).or_default();
        for e in &events {
            if e.sequence != new.version() || e.order_id != new.id || e.storefront != new.storefront
            {
                return Err(format!("{}: envelope differs from its order", e.id));
            }
            if !ids.insert(e.id.clone()) {
                return Err(format!("{}: the same id for two events", e.id));
            }
            p.apply(e)?;
        }
        all.extend(events);
    }
    for o in orders {
        let told = known.get(&o.id).cloned().unwrap_or_default();
        if told != Projection::of(o) {
            return Err(format!(
                "order {}: events tell {told:?}, the order is {:?}",
                o.id,
                Projection::of(o)
            ));
        }
    }
    Ok(all)
}
