//! The forward-queue consumer (SPEC 2.4): hands paid packages to their
//! suppliers after the intercept window, and carries intercept requests.
//! Delivery is at least once; a lease and conditional transitions make the
//! supplier see each package once.

use crate::error::StoreError;
use crate::ids::PackageId;
use crate::lifecycle::{commit_and_publish, STALE_RETRIES};
use crate::messages::{Message, Publisher};
use crate::order::{Order, OrderStatus, PackageStatus, Transition as Step};
use crate::ports::{
    CommitError, ForwardRequest, InterceptOutcome, Ledger, Supplier, SupplierError, Transition,
};
use crate::time::Timestamp;

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
    Store(#[from] StoreError),
}

pub fn parse_message(body: &str) -> Result<Message, FulfilError> {
    serde_json::from_str(body).map_err(|e| FulfilError::BadMessage(e.to_string()))
}

/// The package's order and its index there, if both exist.
async fn load<S: Ledger>(store: &S, id: &PackageId) -> Result<Option<(Order, usize)>, StoreError> {
    let Some(order) = store.get_order(&id.order_id()).await? else {
        return Ok(None);
    };
    Ok(order
        .packages
        .iter()
        .position(|p| &p.id == id)
        .map(|i| (order, i)))
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
        Message::Refund { .. } => Err(FulfilError::BadMessage(
            "refunds do not go to the forward queue".into(),
        )),
    }
}

async fn forward<S: Ledger, P: Publisher, X: Supplier>(
    store: &S,
    publisher: &P,
    supplier: &X,
    package_id: &PackageId,
    now: Timestamp,
) -> Result<Handled, FulfilError> {
    let Some((order, i)) = load(store, package_id).await? else {
        return Ok(Handled::Dropped("unknown package"));
    };
    if order.packages[i].status.step(PackageStatus::Forwarded) != Step::Moved || !order.is_paid() {
        return Ok(Handled::Dropped(
            if order.packages[i].status == PackageStatus::Cancelled {
                "cancelled"
            } else {
                "already forwarded"
            },
        ));
    }
    let lease = format!("forward-{package_id}");
    if !store.lease(&lease, now.plus_secs(LEASE_SECS), now).await? {
        return Err(FulfilError::Busy);
    }
    let p = &order.packages[i];
    let request = ForwardRequest {
        package_id: p.id.clone(),
        order_id: order.id.clone(),
        source: p.source.clone(),
        lines: p.lines.clone(),
        goods_cents: p.goods_cents,
        address: order.address.clone(),
    };
    let supplier_ref = match supplier.forward(&request).await {
        Ok(r) => r,
        Err(e) => {
            store.release_lease(&lease).await?;
            return Err(e.into());
        }
    };
    for _ in 0..STALE_RETRIES {
        let Some((order, i)) = load(store, package_id).await? else {
            break;
        };
        match order.packages[i].status {
            PackageStatus::Pending => {}
            PackageStatus::Cancelled => {
                // Cancelled while the supplier was being called: stop it there.
                let source = order.packages[i].source.clone();
                let outcome = supplier
                    .intercept(package_id, &source, &supplier_ref)
                    .await?;
                tracing::warn!(package = %package_id, ?outcome, "cancelled during forwarding; intercept sent");
                return Ok(Handled::Dropped("cancelled during forwarding"));
            }
            _ => return Ok(Handled::Dropped("already forwarded")),
        }
        let mut next = order.next();
        next.packages[i].status = PackageStatus::Forwarded;
        next.packages[i].supplier_ref = Some(supplier_ref.clone());
        next.log(
            now,
            format!("package {package_id} forwarded ({supplier_ref})"),
            "system",
        );
        let t = Transition::of(&next, Vec::new(), Vec::new());
        match commit_and_publish(store, publisher, &t, now).await {
            Ok(()) => {
                return Ok(Handled::Forwarded { supplier_ref });
            }
            Err(CommitError::Stale) => continue,
            Err(CommitError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(StoreError(format!("unexpected refusal: {e}")).into()),
        }
    }
    Err(StoreError("forwarding kept colliding with other changes".into()).into())
}

async fn intercept<S: Ledger, P: Publisher, X: Supplier>(
    store: &S,
    publisher: &P,
    supplier: &X,
    package_id: &PackageId,
    now: Timestamp,
) -> Result<Handled, FulfilError> {
    let Some((order, i)) = load(store, package_id).await? else {
        return Ok(Handled::Dropped("unknown package"));
    };
    if order.packages[i].status != PackageStatus::InterceptRequested {
        return Ok(Handled::Dropped("no intercept pending"));
    }
    let p = order.packages[i].clone();
    let outcome = supplier
        .intercept(
            package_id,
            &p.source,
            p.supplier_ref.as_deref().unwrap_or_default(),
        )
        .await?;
    if outcome == InterceptOutcome::Pending {
        return Ok(Handled::InterceptPending);
    }
    resolve_intercept(
        store,
        publisher,
        package_id,
        outcome == InterceptOutcome::Intercepted,
        "system",
        now,
    )
    .await?;
    Ok(if outcome == InterceptOutcome::Intercepted {
        Handled::Intercepted
    } else {
        Handled::InterceptRefused
    })
}

/// A supplier's answer to an intercept request: the package is cancelled
/// (stock and limits back, its share refunded) or goes on as forwarded.
pub async fn resolve_intercept<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    package_id: &PackageId,
    intercepted: bool,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    for _ in 0..STALE_RETRIES {
        let Some((order, i)) = load(store, package_id).await? else {
            return Ok(());
        };
        if order.packages[i].status != PackageStatus::InterceptRequested {
            return Ok(());
        }
        let mut next = order.next();
        let (stock, limits) = if intercepted {
            next.cancel_package(i, now);
            next.log(now, format!("package {package_id} intercepted"), actor);
            order.held_by(|p| &p.id == package_id)
        } else {
            next.packages[i].status = PackageStatus::Forwarded;
            next.log(
                now,
                format!(
                    "package {package_id} could not be intercepted: cancel failed, use after-sales"
                ),
                actor,
            );
            (Vec::new(), Vec::new())
        };
        next.rederive_status();
        if next.status == OrderStatus::Cancelled && order.status != OrderStatus::Cancelled {
            next.log(now, "cancelled", actor);
        }
        let t = Transition::of(&next, stock, limits);
        match commit_and_publish(store, publisher, &t, now).await {
            Ok(()) => {
                return Ok(());
            }
            Err(CommitError::Stale) => continue,
            Err(CommitError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError(format!("unexpected refusal: {e}"))),
        }
    }
    Err(StoreError(
        "intercept kept colliding with other changes".into(),
    ))
}
