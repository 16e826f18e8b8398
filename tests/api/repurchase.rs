use integration_tests::{Event, Func, TestApp};
use serde_json::{json, Value};

fn again(user: &str, id: &str, dry_run: bool) -> Event {
    let mut e = Event::new(
        "POST",
        "/orders/{id}/repurchase",
        &format!("/orders/{id}/repurchase"),
    )
    .path_param("id", id)
    .user(user);
    if dry_run {
        e = e.query("dry_run", "true");
    }
    e
}

async fn earlier_order(t: &TestApp) -> String {
    t.sku("KEEP", 1000, "lock_on_place", 10, None).await;
    t.sku("PRICEY", 2000, "lock_on_place", 10, None).await;
    t.sku("SCARCE", 500, "deduct_on_pay", 10, None).await;
    t.sku("DROPPED", 700, "lock_on_place", 10, None).await;
    let (status, order) = t
        .place("rita", json!([{"sku": "KEEP", "qty": 1}, {"sku": "PRICEY", "qty": 2}, {"sku": "SCARCE", "qty": 3}, {"sku": "DROPPED", "qty": 1}]), None)
        .await;
    assert_eq!(status, 201, "{order}");
    order["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reports_changes_and_places_what_can_be_bought() {
    let t = TestApp::spawn().await;
    let id = earlier_order(&t).await;
    t.sku("PRICEY", 2500, "lock_on_place", 10, None).await;
    t.sku("SCARCE", 500, "deduct_on_pay", 2, None).await;
    t.put_sku("DROPPED", json!({"name": "x", "price_cents": 700, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "listed": false})).await;

    let (status, dry) = t.call(Func::Place, again("rita", &id, true).build()).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["order"], Value::Null);
    let report = &dry["report"];
    assert_eq!(
        report["price_changes"],
        json!([{"sku": "PRICEY", "old_price_cents": 2000, "new_price_cents": 2500}])
    );
    let mut unavailable = report["unavailable"].as_array().unwrap().clone();
    unavailable.sort_by_key(|u| u["sku"].as_str().unwrap().to_owned());
    assert_eq!(
        unavailable,
        [
            json!({"sku": "DROPPED", "reason": "delisted", "available": null}),
            json!({"sku": "SCARCE", "reason": "insufficient_stock", "available": 2})
        ]
    );
    assert_eq!(t.count_entities("order").await, 1, "dry run writes nothing");

    let (status, v) = t.call(Func::Place, again("rita", &id, false).build()).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["report"], *report);
    let skus: Vec<_> = v["order"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["unit_price_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        skus,
        [("KEEP".to_owned(), 1000), ("PRICEY".to_owned(), 2500)],
        "today's prices"
    );
    assert_ne!(v["order"]["id"], json!(id));
}

#[tokio::test]
async fn nothing_buyable_is_409_with_the_report_and_strangers_get_404() {
    let t = TestApp::spawn().await;
    t.sku("ONLY", 1000, "lock_on_place", 1, None).await;
    let (_, order) = t
        .place("sue", json!([{"sku": "ONLY", "qty": 1}]), None)
        .await;
    let id = order["id"].as_str().unwrap();
    let (status, v) = t.call(Func::Place, again("sue", id, false).build()).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "nothing_to_repurchase");
    assert_eq!(
        v["report"]["unavailable"],
        json!([{"sku": "ONLY", "reason": "insufficient_stock", "available": 0}])
    );
    let (status, v) = t.call(Func::Place, again("tom", id, true).build()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
}

/// A new price; the stock stays as it is.
async fn reprice(t: &TestApp, sku: &str, price: u64) {
    t.put_sku(sku, json!({"name": format!("{sku} item"), "price_cents": price, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place"}))
        .await;
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_buy_again_that_took_the_last_units() {
    let t = TestApp::spawn().await;
    t.sku("LAST", 1000, "lock_on_place", 4, None).await;
    t.sku("REPRICED", 500, "lock_on_place", 100, None).await;
    t.sku("GONE", 700, "lock_on_place", 10, None).await;
    let (status, earlier) = t
        .place(
            "vera",
            json!([{"sku": "LAST", "qty": 2}, {"sku": "REPRICED", "qty": 1}, {"sku": "GONE", "qty": 1}]),
            None,
        )
        .await;
    assert_eq!(status, 201, "{earlier}");
    let id = earlier["id"].as_str().unwrap().to_owned();
    // What is left of LAST is exactly what the earlier order bought.
    assert_eq!(t.available("LAST").await, 2);
    reprice(&t, "REPRICED", 600).await;
    t.put_sku("GONE", json!({"name": "x", "price_cents": 700, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "listed": false})).await;

    let keyed = || again("vera", &id, false).header("idempotency-key", "K-again");
    let (s1, first, h1) = t.call_with_headers(Func::Place, keyed().build()).await;
    assert_eq!(s1, 201, "{first}");
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(
        first["report"],
        json!({
            "unavailable": [{"sku": "GONE", "reason": "delisted", "available": null}],
            "price_changes": [{"sku": "REPRICED", "old_price_cents": 500, "new_price_cents": 600}]
        })
    );
    assert_eq!(
        t.available("LAST").await,
        0,
        "the first buy-again took the last units"
    );

    // The catalog moves on; the retry still answers what the first call did.
    reprice(&t, "REPRICED", 800).await;
    let (s2, replay, h2) = t.call_with_headers(Func::Place, keyed().build()).await;
    assert_eq!(s2, 200, "{replay}");
    assert_eq!(
        h2.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(replay["order"]["id"], first["order"]["id"]);
    assert_eq!(replay["report"], first["report"]);
    assert_eq!(replay["order"]["lines"], first["order"]["lines"]);
    assert_eq!(t.available("LAST").await, 0, "reserved once");
    assert_eq!(t.available("REPRICED").await, 98);
    assert_eq!(t.count_entities("order").await, 2);

    // The key stands for buying this order again: any other request with it is refused.
    let (_, other) = t
        .place("vera", json!([{"sku": "REPRICED", "qty": 1}]), None)
        .await;
    let other_id = other["id"].as_str().unwrap();
    let (status, v) = t
        .call(
            Func::Place,
            again("vera", other_id, false)
                .header("idempotency-key", "K-again")
                .build(),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{v}"
    );
    let (status, v) = t
        .place(
            "vera",
            json!([{"sku": "REPRICED", "qty": 1}]),
            Some("K-again"),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{v}"
    );
    // A dry run only reports, whatever the key.
    let (status, v) = t
        .call(
            Func::Place,
            again("vera", &id, true)
                .header("idempotency-key", "K-again")
                .build(),
        )
        .await;
    assert_eq!((status, &v["order"]), (200, &Value::Null), "{v}");
    assert_eq!(t.count_entities("order").await, 3);
}

#[tokio::test]
async fn buy_again_refuses_an_idempotency_key_that_is_not_visible_ascii() {
    let t = TestApp::spawn().await;
    let id = earlier_order(&t).await;
    for bad in ["clé-1", "k\t1"] {
        let req = again("rita", &id, false)
            .header("idempotency-key", bad)
            .build();
        let (status, v) = t.call(Func::Place, req).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("invalid_idempotency_key")),
            "{bad:?}: {v}"
        );
    }
    assert_eq!(t.count_entities("order").await, 1, "nothing placed");
}
