//! Lambda entry point: builds the clients once, then runs the sweep per event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let budget = match std::env::var("EXPIRE_BATCH") {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n: &u32| *n > 0)
            .ok_or_else(|| format!("EXPIRE_BATCH={v:?} must be a whole number above 0"))?,
        Err(_) => expire::DEFAULT_BUDGET,
    };
    let e = expire::Expire {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        budget,
    };
    e.app.store.warm("ORDER#").await;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let e = &e;
        adapters::telemetry::invocation("sweep", async move {
            expire::handle(e, event.payload).await.map_err(Error::from)
        })
    }))
    .await
}
