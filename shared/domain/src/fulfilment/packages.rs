//! Package status sync (SPEC 2.5): signed supplier callbacks, staff marking
//! a self-operated package shipped, and the owner confirming receipt. Every
//! event goes through the package state machine: a stale, duplicate or
//! out-of-order one is acknowledged and changes nothing.

use crate::catalog::Source;
use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, PackageId};
use crate::messages::Publisher;
use crate::order::change::PackageEvent;
use crate::order::{IllegalTransition, Order, OrderStatus, PackageStatus, Step};
use crate::ports::Ledger;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::{Deserialize, Serialize};

/// Carrier names and tracking numbers are stored: printable, at most this long.
pub const MAX_TRACKING: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no such package")]
    NotFound,
    #[error("the package is not fulfilled by supplier {0}")]
    WrongSupplier(String),
    #[error("only self-operated packages are marked shipped by staff")]
    NotSelfOperated,
    #[error("staff only")]
    StaffOnly,
    #[error("the order is not paid")]
    NotPaid,
    #[error("the package is {0}, not shipped")]
    NotShipped(&'static str),
    #[error("the package was cancelled")]
    PackageCancelled,
    #[error("the package is {0}: nothing to resolve")]
    NothingToResolve(&'static str),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(SyncError);

impl Problem for SyncError {
    fn kind(&self) -> ErrorKind {
        use SyncError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) => ErrorKind::BadRequest,
            NotFound => ErrorKind::NotFound,
            WrongSupplier(_) | StaffOnly => ErrorKind::Forbidden,
            NotSelfOperated | NotPaid | NotShipped(_) | PackageCancelled | NothingToResolve(_)
            | Illegal(_) => ErrorKind::Conflict,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use SyncError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            NotFound => "package_not_found",
            WrongSupplier(_) => "wrong_supplier",
            NotSelfOperated => "not_self_operated",
            StaffOnly => "forbidden",
            NotPaid => "order_not_paid",
            NotShipped(_) => "package_not_shipped",
            PackageCancelled => "package_cancelled",
            NothingToResolve(_) => "nothing_to_resolve",
            Illegal(_) => "invalid_state",
            Store(e) => e.code(),
        }
    }
}

/// What a supplier may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CallbackStatus {
    /// JD's "awaiting receipt" is accepted as `awaiting_receipt` too.
    #[serde(alias = "awaiting_receipt")]
    Shipped,
    Received,
    Rejected,
    Intercepted,
    InterceptRefused,
}

/// A parsed supplier callback `{package_id, status, tracking_no?, at}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::OpenApi),
    openapi(components(schemas(RawCallback, RawShipment, RawResolve, Resolution)))
)]
pub struct StatusCallback {
    pub package_id: PackageId,
    pub status: CallbackStatus,
    pub tracking_no: Option<String>,
    pub at: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PackageStatusCallback))]
struct RawCallback {
    #[cfg_attr(feature = "openapi", schema(value_type = PackageId))]
    package_id: String,
    status: CallbackStatus,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    tracking_no: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Timestamp>))]
    at: Option<String>,
}

/// A stored free-text token (carrier, tracking number): trimmed, printable, capped.
pub fn token(name: &str, raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > MAX_TRACKING || v.chars().any(char::is_control) {
        return Err(format!(
            "{name} must be 1 to {MAX_TRACKING} printable characters"
        ));
    }
    Ok(v.to_owned())
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SyncError> {
    Ok(crate::body::parse(body)?)
}

impl StatusCallback {
    pub fn parse(body: &[u8]) -> Result<Self, SyncError> {
        let raw: RawCallback = parse_json(body)?;
        let package_id = PackageId::parse(&raw.package_id)
            .map_err(|e| SyncError::InvalidRequest(e.to_string()))?;
        let tracking_no = raw
            .tracking_no
            .map(|t| token("tracking_no", &t))
            .transpose()
            .map_err(SyncError::InvalidRequest)?;
        let at = raw
            .at
            .map(|a| Timestamp::parse(&a))
            .transpose()
            .map_err(|_| SyncError::InvalidRequest("at must be an RFC 3339 time".into()))?;
        Ok(Self {
            package_id,
            status: raw.status,
            tracking_no,
            at,
        })
    }
}

/// Staff's `{carrier, tracking_no}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_no: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ShipRequest))]
struct RawShipment {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    carrier: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    tracking_no: String,
}

impl Shipment {
    pub fn parse(body: &[u8]) -> Result<Self, SyncError> {
        let raw: RawShipment = parse_json(body)?;
        Ok(Self {
            carrier: token("carrier", &raw.carrier).map_err(SyncError::InvalidRequest)?,
            tracking_no: token("tracking_no", &raw.tracking_no)
                .map_err(SyncError::InvalidRequest)?,
        })
    }
}

/// The answer to a supplier: where the package and its order stand now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Synced {
    pub package_id: PackageId,
    pub package_status: PackageStatus,
    pub order_status: OrderStatus,
    /// False when the event was stale or a duplicate and changed nothing.
    pub applied: bool,
}

