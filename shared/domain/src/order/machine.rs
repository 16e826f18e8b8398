//! The order and package state machines, and the one function that derives
//! a paid order's status from its packages (SPEC 2.5).

use serde::{Deserialize, Serialize};

/// SPEC 2.2 / 2.5 / 2.6 order statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderStatus {
    PendingPayment,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Completed,
    CancelRequested,
    Cancelled,
    Closed,
}

/// SPEC 2.5 package statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PackageStatus {
    Pending,
    Forwarded,
    InterceptRequested,
    Shipped,
    Received,
    Rejected,
    Cancelled,
}

/// A step the machine does not allow. Use cases turn it into a conflict; it
/// is never written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub what: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

/// What an event asks of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A legal step forward.
    Moved,
    /// Stale or duplicate (already there or past it): acknowledged, nothing changes.
    Ignored,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::AwaitingShipment => "awaiting_shipment",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::CancelRequested => "cancel_requested",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }

    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::AwaitingShipment,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::CancelRequested,
        OrderStatus::Cancelled,
        OrderStatus::Closed,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Closed
        )
    }

    /// The order state machine. Paid statuses follow the packages (see
    /// [`derive_paid_status`]); payment, cancel and close are explicit.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        if self == to {
            return false;
        }
        match self {
            PendingPayment => matches!(to, AwaitingShipment | Cancelled | Closed),
            AwaitingShipment => matches!(
                to,
                PartiallyShipped | Shipped | Completed | CancelRequested | Cancelled | Closed
            ),
            PartiallyShipped => matches!(to, Shipped | Completed | Closed),
            Shipped => matches!(to, Completed | Closed),
            CancelRequested => matches!(
                to,
                AwaitingShipment | PartiallyShipped | Shipped | Completed | Cancelled | Closed
            ),
            Completed | Cancelled | Closed => false,
        }
    }

    /// `Ok` when the machine allows `self -> to`.
    pub fn check(self, to: OrderStatus) -> Result<(), IllegalTransition> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(IllegalTransition {
                what: "order",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

impl PackageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageStatus::Pending => "pending",
            PackageStatus::Forwarded => "forwarded",
            PackageStatus::InterceptRequested => "intercept_requested",
            PackageStatus::Shipped => "shipped",
            PackageStatus::Received => "received",
            PackageStatus::Rejected => "rejected",
            PackageStatus::Cancelled => "cancelled",
        }
    }

    /// Has left the warehouse (counts as shipped for the order status).
    pub fn has_shipped(self) -> bool {
        matches!(
            self,
            PackageStatus::Shipped | PackageStatus::Received | PackageStatus::Rejected
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            PackageStatus::Received | PackageStatus::Rejected | PackageStatus::Cancelled
        )
    }

    /// The package state machine: only forward. A supplier's refusal of an
    /// intercept is the one way back (`intercept_requested -> forwarded`).
    /// Events arrive out of order, so a package may skip steps: a receipt
    /// before the shipment, a shipment before our forward was recorded.
    pub fn can_become(self, to: PackageStatus) -> bool {
        use PackageStatus::*;
        matches!(
            (self, to),
            (
                Pending,
                Forwarded | InterceptRequested | Shipped | Received | Rejected | Cancelled
            ) | (
                Forwarded,
                InterceptRequested | Shipped | Received | Rejected
            ) | (
                InterceptRequested,
                Forwarded | Cancelled | Shipped | Received | Rejected
            ) | (Shipped, Received | Rejected)
        )
    }

    /// What an event asking for `to` does: a legal step moves, anything else
    /// (a duplicate, a stale or out-of-order event) is ignored.
    pub fn step(self, to: PackageStatus) -> Step {
        if self.can_become(to) {
            Step::Moved
        } else {
            Step::Ignored
        }
    }

    /// `Ok` when the machine allows `self -> to`.
    pub fn check(self, to: PackageStatus) -> Result<(), IllegalTransition> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(IllegalTransition {
                what: "package",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

/// SPEC 2.5: the order status shown once the order is paid, derived from its
/// packages (cancelled ones ignored). `None` when every package is cancelled.
pub fn derive_paid_status(packages: &[PackageStatus]) -> Option<OrderStatus> {
    let live: Vec<PackageStatus> = packages
        .iter()
        .copied()
        .filter(|s| *s != PackageStatus::Cancelled)
        .collect();
    if live.is_empty() {
        return None;
    }
    let shipped = live.iter().filter(|s| s.has_shipped()).count();
    Some(if shipped == 0 {
        OrderStatus::AwaitingShipment
    } else if shipped < live.len() {
        OrderStatus::PartiallyShipped
    } else if live.contains(&PackageStatus::Shipped) {
        OrderStatus::Shipped
    } else if live.contains(&PackageStatus::Received) {
        OrderStatus::Completed
    } else {
        OrderStatus::Closed
    })
}

#[cfg(test)]
mod tests {
    use super::PackageStatus::*;
    use super::*;
    use proptest::prelude::*;

    /// SPEC 2.5, row by row.
    #[test]
    fn aggregation_table_of_spec_2_5() {
        let rows: &[(&[PackageStatus], Option<OrderStatus>)] = &[
            // none shipped yet
            (&[Pending, Forwarded], Some(OrderStatus::AwaitingShipment)),
            (&[InterceptRequested], Some(OrderStatus::AwaitingShipment)),
            // some shipped/received/rejected, some not yet shipped
            (&[Shipped, Forwarded], Some(OrderStatus::PartiallyShipped)),
            (&[Received, Pending], Some(OrderStatus::PartiallyShipped)),
            (&[Rejected, Forwarded], Some(OrderStatus::PartiallyShipped)),
            // all shipped/received/rejected, at least one still shipped
            (&[Shipped, Received], Some(OrderStatus::Shipped)),
            (&[Rejected, Shipped], Some(OrderStatus::Shipped)),
            (&[Shipped], Some(OrderStatus::Shipped)),
            // all received or rejected, at least one received
            (&[Received, Rejected], Some(OrderStatus::Completed)),
            (&[Received], Some(OrderStatus::Completed)),
            // all rejected
            (&[Rejected, Rejected], Some(OrderStatus::Closed)),
            // cancelled packages are ignored
            (&[Cancelled, Received], Some(OrderStatus::Completed)),
            (&[Cancelled, Rejected], Some(OrderStatus::Closed)),
            (&[Cancelled], None),
        ];
        for (packages, expected) in rows {
            assert_eq!(derive_paid_status(packages), *expected, "{packages:?}");
        }
    }

    #[test]
    fn packages_only_move_forward() {
        assert_eq!(Pending.step(Forwarded), Step::Moved);
        assert_eq!(Forwarded.step(Pending), Step::Ignored);
        assert_eq!(Forwarded.step(Forwarded), Step::Ignored);
        assert_eq!(Shipped.step(Received), Step::Moved);
        assert_eq!(Received.step(Shipped), Step::Ignored);
        assert_eq!(Rejected.step(Shipped), Step::Ignored);
        assert_eq!(Cancelled.step(Forwarded), Step::Ignored);
        assert_eq!(InterceptRequested.step(Cancelled), Step::Moved);
        assert_eq!(InterceptRequested.step(Forwarded), Step::Moved);
        assert_eq!(Forwarded.step(Received), Step::Moved);
        assert!(Received.check(Rejected).is_err());
    }

    #[test]
    fn order_state_machine() {
        use OrderStatus::*;
        assert!(PendingPayment.can_become(AwaitingShipment));
        assert!(PendingPayment.can_become(Cancelled));
        assert!(!Cancelled.can_become(AwaitingShipment));
        assert!(!Closed.can_become(PendingPayment));
        assert!(!Shipped.can_become(CancelRequested));
        assert!(AwaitingShipment.can_become(CancelRequested));
        assert!(!PendingPayment.can_become(PendingPayment));
        assert!(!Completed.can_become(Shipped));
    }

    fn rank(s: OrderStatus) -> u8 {
        match s {
            OrderStatus::AwaitingShipment => 0,
            OrderStatus::PartiallyShipped => 1,
            OrderStatus::Shipped => 2,
            _ => 3,
        }
    }

    const ALL: [PackageStatus; 7] = [
        Pending,
        Forwarded,
        InterceptRequested,
        Shipped,
        Received,
        Rejected,
        Cancelled,
    ];

    proptest! {
        /// As packages take legal steps, the derived status never moves back,
        /// and every change it makes is one the order machine allows.
        #[test]
        fn derived_status_never_moves_backwards(
            n in 1usize..5,
            moves in proptest::collection::vec((0usize..5, 0usize..7), 0..40),
        ) {
            let mut packages = vec![Pending; n];
            let mut shown = derive_paid_status(&packages).unwrap();
            for (i, to) in moves {
                let i = i % n;
                let to = ALL[to];
                if packages[i].step(to) != Step::Moved {
                    continue;
                }
                // A cancel of a package only happens while nothing has shipped.
                if to == Cancelled && packages.iter().any(|p| p.has_shipped()) {
                    continue;
                }
                packages[i] = to;
                let Some(now) = derive_paid_status(&packages) else { break };
                prop_assert!(rank(now) >= rank(shown), "{shown:?} -> {now:?} for {packages:?}");
                if now != shown {
                    prop_assert!(shown.can_become(now), "{shown:?} -> {now:?}");
                }
                shown = now;
            }
        }
    }
}
