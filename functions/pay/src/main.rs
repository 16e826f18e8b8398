//! Lambda entry point: builds the clients once, then serves requests.

use adapters::secrets::Secrets;
use lambda_http::{run, service_fn, Error, Request};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::app::sdk_config().await;
    let pay = pay::Pay {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        secret: Secrets::load(&sdk, &["PAYMENT_WEBHOOK_SECRET"])
            .await?
            .required("PAYMENT_WEBHOOK_SECRET")?,
    };
    pay.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let pay = &pay;
        let span = adapters::http::request_span(&req);
        async move { Ok::<_, Error>(pay::handle(pay, req).await) }.instrument(span)
    }))
    .await
}
