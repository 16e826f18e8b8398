//! Adapters between the domain and AWS: the DynamoDB store, the HTTP glue
//! shared by the API functions, and configuration read from the environment.

pub mod app;
pub mod dynamo;
#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "local")]
pub mod local_queues;
#[cfg(feature = "local")]
pub mod local_streams;
pub mod proofs;
pub mod secrets;
pub mod sqs;
pub mod telemetry;
pub mod xray;

pub use app::{App, AuthMode};
pub use dynamo::DynamoStore;
