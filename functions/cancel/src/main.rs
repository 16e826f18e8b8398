//! Lambda entry point: builds the clients once, then serves requests.

use lambda_http::{run, service_fn, Error, Request};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::app::sdk_config().await;
    let c = cancel::Cancel {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
    };
    c.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let c = &c;
        let span = adapters::http::request_span(&req);
        async move { Ok::<_, Error>(cancel::handle(c, req).await) }.instrument(span)
    }))
    .await
}
