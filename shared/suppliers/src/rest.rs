//! The HTTP JSON channels: our own warehouses and the dropship suppliers.

use crate::transport::{join, Transport};
use bytes::Bytes;
use domain::ids::{OrderId, PackageId, SkuId};
use domain::order::Address;
use domain::ports::{ForwardRequest, InterceptOutcome, SupplierError};
use http::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// `{base}/{collection}/{target}/{items}` for forward and
/// `.../{items}/{package_id}/intercept` for intercept.
#[derive(Clone)]
pub(crate) struct RestChannel {
    name: &'static str,
    base: String,
    collection: &'static str,
    items: &'static str,
    transport: Transport,
}

#[derive(Serialize)]
struct ForwardBody<'a> {
    package_id: &'a PackageId,
    order_id: &'a OrderId,
    lines: Vec<LineBody<'a>>,
    address: &'a Address,
    goods_cents: u64,
}

#[derive(Serialize)]
struct LineBody<'a> {
    sku: &'a SkuId,
    qty: u32,
}

#[derive(Serialize)]
struct InterceptBody<'a> {
    package_id: &'a PackageId,
    reference: &'a str,
}

#[derive(Deserialize)]
struct ForwardAnswer {
    reference: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct InterceptAnswer {
    outcome: Option<serde_json::Value>,
}

impl RestChannel {
    pub fn warehouse(base: &str, transport: Transport) -> Self {
        Self {
            name: "warehouse",
            base: base.to_owned(),
            collection: "warehouses",
            items: "packages",
            transport,
        }
    }

    pub fn dropship(base: &str, transport: Transport) -> Self {
        Self {
            name: "dropship",
            base: base.to_owned(),
            collection: "suppliers",
            items: "orders",
            transport,
        }
    }

    pub async fn forward(
        &self,
        target: &str,
        req: &ForwardRequest,
    ) -> Result<String, SupplierError> {
        let what = format!("{} {target} forward {}", self.name, req.package_id);
        let uri = join(&self.base, &[self.collection, target, self.items])?;
        let body = ForwardBody {
            package_id: &req.package_id,
            order_id: &req.order_id,
            lines: req
                .lines
                .iter()
                .map(|l| LineBody {
                    sku: &l.sku,
                    qty: l.qty,
                })
                .collect(),
            address: &req.address,
            goods_cents: req.goods_cents.0,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| SupplierError::Rejected(format!("{what}: cannot encode: {e}")))?;
        let key = HeaderValue::from_str(req.package_id.as_str())
            .map_err(|e| SupplierError::Rejected(format!("{what}: {e}")))?;
        let answer = self
            .transport
            .post(
                &what,
                &uri,
                "application/json",
                &[(HeaderName::from_static("idempotency-key"), key)],
                Bytes::from(body),
            )
            .await?;
        answer.check_status(&what)?;
        let parsed: ForwardAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            SupplierError::Unavailable(format!(
                "{what}: answer is not the expected JSON: {}",
                answer.snippet()
            ))
        })?;
        match parsed.reference {
            Some(serde_json::Value::String(r)) if !r.trim().is_empty() => Ok(r),
            _ => Err(SupplierError::Unavailable(format!(
                "{what}: answer has no \"reference\": {}",
                answer.snippet()
            ))),
        }
    }

    pub async fn intercept(
        &self,
        target: &str,
        package: &PackageId,
        supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        let what = format!("{} {target} intercept {package}", self.name);
        let uri = join(
            &self.base,
            &[
                self.collection,
                target,
                self.items,
                package.as_str(),
                "intercept",
            ],
        )?;
        let body = serde_json::to_vec(&InterceptBody {
            package_id: package,
            reference: supplier_ref,
        })
        .map_err(|e| SupplierError::Rejected(format!("{what}: cannot encode: {e}")))?;
        let answer = self
            .transport
            .post(&what, &uri, "application/json", &[], Bytes::from(body))
            .await?;
        answer.check_status(&what)?;
        let parsed: InterceptAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            SupplierError::Unavailable(format!(
                "{what}: answer is not the expected JSON: {}",
                answer.snippet()
            ))
        })?;
        parsed
            .outcome
            .as_ref()
            .and_then(|v| v.as_str())
            .and_then(parse_outcome)
            .ok_or_else(|| {
                SupplierError::Unavailable(format!(
                    "{what}: answer has no known \"outcome\": {}",
                    answer.snippet()
                ))
            })
    }
}

pub(crate) fn parse_outcome(s: &str) -> Option<InterceptOutcome> {
    match s.trim().to_ascii_lowercase().as_str() {
        "intercepted" => Some(InterceptOutcome::Intercepted),
        "refused" => Some(InterceptOutcome::Refused),
        "pending" => Some(InterceptOutcome::Pending),
        _ => None,
    }
}
