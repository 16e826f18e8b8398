//! What an order knows of its after-sales cases: their kinds, states and
//! lines, and a summary of each (the case itself lives in
//! [`crate::after_sales::case`], which builds on these; the order never
//! depends on it).

use super::IllegalTransition;
use crate::ids::{CaseId, PackageId, SkuId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseKind {
    RefundOnly,
    ReturnRefund,
    Exchange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseStatus {
    Requested,
    Approved,
    Rejected,
    ReturnShipped,
    Completed,
    Withdrawn,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::RefundOnly => "refund_only",
            CaseKind::ReturnRefund => "return_refund",
            CaseKind::Exchange => "exchange",
        }
    }
    /// The goods come back before the case completes.
    pub fn needs_return(self) -> bool {
        self != CaseKind::RefundOnly
    }
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Requested => "requested",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
            CaseStatus::ReturnShipped => "return_shipped",
            CaseStatus::Completed => "completed",
            CaseStatus::Withdrawn => "withdrawn",
        }
    }

    /// Still holds its lines (one open case per package line).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseStatus::Requested | CaseStatus::Approved | CaseStatus::ReturnShipped
        )
    }

    /// Counts against what later cases may claim: open, or completed.
    pub fn claims_lines(self) -> bool {
        self.is_open() || self == CaseStatus::Completed
    }

    /// The case state machine of SPEC 2.8 for a case of `kind`.
    pub fn can_become(self, kind: CaseKind, to: CaseStatus) -> bool {
        use CaseStatus::*;
        match (self, to) {
            (Requested, Approved | Rejected | Withdrawn) => true,
            (Approved, Withdrawn) => true,
            (Approved, ReturnShipped) => kind.needs_return(),
            (Approved, Completed) => !kind.needs_return(),
            (ReturnShipped, Completed) => true,
            _ => false,
        }
    }

    pub fn check(self, kind: CaseKind, to: CaseStatus) -> Result<(), IllegalTransition> {
        if self.can_become(kind, to) {
            Ok(())
        } else {
            Err(IllegalTransition {
                what: "after-sales case",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseLine {
    pub sku: SkuId,
    pub qty: u32,
}

/// What the order keeps of each of its after-sales cases, so that the order
/// alone decides what a new case may still claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseSummary {
    pub id: CaseId,
    pub package_id: PackageId,
    pub kind: CaseKind,
    pub status: CaseStatus,
    pub lines: Vec<CaseLine>,
}
