//! The staff reads of SPEC 2.11: the pick list, overdue supplier packages,
//! after-sales cases by status, the attention list, order search and the
//! summary. Who may read what is decided here, once.

use super::queues::{
    OrderSearch, Queue, QueuePage, QueueQuery, SearchBy, WorkQueues, CASE_QUEUE_STATUSES,
};
use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, UserId, WarehouseId};
use crate::order::OrderStatus;
use crate::ports::{ListError, OrderPage};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("this list is not for your role")]
    Forbidden,
    #[error("limit must be between 1 and 100")]
    InvalidLimit,
    #[error("the cursor is not valid for this list")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Problem for WorkError {
    fn kind(&self) -> ErrorKind {
        match self {
            WorkError::InvalidRequest(_) | WorkError::InvalidLimit | WorkError::InvalidCursor => {
                ErrorKind::BadRequest
            }
            WorkError::Forbidden => ErrorKind::Forbidden,
            WorkError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            WorkError::InvalidRequest(_) => "invalid_request",
            WorkError::Forbidden => "forbidden",
            WorkError::InvalidLimit => "invalid_limit",
            WorkError::InvalidCursor => "invalid_cursor",
            WorkError::Store(e) => e.code(),
        }
    }
}

impl From<ListError> for WorkError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::BadCursor => WorkError::InvalidCursor,
            ListError::Store(s) => WorkError::Store(s),
        }
    }
}

/// A list's page: how many, from where.
#[derive(Debug, Clone)]
pub struct Paging {
    pub limit: u32,
    pub cursor: Option<String>,
}

/// The storefronts a staff read covers: `?storefront=` names one the caller
/// serves (another is 403), `all` or nothing means every one it serves.
pub fn storefronts_to_read(
    raw: Option<&str>,
    caller: &Caller,
    known: &[StorefrontId],
) -> Result<Vec<StorefrontId>, WorkError> {
    match raw {
        None | Some("all") => {
            let mut all: Vec<StorefrontId> = known
                .iter()
                .chain(std::iter::once(&StorefrontId::default_id()))
                .filter(|s| caller.serves(s))
                .cloned()
                .collect();
            all.sort();
            all.dedup();
            if all.is_empty() {
                return Err(WorkError::Forbidden);
            }
            Ok(all)
        }
        Some(id) => {
            let id = StorefrontId::parse(id)
                .map_err(|_| WorkError::InvalidRequest("storefront is not a valid id".into()))?;
            if !caller.serves(&id) {
                return Err(WorkError::Forbidden);
            }
            Ok(vec![id])
        }
    }
}

fn query(
    queue: Queue,
    scope: Option<String>,
    storefronts: Vec<StorefrontId>,
    p: Paging,
) -> QueueQuery {
    QueueQuery {
        queue,
        scope,
        storefronts,
        before: None,
        limit: p.limit,
        cursor: p.cursor,
    }
}

/// `GET /staff/packages?queue=to_ship`: an admin reads any warehouse's pick
/// list (or all of them); a warehouse user its own only (another: 403).
pub async fn pick_list<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    warehouse: Option<WarehouseId>,
    storefronts: Vec<StorefrontId>,
    page: Paging,
) -> Result<QueuePage, WorkError> {
    let scope = match (&warehouse, &caller.roles.warehouse) {
        (Some(w), _) if caller.ships_from(w) => Some(w.clone()),
        (Some(_), _) => return Err(WorkError::Forbidden),
        (None, _) if caller.roles.admin => None,
        (None, Some(own)) => Some(own.clone()),
        (None, None) => return Err(WorkError::Forbidden),
    };
    Ok(store
        .queue_page(&query(
            Queue::ToShip,
            scope.map(|w| w.as_str().to_owned()),
            storefronts,
            page,
        ))
        .await?)
}

/// `GET /staff/packages?queue=overdue` (admin, support): supplier packages
/// handed over more than `SHIP_OVERDUE_HOURS` ago and not shipped.
pub async fn overdue<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    cfg: &Config,
    storefronts: Vec<StorefrontId>,
    page: Paging,
    now: Timestamp,
) -> Result<QueuePage, WorkError> {
    if !caller.is_staff() {
        return Err(WorkError::Forbidden);
    }
    let mut q = query(Queue::WithSupplier, Some(String::new()), storefronts, page);
    q.before = Some(overdue_cutoff(cfg, now));
    Ok(store.queue_page(&q).await?)
}

fn overdue_cutoff(cfg: &Config, now: Timestamp) -> Timestamp {
    Timestamp::from_unix_millis(now.unix_millis() - i64::from(cfg.ship_overdue_hours) * 3_600_000)
}

