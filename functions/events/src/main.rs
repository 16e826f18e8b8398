//! Lambda entry point: builds the EventBridge client once, then publishes
//! the events of each stream batch.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let e = events::Events {
        bus: adapters::events::EventBus::from_env(&sdk)?,
    };
    run(service_fn(|event: LambdaEvent<Event>| {
        let e = &e;
        adapters::telemetry::invocation("publish", async move {
            Ok::<_, Error>(events::handle(e, event.payload).await)
        })
    }))
    .await
}
