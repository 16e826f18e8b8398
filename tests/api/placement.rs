use integration_tests::{Event, Func, TestApp};
use serde_json::json;

async fn mixed_catalog(t: &TestApp) {
    t.put_sku("TEA-100", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 100})).await;
    t.put_sku("MUG-200", json!({"name": "Mug", "price_cents": 2500, "source": {"kind": "self", "warehouse": "WH-2"}, "stock_policy": "deduct_on_pay", "available": 3})).await;
    t.put_sku("LAMP-300", json!({"name": "Lamp", "price_cents": 12900, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 40})).await;
    t.put_sku("CABLE-600", json!({"name": "Cable", "price_cents": 1900, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay", "available": 1000})).await;
}

#[tokio::test]
async fn places_a_mixed_cart_split_by_source() {
    let t = TestApp::spawn().await;
    mixed_catalog(&t).await;
    let (status, order) = t
        .place(
            "alice",
            json!([{"sku": "TEA-100", "qty": 2}, {"sku": "MUG-200", "qty": 2}, {"sku": "LAMP-300", "qty": 1}, {"sku": "CABLE-600", "qty": 1}, {"sku": "TEA-100", "qty": 1}]),
            None,
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["user_id"], "alice");
    assert_eq!(
        order["lines"].as_array().unwrap().len(),
        4,
        "duplicate TEA-100 lines merged"
    );
    let goods = 3 * 3900 + 2 * 2500 + 12900 + 1900;
    assert_eq!(order["goods_cents"], goods);
    assert_eq!(order["freight_cents"], 0, "free shipping over 99.00");
    assert_eq!(order["total_cents"], goods);
    let packages = order["packages"].as_array().unwrap();
    let sources: Vec<_> = packages.iter().map(|p| p["source"].clone()).collect();
    assert_eq!(
        sources,
        [
            json!({"kind": "dropship", "supplier": "S-1"}),
            json!({"kind": "jd"}),
            json!({"kind": "self", "warehouse": "WH-1"}),
            json!({"kind": "self", "warehouse": "WH-2"})
        ]
    );
    for p in packages {
        assert_eq!(p["status"], "pending");
        assert_eq!(p["supplier_ref"], json!(null));
        assert_eq!(p["tracking_no"], json!(null));
    }
    let warnings = order["warnings"].as_array().unwrap();
    assert_eq!(
        warnings.len(),
        1,
        "only the scarce deduct_on_pay line warns: {warnings:?}"
    );
    assert_eq!(
        warnings[0],
        json!({"code": "scarce", "sku": "MUG-200", "message": "in short supply, pay promptly"})
    );
    assert!(order["payment_deadline"].as_str().unwrap() > order["created_at"].as_str().unwrap());
    assert_eq!(order["timeline"][0]["event"], "placed");

    assert_eq!(t.available("TEA-100").await, 97, "lock_on_place reserved");
    assert_eq!(t.available("LAMP-300").await, 39);
    assert_eq!(
        t.available("MUG-200").await,
        3,
        "deduct_on_pay untouched at placement"
    );
    assert_eq!(t.available("CABLE-600").await, 1000);

    let (status, read) = t.get_order("alice", order["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(read, order);
}

#[tokio::test]
async fn freight_is_charged_below_the_threshold_and_apportioned_when_configured() {
    let config = domain::config::Config {
        freight_policy: domain::config::FreightPolicy::Apportioned,
        ..Default::default()
    };
    let t = TestApp::spawn_with(config).await;
    t.put_sku("A", json!({"name": "A", "price_cents": 1000, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 10})).await;
    t.put_sku("B", json!({"name": "B", "price_cents": 2000, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let (status, order) = t
        .place(
            "bob",
            json!([{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]),
            None,
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["freight_cents"], 1000);
    assert_eq!(order["total_cents"], 4000);
    let parts: Vec<i64> = order["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["freight_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(parts, [333, 667]);
}

#[tokio::test]
async fn a_short_second_sku_writes_nothing() {
    let t = TestApp::spawn().await;
    t.sku("PLENTY", 100, "lock_on_place", 10, Some(5)).await;
    t.sku("SHORT", 100, "lock_on_place", 1, None).await;
    let (status, v) = t
        .place(
            "carol",
            json!([{"sku": "PLENTY", "qty": 2}, {"sku": "SHORT", "qty": 3}]),
            Some("k-1"),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "out_of_stock");
    assert_eq!(
        v["error"]["details"]["skus"],
        json!([{"sku": "SHORT", "requested": 3, "available": 1}])
    );
    assert_eq!(t.available("PLENTY").await, 10);
    assert_eq!(t.available("SHORT").await, 1);
    assert_eq!(t.count_entities("order").await, 0);
    assert_eq!(t.count_entities("limit").await, 0);
    assert_eq!(t.count_entities("idempotency").await, 0);
    // The key was not spent: the same key with a buyable body now works.
    let (status, _) = t
        .place("carol", json!([{"sku": "PLENTY", "qty": 2}]), Some("k-1"))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn every_short_sku_is_named() {
    let t = TestApp::spawn().await;
    t.sku("X1", 100, "lock_on_place", 0, None).await;
    t.sku("X2", 100, "lock_on_place", 1, None).await;
    let (status, v) = t
        .place(
            "dan",
            json!([{"sku": "X1", "qty": 1}, {"sku": "X2", "qty": 2}]),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let mut skus: Vec<_> = v["error"]["details"]["skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["sku"].as_str().unwrap().to_owned(),
                s["available"].as_i64().unwrap(),
            )
        })
        .collect();
    skus.sort();
    assert_eq!(skus, [("X1".to_owned(), 0), ("X2".to_owned(), 1)]);
}

#[tokio::test]
async fn per_user_limit_counts_across_orders() {
    let t = TestApp::spawn().await;
    t.sku("PHONE", 199900, "lock_on_place", 100, Some(2)).await;
    let (s1, _) = t
        .place("erin", json!([{"sku": "PHONE", "qty": 1}]), None)
        .await;
    let (s2, _) = t
        .place("erin", json!([{"sku": "PHONE", "qty": 1}]), None)
        .await;
    let (s3, v) = t
        .place("erin", json!([{"sku": "PHONE", "qty": 1}]), None)
        .await;
    assert_eq!((s1, s2, s3), (201, 201, 422));
    assert_eq!(v["error"]["code"], "purchase_limit");
    assert_eq!(v["error"]["details"]["skus"][0]["held"], 2);
    let (s, v) = t
        .place("frank", json!([{"sku": "PHONE", "qty": 3}]), None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("purchase_limit"))
    );
    let (s, _) = t
        .place("frank", json!([{"sku": "PHONE", "qty": 2}]), None)
        .await;
    assert_eq!(s, 201, "another user has their own allowance");
    assert_eq!(t.available("PHONE").await, 96);
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_other_bodies() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 3900, "lock_on_place", 10, None).await;
    let (s1, first) = t
        .place("gina", json!([{"sku": "TEA", "qty": 1}]), Some("abc"))
        .await;
    let (s2, again) = t
        .place("gina", json!([{"sku": "TEA", "qty": 1}]), Some("abc"))
        .await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(first, again);
    assert_eq!(t.available("TEA").await, 9, "reserved once");
    let (s3, v) = t
        .place("gina", json!([{"sku": "TEA", "qty": 2}]), Some("abc"))
        .await;
    assert_eq!(
        (s3, v["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    // Keys are per user.
    let (s4, other) = t
        .place("hank", json!([{"sku": "TEA", "qty": 1}]), Some("abc"))
        .await;
    assert_eq!(s4, 201);
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn jwt_claims_identify_callers_when_deployed() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 3900, "lock_on_place", 10, None).await;
    let app = t.with_jwt_auth();
    let body = integration_tests::place_body(json!([{"sku": "TEA", "qty": 1}]));
    // Dev headers mean nothing when deployed.
    let spoof = Event::new("POST", "/orders", "/orders")
        .user("mallory")
        .json(&body)
        .build();
    let (status, _) = integration_tests::call_app(&app, Func::Place, spoof).await;
    assert_eq!(status, 401);
    let real = Event::new("POST", "/orders", "/orders")
        .claims(json!({"sub": "ivy"}))
        .json(&body)
        .build();
    let (status, order) = integration_tests::call_app(&app, Func::Place, real).await;
    assert_eq!(status, 201);
    assert_eq!(order["user_id"], "ivy");
    let staff_put = Event::new("PUT", "/skus/{sku}", "/skus/NEW")
        .path_param("sku", "NEW")
        .claims(json!({"sub": "boss", "cognito:groups": "[staff]"}))
        .json(&json!({"name": "New", "price_cents": 1, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay"}))
        .build();
    let (status, _) = integration_tests::call_app(&app, Func::Catalog, staff_put).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_idempotency_key_that_is_not_visible_ascii_is_refused_not_ignored() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 3900, "lock_on_place", 10, None).await;
    // "clé-1" arrives as UTF-8 bytes, not visible ASCII; a tab is a control character.
    for bad in ["clé-1", "k\t1", " "] {
        for attempt in 0..2 {
            let (status, v) = t
                .place("jane", json!([{"sku": "TEA", "qty": 1}]), Some(bad))
                .await;
            assert_eq!(
                (status, v["error"]["code"].as_str()),
                (400, Some("invalid_idempotency_key")),
                "{bad:?} attempt {attempt}: {v}"
            );
        }
    }
    assert_eq!(
        t.count_entities("order").await,
        0,
        "no order, let alone two"
    );
    assert_eq!(t.available("TEA").await, 10);
}
