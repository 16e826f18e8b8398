//! A refund's life on its order (SPEC 2.12): `pending` -> `processing` ->
//! `succeeded` | `failed` (`abnormal` or `closed`); a failed refund raises
//! an attention item that staff end by retrying it or recording it paid
//! back offline. Every step is on the timeline.

use super::attention::AttentionKind;
use super::*;
use crate::payment::refund::{ProviderRefund, ProviderState};

/// Why a refund action of staff does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundActionError {
    #[error("no such refund")]
    NotFound,
    #[error("the refund is {0}, not failed")]
    NotFailed(&'static str),
}

impl Order {
    pub fn refund_by_id(&self, id: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.id == id)
    }

    fn refund_index(&self, id: &str) -> Option<usize> {
        self.refunds.iter().position(|r| r.id == id)
    }

    /// The provider's word on refund `id` under the number `provider_no`
    /// (an answer, a notification or a query). False, and nothing changed,
    /// when it tells nothing new: another number (an earlier attempt), or a
    /// refund already settled. A refund still `processing` is asked about
    /// again at `query_at`.
    pub fn record_refund_state(
        &mut self,
        id: &str,
        provider_no: &str,
        word: &ProviderRefund,
        actor: &str,
        now: Timestamp,
        query_at: Timestamp,
    ) -> bool {
        let Some(i) = self.refund_index(id) else {
            return false;
        };
        let r = &self.refunds[i];
        if r.provider_no() != provider_no || r.status.is_settled() {
            return false;
        }
        let before = r.status;
        let r = &mut self.refunds[i];
        if word.provider_refund_id.is_some() {
            r.provider_refund_id.clone_from(&word.provider_refund_id);
        }
        let (event, cause) = match word.state {
            ProviderState::Processing => {
                r.status = RefundStatus::Processing;
                r.query_at = Some(query_at);
                if before == RefundStatus::Processing {
                    // Still with the provider: only the next question moves.
                    return true;
                }
                ("refund_processing", provider_no.to_owned())
            }
            // An abnormal refund applied for again reached the merchant's
            // account, not the buyer's: still owed, for staff to pay.
            ProviderState::Succeeded if r.resend == Resend::ApplyAbnormal => {
                r.status = RefundStatus::Failed;
                r.failure = Some(RefundFailure::Abnormal);
                r.to_merchant = true;
                r.query_at = None;
                ("refund_returned_to_merchant", provider_no.to_owned())
            }
            ProviderState::Succeeded => {
                r.status = RefundStatus::Succeeded;
                r.query_at = None;
                ("refund_succeeded", provider_no.to_owned())
            }
            ProviderState::Failed(kind) => {
                r.status = RefundStatus::Failed;
                r.failure = Some(kind);
                r.query_at = None;
                ("refund_failed", format!("{provider_no}: {}", kind.as_str()))
            }
        };
        let (package, case, amount) = (r.package_id.clone(), r.case_id.clone(), r.amount_cents);
        let entry = self.log(now, event, actor);
        entry.package_id.clone_from(&package);
        entry.case_id = case;
        entry.cause = Some(cause);
        if event == "refund_returned_to_merchant" {
            let cause = format!(
                "{id} of {amount}: returned to the merchant's account; pay the buyer and record it offline"
            );
            self.raise_refund_attention(
                AttentionKind::RefundToMerchant,
                id,
                package.as_ref(),
                cause,
                now,
            );
        } else if let ProviderState::Failed(kind) = word.state {
            let cause = format!("{id} of {amount}: {}", kind.as_str());
            self.raise_refund_attention(
                AttentionKind::RefundFailed,
                id,
                package.as_ref(),
                cause,
                now,
            );
        }
        true
    }

    fn raise_refund_attention(
        &mut self,
        kind: AttentionKind,
        refund: &str,
        package: Option<&PackageId>,
        cause: String,
        now: Timestamp,
    ) {
        if self.raise_attention(kind, package, cause, now) {
            if let Some(item) = self.attention.last_mut() {
                item.refund_id = Some(refund.to_owned());
            }
        }
    }

    fn failed_refund(&self, id: &str) -> Result<usize, RefundActionError> {
        let i = self.refund_index(id).ok_or(RefundActionError::NotFound)?;
        match self.refunds[i].status {
            RefundStatus::Failed => Ok(i),
            other => Err(RefundActionError::NotFailed(other.as_str())),
        }
    }

    /// Staff send a failed refund again (SPEC 2.12): an `abnormal` one is
    /// applied for again under its number (the provider pays it to another
    /// account); a `closed` one never paid, so it goes under a new number.
    pub fn retry_refund(
        &mut self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), RefundActionError> {
        let i = self.failed_refund(id)?;
        if self.refunds[i].to_merchant {
            // The provider paid it out once (to the merchant): only an
            // offline payment to the buyer settles it now.
            return Err(RefundActionError::NotFailed("returned to the merchant"));
        }
        let r = &mut self.refunds[i];
        match r.failure {
            Some(RefundFailure::Abnormal) => r.resend = Resend::ApplyAbnormal,
            _ => {
                r.attempt = r.attempt.max(1) + 1;
                r.resend = Resend::Create;
                r.provider_refund_id = None;
            }
        }
        r.status = RefundStatus::Pending;
        r.failure = None;
        r.query_at = Some(now.plus_secs(FIRST_QUERY_SECS));
        let (package, no) = (r.package_id.clone(), r.provider_no());
        let message = self.refund_message(i);
        self.send(message, now);
        let entry = self.log(now, "refund_retried", actor);
        entry.package_id = package;
        entry.cause = Some(no);
        self.end_attention(|a| a.refund_id.as_deref() == Some(id), actor, None, now);
        Ok(())
    }

    /// Staff paid a failed refund back outside the provider: it succeeded.
    pub fn record_refund_offline(
        &mut self,
        id: &str,
        actor: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<(), RefundActionError> {
        let i = self.failed_refund(id)?;
        let r = &mut self.refunds[i];
        r.status = RefundStatus::Succeeded;
        r.offline = true;
        r.query_at = None;
        let package = r.package_id.clone();
        let entry = self.log(now, "refund_paid_offline", actor);
        entry.package_id = package;
        entry.cause = Some(format!("{id}: {note}"));
        self.end_attention(
            |a| a.refund_id.as_deref() == Some(id),
            actor,
            Some(note),
            now,
        );
        Ok(())
    }

    /// The sweep asks the provider about refunds not settled by `now` (a
    /// notification is late, or the send never got through); the next
    /// question is at `again`. Returns how many.
    pub fn ask_refund_queries(&mut self, now: Timestamp, again: Timestamp) -> u32 {
        let due: Vec<usize> = (0..self.refunds.len())
            .filter(|&i| self.refunds[i].query_at.is_some_and(|t| t <= now))
            .collect();
        for &i in &due {
            self.refunds[i].query_at = Some(again);
            let r = &self.refunds[i];
            let message = Message::RefundQuery {
                order_id: self.id.clone(),
                refund_id: r.id.clone(),
                storefront: self.storefront.clone(),
            };
            self.send(message, now);
        }
        due.len() as u32
    }

    /// The refund message of refund `i`, as it stands.
    pub(super) fn refund_message(&self, i: usize) -> Message {
        let r = &self.refunds[i];
        Message::Refund {
            order_id: self.id.clone(),
            refund_id: r.id.clone(),
            amount_cents: r.amount_cents,
            reason: r.reason.clone(),
            storefront: self.storefront.clone(),
            payment_id: r.payment_id.clone(),
        }
    }
}

/// A refund not settled this long after it is recorded is asked about (its
/// message may never have reached the provider); once the provider has it,
/// `REFUND_QUERY_SECS` after each answer.
pub const FIRST_QUERY_SECS: u64 = 300;
