//! Supplier clients: the adapters behind [`domain::ports::Supplier`] (SPEC 2.4, 2.6);
//! and beside them, in the same style, the payment providers' refund APIs
//! ([`gateway`], [`wechatpay`]; SPEC 2.12).
//!
//! [`SupplierRouter`] dispatches on the package's [`Source`](domain::catalog::Source):
//!
//! | source | channel | forward | intercept |
//! |---|---|---|---|
//! | `self` (warehouse `W`) | HTTP JSON | `POST {WAREHOUSE_API_URL}/warehouses/W/packages` | `POST {WAREHOUSE_API_URL}/warehouses/W/packages/{package_id}/intercept` |
//! | `dropship` (supplier `S`) | HTTP JSON | `POST {DROPSHIP_API_URL}/suppliers/S/orders` | `POST {DROPSHIP_API_URL}/suppliers/S/orders/{package_id}/intercept` |
//! | `jd` | JOS `routerjson` | `POST {JD_API_URL}`, method `JD_FORWARD_METHOD` | `POST {JD_API_URL}`, method `JD_INTERCEPT_METHOD` |
//!
//! ## HTTP JSON channels (own warehouse, dropship)
//! Forward body `{"package_id", "order_id", "lines": [{"sku", "qty"}], "address":
//! {"name", "phone", "line1", "city", "postcode"}, "goods_cents"}` with header
//! `Idempotency-Key: <package_id>`; a 2xx answer carries `{"reference": "..."}`.
//! Intercept body `{"package_id", "reference"}`; a 2xx answer carries
//! `{"outcome": "intercepted" | "refused" | "pending"}`.
//!
//! ## JD Kepler (JOS routerjson)
//! Form-urlencoded POST of the system parameters `app_key`, `method`,
//! `access_token`, `timestamp` (`yyyy-MM-dd HH:mm:ss`, UTC+8), `v=2.0`,
//! `format=json`, `360buy_param_json` and `sign` (see [`jd::sign`]).
//! Business payloads:
//! - forward: `{"thirdOrderId": <package id>, "sku": [{"skuId", "num"}], "name",
//!   "mobile", "address", "city", "zip"}`; answer
//!   `{"<method>_response": {"code": "0", "result": {"success": true, "jdOrderId": ...}}}`
//!   (dots of the method replaced by `_`); `jdOrderId` (string or number) is the reference.
//! - intercept: `{"thirdOrderId": <package id>, "jdOrderId": <reference>}`; answer
//!   `result` `{"success": true, "outcome": "intercepted" | "refused" | "pending"}`.
//! - `{"error_response": {"code", "zh_desc", "en_desc"}}`, a non-`"0"` `code`
//!   or `"success": false` is a refusal.
//!
//! ## Errors
//! [`SupplierError::Rejected`](domain::ports::SupplierError::Rejected) (permanent):
//! HTTP 4xx other than 408/429, JD `error_response`, a business refusal.
//! [`SupplierError::Unavailable`](domain::ports::SupplierError::Unavailable) (retry):
//! connection failure, timeout (`SUPPLIER_TIMEOUT_MS`, whole exchange), HTTP
//! 5xx/408/429, and a 2xx answer that cannot be understood (safe to retry: the
//! package id is the supplier's idempotency key).
//!
//! Both `http://` (local runs) and `https://` (deployed; system root
//! certificates, rustls with aws-lc-rs) endpoints are supported. Build one
//! [`SupplierRouter`] at cold start and share it: it holds the connection pool.

mod config;
pub mod gateway;
pub mod jd;
mod rest;
mod router;
mod transport;
pub mod wechatpay;

pub use config::{ConfigError, JdConfig, SupplierConfig};
pub use router::SupplierRouter;
