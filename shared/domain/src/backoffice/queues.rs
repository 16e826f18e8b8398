//! Work queues (SPEC 2.11). What an order puts on them follows from its
//! state alone ([`entries`]); the one transition path writes the difference
//! between the states before and after ([`moves_between`]) in the same
//! transaction as the change, so no use case adds or removes an entry and a
//! queue never shows finished work nor misses open work.

use crate::catalog::Source;
use crate::ids::{CaseId, OrderId, PackageId, SkuId};
use crate::order::cases::CaseStatus;
use crate::order::{Address, Order, PackageStatus};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Queue {
    /// Self-operated packages handed to their warehouse and not yet shipped
    /// (scope: the warehouse): the pick list.
    ToShip,
    /// Packages handed to a supplier (dropship, JD) and not yet shipped,
    /// oldest first: overdue once older than `SHIP_OVERDUE_HOURS`.
    WithSupplier,
    /// After-sales cases waiting for staff or for the return (scope: the
    /// case's status).
    AfterSales,
    /// Open attention items.
    Attention,
}

impl Queue {
    pub const ALL: [Queue; 4] = [
        Queue::ToShip,
        Queue::WithSupplier,
        Queue::AfterSales,
        Queue::Attention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::ToShip => "to_ship",
            Queue::WithSupplier => "with_supplier",
            Queue::AfterSales => "after_sales",
            Queue::Attention => "attention",
        }
    }
}

/// The case statuses the after-sales queue holds.
pub const CASE_QUEUE_STATUSES: [CaseStatus; 3] = [
    CaseStatus::Requested,
    CaseStatus::Approved,
    CaseStatus::ReturnShipped,
];

/// A line of a package on the pick list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickLine {
    pub sku: SkuId,
    pub name: String,
    pub qty: u32,
}

/// One entry of one queue. Its identity is ([`QueueEntry::queue`],
/// [`QueueEntry::scope`], [`QueueEntry::since`], [`QueueEntry::subject`]) in
/// its order's storefront; the rest is what the list shows without reading
/// the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueEntry {
    pub queue: Queue,
    /// The warehouse (`to_ship`), the case status (`after_sales`), empty otherwise.
    pub scope: String,
    pub storefront: StorefrontId,
    pub order_id: OrderId,
    /// The package, case or attention item the work is about.
    pub subject: String,
    /// Since when the work waits: hand-over, the case's last step, the item raised.
    pub since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// The attention item's kind, or the case's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The package's source (`to_ship`, `with_supplier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// What to pick (`to_ship`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(required = false))]
    pub lines: Vec<PickLine>,
    /// Where to send it (`to_ship`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// What staff may do (attention items).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(required = false))]
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl QueueEntry {
    fn new(queue: Queue, scope: &str, order: &Order, subject: &str, since: Timestamp) -> Self {
        Self {
            queue,
            scope: scope.to_owned(),
            storefront: order.storefront.clone(),
            order_id: order.id.clone(),
            subject: subject.to_owned(),
            since,
            package_id: None,
            case_id: None,
            kind: None,
            source: None,
            lines: Vec::new(),
            address: None,
            actions: Vec::new(),
            cause: None,
        }
    }

    /// Its identity within its storefront: (queue, scope, since, subject).
    pub fn identity(&self) -> (Queue, &str, Timestamp, &str) {
        (self.queue, &self.scope, self.since, &self.subject)
    }
}

/// When a package was handed over: the first entry that put it in
/// `forwarded` (forwarded, or an intercept the supplier refused), else its
/// first entry. Entries are only ever appended, so the age of a waiting
/// package never restarts.
fn handed_at(order: &Order, package: &PackageId) -> Timestamp {
    let mine = || {
        order
            .timeline()
            .iter()
            .filter(move |t| t.package_id.as_ref() == Some(package))
    };
    mine()
        .find(|t| {
            matches!(
                t.event.as_str(),
                "package_forwarded" | "package_intercept_refused"
            )
        })
        .or_else(|| mine().next())
        .map_or(order.created_at, |t| t.at)
}

