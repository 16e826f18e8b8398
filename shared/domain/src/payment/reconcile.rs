//! Reconciliation with a provider's bill (SPEC 2.12): a day's payments and
//! refunds as the provider counts them, against what the orders kept.
//!
//! - A payment the provider took that no payment record of ours knows is
//!   money no order kept (a notification lost, or never ours).
//! - A payment we recorded (paid, or taken and refunded) for that day that
//!   the bill lacks, or with another amount.
//! - A refund whose amount or status differs from the order's, or that no
//!   order of ours has.
//!
//! Each difference about one of our orders goes on its attention list
//! (`reconciliation_difference`, acknowledged by staff); a report lists them
//! all. Running the same day again raises nothing twice.

use crate::error::StoreError;
use crate::ids::OrderId;
use crate::messages::Publisher;
use crate::money::Cents;
use crate::order::attention::AttentionKind;
use crate::order::RefundStatus;
use crate::payment::refund::{PaymentChannel, ProviderState, RefundFailure, RefundNo};
use crate::ports::{Ledger, PaymentRecord};
use crate::storefront::StorefrontId;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A payment as the provider's bill has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillPayment {
    pub payment_id: String,
    pub out_trade_no: String,
    pub amount_cents: Cents,
}

/// A refund as the provider's bill has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRefund {
    pub payment_id: String,
    /// The number it was sent under (`out_refund_no`).
    pub refund_no: String,
    pub amount_cents: Cents,
    /// The provider's word (None: a status we do not know, kept in `status_text`).
    pub state: Option<ProviderState>,
    pub status_text: String,
}

/// One day's bill of one merchant account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bill {
    pub payments: Vec<BillPayment>,
    pub refunds: Vec<BillRefund>,
}

/// One thing the bill and the orders disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The provider took this money; no order kept it.
    PaymentNotKept {
        payment_id: String,
        out_trade_no: String,
        amount_cents: Cents,
    },
    /// We kept this payment; the provider's bill does not have it.
    PaymentNotAtProvider {
        payment_id: String,
        order_id: OrderId,
        amount_cents: Cents,
    },
    /// Both have the payment, with different amounts.
    PaymentAmount {
        payment_id: String,
        order_id: OrderId,
        ours_cents: Cents,
        theirs_cents: Cents,
    },
    /// The provider made a refund no order of ours has.
    RefundNotOurs {
        refund_no: String,
        payment_id: String,
        amount_cents: Cents,
        status: String,
    },
    /// The order's refund and the provider's differ in amount or status.
    RefundDiffers {
        refund_no: String,
        order_id: OrderId,
        ours_cents: Cents,
        theirs_cents: Cents,
        ours_status: String,
        theirs_status: String,
    },
}

impl Difference {
    /// The order it is about, when it is one of ours.
    pub fn order_id(&self) -> Option<OrderId> {
        match self {
            Difference::PaymentNotKept { out_trade_no, .. } => OrderId::parse(out_trade_no).ok(),
            Difference::PaymentNotAtProvider { order_id, .. }
            | Difference::PaymentAmount { order_id, .. }
            | Difference::RefundDiffers { order_id, .. } => Some(order_id.clone()),
            Difference::RefundNotOurs { refund_no, .. } => {
                RefundNo::parse(refund_no).map(|n| n.order_id)
            }
        }
    }

    /// One line for the report and the attention item.
    pub fn describe(&self, date: &str) -> String {
        match self {
            Difference::PaymentNotKept { payment_id, out_trade_no, amount_cents } => format!(
                "reconciliation {date}: the provider took payment {payment_id} ({amount_cents} cents, out_trade_no {out_trade_no}) that no order kept"
            ),
            Difference::PaymentNotAtProvider { payment_id, amount_cents, .. } => format!(
                "reconciliation {date}: payment {payment_id} ({amount_cents} cents) kept here is not in the provider's bill"
            ),
            Difference::PaymentAmount { payment_id, ours_cents, theirs_cents, .. } => format!(
                "reconciliation {date}: payment {payment_id} is {ours_cents} cents here, {theirs_cents} in the provider's bill"
            ),
            Difference::RefundNotOurs { refund_no, amount_cents, status, .. } => format!(
                "reconciliation {date}: the provider has refund {refund_no} ({amount_cents} cents, {status}) that no order has"
            ),
            Difference::RefundDiffers { refund_no, ours_cents, theirs_cents, ours_status, theirs_status, .. } => format!(
                "reconciliation {date}: refund {refund_no} is {ours_cents} cents {ours_status} here, {theirs_cents} cents {theirs_status} in the provider's bill"
            ),
        }
    }
}

