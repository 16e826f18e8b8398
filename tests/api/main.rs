//! One integration-test binary: every test creates its own table in DynamoDB
//! Local and drives the real handlers with API Gateway v2 events.

mod bad_input;
mod cancelling;
mod catalog;
mod concurrency;
mod expiry;
mod forwarding;
mod orders;
mod payments;
mod placement;
mod race;
mod repurchase;
