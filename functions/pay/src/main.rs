//! Lambda entry point: builds the clients once, then serves requests.

use adapters::secrets::Secrets;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let app = adapters::App::from_sdk(&sdk)?;
    let default = Secrets::load(&sdk, &["PAYMENT_WEBHOOK_SECRET"])
        .await?
        .required("PAYMENT_WEBHOOK_SECRET")?;
    let local = app.auth == adapters::app::AuthMode::DevHeaders;
    let pay = pay::Pay {
        secrets: adapters::secrets::PaymentSecrets::new(&sdk, Some(default), local)
            .with_wechatpay(adapters::secrets::wechatpay_default(&sdk).await?),
        wechatpay: suppliers::wechatpay::WechatPay::from_env()?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        app,
    };
    pay.app.store.warm("ORDER#").await;
    run(service_fn(|req: Request| {
        let pay = &pay;
        async move { Ok::<_, Error>(adapters::http::observe(req, |req| pay::handle(pay, req)).await) }
    }))
    .await
}
