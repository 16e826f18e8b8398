//! Lambda entry point: builds the clients once, then consumes SQS batches.

use adapters::secrets::Secrets;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let f = forward::Forward {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        suppliers: {
            let secrets = Secrets::load(&sdk, &["JD_APP_SECRET", "JD_ACCESS_TOKEN"]).await?;
            let config = suppliers::SupplierConfig::from_lookup(|name| {
                secrets
                    .get(name)
                    .map(str::to_owned)
                    .or_else(|| std::env::var(name).ok())
            })?;
            suppliers::SupplierRouter::new(config)?
        },
        max_receives: match std::env::var("FORWARD_MAX_RECEIVES") {
            Ok(v) => v
                .parse()
                .map_err(|_| format!("FORWARD_MAX_RECEIVES={v:?} is not a number"))?,
            Err(_) => forward::DEFAULT_MAX_RECEIVES,
        },
    };
    f.app.store.warm("ORDER#").await;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let f = &f;
        adapters::telemetry::invocation("forward", async move {
            Ok::<_, Error>(forward::handle(f, event.payload).await)
        })
    }))
    .await
}
