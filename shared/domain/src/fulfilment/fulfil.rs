//! The forward-queue consumer (SPEC 2.4): hands paid packages to their
//! suppliers after the intercept window, and carries intercept requests.
//! Delivery is at least once; a claim on the package (written before the
//! supplier is called) and conditional transitions make the supplier see each
//! package once, and let a cancel that meets a forward in flight intercept it.

use crate::error::StoreError;
use crate::ids::PackageId;
use crate::messages::{Message, Publisher};
use crate::order::change::PackageEvent;
use crate::order::{IllegalTransition, PackageStatus, Step};
use crate::ports::{ForwardRequest, InterceptOutcome, Ledger, Supplier, SupplierError};
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};

/// How long one delivery may hold a package before another may try.
pub const LEASE_SECS: u64 = 60;

/// What handling one message did (all of these are successes for the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Forwarded {
        supplier_ref: String,
    },
    /// The package was cancelled (intercepted in the window), already
    /// forwarded (a duplicate), or is unknown.
    Dropped(&'static str),
    Intercepted,
    InterceptRefused,
    InterceptPending,
}

#[derive(Debug, thiserror::Error)]
pub enum FulfilError {
    #[error("the message is not understood: {0}")]
    BadMessage(String),
    #[error("another delivery of this message is in progress")]
    Busy,
    #[error(transparent)]
    Supplier(#[from] SupplierError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn parse_message(body: &str) -> Result<Message, FulfilError> {
    serde_json::from_str(body).map_err(|e| FulfilError::BadMessage(e.to_string()))
}

/// A supplier's reference is stored on the order: printable, at most this long.
pub const MAX_SUPPLIER_REF: usize = 128;

/// Counts a supplier's failed answer, by supplier (`jd`, `dropship:S-1`...).
fn supplier_error(source: &crate::catalog::Source, operation: &'static str) {
    metrics::counter!("SupplierErrors", "supplier" => source.package_key(), "operation" => operation)
        .increment(1);
}

fn checked_ref(raw: String) -> Result<String, SupplierError> {
    let r = raw.trim();
    if r.is_empty() || r.len() > MAX_SUPPLIER_REF || r.chars().any(char::is_control) {
        return Err(SupplierError::Rejected(format!(
            "the supplier answered an unusable reference ({} bytes)",
            raw.len()
        )));
    }
    Ok(r.to_owned())
}

pub async fn handle<S: Ledger, P: Publisher, X: Supplier>(
    store: &S,
    publisher: &P,
    supplier: &X,
    message: &Message,
    now: Timestamp,
) -> Result<Handled, FulfilError> {
    match message {
        Message::Forward { package_id, .. } => {
            forward(store, publisher, supplier, package_id, now).await
        }
        Message::Intercept { package_id } => {
            intercept(store, publisher, supplier, package_id, now).await
        }
        Message::Refund { .. } | Message::RefundQuery { .. } => Err(FulfilError::BadMessage(
            "refunds do not go to the forward queue".into(),
        )),
    }
}

/// The supplier call failed: lets the next delivery try at once. If this
/// fails too, the claim simply expires.
async fn release<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    package_id: &PackageId,
    now: Timestamp,
) {
    let released = transition(
        store,
        publisher,
        Target::Order(&package_id.order_id()),
        now,
        |cur| {
            let Some(order) = &cur.order else {
                return Ok(Decision::Done(()));
            };
            let mut next = order.next();
            next.release_forward(package_id, now)?;
            Ok::<_, FulfilError>(Decision::write(Write::order(next), ()))
        },
    )
    .await;
    if let Err(e) = released {
        tracing::warn!(package = %package_id, error = %e, "claim left to expire");
    }
}

