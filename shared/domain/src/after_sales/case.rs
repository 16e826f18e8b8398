//! After-sales cases (SPEC 2.8): their shape and state machine.

use crate::ids::{CaseId, OrderId, PackageId, UserId};
use crate::order::cases::CaseSummary;
pub use crate::order::cases::{CaseKind, CaseLine, CaseStatus};
use crate::order::IllegalTransition;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseHistoryEntry {
    pub at: Timestamp,
    pub status: CaseStatus,
    pub actor: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AfterSalesCase {
    pub id: CaseId,
    pub order_id: OrderId,
    pub package_id: PackageId,
    pub user_id: UserId,
    pub kind: CaseKind,
    status: CaseStatus,
    pub lines: Vec<CaseLine>,
    pub reason: String,
    pub evidence: Vec<String>,
    pub customer_service_phone: String,
    /// Its order's storefront (SPEC 2.13); cases from before read as `default`.
    #[serde(default)]
    pub storefront: crate::storefront::StorefrontId,
    history: Vec<CaseHistoryEntry>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    return_carrier: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    return_tracking_no: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    refund_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    exchange_package_id: Option<PackageId>,
    pub created_at: Timestamp,
    version: u64,
}

/// What an opened case holds before it is written.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: CaseId,
    pub package_id: PackageId,
    pub user_id: UserId,
    pub kind: CaseKind,
    pub lines: Vec<CaseLine>,
    pub reason: String,
    pub evidence: Vec<String>,
    pub customer_service_phone: String,
    pub storefront: crate::storefront::StorefrontId,
}

impl AfterSalesCase {
    /// A new case: `requested`, version 1.
    pub fn open(n: NewCase, actor: &str, at: Timestamp) -> Self {
        Self {
            order_id: n.id.order_id(),
            id: n.id,
            package_id: n.package_id,
            user_id: n.user_id,
            kind: n.kind,
            status: CaseStatus::Requested,
            lines: n.lines,
            reason: n.reason,
            evidence: n.evidence,
            customer_service_phone: n.customer_service_phone,
            storefront: n.storefront,
            history: vec![CaseHistoryEntry {
                at,
                status: CaseStatus::Requested,
                actor: actor.to_owned(),
                note: None,
            }],
            return_carrier: None,
            return_tracking_no: None,
            refund_id: None,
            exchange_package_id: None,
            created_at: at,
            version: 1,
        }
    }

    pub fn status(&self) -> CaseStatus {
        self.status
    }
    pub fn history(&self) -> &[CaseHistoryEntry] {
        &self.history
    }
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn return_tracking_no(&self) -> Option<&str> {
        self.return_tracking_no.as_deref()
    }
    pub fn refund_id(&self) -> Option<&str> {
        self.refund_id.as_deref()
    }
    pub fn exchange_package_id(&self) -> Option<&PackageId> {
        self.exchange_package_id.as_ref()
    }

    /// The one way a case changes status: checked against the machine, one
    /// version up, kept in the history.
    pub fn advance(
        &self,
        to: CaseStatus,
        actor: &str,
        note: Option<String>,
        at: Timestamp,
    ) -> Result<AfterSalesCase, IllegalTransition> {
        self.status.check(self.kind, to)?;
        let mut next = self.clone();
        next.status = to;
        next.version += 1;
        next.history.push(CaseHistoryEntry {
            at,
            status: to,
            actor: actor.to_owned(),
            note,
        });
        Ok(next)
    }

    pub fn set_return(&mut self, carrier: String, tracking_no: String) {
        self.return_carrier = Some(carrier);
        self.return_tracking_no = Some(tracking_no);
    }

    pub fn set_outcome(&mut self, refund_id: Option<String>, exchange: Option<PackageId>) {
        self.refund_id = refund_id;
        self.exchange_package_id = exchange;
    }

    /// The note of its latest step, if any.
    pub fn last_note(&self) -> Option<String> {
        self.history.last().and_then(|h| h.note.clone())
    }

    pub fn summary(&self) -> CaseSummary {
        CaseSummary {
            id: self.id.clone(),
            package_id: self.package_id.clone(),
            kind: self.kind,
            status: self.status,
            lines: self.lines.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CaseKind::*;
    use super::CaseStatus::*;

    #[test]
    fn case_machine_of_spec_2_8() {
        assert!(Requested.can_become(RefundOnly, Approved));
        assert!(Requested.can_become(Exchange, Rejected));
        assert!(Requested.can_become(ReturnRefund, Withdrawn));
        assert!(Approved.can_become(RefundOnly, Completed));
        assert!(
            !Approved.can_become(ReturnRefund, Completed),
            "the goods come back first"
        );
        assert!(Approved.can_become(ReturnRefund, ReturnShipped));
        assert!(!Approved.can_become(RefundOnly, ReturnShipped));
        assert!(ReturnShipped.can_become(Exchange, Completed));
        assert!(
            !ReturnShipped.can_become(Exchange, Withdrawn),
            "the return is on its way"
        );
        assert!(!Completed.can_become(RefundOnly, Withdrawn));
        assert!(!Rejected.can_become(RefundOnly, Approved));
        assert!(!Requested.can_become(RefundOnly, Completed));
    }
}
