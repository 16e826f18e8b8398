//! Metrics (README "Operating in production"): the EMF the handlers print,
//! read from a recorder of the test's own (the handlers count through the
//! `metrics` facade; deployed, adapters::telemetry prints the same).

use adapters::telemetry::Emf;
use domain::config::Config;
use domain::time::Timestamp;
use integration_tests::stack::Stack;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every counter of the documents, summed per (name, labels).
fn totals(docs: &[Value]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for d in docs {
        let aws = &d["_aws"]["CloudWatchMetrics"][0];
        let dims: Vec<String> = aws["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                format!(
                    "{}={}",
                    k.as_str().unwrap(),
                    d[k.as_str().unwrap()].as_str().unwrap()
                )
            })
            .collect();
        for m in aws["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            let v: f64 = match &d[name] {
                Value::Array(a) => a.iter().filter_map(Value::as_f64).sum(),
                x => x.as_f64().unwrap(),
            };
            *out.entry(format!("{name}{{{}}}", dims.join(",")))
                .or_default() += v;
        }
    }
    out
}

#[tokio::test]
async fn business_counters_add_up_to_the_orders_and_their_money() {
    let emf = Emf::new("OrderSystem");
    let _local = metrics::set_default_local_recorder(&emf);
    let s = Stack::spawn(Config::default()).await;
    let cfg = Config::default();
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 12900, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    // Freight from the settings, not from the answers.
    let freight = |goods: u64| {
        if goods >= cfg.free_shipping_over.0 {
            0
        } else {
            cfg.freight.0
        }
    };
    let a_total = 12900 + 2 * 3900 + freight(12900 + 2 * 3900);
    let b_total = 3900 + freight(3900);

    let a = s
        .placed(
            "mia",
            json!([{"sku": "LAMP", "qty": 1}, {"sku": "TEA", "qty": 2}]),
        )
        .await;
    let b = s.placed("mia", json!([{"sku": "TEA", "qty": 1}])).await;
    let c = s.placed("mia", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(s.pay_order(&a, "pay-a").await.0, 200);
    assert_eq!(s.pay_order(&b, "pay-b").await.0, 200);
    assert_eq!(
        s.pay_order(&b, "pay-b").await.0,
        200,
        "a replay counts nothing"
    );
    // A paid twice: the second payment is taken and refunded as it came.
    assert_eq!(s.pay_order(&a, "pay-a-again").await.0, 409);
    // B cancelled after payment: refunded whole. C never paid: expired.
    assert_eq!(
        s.cancel_order("mia", b["id"].as_str().unwrap()).await.0,
        200
    );
    let later = Timestamp::now().plus_secs(cfg.payment_ttl_secs + 60);
    assert_eq!(s.sweep_at(later).await.expired, 1);
    let _ = c;
    // D cancelled after payment, then reported shipped: a late event for staff.
    let d_total = 12900 + freight(12900);
    let d = s.placed("mia", json!([{"sku": "LAMP", "qty": 1}])).await;
    assert_eq!(s.pay_order(&d, "pay-d").await.0, 200);
    assert_eq!(
        s.cancel_order("mia", d["id"].as_str().unwrap()).await.0,
        200
    );
    let package = d["packages"][0]["id"].as_str().unwrap();
    assert_eq!(s.report("S-1", package, "shipped").await.0, 200);
    // The schedule's sweep publishes the attention list's size.
    expire::handle(&s.expire, json!({})).await.expect("a sweep");

    let t = totals(&emf.documents(0));
    let get = |k: &str| t.get(k).copied().unwrap_or(0.0);
    let sf = "{storefront=default}";
    assert_eq!(get(&format!("order.placed{sf}")), 4.0, "{t:#?}");
    assert_eq!(get(&format!("order.paid{sf}")), 3.0);
    assert_eq!(
        get(&format!("PaidCents{sf}")),
        (a_total + b_total + d_total) as f64
    );
    assert_eq!(
        get(&format!("order.cancelled{sf}")),
        3.0,
        "B and D cancelled, C expired"
    );
    assert_eq!(get(&format!("order.expired{sf}")), 1.0);
    assert_eq!(get(&format!("refund.recorded{sf}")), 3.0);
    assert_eq!(
        get(&format!("RefundRecordedCents{sf}")),
        (b_total + d_total + a_total) as f64
    );
    assert_eq!(
        get(&format!("ReceivedCents{sf}")),
        (2 * a_total + b_total + d_total) as f64,
        "every payment taken, the duplicate too (PaidCents leaves it out)"
    );
    assert_eq!(get(&format!("AttentionRaised{sf}")), 1.0, "the late event");
    assert_eq!(get(&format!("AttentionOpen{sf}")), 1.0);
    assert_eq!(get("AttentionOpenTotal{}"), 1.0);
    // No user or order id is ever a dimension.
    for k in t.keys() {
        assert!(
            !k.contains("mia") && !k.contains(a["id"].as_str().unwrap()),
            "{k}"
        );
    }
}

#[tokio::test]
async fn an_api_answer_is_timed_and_counted_under_its_route() {
    let emf = Emf::new("OrderSystem");
    let _local = metrics::set_default_local_recorder(&emf);
    let s = Stack::spawn(Config::default()).await;
    // A body that does not parse: 400, timed, no server error.
    let req = integration_tests::Event::new("POST", "/orders", "/orders")
        .user("kim")
        .raw_body("{not json")
        .build();
    let app = &s.t.app;
    let answer = adapters::http::observe_as("place", req, |req| place::handle(app, req)).await;
    assert_eq!(answer.status().as_u16(), 400);
    let docs = emf.documents(0);
    let timed = docs
        .iter()
        .find(|d| d["operation"] == "CreateOrder")
        .unwrap_or_else(|| panic!("{docs:#?}"));
    assert_eq!(timed["function"], "place");
    assert_eq!(timed["Latency"].as_array().unwrap().len(), 1);
    assert!(timed.get("ServerErrors").is_none());
}