/// When a case took its last step (each step is on the timeline with its id).
fn case_step_at(order: &Order, case: &CaseId) -> Timestamp {
    order
        .timeline()
        .iter()
        .rfind(|t| t.case_id.as_ref() == Some(case))
        .map_or(order.created_at, |t| t.at)
}

/// Every queue entry `order` holds in its state now.
pub fn entries(order: &Order) -> Vec<QueueEntry> {
    let mut out = Vec::new();
    for p in order.packages() {
        if p.status() != PackageStatus::Forwarded {
            continue;
        }
        let since = handed_at(order, &p.id);
        let mut e = match &p.source {
            Source::SelfOperated { warehouse } => {
                let mut e = QueueEntry::new(
                    Queue::ToShip,
                    warehouse.as_str(),
                    order,
                    p.id.as_str(),
                    since,
                );
                e.lines = p
                    .lines
                    .iter()
                    .map(|l| PickLine {
                        sku: l.sku.clone(),
                        name: order
                            .lines
                            .iter()
                            .find(|ol| ol.sku == l.sku)
                            .map(|ol| ol.name.clone())
                            .unwrap_or_default(),
                        qty: l.qty,
                    })
                    .collect();
                e.address = Some(order.address.clone());
                e
            }
            Source::Dropship { .. } | Source::Jd => {
                QueueEntry::new(Queue::WithSupplier, "", order, p.id.as_str(), since)
            }
        };
        e.package_id = Some(p.id.clone());
        e.source = Some(p.source.clone());
        out.push(e);
    }
    for c in order.cases() {
        if !CASE_QUEUE_STATUSES.contains(&c.status) {
            continue;
        }
        let mut e = QueueEntry::new(
            Queue::AfterSales,
            c.status.as_str(),
            order,
            c.id.as_str(),
            case_step_at(order, &c.id),
        );
        e.case_id = Some(c.id.clone());
        e.package_id = Some(c.package_id.clone());
        e.kind = Some(c.kind.as_str().to_owned());
        out.push(e);
    }
    for a in order.attention() {
        let mut e = QueueEntry::new(Queue::Attention, "", order, &a.id, a.since);
        e.package_id.clone_from(&a.package_id);
        e.kind = Some(a.kind.as_str().to_owned());
        e.actions.clone_from(&a.actions);
        e.cause.clone_from(&a.cause);
        out.push(e);
    }
    out
}

/// What a change does to the queues: entries to write (new, or shown
/// differently) and entries to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMoves {
    pub put: Vec<QueueEntry>,
    pub delete: Vec<QueueEntry>,
}

