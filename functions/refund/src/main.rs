//! Lambda entry point: builds the clients once, then serves the refund
//! queue's batches and the refund routes (one function, SPEC 3).

use adapters::secrets::Secrets;
use lambda_http::{Request, Service};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use refund::Invocation;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    let sdk = adapters::app::sdk_config().await;
    let app = adapters::App::from_sdk(&sdk)?;
    let default = Secrets::load(&sdk, &["PAYMENT_WEBHOOK_SECRET"])
        .await?
        .required("PAYMENT_WEBHOOK_SECRET")?;
    let local = app.auth == adapters::app::AuthMode::DevHeaders;
    let gateway = match std::env::var("PAYMENT_GATEWAY_URL") {
        Ok(url) if !url.trim().is_empty() => Some(suppliers::gateway::GatewayClient::new(
            url.trim(),
            std::time::Duration::from_millis(match std::env::var("PAYMENT_TIMEOUT_MS") {
                Ok(v) => v
                    .parse()
                    .map_err(|_| format!("PAYMENT_TIMEOUT_MS={v:?} is not a number"))?,
                Err(_) => 5000,
            }),
        )?),
        _ => None,
    };
    let f = refund::Refund {
        providers: refund::Providers {
            store: app.store.clone(),
            secrets: adapters::secrets::PaymentSecrets::new(&sdk, Some(default), local)
                .with_wechatpay(adapters::secrets::wechatpay_default(&sdk).await?),
            gateway,
            wechatpay: suppliers::wechatpay::WechatPay::from_env()?,
        },
        publisher: adapters::app::publisher_from_env(&sdk)?,
        app,
    };
    f.app.store.warm("ORDER#").await;
    run(service_fn(|event: LambdaEvent<Value>| {
        let f = &f;
        async move {
            match Invocation::parse(event.payload)? {
                Invocation::Batch(batch) => {
                    let answer =
                        adapters::telemetry::invocation("refund", refund::handle_batch(f, batch))
                            .await;
                    Ok::<_, Error>(serde_json::to_value(answer)?)
                }
                Invocation::Http(req) => {
                    let mut http =
                        lambda_http::Adapter::from(service_fn(|req: Request| async move {
                            Ok::<_, Error>(
                                adapters::http::observe(req, |req| refund::handle_http(f, req))
                                    .await,
                            )
                        }));
                    let answer = http.call(LambdaEvent::new(*req, event.context)).await?;
                    Ok(serde_json::to_value(answer)?)
                }
            }
        }
    }))
    .await
}
