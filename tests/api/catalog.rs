use integration_tests::{Event, Func, TestApp};
use serde_json::json;

#[tokio::test]
async fn staff_put_then_anyone_gets() {
    let t = TestApp::spawn().await;
    let put = t
        .put_sku(
            "LAMP-300",
            json!({"name": "Desk lamp", "price_cents": 12900, "source": {"kind": "dropship", "supplier": "S-1"},
                   "stock_policy": "lock_on_place", "listed": true, "per_user_limit": null, "available": 40}),
        )
        .await;
    assert_eq!(put["sku"], "LAMP-300");
    let got = t.get_sku("LAMP-300").await;
    assert_eq!(got, put);
    assert_eq!(
        got["source"],
        json!({"kind": "dropship", "supplier": "S-1"})
    );
    assert_eq!(got["per_user_limit"], json!(null));
    assert_eq!(got["available"], 40);
}

#[tokio::test]
async fn put_without_available_keeps_stock() {
    let t = TestApp::spawn().await;
    t.sku("TEA-100", 3900, "lock_on_place", 7, Some(2)).await;
    let body = json!({"name": "Tea, new label", "price_cents": 4200, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay"});
    let v = t.put_sku("TEA-100", body).await;
    assert_eq!(v["available"], 7);
    assert_eq!(v["price_cents"], 4200);
    assert_eq!(
        v["per_user_limit"],
        json!(null),
        "limit removed when not given"
    );
    assert_eq!(v["listed"], true);
}

#[tokio::test]
async fn only_staff_may_write() {
    let t = TestApp::spawn().await;
    let body = json!({"name": "x", "price_cents": 1, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay"});
    let shopper = Event::new("PUT", "/skus/{sku}", "/skus/X")
        .path_param("sku", "X")
        .user("alice")
        .json(&body);
    let (status, v) = t.call(Func::Catalog, shopper.build()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let anonymous = Event::new("PUT", "/skus/{sku}", "/skus/X")
        .path_param("sku", "X")
        .json(&body);
    let (status, v) = t.call(Func::Catalog, anonymous.build()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn unknown_and_malformed_skus_are_404() {
    let t = TestApp::spawn().await;
    for sku in ["NOPE", "bad#id"] {
        let req = Event::new("GET", "/skus/{sku}", "/skus/x")
            .path_param("sku", sku)
            .build();
        let (status, v) = t.call(Func::Catalog, req).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (404, Some("sku_not_found")),
            "{sku}"
        );
    }
}

#[tokio::test]
async fn invalid_sku_bodies_are_4xx() {
    let t = TestApp::spawn().await;
    let cases = [
        ("{", 400, "invalid_json"),
        (r#"{"name":"x"}"#, 400, "invalid_request"),
        (
            r#"{"name":"x","price_cents":1,"source":{"kind":"jd"},"stock_policy":"deduct_on_pay","colour":"red"}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"name":"x","price_cents":-5,"source":{"kind":"jd"},"stock_policy":"deduct_on_pay"}"#,
            422,
            "invalid_sku",
        ),
        (
            r#"{"name":"x","price_cents":5,"source":{"kind":"jd"},"stock_policy":"deduct_on_pay","available":-1}"#,
            422,
            "invalid_sku",
        ),
        (
            r#"{"name":"x","price_cents":5,"source":{"kind":"self"},"stock_policy":"deduct_on_pay"}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"name":"x","price_cents":5,"source":{"kind":"jd"},"stock_policy":"sometimes"}"#,
            400,
            "invalid_request",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let req = Event::new("PUT", "/skus/{sku}", "/skus/X")
            .path_param("sku", "X")
            .user("s")
            .staff()
            .raw_body(body);
        let (status, v) = t.call(Func::Catalog, req.build()).await;
        assert_eq!(
            (status, v["error"]["code"].as_str().unwrap()),
            (want_status, want_code),
            "{body}"
        );
    }
}
