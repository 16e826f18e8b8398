//! Local stand-in for what AWS provides when deployed.
//!
//! `devstack provision [--seed]`: creates the table from template.yaml (if it
//! does not exist yet) and optionally seeds the demo catalog.

use adapters::dynamo::schema::TableDef;
use adapters::DynamoStore;
use domain::catalog::{SkuUpdate, Source, StockPolicy};
use domain::ids::{SkuId, SupplierId, WarehouseId};
use domain::money::Cents;
use domain::ports::Catalog;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

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

async fn provision(seed: bool) -> Result<(), Error> {
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
    if seed {
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
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("provision") => provision(args.iter().any(|a| a == "--seed")).await,
        _ => {
            eprintln!("usage: devstack provision [--seed]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}