/// What one reconciliation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub date: String,
    /// The storefronts whose payments were compared (one merchant account).
    pub storefronts: Vec<StorefrontId>,
    /// False: the provider had no statement for the day (no trade).
    pub statement: bool,
    pub payments_checked: usize,
    pub refunds_checked: usize,
    pub differences: Vec<Difference>,
    /// Attention items raised now (a second run raises none again).
    pub raised: usize,
}

/// Does the order's refund agree with the provider's word in the bill? The
/// bill is a picture of its day; the order may have moved on since, along
/// a path the provider's word allows.
fn agrees(
    r: &crate::order::Refund,
    ours: RefundStatus,
    failure: Option<RefundFailure>,
    theirs: ProviderState,
) -> bool {
    match theirs {
        // Applied for again after `abnormal`, the money reached the
        // merchant's account: the provider counts it refunded.
        ProviderState::Succeeded => {
            ours == RefundStatus::Succeeded || (ours == RefundStatus::Failed && r.to_merchant)
        }
        // Still moving that day: settled either way since.
        ProviderState::Processing => true,
        // Abnormal that day: still so, applied for again since, or paid
        // offline; never paid by the provider to the buyer.
        ProviderState::Failed(RefundFailure::Abnormal) => match ours {
            RefundStatus::Succeeded => r.offline,
            RefundStatus::Failed => failure == Some(RefundFailure::Abnormal),
            RefundStatus::Pending | RefundStatus::Processing => true,
        },
        ProviderState::Failed(RefundFailure::Closed) => {
            ours == RefundStatus::Failed && failure == Some(RefundFailure::Closed)
                || (ours == RefundStatus::Succeeded && r.offline)
        }
    }
}

