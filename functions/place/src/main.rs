//! Lambda entry point: builds the clients once, then serves requests.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let app = adapters::App::from_env().await?;
    app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let app = &app;
        async move { Ok::<_, Error>(adapters::http::observe(req, |req| place::handle(app, req)).await) }
    }))
    .await
}