/// Parses `?status=` of the after-sales list: one of the statuses the
/// queue holds, or none (all three).
pub fn parse_case_status(raw: Option<&str>) -> Result<Option<String>, WorkError> {
    match raw {
        None => Ok(None),
        Some(s) if CASE_QUEUE_STATUSES.iter().any(|c| c.as_str() == s) => Ok(Some(s.to_owned())),
        Some(_) => Err(WorkError::InvalidRequest(
            "status must be requested, approved or return_shipped".into(),
        )),
    }
}

/// `GET /staff/after-sales` (admin, support).
pub async fn after_sales<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    status: Option<String>,
    storefronts: Vec<StorefrontId>,
    page: Paging,
) -> Result<QueuePage, WorkError> {
    if !caller.is_staff() {
        return Err(WorkError::Forbidden);
    }
    Ok(store
        .queue_page(&query(Queue::AfterSales, status, storefronts, page))
        .await?)
}

/// `GET /staff/attention` (admin, support).
pub async fn attention<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    storefronts: Vec<StorefrontId>,
    page: Paging,
) -> Result<QueuePage, WorkError> {
    if !caller.is_staff() {
        return Err(WorkError::Forbidden);
    }
    Ok(store
        .queue_page(&query(
            Queue::Attention,
            Some(String::new()),
            storefronts,
            page,
        ))
        .await?)
}

/// `GET /staff/orders` (admin, support): exactly one of status and user;
/// `from` inclusive, `to` exclusive.
pub async fn search<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    by: SearchBy,
    range: (Option<Timestamp>, Option<Timestamp>),
    storefronts: Vec<StorefrontId>,
    page: Paging,
) -> Result<OrderPage, WorkError> {
    if !caller.is_staff() {
        return Err(WorkError::Forbidden);
    }
    if let (Some(from), Some(to)) = range {
        if from >= to {
            return Err(WorkError::InvalidRequest("from must be before to".into()));
        }
    }
    Ok(store
        .search_orders(&OrderSearch {
            by,
            storefronts,
            from: range.0,
            to: range.1,
            limit: page.limit,
            cursor: page.cursor,
        })
        .await?)
}

/// Parses the search's `status` / `user_id`: exactly one.
pub fn parse_search(status: Option<&str>, user: Option<&str>) -> Result<SearchBy, WorkError> {
    match (status, user) {
        (Some(s), None) => OrderStatus::parse(s)
            .map(SearchBy::Status)
            .ok_or_else(|| WorkError::InvalidRequest(format!("no order status {s:?}"))),
        (None, Some(u)) => UserId::parse(u)
            .map(SearchBy::User)
            .map_err(|e| WorkError::InvalidRequest(e.to_string())),
        _ => Err(WorkError::InvalidRequest(
            "give exactly one of status and user_id".into(),
        )),
    }
}

/// `GET /staff/summary`: the count of every queue the caller may read.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Pick-list packages per warehouse.
    pub to_ship: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<u64>,
    /// Cases per status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_sales: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<u64>,
}

pub async fn summary<S: WorkQueues>(
    store: &S,
    caller: &Caller,
    cfg: &Config,
    storefronts: Vec<StorefrontId>,
    now: Timestamp,
) -> Result<Summary, WorkError> {
    if !caller.is_staff() && caller.roles.warehouse.is_none() {
        return Err(WorkError::Forbidden);
    }
    let count = |queue: Queue, scope: Option<String>, before: Option<Timestamp>| {
        let q = QueueQuery {
            queue,
            scope,
            storefronts: storefronts.clone(),
            before,
            limit: 0,
            cursor: None,
        };
        async move { store.queue_count(&q).await }
    };
    let to_ship_scope = if caller.roles.admin {
        None
    } else {
        caller
            .roles
            .warehouse
            .as_ref()
            .map(|w| w.as_str().to_owned())
    };
    let mut out = Summary::default();
    if caller.roles.admin || to_ship_scope.is_some() {
        out.to_ship = count(Queue::ToShip, to_ship_scope.clone(), None).await?;
        if let Some(own) = to_ship_scope {
            out.to_ship.entry(own).or_insert(0);
        }
    }
    if caller.is_staff() {
        let overdue = count(
            Queue::WithSupplier,
            Some(String::new()),
            Some(overdue_cutoff(cfg, now)),
        )
        .await?;
        out.overdue = Some(overdue.values().sum());
        let mut cases = count(Queue::AfterSales, None, None).await?;
        for s in CASE_QUEUE_STATUSES {
            cases.entry(s.as_str().to_owned()).or_insert(0);
        }
        out.after_sales = Some(cases);
        out.attention = Some(
            count(Queue::Attention, Some(String::new()), None)
                .await?
                .values()
                .sum(),
        );
    }
    Ok(out)
}
