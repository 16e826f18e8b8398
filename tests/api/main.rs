//! One integration-test binary: every test creates its own table in DynamoDB
//! Local and drives the real handlers with API Gateway v2 events.

// The handlers' futures, awaited inside the tests' own, nest deeper than
// rustc's default query depth (128) once a request resolves its storefront.
#![recursion_limit = "256"]

mod after_sales;
mod authz;
mod backoffice;
mod bad_input;
mod cancelling;
mod catalog;
mod concurrency;
mod deploy;
mod events;
mod expiry;
mod flash_sale;
mod forwarding;
mod hardening;
mod intercepts;
mod lives;
mod metrics;
mod orders;
mod payments;
mod placement;
mod race;
mod reconcile;
mod refunds;
mod repurchase;
mod roles;
mod status_sync;
mod storefronts;
mod stress;
mod tracing;
mod wechatpay;