enum Claim {
    Dropped(&'static str),
    Claimed(Box<ForwardRequest>),
}

async fn forward<S: Ledger, P: Publisher, X: Supplier>(
    store: &S,
    publisher: &P,
    supplier: &X,
    package_id: &PackageId,
    now: Timestamp,
) -> Result<Handled, FulfilError> {
    let order_id = package_id.order_id();
    // Take the package, so that a cancel meanwhile intercepts instead of dropping it.
    let claim = transition(store, publisher, Target::Order(&order_id), now, |cur| {
        let Some(order) = &cur.order else {
            return Ok(Decision::Done(Claim::Dropped("unknown package")));
        };
        let Some(p) = order.package(package_id) else {
            return Ok(Decision::Done(Claim::Dropped("unknown package")));
        };
        let unsent = match p.status() {
            PackageStatus::Pending => true,
            // A cancel met an earlier forward that never recorded its reference.
            PackageStatus::InterceptRequested => p.supplier_ref().is_none(),
            _ => false,
        };
        if !unsent || !order.is_paid() {
            let why = match p.status() {
                PackageStatus::Cancelled => "cancelled",
                PackageStatus::Pending => "not paid",
                _ => "already forwarded",
            };
            return Ok(Decision::Done(Claim::Dropped(why)));
        }
        if p.forwarding_until().is_some_and(|t| t > now) {
            return Err(FulfilError::Busy);
        }
        let request = ForwardRequest {
            package_id: p.id.clone(),
            order_id: order.id.clone(),
            source: p.source.clone(),
            lines: p.lines.clone(),
            goods_cents: p.goods_cents,
            address: order.address.clone(),
        };
        let mut next = order.next();
        next.claim_forward(package_id, now.plus_secs(LEASE_SECS))?;
        Ok(Decision::write(
            Write::order(next),
            Claim::Claimed(Box::new(request)),
        ))
    })
    .await?;
    let request = match claim.value {
        Claim::Dropped(why) => return Ok(Handled::Dropped(why)),
        Claim::Claimed(r) => r,
    };
    let supplier_ref = match supplier.forward(&request).await.and_then(checked_ref) {
        Ok(r) => r,
        Err(e) => {
            supplier_error(&request.source, "forward");
            release(store, publisher, package_id, now).await;
            return Err(e.into());
        }
    };
    transition(store, publisher, Target::Order(&order_id), now, |cur| {
        let Some(order) = &cur.order else {
            return Err(
                StoreError::Failed("the order of a forwarded package went missing".into()).into(),
            );
        };
        let mut next = order.next();
        next.record_forwarded(package_id, supplier_ref.clone(), now)?;
        Ok::<_, FulfilError>(Decision::write(Write::order(next), ()))
    })
    .await?;
    Ok(Handled::Forwarded { supplier_ref })
}

enum InterceptClaim {
    Dropped(&'static str),
    Claimed {
        source: crate::catalog::Source,
        supplier_ref: String,
    },
}

async fn intercept<S: Ledger, P: Publisher, X: Supplier>(
    store: &S,
    publisher: &P,
    supplier: &X,
    package_id: &PackageId,
    now: Timestamp,
) -> Result<Handled, FulfilError> {
    let order_id = package_id.order_id();
    // Take the package, so that another delivery of the request does not ask
    // the supplier again.
    let claim = transition(store, publisher, Target::Order(&order_id), now, |cur| {
        let Some((order, p)) = cur
            .order
            .as_ref()
            .and_then(|o| o.package(package_id).map(|p| (o, p)))
        else {
            return Ok(Decision::Done(InterceptClaim::Dropped("unknown package")));
        };
        if p.status() != PackageStatus::InterceptRequested {
            return Ok(Decision::Done(InterceptClaim::Dropped(
                "no intercept pending",
            )));
        }
        // The supplier took it and answers later: another delivery of the
        // same request is dropped; the sweep asks again when it is due.
        if p.intercept_sent_at().is_some() {
            return Ok(Decision::Done(InterceptClaim::Dropped(
                "intercept already sent",
            )));
        }
        // The forward is still on its way to the supplier, or another
        // delivery is asking it now: ask again later.
        let Some(supplier_ref) = p.supplier_ref() else {
            return Err(FulfilError::Busy);
        };
        if p.is_claimed(now) {
            return Err(FulfilError::Busy);
        }
        let claimed = InterceptClaim::Claimed {
            source: p.source.clone(),
            supplier_ref: supplier_ref.to_owned(),
        };
        let mut next = order.next();
        next.claim_forward(package_id, now.plus_secs(LEASE_SECS))?;
        Ok(Decision::write(Write::order(next), claimed))
    })
    .await?;
    let (source, supplier_ref) = match claim.value {
        InterceptClaim::Dropped(why) => return Ok(Handled::Dropped(why)),
        InterceptClaim::Claimed {
            source,
            supplier_ref,
        } => (source, supplier_ref),
    };
    let outcome = match supplier.intercept(package_id, &source, &supplier_ref).await {
        Ok(outcome) => outcome,
        Err(e) => {
            supplier_error(&source, "intercept");
            release(store, publisher, package_id, now).await;
            return Err(e.into());
        }
    };
    let to = match outcome {
        InterceptOutcome::Pending => None,
        InterceptOutcome::Intercepted => Some(PackageStatus::Cancelled),
        InterceptOutcome::Refused => Some(PackageStatus::Forwarded),
    };
    transition(store, publisher, Target::Order(&order_id), now, |cur| {
        let Some(order) = &cur.order else {
            return Ok(Decision::Done(()));
        };
        let mut next = order.next();
        match to {
            // The answer comes later, by callback.
            None => next.record_intercept_sent(package_id, now)?,
            Some(to) => {
                let event = PackageEvent::now(to, "system", now);
                if next.move_package(package_id, &event)? == Step::Ignored {
                    return Ok(Decision::Done(()));
                }
            }
        }
        Ok::<_, FulfilError>(Decision::write(Write::order(next), ()))
    })
    .await?;
    Ok(match to {
        None => Handled::InterceptPending,
        Some(PackageStatus::Cancelled) => Handled::Intercepted,
        Some(_) => Handled::InterceptRefused,
    })
}

/// The queue is about to give up on `message` (its last receive failed too):
/// the order's timeline says so, so that staff see the package stuck and can
/// cancel and refund it, or redrive the dead-letter queue. Returns whether
/// this recorded it (false: already recorded, or nothing to record).
pub async fn give_up<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    message: &Message,
    cause: &str,
    now: Timestamp,
) -> Result<bool, FulfilError> {
    let (package_id, intercept) = match message {
        Message::Forward { package_id, .. } => (package_id, false),
        Message::Intercept { package_id } => (package_id, true),
        Message::Refund { .. } | Message::RefundQuery { .. } => return Ok(false),
    };
    let outcome = transition(
        store,
        publisher,
        Target::Order(&package_id.order_id()),
        now,
        |cur| {
            let Some(order) = &cur.order else {
                return Ok(Decision::Done(false));
            };
            if order.package(package_id).is_none() {
                return Ok(Decision::Done(false));
            }
            let mut next = order.next();
            if next.record_queue_failure(package_id, intercept, cause, now)? {
                Ok::<_, FulfilError>(Decision::write(Write::order(next), true))
            } else {
                Ok(Decision::Done(false))
            }
        },
    )
    .await?;
    Ok(outcome.value)
}
