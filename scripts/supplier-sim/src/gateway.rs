//! The `gateway` payment channel's refund API (SPEC 2.12), as the `suppliers`
//! gateway client calls it:
//!
//! - `POST /gateway/refunds` `{"refund_id", "payment_id", "amount_cents",
//!   "reason"}`, `X-Storefront`, `X-Signature` (HMAC-SHA256 of the body with
//!   the storefront's gateway secret): de-duplicated on `refund_id` (the same
//!   id answers the refund it made, whatever the body).
//! - `GET /gateway/refunds/{refund_id}`, `X-Signature` over the id: the
//!   refund, or 404.
//!
//! Secrets: the default storefront's is the simulator's `payment_secret`;
//! any other storefront `s` signs with `dev-payment-secret-s` (the local
//! stack's rule). A refund's later word is a notification `POST
//! /payments/refund-notify/{storefront}` `{"refund_id", "status"}`, signed
//! the same way: posted to `notify_url` when the simulator has one (the
//! local stack), else kept for [`Simulator::take_refund_notifications`](crate::Simulator::take_refund_notifications) (tests).
//!
//! Modes (`POST /_sim/gateway` `{"refund": ...}`): `succeed` (answer
//! `succeeded`), `process_then_notify` (answer `processing`, notify
//! `succeeded`), `process_then_fail` (answer `processing`, notify
//! `failed`), `fail` (answer `failed`), `process_silently` (answer
//! `processing`, settle `succeeded` without notifying: only a query
//! learns it), `notify_twice` (as process_then_notify, notifying twice),
//! `bad_signature` (as process_then_notify, the notification signed with
//! a wrong key), `time_out` (make the refund, then answer nothing for
//! `time_out_ms`: the caller gives up after the provider acted). And
//! `unavailable_next: n`: the next n refund calls answer 503, making nothing.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundMode {
    #[default]
    Succeed,
    ProcessThenNotify,
    ProcessThenFail,
    Fail,
    ProcessSilently,
    NotifyTwice,
    BadSignature,
    TimeOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayMode {
    pub refund: RefundMode,
    pub unavailable_next: u32,
    /// How long `time_out` holds its answer.
    pub time_out_ms: u64,
}

impl Default for GatewayMode {
    fn default() -> Self {
        Self {
            refund: RefundMode::Succeed,
            unavailable_next: 0,
            time_out_ms: 10_000,
        }
    }
}

/// A refund the gateway made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRefund {
    pub refund_id: String,
    pub payment_id: String,
    pub amount_cents: u64,
    pub reason: String,
    pub storefront: String,
    /// `processing`, `succeeded` or `failed`.
    pub status: String,
    pub gateway_refund_id: String,
    /// Create requests for this id, the first included (repeats make nothing).
    pub requests: u32,
}

/// A refund notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `/payments/refund-notify/{storefront}`.
    pub path: String,
    pub storefront: String,
    pub body: String,
    pub signature: String,
}

