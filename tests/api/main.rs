//! One integration-test binary: every test creates its own table in DynamoDB
//! Local and drives the real handlers with API Gateway v2 events.

mod bad_input;
mod catalog;
mod concurrency;
mod orders;
mod placement;
mod repurchase;
