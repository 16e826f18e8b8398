//! Lambda entry point (the daily schedule, or `{"date", "storefront"}`), and
//! the command line `scripts/reconcile` runs: `reconcile --date YYYY-MM-DD
//! [--storefront ID]` prints the report and exits 1 on any difference.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use reconcile::Ask;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = !args.is_empty();
    if !cli {
        adapters::telemetry::init(env!("CARGO_PKG_NAME"));
    }
    let sdk = adapters::app::sdk_config().await;
    let app = adapters::App::from_sdk(&sdk)?;
    let local = app.auth == adapters::app::AuthMode::DevHeaders;
    let f = reconcile::Reconcile {
        secrets: adapters::secrets::PaymentSecrets::new(&sdk, None, local)
            .with_wechatpay(adapters::secrets::wechatpay_default(&sdk).await?),
        wechatpay: suppliers::wechatpay::WechatPay::from_env()?,
        publisher: adapters::app::publisher_from_env(&sdk)?,
        app,
    };
    if cli {
        let ask = parse_args(&args).unwrap_or_else(|e| {
            eprintln!("reconcile: {e}\nusage: reconcile --date YYYY-MM-DD [--storefront ID]");
            std::process::exit(2)
        });
        let out = reconcile::run(&f, &ask, domain::time::Timestamp::now())
            .await
            .unwrap_or_else(|e| {
                eprintln!("reconcile: {e}");
                std::process::exit(2)
            });
        println!("{}", serde_json::to_string_pretty(&out)?);
        std::process::exit(if out.is_clean() { 0 } else { 1 });
    }
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let f = &f;
        adapters::telemetry::invocation("reconcile", async move {
            let ask = Ask::from_event(&event.payload);
            let out = reconcile::run(f, &ask, domain::time::Timestamp::now()).await?;
            // An account not reconciled fails the run: the schedule retries
            // it and the function's Errors metric shows it. (Differences
            // are on the attention list and in the log.)
            if out.errors > 0 {
                return Err(Error::from(format!(
                    "{} account(s) not reconciled: {}",
                    out.errors,
                    serde_json::to_string(&out)?
                )));
            }
            Ok::<_, Error>(serde_json::to_value(out)?)
        })
    }))
    .await
}

fn parse_args(args: &[String]) -> Result<Ask, String> {
    let mut ask = Ask::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--date" => ask.date = Some(value()?),
            "--storefront" => ask.storefront = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if ask.date.is_none() {
        return Err("--date is required".into());
    }
    Ok(ask)
}
