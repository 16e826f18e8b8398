//! What an order answer shows a caller (SPEC 2.10): the order and the
//! `actions` the caller may take now, so that no client re-implements the rules.

use crate::after_sales::eligibility;
use crate::config::Config;
use crate::ids::{Caller, PackageId};
use crate::order::{Order, OrderStatus, PackageStatus};
use crate::time::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_id: Option<PackageId>,
}

impl Action {
    fn order(action: &'static str) -> Self {
        Self {
            action,
            package_id: None,
        }
    }
    fn package(action: &'static str, id: &PackageId) -> Self {
        Self {
            action,
            package_id: Some(id.clone()),
        }
    }
}

/// An order as one caller sees it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView<'a> {
    #[serde(flatten)]
    pub order: &'a Order,
    pub actions: Vec<Action>,
}

impl<'a> OrderView<'a> {
    pub fn new(order: &'a Order, caller: Option<&Caller>, cfg: &Config, now: Timestamp) -> Self {
        Self {
            actions: actions(order, caller, cfg, now),
            order,
        }
    }
}

/// What `caller` may do with `order` now (the owner when `caller` is None,
/// as for the payment provider's answer).
pub fn actions(
    order: &Order,
    caller: Option<&Caller>,
    cfg: &Config,
    now: Timestamp,
) -> Vec<Action> {
    let owner = caller.is_none_or(|c| c.user == order.user_id);
    let staff = caller.is_some_and(|c| c.is_staff);
    let mut out = Vec::new();
    let status = order.status();
    if owner && status == OrderStatus::PendingPayment && order.payment_deadline > now {
        out.push(Action::order("pay"));
    }
    let shipped = order.packages().iter().any(|p| p.status().has_shipped());
    let cancellable = matches!(
        status,
        OrderStatus::PendingPayment | OrderStatus::AwaitingShipment
    );
    if (owner || staff) && cancellable && !shipped {
        out.push(Action::order("cancel"));
    }
    for p in order.packages() {
        if (owner || staff) && p.status() == PackageStatus::Shipped {
            out.push(Action::package("confirm_receipt", &p.id));
        }
        if owner && eligibility(order, &p.id, cfg, now).is_ok() {
            let claimable = p
                .lines
                .iter()
                .any(|l| order.claimed_by_cases(&p.id, &l.sku) < l.qty);
            let free_line = p.lines.iter().any(|l| {
                !order.cases().iter().any(|c| {
                    c.package_id == p.id
                        && c.status.is_open()
                        && c.lines.iter().any(|cl| cl.sku == l.sku)
                })
            });
            if claimable && free_line {
                out.push(Action::package("after_sales", &p.id));
            }
        }
    }
    if owner && status != OrderStatus::PendingPayment {
        out.push(Action::order("repurchase"));
    }
    out
}