/// Compares `bill` (None: the provider had no statement, a day without
/// trade) with the payments `storefronts` took through `channel` on `date`
/// and the orders' refunds; raises each difference about one of our orders
/// on its attention list.
pub async fn reconcile<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    storefronts: &[StorefrontId],
    channel: PaymentChannel,
    date: &str,
    bill: Option<&Bill>,
    now: Timestamp,
) -> Result<Report, StoreError> {
    let mut ours: BTreeMap<String, PaymentRecord> = BTreeMap::new();
    for sf in storefronts {
        for p in store.payments_on(sf, channel, date).await? {
            ours.insert(p.payment_id.clone(), p);
        }
    }
    let empty = Bill::default();
    let theirs = bill.unwrap_or(&empty);
    let mut differences = Vec::new();

    let mut billed: BTreeSet<&str> = BTreeSet::new();
    for b in &theirs.payments {
        billed.insert(&b.payment_id);
        // The day's own records first; a read only for what they lack.
        let record = match ours.get(&b.payment_id) {
            Some(p) => Some(p.clone()),
            None => store.payment(&b.payment_id).await?,
        };
        match record {
            // Recorded on another day (a notification after midnight) or
            // in another storefront of this account: still kept.
            Some(p) if p.amount_cents == b.amount_cents => {}
            Some(p) => differences.push(Difference::PaymentAmount {
                payment_id: b.payment_id.clone(),
                order_id: p.order_id,
                ours_cents: p.amount_cents,
                theirs_cents: b.amount_cents,
            }),
            None => differences.push(Difference::PaymentNotKept {
                payment_id: b.payment_id.clone(),
                out_trade_no: b.out_trade_no.clone(),
                amount_cents: b.amount_cents,
            }),
        }
    }
    for p in ours.values() {
        if !billed.contains(p.payment_id.as_str()) {
            differences.push(Difference::PaymentNotAtProvider {
                payment_id: p.payment_id.clone(),
                order_id: p.order_id.clone(),
                amount_cents: p.amount_cents,
            });
        }
    }

    // Refunds: each against the order its number names.
    let mut orders = BTreeMap::new();
    for r in &theirs.refunds {
        let not_ours = || Difference::RefundNotOurs {
            refund_no: r.refund_no.clone(),
            payment_id: r.payment_id.clone(),
            amount_cents: r.amount_cents,
            status: r.status_text.clone(),
        };
        let Some(no) = RefundNo::parse(&r.refund_no) else {
            differences.push(not_ours());
            continue;
        };
        if !orders.contains_key(&no.order_id) {
            let order = store.get_order(&no.order_id).await?;
            orders.insert(no.order_id.clone(), order);
        }
        let Some(refund) = orders[&no.order_id]
            .as_ref()
            .and_then(|o| o.refund_by_id(&no.refund_id))
        else {
            differences.push(not_ours());
            continue;
        };
        // An earlier number of a refund retried after it closed: it must
        // have closed (a closed refund never paid).
        // (Refunds recorded before retries existed have attempt 0: the first.)
        let attempt = refund.attempt.max(1);
        let (ours_status, failure) = if no.attempt < attempt {
            (RefundStatus::Failed, Some(RefundFailure::Closed))
        } else {
            (refund.status, refund.failure)
        };
        let same = no.attempt <= attempt
            && refund.amount_cents == r.amount_cents
            && r.state
                .is_some_and(|s| agrees(refund, ours_status, failure, s));
        if !same {
            differences.push(Difference::RefundDiffers {
                refund_no: r.refund_no.clone(),
                order_id: no.order_id.clone(),
                ours_cents: refund.amount_cents,
                theirs_cents: r.amount_cents,
                ours_status: match failure {
                    Some(f) if ours_status == RefundStatus::Failed => {
                        format!("failed ({})", f.as_str())
                    }
                    _ => ours_status.as_str().to_owned(),
                },
                theirs_status: r.status_text.clone(),
            });
        }
    }

    // Each difference about one of our orders on its attention list.
    let mut by_order: BTreeMap<OrderId, Vec<String>> = BTreeMap::new();
    for d in &differences {
        if let Some(id) = d.order_id() {
            by_order.entry(id).or_default().push(d.describe(date));
        }
    }
    let mut raised = 0;
    for (id, causes) in by_order {
        let outcome = transition(store, publisher, Target::Order(&id), now, |cur| {
            let Some(order) = &cur.order else {
                return Ok::<_, StoreError>(Decision::Done(0));
            };
            // Raised before (open, or acknowledged since): not again.
            let raised_before = |cause: &str| {
                order.timeline().iter().any(|t| {
                    t.event == "attention_raised"
                        && t.cause
                            .as_deref()
                            .is_some_and(|c| c.ends_with(&format!(": {cause}")))
                })
            };
            let mut next = order.next();
            let n = causes
                .iter()
                .filter(|c| !raised_before(c))
                .filter(|c| {
                    next.raise_attention(
                        AttentionKind::ReconciliationDifference,
                        None,
                        (*c).clone(),
                        now,
                    )
                })
                .count();
            if n == 0 {
                return Ok(Decision::Done(0));
            }
            Ok(Decision::write(
                Write {
                    order: next,
                    payment: None,
                    case: None,
                },
                n,
            ))
        })
        .await?;
        raised += outcome.value;
    }
    Ok(Report {
        date: date.to_owned(),
        storefronts: storefronts.to_vec(),
        statement: bill.is_some(),
        payments_checked: theirs.payments.len().max(ours.len()),
        refunds_checked: theirs.refunds.len(),
        differences,
        raised,
    })
}