fn supplied_by(source: &Source, supplier: &str) -> bool {
    match source {
        Source::Dropship { supplier: s } => s.as_str() == supplier,
        Source::Jd => supplier == "jd",
        Source::SelfOperated { .. } => false,
    }
}

/// Applies one package event on the stored order; `check` refuses it first
/// when the caller may not send it.
async fn apply<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    package_id: &PackageId,
    now: Timestamp,
    check: impl Fn(&Order) -> Result<Option<PackageEvent>, SyncError>,
) -> Result<(Order, bool), SyncError> {
    let outcome = transition(
        store,
        publisher,
        Target::Order(&package_id.order_id()),
        now,
        |cur| {
            let order = cur.order.as_ref().ok_or(SyncError::NotFound)?;
            order.package(package_id).ok_or(SyncError::NotFound)?;
            let Some(event) = check(order)? else {
                return Ok(Decision::Done(false));
            };
            let mut next = order.next();
            match next.move_package(package_id, &event)? {
                Step::Ignored => Ok(Decision::Done(false)),
                Step::Moved => Ok::<_, SyncError>(Decision::write(Write::order(next), true)),
            }
        },
    )
    .await?;
    settled(store, outcome, package_id).await
}

/// The order a package's transition left: the one it wrote, or the stored
/// one when it wrote nothing (a duplicate, a stale event); and its value.
async fn settled<S: Ledger, T>(
    store: &S,
    outcome: crate::transition::Outcome<T>,
    package_id: &PackageId,
) -> Result<(Order, T), SyncError> {
    let order = match outcome.written {
        Some(w) => w.order,
        None => store
            .get_order(&package_id.order_id())
            .await?
            .ok_or(SyncError::NotFound)?,
    };
    Ok((order, outcome.value))
}

/// An event that can no longer apply (SPEC 2.5): goods may be out there
/// although the package was cancelled and refunded, a rejection after the
/// receipt was confirmed (or the other way round), anything on a package of
/// an order that ended. A repeat of the package's own status is a duplicate.
fn cannot_apply(order: &Order, current: PackageStatus, to: PackageStatus) -> bool {
    use PackageStatus::*;
    if current == to || current.can_become(to) {
        return false;
    }
    matches!(order.status(), OrderStatus::Cancelled | OrderStatus::Closed)
        || matches!(
            (current, to),
            (Cancelled, Shipped | Received | Rejected)
                | (Received, Rejected)
                | (Rejected, Received)
        )
}

