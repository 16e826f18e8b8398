//! `devstack provision [--seed] [--env-out PATH]`: the table and the queues
//! of template.yaml, the demo catalog, and the queue URLs for the functions.

use crate::Error;
use adapters::dynamo::schema::TableDef;
use adapters::local_queues::QueueDef;
use adapters::DynamoStore;
use domain::catalog::{SkuUpdate, Source, StockPolicy};
use domain::ids::{SkuId, SupplierId, WarehouseId};
use domain::money::Cents;
use domain::ports::Catalog;
use std::collections::HashMap;
use std::path::Path;

fn demo_catalog() -> Vec<SkuUpdate> {
    let wh = |w: &str| Source::SelfOperated {
        warehouse: WarehouseId::parse(w).expect("id"),
    };
    let ds = |s: &str| Source::Dropship {
        supplier: SupplierId::parse(s).expect("id"),
    };
    let sku = |id: &str,
               name: &str,
               price: u64,
               source: Source,
               policy: StockPolicy,
               available: u64,
               limit: Option<u32>,
               listed: bool| SkuUpdate {
        sku: SkuId::parse(id).expect("id"),
        name: name.to_owned(),
        price_cents: Cents(price),
        source,
        stock_policy: policy,
        listed,
        per_user_limit: limit,
        available: Some(available),
        stock_shards: None,
        storefronts: None,
        prices: Default::default(),
    };
    use StockPolicy::*;
    vec![
        sku(
            "TEA-100",
            "Oolong tea 250g",
            3900,
            wh("WH-1"),
            LockOnPlace,
            500,
            None,
            true,
        ),
        sku(
            "MUG-200",
            "Celadon mug",
            2500,
            wh("WH-2"),
            DeductOnPay,
            300,
            None,
            true,
        ),
        sku(
            "LAMP-300",
            "Desk lamp",
            12900,
            ds("S-1"),
            LockOnPlace,
            40,
            None,
            true,
        ),
        sku(
            "SOCKS-800",
            "Wool socks",
            1500,
            ds("S-1"),
            LockOnPlace,
            500,
            None,
            true,
        ),
        sku(
            "RUG-400",
            "Wool rug",
            8900,
            ds("S-2"),
            DeductOnPay,
            8,
            None,
            true,
        ),
        sku(
            "JD-PHONE-500",
            "Phone (limited edition)",
            199900,
            Source::Jd,
            LockOnPlace,
            20,
            Some(2),
            true,
        ),
        sku(
            "JD-CABLE-600",
            "USB-C cable",
            1900,
            Source::Jd,
            DeductOnPay,
            1000,
            None,
            true,
        ),
        sku(
            "OLD-700",
            "Discontinued teapot",
            990,
            wh("WH-1"),
            LockOnPlace,
            10,
            None,
            false,
        ),
    ]
}

pub struct Options {
    pub seed: bool,
    pub env_out: Option<String>,
}

pub async fn run(opts: Options) -> Result<(), Error> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let exists = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .is_ok();
    if exists {
        println!("table {table} exists");
    } else {
        TableDef::from_template()?.create(&client, &table).await?;
        println!("table {table} created from template.yaml");
    }
    if opts.seed {
        let store = DynamoStore::new(client, &table);
        for sku in demo_catalog() {
            let saved = store.put_sku(&sku).await?;
            println!(
                "  {:<13} {:>9} {:<28} {:?} available={}{}{}",
                saved.sku.as_str(),
                saved.price_cents.to_string(),
                saved.source.package_key(),
                saved.stock_policy,
                saved.available,
                saved
                    .per_user_limit
                    .map(|l| format!(" limit={l}"))
                    .unwrap_or_default(),
                if saved.listed { "" } else { " (delisted)" }
            );
        }
    }

    // The queues, named <TABLE_NAME>-<LogicalId>. CreateQueue with the same
    // attributes answers the existing queue, so running this twice is fine.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let urls = QueueDef::create_all(&sqs, &table)
        .await
        .map_err(|e| format!("creating the queues of template.yaml: {e}"))?;
    let mut vars = queue_env(&urls);
    // The order events' bus (EventsFunction's EVENT_BUS_NAME) and a queue a
    // rule on it fills with every event (README "Order events").
    let bus = format!("{table}-orders");
    let tap = adapters::local_streams::create_bus_with_tap(
        &aws_sdk_eventbridge::Client::new(&sdk),
        &sqs,
        &bus,
        &format!("{table}-events-tap"),
    )
    .await
    .map_err(|e| format!("the order events' bus in the emulator: {e}"))?;
    vars.push(("EVENT_BUS_NAME".into(), bus));
    vars.push(("EVENTS_TAP_URL".into(), tap));
    for (name, url) in &vars {
        println!("  {name:<18} {url}");
    }
    // The proof bucket (SPEC 2.8) in moto's S3, when the stack names one.
    if std::env::var("UPLOADS_BUCKET").is_ok_and(|b| !b.is_empty()) {
        let proofs = adapters::proofs::S3Proofs::from_env(&sdk)
            .map_err(|e| format!("the proof bucket: {e}"))?;
        create_bucket(&proofs).await?;
        println!("  proof bucket       {}", proofs.bucket_url());
    }
    if let Some(path) = opts.env_out {
        write_env_file(Path::new(&path), &vars)?;
        println!("queue URLs written to {path}");
    }
    Ok(())
}

