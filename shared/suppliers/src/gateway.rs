//! The `gateway` payment channel's refund API (SPEC 2.12): the simple signed
//! protocol of a payment gateway that notifies by `POST /payments/notify`.
//!
//! - `POST {PAYMENT_GATEWAY_URL}/refunds` `{"refund_id", "payment_id",
//!   "amount_cents", "reason"}`, `X-Signature: hex(HMAC-SHA256(secret, body))`
//!   with the storefront's gateway secret and `X-Storefront` naming it
//!   (its merchant account); answered `{"refund_id", "status":
//!   "succeeded" | "processing" | "failed", "gateway_refund_id"?}`. The
//!   gateway de-duplicates on `refund_id`: the same id again answers the
//!   refund it made.
//! - `GET {PAYMENT_GATEWAY_URL}/refunds/{refund_id}`, `X-Signature` over the
//!   refund id: the same answer, or 404 when it has none.
//!
//! 408, 429, 5xx, time-outs and answers that cannot be read are temporary
//! (sent again under the same id); any other 4xx is a refusal.

use crate::transport::{join, Answer, Transport};
use crate::ConfigError;
use bytes::Bytes;
use domain::payment::refund::{
    ProviderError, ProviderRefund, ProviderState, RefundFailure, RefundRequest,
};
use domain::payment::signature;
use domain::ports::SupplierError;
use http::header::{HeaderName, HeaderValue};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone)]
pub struct GatewayClient {
    base: String,
    transport: Transport,
}

#[derive(Serialize)]
struct CreateBody<'a> {
    refund_id: &'a str,
    payment_id: &'a str,
    amount_cents: u64,
    reason: &'a str,
}

#[derive(Deserialize)]
struct RefundAnswer {
    status: String,
    #[serde(default)]
    gateway_refund_id: Option<String>,
}

/// A gateway refund's status as its word on it.
pub fn state_of(status: &str) -> Option<ProviderState> {
    match status {
        "succeeded" => Some(ProviderState::Succeeded),
        "processing" => Some(ProviderState::Processing),
        "failed" => Some(ProviderState::Failed(RefundFailure::Closed)),
        _ => None,
    }
}

fn unavailable(e: SupplierError) -> ProviderError {
    match e {
        SupplierError::Unavailable(m) => ProviderError::Temporary(m),
        SupplierError::Rejected(m) => ProviderError::Refused(m),
    }
}

impl GatewayClient {
    /// `base`: `PAYMENT_GATEWAY_URL`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let uri: http::Uri = base.parse().map_err(|e| ConfigError::Invalid {
            var: "PAYMENT_GATEWAY_URL",
            reason: format!("{base:?}: {e}"),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ConfigError::Invalid {
                var: "PAYMENT_GATEWAY_URL",
                reason: format!("{base:?} is not an http(s) URL"),
            });
        }
        let tls = uri.scheme_str() == Some("https");
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            transport: Transport::with(tls, timeout)?,
        })
    }

    fn signed(r: &RefundRequest, secret: &str, what: &[u8]) -> Vec<(HeaderName, HeaderValue)> {
        let sig = signature::sign(secret.as_bytes(), what);
        vec![
            (
                HeaderName::from_static("x-signature"),
                HeaderValue::from_str(&sig).expect("hex is a header value"),
            ),
            (
                HeaderName::from_static("x-storefront"),
                HeaderValue::from_str(r.storefront.as_str())
                    .expect("a storefront id is a header value"),
            ),
        ]
    }

    fn read(answer: &Answer, what: &str) -> Result<ProviderRefund, ProviderError> {
        if answer.status == StatusCode::NOT_FOUND {
            return Err(ProviderError::NotFound);
        }
        answer.check_status(what).map_err(unavailable)?;
        let parsed: RefundAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
            ProviderError::Temporary(format!(
                "{what}: unreadable answer ({e}): {}",
                answer.snippet()
            ))
        })?;
        let state = state_of(&parsed.status).ok_or_else(|| {
            ProviderError::Temporary(format!("{what}: unknown status {:?}", parsed.status))
        })?;
        Ok(ProviderRefund {
            state,
            provider_refund_id: parsed.gateway_refund_id,
        })
    }

    pub async fn create(
        &self,
        r: &RefundRequest,
        secret: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let body = serde_json::to_vec(&CreateBody {
            refund_id: &r.provider_no,
            payment_id: &r.payment_id,
            amount_cents: r.amount_cents.0,
            reason: &r.reason,
        })
        .map_err(|e| ProviderError::Refused(e.to_string()))?;
        let uri = join(&self.base, &["refunds"]).map_err(unavailable)?;
        let headers = Self::signed(r, secret, &body);
        let answer = self
            .transport
            .post(
                "gateway refund",
                &uri,
                "application/json",
                &headers,
                Bytes::from(body),
            )
            .await
            .map_err(unavailable)?;
        // A 404 to a create is a refusal (no such payment), not "no refund".
        if answer.status == StatusCode::NOT_FOUND {
            return Err(ProviderError::Refused(format!(
                "gateway refund: HTTP 404: {}",
                answer.snippet()
            )));
        }
        Self::read(&answer, "gateway refund")
    }

    pub async fn query(
        &self,
        r: &RefundRequest,
        secret: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let uri = join(&self.base, &["refunds", &r.provider_no]).map_err(unavailable)?;
        let headers = Self::signed(r, secret, r.provider_no.as_bytes());
        let answer = self
            .transport
            .get("gateway refund query", &uri, &headers)
            .await
            .map_err(unavailable)?;
        Self::read(&answer, "gateway refund query")
    }
}