#[derive(Debug, Default)]
pub(crate) struct GatewayState {
    pub mode: GatewayMode,
    pub refunds: BTreeMap<String, GatewayRefund>,
    pub pending: Vec<Notification>,
    pub next_id: u64,
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The secret storefront `sf` signs with, for a simulator whose default
/// storefront's secret is `default`.
pub fn secret_of(default: &str, sf: &str) -> String {
    if sf == "default" {
        default.to_owned()
    } else {
        format!("dev-payment-secret-{sf}")
    }
}

fn valid_storefront(sf: &str) -> bool {
    !sf.is_empty()
        && sf.len() <= 32
        && sf
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[derive(Deserialize)]
pub(crate) struct CreateIn {
    pub refund_id: String,
    pub payment_id: String,
    pub amount_cents: u64,
    #[serde(default)]
    pub reason: String,
}

/// What the route answers.
pub(crate) enum Answer {
    Ok(Box<GatewayRefund>),
    /// Status and message.
    Error(u16, String),
    /// Made, then silent for this long before answering.
    Late(Box<GatewayRefund>, u64),
}

impl GatewayState {
    /// Checks the signature of `what` for storefront `sf`.
    pub fn verify(
        default_secret: &str,
        sf: Option<&str>,
        what: &[u8],
        sig: Option<&str>,
    ) -> Result<String, Answer> {
        let sf = sf.unwrap_or("default");
        if !valid_storefront(sf) {
            return Err(Answer::Error(400, format!("bad X-Storefront {sf:?}")));
        }
        let expected = sign(&secret_of(default_secret, sf), what);
        if sig.map(str::trim) != Some(expected.as_str()) {
            return Err(Answer::Error(401, "bad signature".into()));
        }
        Ok(sf.to_owned())
    }

    pub fn create(&mut self, default_secret: &str, sf: &str, input: CreateIn) -> Answer {
        if self.mode.unavailable_next > 0 {
            self.mode.unavailable_next -= 1;
            return Answer::Error(503, "gateway busy".into());
        }
        if input.refund_id.is_empty() || input.payment_id.is_empty() || input.amount_cents == 0 {
            return Answer::Error(
                400,
                "refund_id, payment_id and a positive amount_cents are required".into(),
            );
        }
        if let Some(r) = self.refunds.get_mut(&input.refund_id) {
            r.requests += 1;
            return Answer::Ok(Box::new(r.clone()));
        }
        self.next_id += 1;
        let mode = self.mode.refund;
        let (answered, settled, notify) = match mode {
            RefundMode::Succeed => ("succeeded", "succeeded", 0),
            RefundMode::Fail => ("failed", "failed", 0),
            RefundMode::ProcessThenNotify | RefundMode::BadSignature => {
                ("processing", "succeeded", 1)
            }
            RefundMode::NotifyTwice => ("processing", "succeeded", 2),
            RefundMode::ProcessThenFail => ("processing", "failed", 1),
            RefundMode::ProcessSilently => ("processing", "succeeded", 0),
            RefundMode::TimeOut => ("succeeded", "succeeded", 0),
        };
        let mut r = GatewayRefund {
            refund_id: input.refund_id.clone(),
            payment_id: input.payment_id,
            amount_cents: input.amount_cents,
            reason: input.reason,
            storefront: sf.to_owned(),
            status: settled.to_owned(),
            gateway_refund_id: format!("GW-{:06}", self.next_id),
            requests: 1,
        };
        self.refunds.insert(input.refund_id.clone(), r.clone());
        for _ in 0..notify {
            let body = serde_json::json!({"refund_id": r.refund_id, "status": settled, "gateway_refund_id": r.gateway_refund_id}).to_string();
            let key = if mode == RefundMode::BadSignature {
                "not-the-secret".to_owned()
            } else {
                secret_of(default_secret, sf)
            };
            self.pending.push(Notification {
                path: format!("/payments/refund-notify/{sf}"),
                storefront: sf.to_owned(),
                signature: sign(&key, body.as_bytes()),
                body,
            });
        }
        r.status = answered.to_owned();
        if mode == RefundMode::TimeOut {
            return Answer::Late(Box::new(r), self.mode.time_out_ms);
        }
        Answer::Ok(Box::new(r))
    }

    pub fn query(&mut self, refund_id: &str) -> Answer {
        if self.mode.unavailable_next > 0 {
            self.mode.unavailable_next -= 1;
            return Answer::Error(503, "gateway busy".into());
        }
        match self.refunds.get(refund_id) {
            Some(r) => Answer::Ok(Box::new(r.clone())),
            None => Answer::Error(404, "no such refund".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(id: &str) -> CreateIn {
        CreateIn {
            refund_id: id.into(),
            payment_id: "P".into(),
            amount_cents: 100,
            reason: "r".into(),
        }
    }

    #[test]
    fn one_refund_per_id_however_often_asked() {
        let mut g = GatewayState::default();
        let Answer::Ok(a) = g.create("s", "default", create("R1")) else {
            panic!()
        };
        let Answer::Ok(b) = g.create("s", "default", create("R1")) else {
            panic!()
        };
        assert_eq!(a.gateway_refund_id, b.gateway_refund_id);
        assert_eq!(g.refunds.len(), 1);
        assert_eq!(g.refunds["R1"].requests, 2);
    }

    #[test]
    fn processing_modes_notify_with_the_storefront_secret() {
        let mut g = GatewayState::default();
        g.mode.refund = RefundMode::NotifyTwice;
        let Answer::Ok(a) = g.create("s", "app", create("R1")) else {
            panic!()
        };
        assert_eq!(a.status, "processing");
        assert_eq!(g.refunds["R1"].status, "succeeded");
        assert_eq!(g.pending.len(), 2);
        let n = &g.pending[0];
        assert_eq!(n.path, "/payments/refund-notify/app");
        assert_eq!(
            n.signature,
            sign("dev-payment-secret-app", n.body.as_bytes())
        );
    }

    #[test]
    fn signatures_are_checked_per_storefront() {
        let ok = sign("s", b"x");
        assert!(GatewayState::verify("s", None, b"x", Some(&ok)).is_ok());
        assert!(GatewayState::verify("s", Some("app"), b"x", Some(&ok)).is_err());
        assert!(GatewayState::verify("s", Some("Bad!"), b"x", Some(&ok)).is_err());
    }
}
