//! Messages the order system sends through its queues.

use crate::ids::{OrderId, PackageId};
use crate::money::Cents;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// The most SQS can delay a message.
pub const MAX_DELAY_SECS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Forward queue: hand the package to its supplier at `not_before`
    /// (payment time + intercept window).
    Forward {
        package_id: PackageId,
        not_before: Timestamp,
    },
    /// Forward queue: ask the package's supplier to stop it.
    Intercept { package_id: PackageId },
    /// Refund queue: send the refund to its payment's provider (the order
    /// says how it stands; the rest is for reading the queue).
    Refund {
        order_id: OrderId,
        refund_id: String,
        amount_cents: Cents,
        reason: String,
        /// Whose payment account pays it back: the order's storefront
        /// (SPEC 2.13). Messages from before storefronts: `default`.
        #[serde(default)]
        storefront: crate::storefront::StorefrontId,
        /// The payment it returns (SPEC 2.12); messages from before: None.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
    },
    /// Refund queue: ask the provider where an unsettled refund stands (its
    /// notification is late, or its send never got through).
    RefundQuery {
        order_id: OrderId,
        refund_id: String,
        #[serde(default)]
        storefront: crate::storefront::StorefrontId,
    },
}

impl Message {
    /// Which queue carries it.
    pub fn queue(&self) -> Queue {
        match self {
            Message::Forward { .. } | Message::Intercept { .. } => Queue::Forward,
            Message::Refund { .. } | Message::RefundQuery { .. } => Queue::Refund,
        }
    }

    /// Seconds to hold the message back, as of `now` (0..=900).
    pub fn delay_secs(&self, now: Timestamp) -> u32 {
        match self {
            Message::Forward { not_before, .. } => {
                let ms = not_before.unix_millis() - now.unix_millis();
                let secs = (ms.max(0) as u64).div_ceil(1000);
                secs.min(MAX_DELAY_SECS) as u32
            }
            _ => 0,
        }
    }

    /// A stable id, so that consumers can recognise a re-published message.
    pub fn dedup_id(&self) -> String {
        match self {
            Message::Forward { package_id, .. } => format!("forward-{package_id}"),
            Message::Intercept { package_id } => format!("intercept-{package_id}"),
            Message::Refund { refund_id, .. } => format!("refund-{refund_id}"),
            Message::RefundQuery { refund_id, .. } => format!("refund-query-{refund_id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Forward,
    Refund,
}

/// Publishes messages; each one at least once.
pub trait Publisher: Send + Sync {
    fn publish(
        &self,
        messages: &[Message],
        now: Timestamp,
    ) -> impl Future<Output = Result<(), crate::error::StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_delay_is_clamped_to_sqs_limits() {
        let order = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        let now = Timestamp::from_unix(1_800_000_000);
        let at = |secs| Message::Forward {
            package_id: PackageId::new(&order, 1),
            not_before: now.plus_secs(secs),
        };
        assert_eq!(at(600).delay_secs(now), 600);
        assert_eq!(at(5000).delay_secs(now), 900);
        assert_eq!(at(0).delay_secs(now.plus_secs(10)), 0);
        assert_eq!(
            Message::Intercept {
                package_id: PackageId::new(&order, 1)
            }
            .delay_secs(now),
            0
        );
    }

    #[test]
    fn json_shape_is_tagged() {
        let order = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        let m = Message::Intercept {
            package_id: PackageId::new(&order, 2),
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "intercept");
        assert_eq!(serde_json::from_value::<Message>(v).unwrap(), m);
    }
}