impl QueueMoves {
    pub fn len(&self) -> usize {
        self.put.len() + self.delete.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The queue moves from `before` to `after` (one operation per entry).
pub fn moves_between(before: &Order, after: &Order) -> QueueMoves {
    let was = entries(before);
    let now = entries(after);
    let by_identity =
        |list: &[QueueEntry]| -> BTreeMap<(Queue, String, Timestamp, String), QueueEntry> {
            list.iter()
                .map(|e| {
                    (
                        (e.queue, e.scope.clone(), e.since, e.subject.clone()),
                        e.clone(),
                    )
                })
                .collect()
        };
    let was = by_identity(&was);
    let now = by_identity(&now);
    QueueMoves {
        put: now
            .iter()
            .filter(|(k, e)| was.get(*k) != Some(*e))
            .map(|(_, e)| e.clone())
            .collect(),
        delete: was
            .iter()
            .filter(|(k, _)| !now.contains_key(*k))
            .map(|(_, e)| e.clone())
            .collect(),
    }
}

/// One page of a queue read.
#[derive(Debug, Clone, Default)]
pub struct QueuePage {
    pub entries: Vec<QueueEntry>,
    pub next_cursor: Option<String>,
}

/// What to read of a queue.
#[derive(Debug, Clone)]
pub struct QueueQuery {
    pub queue: Queue,
    /// One scope (a warehouse, a case status; empty for the queues without
    /// one); None: every scope, grouped by scope, oldest first within each.
    pub scope: Option<String>,
    /// The storefronts to read (never empty).
    pub storefronts: Vec<StorefrontId>,
    /// Only entries waiting since before this (the overdue list).
    pub before: Option<Timestamp>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Staff order search (`GET /staff/orders`): exactly one of status and user.
#[derive(Debug, Clone)]
pub struct OrderSearch {
    pub by: SearchBy,
    /// The storefronts to search (never empty).
    pub storefronts: Vec<StorefrontId>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchBy {
    Status(crate::order::OrderStatus),
    User(crate::ids::UserId),
}

/// The store's queues and search indexes. Every read is an index query
/// (never a scan), oldest first for queues and newest first for search,
/// with a cursor exactly when more exist; a cursor from another list is
/// [`crate::ports::ListError::BadCursor`].
pub trait WorkQueues: Send + Sync {
    fn queue_page(
        &self,
        q: &QueueQuery,
    ) -> impl std::future::Future<Output = Result<QueuePage, crate::ports::ListError>> + Send;
    /// How many entries the query's queue holds, per scope (cursor and
    /// limit ignored).
    fn queue_count(
        &self,
        q: &QueueQuery,
    ) -> impl std::future::Future<Output = Result<BTreeMap<String, u64>, crate::error::StoreError>> + Send;
    fn search_orders(
        &self,
        q: &OrderSearch,
    ) -> impl std::future::Future<Output = Result<crate::ports::OrderPage, crate::ports::ListError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;
    use crate::config::FreightPolicy;
    use crate::ids::{SupplierId, UserId};
    use crate::money::Cents;
    use crate::order::change::PackageEvent;
    use crate::order::{NewOrder, OrderTerms, Package, PackageLine};

    fn one_package_order(at: Timestamp) -> Order {
        let id = OrderId::generate(&at);
        let pid = PackageId::parse(&format!("{id}-P01")).unwrap();
        let sku = SkuId::parse("LAMP").unwrap();
        Order::place(NewOrder {
            id,
            user_id: UserId::parse("u").unwrap(),
            lines: Vec::new(),
            packages: vec![Package::new(
                pid,
                Source::Dropship {
                    supplier: SupplierId::parse("S-1").unwrap(),
                },
                vec![PackageLine {
                    sku,
                    qty: 1,
                    line_total_cents: Cents(100),
                }],
                Cents(100),
                Cents::ZERO,
            )],
            freight_cents: Cents::ZERO,
            freight_policy: FreightPolicy::Single,
            address: Address {
                name: "n".into(),
                phone: "p".into(),
                line1: "l".into(),
                city: "c".into(),
                postcode: "0".into(),
            },
            note: None,
            warnings: Vec::new(),
            created_at: at,
            payment_deadline: at,
            storefront: StorefrontId::default_id(),
            terms: OrderTerms {
                after_sales_days: 7,
                customer_service_phone: "400".into(),
            },
        })
    }

    /// A package that reached `forwarded` through a refused intercept (no
    /// `package_forwarded` entry) keeps the age it had: later entries about
    /// it (an attention item, a late event) do not restart it.
    #[test]
    fn a_waiting_package_keeps_its_age() {
        let t0 = Timestamp::from_unix(1_800_000_000);
        let mut o = one_package_order(t0);
        let pid = o.packages()[0].id.clone();
        let at = |s| t0.plus_secs(s);
        o.move_package(
            &pid,
            &PackageEvent::now(PackageStatus::InterceptRequested, "system", at(10)),
        )
        .unwrap();
        o.move_package(
            &pid,
            &PackageEvent::now(PackageStatus::Forwarded, "supplier:S-1", at(20)),
        )
        .unwrap();
        let since = entries(&o)[0].since;
        assert_eq!(since, at(20), "handed over when the refusal came back");
        o.log(at(500), "late_event", "supplier:S-1").package_id = Some(pid.clone());
        let after = entries(&o);
        assert_eq!(after[0].since, since, "the same entry, the same age");
        assert_eq!(moves_between(&o.clone(), &o), QueueMoves::default());
    }
}
