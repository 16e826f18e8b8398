//! SPEC 2.6: the four cancel cases, stock and limits back exactly once.

use domain::config::Config;
use integration_tests::answers::refunded;
use integration_tests::stack::Stack;
use serde_json::json;
use supplier_sim::InterceptMode;

async fn catalog(s: &Stack) {
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10, "per_user_limit": 3})).await;
    s.t.put_sku("MUG", json!({"name": "Mug", "price_cents": 2500, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "deduct_on_pay", "available": 10})).await;
    s.t.put_sku("PHONE", json!({"name": "Phone", "price_cents": 9900, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 10})).await;
}

#[tokio::test]
async fn unpaid_cancel_releases_once_and_only_the_owner_may() {
    let s = Stack::spawn(Config::default()).await;
    catalog(&s).await;
    let order = s.placed("gil", json!([{"sku": "TEA", "qty": 3}])).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.t.available("TEA").await, 7);
    let (status, v) = s.cancel_order("stranger", id).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, v) = s.cancel_order("gil", id).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["refunds"], json!([]), "nothing was paid");
    let (status, again) = s.cancel_order("gil", id).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["timeline"], v["timeline"],
        "a second cancel changes nothing"
    );
    assert_eq!(s.t.available("TEA").await, 10, "released exactly once");
    let (status, _) =
        s.t.place("gil", json!([{"sku": "TEA", "qty": 3}]), None)
            .await;
    assert_eq!(status, 201, "the limit count came back");
    assert_eq!(
        s.sweep().await.expired,
        0,
        "the cancelled order left the due index"
    );
}

#[tokio::test]
async fn cancel_inside_the_window_drops_the_delayed_messages() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 2,
        ..Config::default()
    })
    .await;
    catalog(&s).await;
    let order = s
        .placed(
            "hal",
            json!([{"sku": "TEA", "qty": 1}, {"sku": "MUG", "qty": 2}]),
        )
        .await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.pay_order(&order, "p-hal").await.0, 200);
    assert_eq!(s.t.available("MUG").await, 8);
    assert_eq!(
        s.deliver(0).await.received,
        0,
        "held back by the intercept window"
    );
    let (status, v) = s.cancel_order("hal", id).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(
        refunded(&v),
        order["total_cents"].as_i64().unwrap(),
        "full refund"
    );
    assert_eq!(s.t.available("MUG").await, 10, "deducted stock back");
    assert_eq!(s.t.available("TEA").await, 10, "reserved stock back");
    // The window passes; the delayed messages arrive and find the packages cancelled.
    let handled = s.drain(3).await;
    assert_eq!(handled, 2);
    assert!(
        s.sim.received().is_empty(),
        "the supplier never saw the packages: {:?}",
        s.sim.received()
    );
    let stored = s.order("hal", id).await;
    assert!(stored["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "cancelled"));
}

async fn forwarded_order(s: &Stack, user: &str) -> serde_json::Value {
    catalog(s).await;
    let order = s
        .placed(
            user,
            json!([{"sku": "TEA", "qty": 1}, {"sku": "PHONE", "qty": 1}]),
        )
        .await;
    assert_eq!(s.pay_order(&order, &format!("p-{user}")).await.0, 200);
    assert_eq!(s.drain(1).await, 2);
    let stored = s.order(user, order["id"].as_str().unwrap()).await;
    assert!(stored["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "forwarded"));
    stored
}

#[tokio::test]
async fn cancel_after_forwarding_intercepts_through_the_queue() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let order = forwarded_order(&s, "ida").await;
    let id = order["id"].as_str().unwrap();
    let (status, v) = s.cancel_order("ida", id).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "cancel_requested");
    assert!(v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "intercept_requested"));
    assert_eq!(
        s.drain(1).await,
        2,
        "one intercept request per forwarded package"
    );
    for p in v["packages"].as_array().unwrap() {
        assert_eq!(s.sim.intercepts_for(p["id"].as_str().unwrap()), 1);
    }
    let stored = s.order("ida", id).await;
    assert_eq!(stored["status"], "cancelled");
    assert!(stored["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "cancelled"));
    assert_eq!(
        refunded(&stored),
        order["total_cents"].as_i64().unwrap(),
        "each package refunded, adding up to the total"
    );
    assert_eq!(s.t.available("TEA").await, 10);
    assert_eq!(s.t.available("PHONE").await, 10);
}

#[tokio::test]
async fn a_refused_intercept_fails_the_cancel() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let order = forwarded_order(&s, "jon").await;
    let id = order["id"].as_str().unwrap();
    s.sim.set_intercept(InterceptMode::Refuse);
    let (status, v) = s.cancel_order("jon", id).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("cancel_requested"))
    );
    assert_eq!(s.drain(1).await, 2);
    let stored = s.order("jon", id).await;
    assert_eq!(stored["status"], "awaiting_shipment", "{stored}");
    assert!(stored["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "forwarded"));
    assert_eq!(refunded(&stored), 0);
    assert!(stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "cancel_failed"
            && e["cause"].as_str().unwrap().contains("use after-sales")));
    assert_eq!(s.t.available("TEA").await, 9, "still held by the order");
}

#[tokio::test]
async fn nothing_shipped_may_be_cancelled() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let order = forwarded_order(&s, "kai").await;
    let id = domain::ids::OrderId::parse(order["id"].as_str().unwrap()).unwrap();
    // Our warehouse ships its package.
    let tea = order["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"]["kind"] == "self")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, shipped) = s.ship(&tea, "SF", "SF1").await;
    assert_eq!(status, 200, "{shipped}");
    let (status, v) = s.cancel_order("kai", id.as_str()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("use_after_sales")),
        "{v}"
    );
    let after = s.order("kai", id.as_str()).await;
    assert_eq!(after["status"], "partially_shipped");
    assert_eq!(after["timeline"], shipped["timeline"], "nothing changed");
}

/// `POST /orders/{id}/cancel` with a `package_id` is staff's (403 to its
/// owner, as it was), and names a package of that order (404 for staff
/// otherwise: nothing of the other order moves).
#[tokio::test]
async fn a_package_cancel_is_staff_only_and_of_that_order() {
    let s = Stack::spawn(Config::default()).await;
    s.t.sku("TEA", 1300, "lock_on_place", 10, None).await;
    let mine = s.placed("ned", json!([{"sku": "TEA", "qty": 1}])).await;
    let other = s.placed("ned", json!([{"sku": "TEA", "qty": 1}])).await;
    let id = mine["id"].as_str().unwrap();
    let foreign = json!({"package_id": other["packages"][0]["id"], "reason": "x"});
    let (status, v) = s.cancel_as("ned", false, id, &foreign).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let (status, v) = s.cancel_as("staff-1", true, id, &foreign).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("order_not_found")),
        "{v}"
    );
    let other_id = other["id"].as_str().unwrap();
    assert_eq!(
        s.stored(other_id).await.version(),
        1,
        "the other order is untouched"
    );
}