/// `POST /suppliers/{supplier}/package-status` (signature already verified).
pub async fn supplier_status<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    supplier: &str,
    cb: &StatusCallback,
    now: Timestamp,
) -> Result<Synced, SyncError> {
    let actor = format!("supplier:{supplier}");
    let id = &cb.package_id;
    let outcome = transition(
        store,
        publisher,
        Target::Order(&id.order_id()),
        now,
        |cur| {
            let order = cur.order.as_ref().ok_or(SyncError::NotFound)?;
            let p = order.package(id).ok_or(SyncError::NotFound)?;
            if !supplied_by(&p.source, supplier) {
                return Err(SyncError::WrongSupplier(supplier.to_owned()));
            }
            let at = order.event_time(id, cb.at, now);
            let to = match cb.status {
                CallbackStatus::Shipped => PackageStatus::Shipped,
                CallbackStatus::Received => PackageStatus::Received,
                CallbackStatus::Rejected => PackageStatus::Rejected,
                CallbackStatus::Intercepted => PackageStatus::Cancelled,
                CallbackStatus::InterceptRefused => PackageStatus::Forwarded,
            };
            let answers_intercept = matches!(
                cb.status,
                CallbackStatus::Intercepted | CallbackStatus::InterceptRefused
            );
            // Nothing happens to a package of an unpaid order: it was never sent.
            if !order.is_paid() {
                return Ok(Decision::Done(false));
            }
            let mut next = order.next();
            if cannot_apply(order, p.status(), to) {
                return Ok(match next.record_late_event(id, to, &actor, at, now)? {
                    true => Decision::write(Write::order(next), false),
                    false => Decision::Done(false),
                });
            }
            // An intercept answer only means something while one is pending.
            if answers_intercept && p.status() != PackageStatus::InterceptRequested {
                return Ok(Decision::Done(false));
            }
            let event = PackageEvent {
                to,
                at,
                now,
                actor: actor.clone(),
                carrier: None,
                tracking_no: cb.tracking_no.clone(),
                auto_confirm_at: cfg.auto_confirm_at(&p.source, at),
            };
            match next.move_package(id, &event)? {
                Step::Ignored => Ok(Decision::Done(false)),
                Step::Moved => Ok::<_, SyncError>(Decision::write(Write::order(next), true)),
            }
        },
    )
    .await?;
    let (order, applied) = settled(store, outcome, id).await?;
    let package = order.package(id).ok_or(SyncError::NotFound)?;
    Ok(Synced {
        package_id: package.id.clone(),
        package_status: package.status(),
        order_status: order.status(),
        applied,
    })
}

/// `POST /packages/{package_id}/ship` by an admin, or by the user of the
/// package's warehouse (SPEC 2.11: another warehouse's package is 404), for
/// a self-operated package.
pub async fn ship<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    caller: &Caller,
    package_id: &PackageId,
    shipment: &Shipment,
    now: Timestamp,
) -> Result<Order, SyncError> {
    let actor = caller.actor();
    let (order, _) = apply(store, publisher, package_id, now, |order| {
        // Without a shipping role: 403 to whoever sees the order, else 404
        // (SPEC 2.11: never reveal someone else's order).
        if !caller.may_ship() {
            return Err(refused(caller, order));
        }
        if !caller.serves(&order.storefront) {
            return Err(SyncError::NotFound);
        }
        let p = order.package(package_id).ok_or(SyncError::NotFound)?;
        let Source::SelfOperated { warehouse } = &p.source else {
            // Not the warehouse's to see: as if it did not exist.
            return Err(if caller.roles.admin {
                SyncError::NotSelfOperated
            } else {
                SyncError::NotFound
            });
        };
        if !caller.ships_from(warehouse) {
            return Err(SyncError::NotFound);
        }
        if !order.is_paid() {
            return Err(SyncError::NotPaid);
        }
        match p.status() {
            PackageStatus::Cancelled => return Err(SyncError::PackageCancelled),
            s if s.has_shipped() => return Ok(None),
            _ => {}
        }
        Ok(Some(PackageEvent {
            to: PackageStatus::Shipped,
            at: now,
            now,
            actor: actor.clone(),
            carrier: Some(shipment.carrier.clone()),
            tracking_no: Some(shipment.tracking_no.clone()),
            auto_confirm_at: cfg.auto_confirm_at(&p.source, now),
        }))
    })
    .await?;
    Ok(order)
}

/// `POST /packages/{package_id}/confirm-receipt` by the owner (or staff).
pub async fn confirm_receipt<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    package_id: &PackageId,
    now: Timestamp,
) -> Result<Order, SyncError> {
    let actor = caller.actor();
    let (order, _) = apply(store, publisher, package_id, now, |order| {
        if !caller.may_see(&order.user_id, &order.storefront) {
            return Err(SyncError::NotFound);
        }
        let p = order.package(package_id).ok_or(SyncError::NotFound)?;
        match p.status() {
            PackageStatus::Shipped => Ok(Some(PackageEvent::now(
                PackageStatus::Received,
                &actor,
                now,
            ))),
            PackageStatus::Received => Ok(None),
            other => Err(SyncError::NotShipped(other.as_str())),
        }
    })
    .await?;
    Ok(order)
}

