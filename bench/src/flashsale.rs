//! Section 5, flash sale: N buyers of K units of one SKU whose stock is in S
//! shard items, for S = 1, 4, 16, 64, under a model of DynamoDB's write limit
//! per partition (tests/src/throttle.rs). DynamoDB Local never throttles.
//!
//! The model runs at 1/`scale` of the real rate (1,000 WCU/s per partition):
//! DynamoDB Local on this machine serves far fewer transactions a second than
//! 64 real partitions would admit, so at the real rate only the emulator
//! would be measured. Every S runs at the same scale, so the ratio between
//! them is what a real table shows; each rate measured times `scale` is the
//! rate it stands for, as long as the emulator keeps up (see "model bound").
//!
//! Slowed down 100 times, each partition's capacity is, but the buyers'
//! retries are not: 300 buyers here (the default, `--flash-buyers`) press on
//! a partition as ~30,000 would at full speed. More buyers than that measure
//! this machine's two cores, which run the buyers and the emulator too.
//!
//! Each buyer is a client as a shop's checkout is: it places with its own
//! Idempotency-Key under the function's deadline (template.yaml's 10 s), and
//! on 503 `busy` waits Retry-After and sends the same request again, until it
//! gets 201 or 409 `out_of_stock`.

use crate::counter::outcomes;
use crate::harness::{self, Endpoints, Stack};
use crate::report::{fmt_ms, pct, r3, sorted, yes_no, Miss, Out, Section};
use crate::Res;
use domain::config::Config;
use integration_tests::throttle::WriteLimit;
use integration_tests::{decode, with_deadline};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SKU: &str = "HOT-1";
/// DynamoDB's write limit per partition, in WCU a second.
const REAL_WCU_PER_S: f64 = 1_000.0;
/// DynamoDB's read limit per partition, in RCU a second.
const REAL_RCU_PER_S: f64 = 3_000.0;
/// The function's timeout (template.yaml, Globals): each request's deadline.
const DEADLINE_MS: u64 = 10_000;
pub const SHARDS: [u8; 4] = [1, 4, 16, 64];
/// Buyers who come after the sale is over, one after another.
const LATE_BUYERS: usize = 50;
/// Placements a second one SKU must admit at S = 16, at DynamoDB's rates.
const TARGET_PER_S: f64 = 5_000.0;

/// One buyer's end.
struct Bought {
    status: u16,
    code: String,
    busy: u32,
    done: Instant,
    ms: f64,
}

/// Buyers finished and 503s answered so far, for the progress line.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    busy: AtomicU64,
    sold: AtomicU64,
}

async fn buyer(
    s: Arc<Stack>,
    i: usize,
    start: Arc<tokio::sync::Barrier>,
    progress: Arc<Progress>,
) -> Bought {
    let lines = json!([{"sku": SKU, "qty": 1}]);
    let key = format!("flash-{i}");
    let user = format!("buyer-{i}");
    start.wait().await;
    let t = Instant::now();
    let mut busy = 0;
    loop {
        let req = harness::place_event(&user, &lines, Some(&key)).build();
        let resp = place::handle(&s.app, with_deadline(req, DEADLINE_MS)).await;
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let (status, body) = decode(resp);
        if status == 503 {
            busy += 1;
            progress.busy.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
            continue;
        }
        let done = Instant::now();
        progress.done.fetch_add(1, Ordering::Relaxed);
        if status == 201 {
            progress.sold.fetch_add(1, Ordering::Relaxed);
        }
        return Bought {
            status,
            code: body["error"]["code"].as_str().unwrap_or("").to_owned(),
            busy,
            done,
            ms: (done - t).as_secs_f64() * 1e3,
        };
    }
}

