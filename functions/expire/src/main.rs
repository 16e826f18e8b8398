//! Lambda entry point: builds the clients once, then runs the sweep per event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::app::sdk_config().await;
    let budget = match std::env::var("EXPIRE_BATCH") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("EXPIRE_BATCH={v:?} is not a number"))?,
        Err(_) => expire::DEFAULT_BUDGET,
    };
    let e = expire::Expire {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        budget,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let e = &e;
        async move { expire::handle(e, event.payload).await.map_err(Error::from) }
    }))
    .await
}
