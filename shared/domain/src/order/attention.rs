//! Work that needs a person (SPEC 2.11): recorded on the order in the
//! transaction that raises it, ended by the change that finishes the work or
//! by staff. The back office's list only indexes these.

use super::{Order, PackageStatus};
use crate::ids::PackageId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AttentionKind {
    /// An intercept nobody answered within `INTERCEPT_GIVE_UP_SECS` (SPEC 2.6).
    InterceptUnanswered,
    /// The queue gave up handing a package to its supplier.
    ForwardFailed,
    /// A supplier event that could no longer apply (SPEC 2.5).
    LateEvent,
    /// A refund the provider closed or could not pay (SPEC 2.12).
    RefundFailed,
    /// The provider's bill and the order disagree (SPEC 2.12 reconciliation).
    ReconciliationDifference,
    /// An abnormal refund applied for again went to the merchant's account:
    /// staff pay the buyer and record it offline.
    RefundToMerchant,
}

impl AttentionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttentionKind::InterceptUnanswered => "intercept_unanswered",
            AttentionKind::ForwardFailed => "forward_failed",
            AttentionKind::LateEvent => "late_event",
            AttentionKind::RefundFailed => "refund_failed",
            AttentionKind::ReconciliationDifference => "reconciliation_difference",
            AttentionKind::RefundToMerchant => "refund_to_merchant",
        }
    }
    /// What staff may do to end it.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            AttentionKind::InterceptUnanswered | AttentionKind::ForwardFailed => &["resolve"],
            AttentionKind::LateEvent | AttentionKind::ReconciliationDifference => &["acknowledge"],
            AttentionKind::RefundFailed => &["retry_refund", "record_refund_offline"],
            AttentionKind::RefundToMerchant => &["record_refund_offline"],
        }
    }
    /// Still open while its package is in this state (`None`: only staff end it).
    fn open_while(self) -> Option<PackageStatus> {
        match self {
            AttentionKind::InterceptUnanswered => Some(PackageStatus::InterceptRequested),
            AttentionKind::ForwardFailed => Some(PackageStatus::Pending),
            AttentionKind::LateEvent
            | AttentionKind::RefundFailed
            | AttentionKind::ReconciliationDifference
            | AttentionKind::RefundToMerchant => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttentionItem {
    /// `<order id>-A<nn>`.
    pub id: String,
    pub kind: AttentionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
    /// The refund a `refund_failed` item is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    pub since: Timestamp,
    /// What staff may do: `resolve` (the package route), `acknowledge`, or
    /// `retry_refund` / `record_refund_offline` (the refund routes).
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Order {
    /// Open attention items.
    pub fn attention(&self) -> &[AttentionItem] {
        &self.attention
    }

    /// Raises an item, unless one of that kind and cause is open for the
    /// package already (a duplicate event raises nothing twice). True if raised.
    pub fn raise_attention(
        &mut self,
        kind: AttentionKind,
        package: Option<&PackageId>,
        cause: String,
        now: Timestamp,
    ) -> bool {
        let open = self.attention.iter().any(|a| {
            a.kind == kind && a.package_id.as_ref() == package && a.cause.as_deref() == Some(&cause)
        });
        if open {
            return false;
        }
        let n = self
            .timeline
            .iter()
            .filter(|t| t.event == "attention_raised")
            .count();
        let id = format!("{}-A{:02}", self.id, n + 1);
        self.attention.push(AttentionItem {
            id: id.clone(),
            kind,
            package_id: package.cloned(),
            refund_id: None,
            since: now,
            actions: kind.actions().iter().map(|a| (*a).to_owned()).collect(),
            cause: Some(cause.clone()),
        });
        let entry = self.log(now, "attention_raised", "system");
        entry.package_id = package.cloned();
        entry.cause = Some(format!("{id} {}: {cause}", kind.as_str()));
        true
    }

    /// Ends the items `which` selects, each with a timeline entry. Returns how many.
    pub fn end_attention(
        &mut self,
        which: impl Fn(&AttentionItem) -> bool,
        actor: &str,
        note: Option<&str>,
        now: Timestamp,
    ) -> usize {
        let (ended, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.attention)
            .into_iter()
            .partition(|a| which(a));
        self.attention = open;
        for a in &ended {
            let entry = self.log(now, "attention_ended", actor);
            entry.package_id.clone_from(&a.package_id);
            entry.cause = Some(match note {
                Some(n) => format!("{}: {n}", a.id),
                None => a.id.clone(),
            });
        }
        ended.len()
    }

    /// Ends the items whose work a package's move has finished.
    pub(super) fn settle_attention(&mut self, actor: &str, now: Timestamp) {
        let finished = |order: &Order, a: &AttentionItem| {
            let (Some(state), Some(id)) = (a.kind.open_while(), a.package_id.as_ref()) else {
                return false;
            };
            order.package(id).is_none_or(|p| p.status() != state)
        };
        let done: Vec<String> = self
            .attention
            .iter()
            .filter(|a| finished(self, a))
            .map(|a| a.id.clone())
            .collect();
        if !done.is_empty() {
            self.end_attention(|a| done.contains(&a.id), actor, None, now);
        }
    }
}
