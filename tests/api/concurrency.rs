//! SPEC 4: no oversell under concurrency, limits hold, retries are idempotent.

use futures::future::join_all;
use integration_tests::TestApp;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_buyers_never_oversell() {
    let t = TestApp::spawn().await;
    t.sku("HOT", 100, "lock_on_place", 50, None).await;
    let attempts = 220;
    let results = join_all((0..attempts).map(|i| {
        let t = &t;
        async move {
            let qty = 1 + (i % 2);
            let (status, v) = t
                .place(
                    &format!("buyer-{i}"),
                    json!([{"sku": "HOT", "qty": qty}]),
                    None,
                )
                .await;
            (qty, status, v)
        }
    }))
    .await;
    let mut sold = 0;
    let mut successes = 0;
    for (qty, status, v) in &results {
        match status {
            201 => {
                sold += qty;
                successes += 1;
            }
            409 => assert_eq!(v["error"]["code"], "out_of_stock", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    let left = t.available("HOT").await;
    assert!(sold <= 50, "sold {sold} of 50");
    assert!(left >= 0);
    assert_eq!(left, 50 - sold as i64, "stock = initial - reserved");
    assert_eq!(t.count_entities("order").await, successes);
    // Demand far exceeds supply: what is left cannot satisfy even a 1-unit order that failed.
    assert!(left <= 1, "{left} units left while buyers were refused");
    eprintln!(
        "{successes} orders, {sold} units sold, {left} left of 50, {} refused",
        attempts - successes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_user_racing_their_limit_gets_exactly_the_limit() {
    let t = TestApp::spawn().await;
    t.sku("RARE", 100, "lock_on_place", 1000, Some(3)).await;
    let results =
        join_all((0..40).map(|_| t.place("racer", json!([{"sku": "RARE", "qty": 1}]), None))).await;
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    for (status, v) in &results {
        assert!(
            *status == 201 || (*status == 422 && v["error"]["code"] == "purchase_limit"),
            "{status} {v}"
        );
    }
    assert_eq!(ok, 3);
    assert_eq!(t.available("RARE").await, 997);
    assert_eq!(t.count_entities("order").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_retries_make_one_order() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 3900, "lock_on_place", 100, Some(5)).await;
    let results = join_all(
        (0..20).map(|_| t.place("sam", json!([{"sku": "TEA", "qty": 2}]), Some("same-key"))),
    )
    .await;
    let mut ids: Vec<String> = Vec::new();
    for (status, v) in &results {
        assert!(*status == 201 || *status == 200, "{status} {v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all answers name the same order");
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "exactly one created it"
    );
    assert_eq!(t.count_entities("order").await, 1);
    assert_eq!(t.available("TEA").await, 98);
}
