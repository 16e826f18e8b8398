use integration_tests::{place_body, Event, Func, TestApp};
use serde_json::json;

fn post(body: &str) -> Event {
    Event::new("POST", "/orders", "/orders")
        .user("zed")
        .raw_body(body)
}

#[tokio::test]
async fn every_bad_placement_is_a_4xx_json_error_with_a_stable_code() {
    let t = TestApp::spawn().await;
    t.sku("OK-1", 100, "lock_on_place", 10, None).await;
    t.put_sku("GONE-1", json!({"name": "Old", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "listed": false, "available": 5})).await;

    let line = |sku: &str, qty: serde_json::Value| {
        place_body(json!([{"sku": sku, "qty": qty}])).to_string()
    };
    let fifty_one: Vec<_> = (0..51)
        .map(|i| json!({"sku": format!("S{i}"), "qty": 1}))
        .collect();
    let huge = format!(
        r#"{{"lines":[],"address":{{}},"note":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let cases: Vec<(String, Event, u16, &str)> = vec![
        ("malformed json".into(), post("{\"lines\": ["), 400, "invalid_json"),
        ("not an object".into(), post("[1,2]"), 400, "invalid_request"),
        ("empty body".into(), post(""), 400, "invalid_json"),
        ("missing lines".into(), post(&json!({"address": integration_tests::address()}).to_string()), 400, "invalid_request"),
        ("missing address".into(), post(r#"{"lines":[{"sku":"OK-1","qty":1}]}"#), 400, "invalid_request"),
        ("unknown field".into(), post(&json!({"lines": [{"sku": "OK-1", "qty": 1}], "address": integration_tests::address(), "coupon": "FREE"}).to_string()), 400, "invalid_request"),
        ("client price".into(), post(&place_body(json!([{"sku": "OK-1", "qty": 1, "unit_price_cents": 1}])).to_string()), 400, "invalid_request"),
        ("qty 0".into(), post(&line("OK-1", json!(0))), 422, "invalid_qty"),
        ("qty -1".into(), post(&line("OK-1", json!(-1))), 422, "invalid_qty"),
        ("qty 10^9".into(), post(&line("OK-1", json!(1_000_000_000))), 422, "invalid_qty"),
        ("qty 1.5".into(), post(&line("OK-1", json!(1.5))), 422, "invalid_qty"),
        ("qty huge".into(), post(r#"{"lines":[{"sku":"OK-1","qty":1e400}],"address":{}}"#), 400, "invalid_json"),
        ("51 lines".into(), post(&place_body(json!(fifty_one)).to_string()), 422, "too_many_lines"),
        ("no lines".into(), post(&place_body(json!([])).to_string()), 422, "empty_order"),
        ("blank address".into(), post(&json!({"lines": [{"sku": "OK-1", "qty": 1}], "address": {"name": "", "phone": "1", "line1": "x", "city": "y", "postcode": "1"}}).to_string()), 422, "invalid_address"),
        ("unknown sku".into(), post(&line("NOPE-9", json!(1))), 404, "sku_not_found"),
        ("delisted sku".into(), post(&line("GONE-1", json!(1))), 422, "delisted"),
        ("bad sku id".into(), post(&line("a b#c", json!(1))), 400, "invalid_request"),
        ("huge body".into(), post(&huge), 413, "payload_too_large"),
        ("no identity".into(), Event::new("POST", "/orders", "/orders").raw_body(&line("OK-1", json!(1))), 401, "unauthorized"),
        ("bad idempotency key".into(), post(&line("OK-1", json!(1))).header("idempotency-key", &"k".repeat(300)), 400, "invalid_idempotency_key"),
        ("wrong method".into(), Event::new("GET", "/orders", "/orders").user("zed"), 405, "method_not_allowed"),
    ];
    for (name, event, want_status, want_code) in cases {
        let (status, v) = t.call(Func::Place, event.build()).await;
        assert_eq!(status, want_status, "{name}: {v}");
        assert_eq!(v["error"]["code"], want_code, "{name}: {v}");
    }
    let (status, v) = t
        .call(Func::Place, post(&line("NOPE-9", json!(1))).build())
        .await;
    assert_eq!(
        (status, &v["error"]["details"]["sku"]),
        (404, &json!("NOPE-9")),
        "names the SKU"
    );
    assert_eq!(t.count_entities("order").await, 0, "nothing was written");
    assert_eq!(t.available("OK-1").await, 10);
}

/// A JSON array never fills a body by position (Schemathesis found
/// `[null, null]` cancelling an order and an array creating a SKU).
#[tokio::test]
async fn arrays_are_not_bodies() {
    let s = integration_tests::stack::Stack::spawn(domain::config::Config::default()).await;
    s.t.sku("ARR-1", 100, "lock_on_place", 10, None).await;
    let order = s.placed("amy", json!([{"sku": "ARR-1", "qty": 1}])).await;
    let id = order["id"].as_str().unwrap();
    let (status, v) = s.cancel_as("amy", false, id, &json!([null, null])).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    assert_eq!(s.order("amy", id).await["status"], "pending_payment");
    let req = Event::new("PUT", "/skus/{sku}", "/skus/ARR-2")
        .path_param("sku", "ARR-2")
        .user("staff-1")
        .staff()
        .json(&json!(["Array tea", 100, {"kind": "jd"}, "lock_on_place"]))
        .build();
    let (status, v) = s.t.call(Func::Catalog, req).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let body = json!([[["ARR-1", 1]], ["A", "1", "x", "c", "1"]]).to_string();
    let (status, v) = s.t.call(Func::Place, post(&body).build()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let sig = domain::payment::signature::sign(
        integration_tests::stack::SUPPLIER_SECRET.as_bytes(),
        b"[\"x\", \"shipped\"]",
    );
    let (status, _) = s
        .supplier_raw("S-1", "[\"x\", \"shipped\"]", Some(&sig))
        .await;
    assert_eq!(status, 400);
}
