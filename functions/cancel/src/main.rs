//! Lambda entry point: builds the clients once, then serves requests.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let c = cancel::Cancel {
        app: adapters::App::from_sdk(&sdk)?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
    };
    c.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let c = &c;
        async move { Ok::<_, Error>(adapters::http::observe(req, |req| cancel::handle(c, req)).await) }
    }))
    .await
}
