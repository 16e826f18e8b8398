//! Lambda entry point: builds the clients once, then serves requests.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let b = backoffice::Backoffice {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
    };
    b.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let b = &b;
        async move {
            Ok::<_, Error>(adapters::http::observe(req, |req| backoffice::handle(b, req)).await)
        }
    }))
    .await
}