/// How staff end an intercept nobody answered, or a hand-over the queue gave
/// up on (SPEC 2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Resolution {
    /// The supplier confirmed it stopped (or never took) the package: cancelled and refunded.
    Intercepted,
    /// It went out: the cancel fails, the buyer is pointed to after-sales.
    Shipped,
    /// Hand it to its supplier again.
    RetryForward,
}

/// `POST /packages/{package_id}/resolve` `{"outcome", "note"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub outcome: Resolution,
    pub note: String,
}

/// Staff notes are kept on the timeline: printable, at most this long.
pub const MAX_NOTE: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ResolveRequest))]
struct RawResolve {
    outcome: Resolution,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    note: String,
}

/// A staff note: trimmed, 1 to [`MAX_NOTE`] characters, no control characters.
pub fn note(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > MAX_NOTE || v.chars().any(char::is_control) {
        return Err(format!("note must be 1 to {MAX_NOTE} printable characters"));
    }
    Ok(v.to_owned())
}

impl Resolve {
    pub fn parse(body: &[u8]) -> Result<Self, SyncError> {
        let raw: RawResolve = parse_json(body)?;
        Ok(Self {
            outcome: raw.outcome,
            note: note(&raw.note).map_err(SyncError::InvalidRequest)?,
        })
    }
}

/// Staff end an intercept (at any time: they may have phoned the supplier)
/// or a failed hand-over as its answer would; the attention items on the
/// package end with the note.
pub async fn resolve<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    caller: &Caller,
    package_id: &PackageId,
    r: &Resolve,
    now: Timestamp,
) -> Result<Order, SyncError> {
    let actor = caller.actor();
    let outcome = transition(
        store,
        publisher,
        Target::Order(&package_id.order_id()),
        now,
        |cur| {
            let order = cur.order.as_ref().ok_or(SyncError::NotFound)?;
            if !caller.is_staff() {
                return Err(refused(caller, order));
            }
            if !caller.serves(&order.storefront) {
                return Err(SyncError::NotFound);
            }
            let p = order.package(package_id).ok_or(SyncError::NotFound)?;
            let failed_handover = p.status() == PackageStatus::Pending
                && p.forward_failed_at().is_some()
                && order.is_paid();
            let to = match (r.outcome, p.status()) {
                (Resolution::Intercepted, PackageStatus::InterceptRequested) => {
                    Some(PackageStatus::Cancelled)
                }
                (Resolution::Intercepted, PackageStatus::Pending) if failed_handover => {
                    Some(PackageStatus::Cancelled)
                }
                (Resolution::Shipped, PackageStatus::InterceptRequested) => {
                    Some(PackageStatus::Shipped)
                }
                (Resolution::RetryForward, PackageStatus::Pending) if failed_handover => None,
                (_, other) => return Err(SyncError::NothingToResolve(other.as_str())),
            };
            let mut next = order.next();
            let here = |a: &crate::order::AttentionItem| {
                a.package_id.as_ref() == Some(package_id)
                    && a.kind != crate::order::AttentionKind::LateEvent
            };
            next.end_attention(here, &actor, Some(&r.note), now);
            let entry = next.log(now, "package_resolved", &actor);
            entry.package_id = Some(package_id.clone());
            entry.cause = Some(r.note.clone());
            match to {
                None => next.retry_forward(package_id, now)?,
                Some(to) => {
                    let event = PackageEvent {
                        auto_confirm_at: (to == PackageStatus::Shipped)
                            .then(|| cfg.auto_confirm_at(&p.source, now))
                            .flatten(),
                        ..PackageEvent::now(to, &actor, now)
                    };
                    next.move_package(package_id, &event)?;
                }
            }
            let value = next.clone();
            Ok::<_, SyncError>(Decision::write(Write::order(next), value))
        },
    )
    .await?;
    Ok(outcome.value)
}

/// A caller without the route's role: forbidden if it sees the order (its
/// owner, staff of its storefront), else as if the order did not exist.
fn refused(caller: &Caller, order: &Order) -> SyncError {
    if caller.may_see(&order.user_id, &order.storefront) {
        SyncError::StaffOnly
    } else {
        SyncError::NotFound
    }
}
