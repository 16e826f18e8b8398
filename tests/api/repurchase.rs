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