/// One sale: K units on S shards, N buyers at once.
async fn sale(ep: &Endpoints, shards: u8, buyers: usize, units: u64, scale: f64) -> Res<Value> {
    let rate = REAL_WCU_PER_S / scale;
    // A partition takes a tenth of a second's units at once (one
    // transactional write at the least). Every partition a placement touches
    // that all buyers share is held to the slowed-down rates, for reads and
    // writes: the SKU's item and shards, the `due` index's partitions, the
    // `status` index's (staff search: every order placed lands in one) and
    // the work queues' (`Q#`: none at placement, but held anyway).
    // The other keys it reads or writes are the buyer's own or new with each
    // order (idempotency record, limit counter, order, `user_orders` entry),
    // never near the limit for real.
    let read_rate = REAL_RCU_PER_S / scale;
    let limit = WriteLimit::per_partition(rate, (rate / 10.0).max(2.0))
        .with_reads(read_rate, (read_rate / 10.0).max(1.0))
        .only_keys_starting_with(&["SKU#", "DUE#", "STATUS#", "Q#"]);
    let s = Arc::new(
        Stack::limited(
            ep,
            &format!("flash{shards}"),
            Config::default(),
            Some(&limit),
        )
        .await?,
    );
    s.put_sku_sharded(
        SKU,
        json!({"kind": "self", "warehouse": "WH-1"}),
        "lock_on_place",
        units,
        shards,
    )
    .await?;
    let throttled_before = limit.throttled();
    let throttled_reads_before = limit.throttled_reads();
    limit.take_items_read();
    let before = s.counter.snapshot();
    let start = Arc::new(tokio::sync::Barrier::new(buyers + 1));
    let progress = Arc::new(Progress::default());
    let tasks: Vec<_> = (0..buyers)
        .map(|i| tokio::spawn(buyer(s.clone(), i, start.clone(), progress.clone())))
        .collect();
    start.wait().await;
    let t0 = Instant::now();
    let ticker = {
        let progress = progress.clone();
        let limit = limit.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "    {:.0} s: {} sold, {} of {buyers} buyers answered, {} busy answers, {} writes throttled",
                    t0.elapsed().as_secs_f64(),
                    progress.sold.load(Ordering::Relaxed),
                    progress.done.load(Ordering::Relaxed),
                    progress.busy.load(Ordering::Relaxed),
                    limit.throttled(),
                );
            }
        })
    };
    let mut ends = Vec::with_capacity(buyers);
    for t in tasks {
        ends.push(t.await?);
    }
    let wall = t0.elapsed().as_secs_f64();
    ticker.abort();
    let items_read = limit.take_items_read();
    let read_of = |kind: &str| items_read.get(kind).copied().unwrap_or(0);
    let shard_reads = read_of(&format!("SKU#{SKU}#SHARD#"));
    let sku_reads = read_of("SKU#");
    let after = s.counter.snapshot();

    // After the sale: late buyers, one after another, and what they read.
    limit.take_items_read();
    let mut late_answers = Vec::new();
    for i in 0..LATE_BUYERS {
        let req =
            harness::place_event(&format!("late-{i}"), &json!([{"sku": SKU, "qty": 1}]), None)
                .build();
        let (status, body) = decode(place::handle(&s.app, with_deadline(req, DEADLINE_MS)).await);
        if status != 409 || body["error"]["code"] != "out_of_stock" {
            late_answers.push(format!("{status} {}", body["error"]["code"]));
        }
    }
    let late_read = limit.take_items_read();
    let late_shard_reads = late_read
        .get(&format!("SKU#{SKU}#SHARD#"))
        .copied()
        .unwrap_or(0);

    let successes = ends.iter().filter(|b| b.status == 201).count() as u64;
    let sold_out = ends
        .iter()
        .filter(|b| b.status == 201)
        .map(|b| (b.done - t0).as_secs_f64())
        .fold(0.0, f64::max);
    let unexpected: Vec<String> = ends
        .iter()
        .filter(|b| b.status != 201 && !(b.status == 409 && b.code == "out_of_stock"))
        .map(|b| format!("{} {}", b.status, b.code))
        .collect();
    // What is left, read from the SKU (the sum of its shards), and the orders
    // stored.
    let (status, sku) = decode(catalog::handle(&s.app, sku_event()).await);
    if status != 200 {
        return Err(format!("GET /skus/{SKU}: {status} {sku}").into());
    }
    let available = sku["available"].as_i64().unwrap_or(-1);
    let stored = s.count_orders().await?;
    let oversell = (successes as i64 - units as i64).max(0)
        + (stored as i64 - units as i64).max(0)
        + (-available).max(0);
    let accounted = available + successes as i64 == units as i64 && stored == successes;
    let tx = outcomes(&before, &after, "DynamoDB.TransactWriteItems");
    let ok_ms = sorted(
        ends.iter()
            .filter(|b| b.status == 201)
            .map(|b| b.ms)
            .collect(),
    );
    let per_s = if sold_out > 0.0 {
        successes as f64 / sold_out
    } else {
        0.0
    };
    Ok(json!({
        "shards": shards,
        "successes": successes,
        "oversell": oversell,
        "accounted": accounted,
        "available_after": available,
        "orders_stored": stored,
        "unexpected_answers": unexpected,
        "placements_per_s": r3(per_s),
        "stands_for_per_s": r3(per_s * scale),
        "sold_out_s": r3(sold_out),
        "wall_s": r3(wall),
        "busy_answers": ends.iter().map(|b| u64::from(b.busy)).sum::<u64>(),
        "throttled_writes": limit.throttled() - throttled_before,
        "throttled_reads": limit.throttled_reads() - throttled_reads_before,
        "late_buyers": LATE_BUYERS,
        "late_unexpected": late_answers,
        "late_shard_reads": late_shard_reads,
        "sku_item_reads_per_buyer": r3(sku_reads as f64 / buyers as f64),
        "shard_reads_per_buyer": r3(shard_reads as f64 / buyers as f64),
        "transact_write_items": tx,
        "latency_ms_successes": {"p50": r3(pct(&ok_ms, 50.0)), "p99": r3(pct(&ok_ms, 99.0))},
    }))
}

