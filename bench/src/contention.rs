//! Section 4, contention: N concurrent buyers of the last K units of one
//! SKU, all through the place handler at once.

use crate::counter::outcomes;
use crate::harness::{self, Endpoints, Stack};
use crate::report::{fmt_ms, ms, pct, r3, sorted, yes_no, Miss, Out, Section};
use crate::Res;
use domain::config::Config;
use integration_tests::decode;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const SKU: &str = "FLASH-1";

pub async fn run(ep: &Endpoints, buyers: usize, units: u64) -> Res<Out> {
    let s = Arc::new(Stack::new(ep, "storm", Config::default()).await?);
    s.put_sku(
        SKU,
        json!({"kind": "self", "warehouse": "WH-1"}),
        "lock_on_place",
        units,
    )
    .await?;
    let lines = json!([{"sku": SKU, "qty": 1}]);
    let before = s.counter.snapshot();
    let barrier = Arc::new(tokio::sync::Barrier::new(buyers + 1));
    let tasks: Vec<_> = (0..buyers)
        .map(|i| {
            let s = s.clone();
            let barrier = barrier.clone();
            let req =
                harness::place_event(&format!("buyer-{i}"), &lines, Some(&format!("storm-{i}")))
                    .build();
            tokio::spawn(async move {
                barrier.wait().await;
                let t = Instant::now();
                let resp = place::handle(&s.app, req).await;
                let done = Instant::now();
                let d = ms(done - t);
                let (status, body) = decode(resp);
                (
                    status,
                    d,
                    body["error"]["code"].as_str().unwrap_or("").to_owned(),
                    done,
                )
            })
        })
        .collect();
    barrier.wait().await;
    let t0 = Instant::now();
    let mut answers = Vec::with_capacity(buyers);
    for t in tasks {
        answers.push(t.await?);
    }
    let wall = t0.elapsed().as_secs_f64();
    let after = s.counter.snapshot();

    let successes = answers.iter().filter(|a| a.0 == 201).count() as u64;
    let mut by_answer: BTreeMap<String, u64> = BTreeMap::new();
    for (status, _, code, _) in &answers {
        let key = if code.is_empty() {
            status.to_string()
        } else {
            format!("{status} {code}")
        };
        *by_answer.entry(key).or_default() += 1;
    }
    let all = sorted(answers.iter().map(|a| a.1).collect());
    let ok_lat = sorted(answers.iter().filter(|a| a.0 == 201).map(|a| a.1).collect());
    let available = s.available(SKU).await?;
    // Orders stored holding the SKU, counted in the table itself.
    let stored_orders = s.count_orders().await?;
    let sold = units as i64 - available;
    let oversell = (successes as i64 - units as i64).max(0)
        + (-available).max(0)
        + (stored_orders as i64 - units as i64).max(0);
    let tx = outcomes(&before, &after, "DynamoDB.TransactWriteItems");
    let tx_calls: u64 = tx.values().sum();
    let refused = tx.get("ConditionalCheckFailed").copied().unwrap_or(0);
    let conflicts = tx.get("TransactionConflict").copied().unwrap_or(0);
    let retries = tx_calls.saturating_sub(successes + refused);
    let reads: u64 = outcomes(&before, &after, "DynamoDB.BatchGetItem")
        .values()
        .sum();
    // Placements per second while there was stock: K over the time to sell out.
    let sold_out = answers
        .iter()
        .filter(|a| a.0 == 201)
        .map(|a| (a.3 - t0).as_secs_f64())
        .fold(0.0, f64::max);
    let placements_per_s = if sold_out > 0.0 {
        successes as f64 / sold_out
    } else {
        0.0
    };
    let answered_per_s = buyers as f64 / wall;
    let (p50, p99, ok99) = (pct(&all, 50.0), pct(&all, 99.0), pct(&ok_lat, 99.0));

    let exact = successes == units;
    let no_oversell = oversell == 0 && sold == successes as i64 && stored_orders == successes;
    let mut missed = Vec::new();
    if !exact {
        missed.push(Miss {
            figure: "contention: successes".into(),
            measured: successes.to_string(),
            target: format!("= K = {units}"),
        });
    }
    if !no_oversell {
        missed.push(Miss {
            figure: "contention: oversell / stock accounting".into(),
            measured: format!("oversell {oversell}, available {available}, sold {sold}, stored orders {stored_orders}, successes {successes}"),
            target: "0 oversell; sold = successes = stored orders".into(),
        });
    }

    let mut sec = Section::new(
        &format!("4. Contention: {buyers} concurrent buyers of K = {units} units of one SKU (place handler in-process, one table item)"),
        &["figure", "measured", "target", "met"],
    );
    let fmt_map = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    sec.row(vec![
        "successes".into(),
        successes.to_string(),
        format!("= {units}"),
        yes_no(exact),
    ]);
    sec.row(vec![
        "oversell".into(),
        format!("{oversell} (available after: {available}, orders stored: {stored_orders})"),
        "0".into(),
        yes_no(no_oversell),
    ]);
    sec.row(vec![
        "answers".into(),
        fmt_map(&by_answer),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "placements/s (successes / time to sell out)".into(),
        format!("{placements_per_s:.0} ({successes} in {sold_out:.2} s)"),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "requests answered/s".into(),
        format!("{answered_per_s:.0} ({buyers} in {wall:.2} s)"),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "latency p50 / p99 (all)".into(),
        format!("{} / {}", fmt_ms(p50), fmt_ms(p99)),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "latency p99 (successes)".into(),
        fmt_ms(ok99),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "retries spent".into(),
        format!("{retries} (TransactWriteItems {tx_calls} = {successes} ok + {refused} refused by condition + {retries} retried/given up; TransactionConflict {conflicts})"),
        "-".into(),
        "-".into(),
    ]);
    sec.row(vec![
        "BatchGetItem reads".into(),
        reads.to_string(),
        "-".into(),
        "-".into(),
    ]);
    sec.footer.push("DynamoDB Local does not throttle: this is the transaction logic under contention, not a partition's write limit (see 5).".into());

    Ok(Out {
        json: json!({
            "buyers": buyers,
            "units": units,
            "successes": successes,
            "successes_target_met": exact,
            "oversell": oversell,
            "available_after": available,
            "orders_stored": stored_orders,
            "no_oversell": no_oversell,
            "answers": by_answer,
            "wall_s": r3(wall),
            "placements_per_s": r3(placements_per_s),
            "sold_out_s": r3(sold_out),
            "answered_per_s": r3(answered_per_s),
            "latency_ms": {"p50": r3(p50), "p99": r3(p99), "p99_successes": r3(ok99)},
            "transact_write_items": {"calls": tx_calls, "by_outcome": tx},
            "retries_spent": retries,
            "batch_get_items": reads,
        }),
        sections: vec![sec],
        missed,
    })
}
