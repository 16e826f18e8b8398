//! Lambda entry point: builds the clients once, then serves requests.

use lambda_http::{run, service_fn, Error, Request};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let app = adapters::App::from_env().await?;
    app.store.warm("SKU#").await;
    run(service_fn(|req: Request| {
        let app = &app;
        let span = adapters::http::request_span(&req);
        async move { Ok::<_, Error>(catalog::handle(app, req).await) }.instrument(span)
    }))
    .await
}