fn sku_event() -> lambda_http::Request {
    integration_tests::Event::new("GET", "/skus/{sku}", &format!("/skus/{SKU}"))
        .path_param("sku", SKU)
        .build()
}

pub async fn run(
    ep: &Endpoints,
    buyers: usize,
    units: u64,
    scale: f64,
    shard_counts: &[u8],
) -> Res<Out> {
    let mut runs = Vec::new();
    for &shards in shard_counts {
        eprintln!("==> bench: flash sale on {shards} shard(s)");
        runs.push(sale(ep, shards, buyers, units, scale).await?);
    }
    let rate_of = |s: u8| {
        runs.iter()
            .find(|r| r["shards"] == s)
            .and_then(|r| r["placements_per_s"].as_f64())
            .unwrap_or(0.0)
    };
    let one = rate_of(1);
    let ratio = |s: u8| if one > 0.0 { rate_of(s) / one } else { 0.0 };
    let rate = REAL_WCU_PER_S / scale;

    let mut sec = Section::new(
        &format!("5. Flash sale: {buyers} buyers of K = {units} units, stock in S shards, under a write limit of {rate:.0} WCU/s per partition (1/{scale:.0} of DynamoDB's 1,000)"),
        &["S", "successes", "oversell", "placements/s (x scale)", "vs S = 1", "sold out in", "throttled writes / reads", "reads per buyer (SKU item / shards)", "503 busy", "p99 (successes)", "late buyers' shard reads"],
    );
    let mut missed = Vec::new();
    for r in &runs {
        let s = r["shards"].as_u64().unwrap_or(0) as u8;
        let exact = r["successes"] == units
            && r["unexpected_answers"]
                .as_array()
                .is_some_and(|a| a.is_empty());
        let clean = r["oversell"] == 0 && r["accounted"] == true;
        if !exact {
            missed.push(Miss {
                figure: format!("flash sale S = {s}: successes"),
                measured: format!(
                    "{} (unexpected answers: {})",
                    r["successes"], r["unexpected_answers"]
                ),
                target: format!("= K = {units}"),
            });
        }
        let late_clean = r["late_shard_reads"] == 0
            && r["late_unexpected"]
                .as_array()
                .is_some_and(|a| a.is_empty());
        if !late_clean {
            missed.push(Miss {
                figure: format!("flash sale S = {s}: late buyers"),
                measured: format!(
                    "{} shard items read, unexpected answers {}",
                    r["late_shard_reads"], r["late_unexpected"]
                ),
                target: format!(
                    "{LATE_BUYERS} x 409 out_of_stock, no shard read (the sold-out hint)"
                ),
            });
        }
        if !clean {
            missed.push(Miss {
                figure: format!("flash sale S = {s}: oversell / stock accounting"),
                measured: format!(
                    "oversell {}, available after {}, orders stored {}",
                    r["oversell"], r["available_after"], r["orders_stored"]
                ),
                target: "0 oversell; sold + left = K".into(),
            });
        }
        sec.row(vec![
            s.to_string(),
            format!("{} {}", r["successes"], yes_no(exact)),
            format!("{} {}", r["oversell"], yes_no(clean)),
            format!(
                "{:.1} (x{scale:.0} = {:.0})",
                r["placements_per_s"].as_f64().unwrap_or(0.0),
                r["stands_for_per_s"].as_f64().unwrap_or(0.0)
            ),
            format!("{:.1}x", ratio(s)),
            format!("{:.2} s", r["sold_out_s"].as_f64().unwrap_or(0.0)),
            format!("{} / {}", r["throttled_writes"], r["throttled_reads"]),
            format!(
                "{} / {}",
                r["sku_item_reads_per_buyer"], r["shard_reads_per_buyer"]
            ),
            r["busy_answers"].to_string(),
            fmt_ms(
                r["latency_ms_successes"]["p99"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
            ),
            format!("{} {}", r["late_shard_reads"], yes_no(late_clean)),
        ]);
    }
    let s16_real = rate_of(16) * scale;
    let ratio_met = ratio(16) >= 10.0;
    let rate_met = s16_real >= TARGET_PER_S;
    if !ratio_met {
        missed.push(Miss {
            figure: "flash sale: S = 16 vs one counter".into(),
            measured: format!("{:.1}x", ratio(16)),
            target: ">= 10x".into(),
        });
    }
    if runs.iter().any(|r| r["shards"] == 16) && !rate_met {
        missed.push(Miss {
            figure: "flash sale: S = 16 placements/s at DynamoDB's rates".into(),
            measured: format!("{s16_real:.0}"),
            target: format!(">= {TARGET_PER_S:.0}"),
        });
    }
    sec.footer.push(format!(
        "Targets: S = 16 sells >= 10x one counter: {:.1}x, {}; and stands for >= {TARGET_PER_S:.0} placements/s: {s16_real:.0}, {}. One counter's ceiling under the model: {:.1} transactions/s (a transactional write costs 2 WCU).",
        ratio(16),
        yes_no(ratio_met),
        yes_no(rate_met),
        rate / 2.0
    ));
    sec.footer.push(format!("Model: token buckets per partition key (tests/src/throttle.rs) in the SDK's HTTP client, for writes ({rate:.0} WCU/s) and reads ({:.0} RCU/s: a consistent read costs 1, an eventually consistent one 0.5), on every partition all buyers share: the SKU's item, each shard (its own partition key) and the `due` index's partitions (an order's entry costs 1 WCU there). A short partition gets DynamoDB's own answer (TransactionCanceledException / ThrottlingError for writes, UnprocessedKeys or ProvisionedThroughputExceededException for reads); the store backs off and retries within the request's deadline, then answers 503 busy with Retry-After, which the buyer honours. A placement's first read is eventually consistent; a refusal it would lead to is confirmed by a consistent read, except a sold-out hint's.", REAL_RCU_PER_S / scale));
    sec.footer.push("Model bound: a shard count whose ideal rate (S x the ceiling above) exceeds what DynamoDB Local serves here is bound by the emulator, not the model.".into());
    Ok(Out {
        json: json!({
            "buyers": buyers,
            "units": units,
            "scale": scale,
            "wcu_per_s_per_partition": rate,
            "runs": runs,
            "s16_vs_s1": r3(ratio(16)),
            "s16_stands_for_per_s": r3(s16_real),
            "target_met": ratio_met && rate_met,
        }),
        sections: vec![sec],
        missed,
    })
}
