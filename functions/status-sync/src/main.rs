//! Lambda entry point: builds the clients once, then serves requests.

use adapters::secrets::Secrets;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let s = status_sync::StatusSync {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        secrets: Secrets::load(&sdk, &["SUPPLIER_WEBHOOK_SECRETS"])
            .await?
            .supplier_secrets()?,
    };
    s.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let s = &s;
        async move {
            Ok::<_, Error>(adapters::http::observe(req, |req| status_sync::handle(s, req)).await)
        }
    }))
    .await
}
