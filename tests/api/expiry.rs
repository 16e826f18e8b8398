//! SPEC 2.7: the scheduled sweep expires unpaid orders through the due index.

use domain::config::Config;
use integration_tests::stack::Stack;
use serde_json::json;

#[tokio::test]
async fn due_orders_expire_and_give_everything_back() {
    let s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        ..Config::default()
    })
    .await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 10, "per_user_limit": 2})).await;
    let mut ids = Vec::new();
    for user in ["u1", "u2", "u3"] {
        ids.push((
            user,
            s.placed(user, json!([{"sku": "TEA", "qty": 2}])).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    assert_eq!(s.t.available("TEA").await, 4);
    let summary = s.sweep().await;
    assert_eq!((summary.expired, summary.more_due), (3, false));
    for (user, id) in &ids {
        let o = s.order(user, id).await;
        assert_eq!(
            (o["status"].as_str(), o["close_reason"].as_str()),
            (Some("cancelled"), Some("expired"))
        );
        assert!(o["packages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "cancelled"));
    }
    assert_eq!(s.t.available("TEA").await, 10);
    assert_eq!(s.sweep().await.expired, 0, "each order expires once");
    let (status, _) =
        s.t.place("u1", json!([{"sku": "TEA", "qty": 2}]), None)
            .await;
    assert_eq!(status, 201, "limit given back");
}

#[tokio::test]
async fn a_backlog_drains_over_runs_and_fresh_orders_wait() {
    let mut s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        ..Config::default()
    })
    .await;
    s.expire.budget = 2;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 100})).await;
    for i in 0..5 {
        s.placed(&format!("b{i}"), json!([{"sku": "TEA", "qty": 1}]))
            .await;
    }
    let first = s.sweep().await;
    assert_eq!((first.expired, first.more_due), (2, true));
    let second = s.sweep().await;
    assert_eq!((second.expired, second.more_due), (2, true));
    let third = s.sweep().await;
    assert_eq!((third.expired, third.more_due), (1, false));
    assert_eq!(s.t.available("TEA").await, 100);

    let s2 = Stack::spawn(Config::default()).await;
    s2.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 5})).await;
    s2.placed("fresh", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(s2.sweep().await.expired, 0, "a day to pay");
    assert_eq!(s2.t.available("TEA").await, 4);
}
