//! The one path every change after placement takes: load the order (and its
//! case), decide, commit conditional on the versions loaded, publish what the
//! order owes the queues, and start over when someone else wrote first.

use crate::after_sales::case::AfterSalesCase;
use crate::error::StoreError;
use crate::ids::{CaseId, OrderId};
use crate::messages::Publisher;
use crate::order::change::moves_between;
use crate::order::Order;
use crate::ports::{Change, CommitError, Ledger, PaymentRecord};
use crate::time::Timestamp;

/// How many times a change is decided again when the order moved meanwhile.
pub const STALE_RETRIES: usize = 20;

/// What a change is about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Order(&'a OrderId),
    /// An after-sales case and its order.
    Case(&'a CaseId),
}

/// What a decision sees.
#[derive(Debug)]
pub struct Current {
    pub order: Option<Order>,
    /// Loaded for [`Target::Case`].
    pub case: Option<AfterSalesCase>,
    /// Why the previous attempt's write was refused, when not for staleness
    /// (stock short, payment already recorded, a case line taken). A decision
    /// that meets a refusal decides differently or gives up: the loop ends
    /// after [`STALE_RETRIES`] attempts in any case.
    pub refusal: Option<CommitError>,
}

/// What to write: the next order (one version up), and what goes with it.
#[derive(Debug, Clone)]
pub struct Write {
    pub order: Order,
    pub payment: Option<PaymentRecord>,
    pub case: Option<AfterSalesCase>,
}

impl Write {
    pub fn order(order: Order) -> Self {
        Self {
            order,
            payment: None,
            case: None,
        }
    }
}

/// A decision: nothing to write (a duplicate, a stale event), or a write.
#[derive(Debug)]
pub enum Decision<T> {
    Done(T),
    Write(Box<Write>, T),
}

impl<T> Decision<T> {
    pub fn write(write: Write, value: T) -> Self {
        Decision::Write(Box::new(write), value)
    }
}

/// The answer of a decision, and what was written for it, if anything.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub written: Option<Write>,
}

async fn load<S: Ledger>(
    store: &S,
    target: Target<'_>,
) -> Result<(Option<Order>, Option<AfterSalesCase>), StoreError> {
    match target {
        Target::Order(id) => Ok((store.get_order(id).await?, None)),
        Target::Case(id) => {
            let Some(case) = store.get_case(id).await? else {
                return Ok((None, None));
            };
            Ok((store.get_order(&case.order_id).await?, Some(case)))
        }
    }
}

/// Runs `decide` on the stored state and commits what it decides, until a
/// commit lands or a decision writes nothing. Stock and limit moves follow
/// from the order's states before and after ([`moves_between`]), so no use
/// case computes them; nor work-queue entries
/// ([`crate::backoffice::queues::moves_between`]).
pub async fn transition<S, P, T, E>(
    store: &S,
    publisher: &P,
    target: Target<'_>,
    now: Timestamp,
    decide: impl FnMut(&Current) -> Result<Decision<T>, E>,
) -> Result<Outcome<T>, E>
where
    S: Ledger,
    P: Publisher,
    E: From<StoreError>,
{
    transition_from(store, publisher, target, None, now, decide).await
}

/// [`transition`], its first decision made on `loaded` (the order as the
/// caller just read it, for [`Target::Order`]) instead of a read of its
/// own. Safe with any copy: the write is conditional on its version, and a
/// stale one is read again and decided again.
pub async fn transition_from<S, P, T, E>(
    store: &S,
    publisher: &P,
    target: Target<'_>,
    loaded: Option<Order>,
    now: Timestamp,
    mut decide: impl FnMut(&Current) -> Result<Decision<T>, E>,
) -> Result<Outcome<T>, E>
where
    S: Ledger,
    P: Publisher,
    E: From<StoreError>,
{
    let mut refusal: Option<CommitError> = None;
    let mut loaded = match target {
        Target::Order(_) => loaded.map(|o| (Some(o), None)),
        Target::Case(_) => None,
    };
    for attempt in 0..STALE_RETRIES {
        if attempt > 0 && store.out_of_time() {
            return Err(StoreError::Busy("out of time deciding a change again".into()).into());
        }
        let (order, case) = match loaded.take() {
            Some(first) => first,
            None => load(store, target).await?,
        };
        let current = Current {
            order,
            case,
            refusal: refusal.take(),
        };
        let (write, value) = match decide(&current)? {
            Decision::Done(value) => {
                return Ok(Outcome {
                    value,
                    written: None,
                })
            }
            Decision::Write(write, value) => (*write, value),
        };
        let before = current
            .order
            .as_ref()
            .ok_or_else(|| StoreError::Failed("a change needs a stored order".into()))?;
        if write.order.version() != before.version() + 1 {
            return Err(
                StoreError::Failed("a change must be exactly one version up".into()).into(),
            );
        }
        write.order.check_size()?;
        let (stock, limit_releases) = moves_between(before, &write.order);
        let queue = crate::backoffice::queues::moves_between(before, &write.order);
        let change = Change {
            order: &write.order,
            stock,
            limit_releases,
            payment: write.payment.clone(),
            case: write.case.as_ref(),
            queue,
        };
        match store.commit(&change).await {
            Ok(()) => {
                crate::order::events::count(Some(before), &write.order);
                publish(store, publisher, &write.order, now).await;
                return Ok(Outcome {
                    value,
                    written: Some(write),
                });
            }
            Err(CommitError::Stale) => metrics::counter!("WriteConflicts").increment(1),
            Err(CommitError::Store(e)) => return Err(e.into()),
            Err(other) => {
                metrics::counter!("WriteRefusals").increment(1);
                refusal = Some(other)
            }
        }
    }
    Err(StoreError::Busy("the change kept colliding with other changes".into()).into())
}

/// Publishes what a committed order owes the queues, then clears its outbox.
pub async fn flush_outbox<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    order: &Order,
    now: Timestamp,
) -> Result<(), StoreError> {
    if order.outbox().is_empty() {
        return Ok(());
    }
    let messages: Vec<_> = order.outbox().values().cloned().collect();
    publisher.publish(&messages, now).await?;
    store.clear_outbox(order).await?;
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