/// Creates the bucket (a PUT on its URL; moto answers 200, also when it
/// exists already and is ours).
async fn create_bucket(proofs: &adapters::proofs::S3Proofs) -> Result<(), Error> {
    use http_body_util::{BodyExt, Empty};
    let url = proofs
        .presign("PUT", "", &[], 300)
        .await
        .map_err(|e| format!("signing CreateBucket: {e}"))?;
    let client: hyper_util::client::legacy::Client<_, Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = hyper::Request::put(&url)
        .header("content-length", "0")
        .body(Empty::new())
        .map_err(|e| format!("CreateBucket request: {e}"))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("CreateBucket at {}: {e}", proofs.bucket_url()))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "CreateBucket {}: {status} {}",
            proofs.bucket_url(),
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok(())
}

/// Environment variable for a queue's URL: the names the functions read for
/// the two main queues, `<SCREAMING_SNAKE_ID>_URL` for any other.
fn env_name(logical_id: &str) -> String {
    match logical_id {
        "ForwardQueue" => "FORWARD_QUEUE_URL".into(),
        "RefundQueue" => "REFUND_QUEUE_URL".into(),
        "ForwardDeadLetterQueue" => "FORWARD_DLQ_URL".into(),
        "RefundDeadLetterQueue" => "REFUND_DLQ_URL".into(),
        other => {
            let mut s = String::new();
            for (i, c) in other.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    s.push('_');
                }
                s.push(if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                });
            }
            format!("{s}_URL")
        }
    }
}

/// `(variable, url)` for every queue, sorted by variable name.
fn queue_env(urls: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = urls
        .iter()
        .map(|(id, url)| (env_name(id), url.clone()))
        .collect();
    vars.sort();
    vars
}

/// Single-quoted for sh: `'` becomes `'\''`.
fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

fn env_file(vars: &[(String, String)]) -> String {
    let mut out = String::from("# written by `devstack provision`: queues of template.yaml\n");
    for (name, value) in vars {
        out.push_str(&format!("export {name}={}\n", sh_quote(value)));
    }
    out
}

/// Written to a temporary file beside `path`, then renamed: a reader never
/// sees half a file.
fn write_env_file(path: &Path, vars: &[(String, String)]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, env_file(vars))
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_variables_are_the_ones_the_functions_read() {
        let urls: HashMap<String, String> = [
            ("ForwardQueue", "http://q/f"),
            ("RefundQueue", "http://q/r"),
            ("ForwardDeadLetterQueue", "http://q/fd"),
            ("RefundDeadLetterQueue", "http://q/rd"),
            ("AuditQueue", "http://q/a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let names: Vec<String> = queue_env(&urls).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "AUDIT_QUEUE_URL",
                "FORWARD_DLQ_URL",
                "FORWARD_QUEUE_URL",
                "REFUND_DLQ_URL",
                "REFUND_QUEUE_URL"
            ]
        );
    }

    #[test]
    fn env_file_is_quoted_for_sh() {
        let text = env_file(&[("A_URL".into(), "http://x/it's".into())]);
        assert!(
            text.ends_with("export A_URL='http://x/it'\\''s'\n"),
            "{text}"
        );
    }

    #[test]
    fn every_template_queue_gets_a_variable() {
        let defs = QueueDef::from_template().unwrap();
        let urls: HashMap<String, String> = defs
            .iter()
            .map(|d| (d.logical_id.clone(), "u".to_owned()))
            .collect();
        let names: Vec<String> = queue_env(&urls).into_iter().map(|(n, _)| n).collect();
        for want in ["FORWARD_QUEUE_URL", "REFUND_QUEUE_URL"] {
            assert!(names.iter().any(|n| n == want), "{names:?}");
        }
    }
}
