//! SPEC 2.8: after-sales cases, every illegal step refused with its code,
//! and the three kinds driven to the end.

use crate::status_sync::forwarded;
use domain::config::Config;
use domain::time::Timestamp;
use integration_tests::answers::{mixed_ids, refunded};
use integration_tests::stack::Stack;
use integration_tests::Event;
use serde_json::{json, Value};

fn config() -> Config {
    Config {
        intercept_window_secs: 0,
        customer_service_phone: "400-123-4567".into(),
        ..Config::default()
    }
}

/// A mixed order, every package received; returns it and its package ids.
async fn received(s: &Stack, user: &str) -> (Value, String, String, String) {
    let order = forwarded(s, user).await;
    let (own, drop, jd) = mixed_ids(&order);
    assert_eq!(s.ship(&own, "SF", "SF1").await.0, 200);
    assert_eq!(s.confirm_receipt(user, &own).await.0, 200);
    assert_eq!(s.report("S-1", &drop, "received").await.0, 200);
    assert_eq!(s.report("jd", &jd, "received").await.0, 200);
    let order = s.order(user, order["id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "completed");
    (order, own, drop, jd)
}

fn body(package: &str, kind: &str, sku: &str, qty: u32) -> Value {
    json!({
        "package_id": package, "kind": kind, "lines": [{"sku": sku, "qty": qty}],
        "reason": "arrived broken", "evidence": ["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"],
    })
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test]
async fn refund_only_completes_after_approval_with_the_lines_paid_amount() {
    let s = Stack::spawn(config()).await;
    let (order, _, _, jd) = received(&s, "amy").await;
    let id = order["id"].as_str().unwrap();
    let (status, case) = s
        .open_case("amy", id, &body(&jd, "refund_only", "PHONE", 1))
        .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["status"], "requested");
    assert_eq!(case["customer_service_phone"], "400-123-4567");
    let cid = case["id"].as_str().unwrap();
    let (status, v) = s
        .case(
            "amy",
            false,
            cid,
            "review",
            Some(&json!({"decision": "approve", "note": "sorry"})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (403, Some("forbidden")),
        "owners do not review"
    );
    let (status, v) = s
        .case(
            "staff-1",
            true,
            cid,
            "review",
            Some(&json!({"decision": "approve", "note": "ok"})),
        )
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("approved")),
        "{v}"
    );
    let (status, v) = s
        .case(
            "amy",
            false,
            cid,
            "return-shipment",
            Some(&json!({"carrier": "SF", "tracking_no": "R1"})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("invalid_case_state")),
        "nothing comes back for refund_only"
    );
    let (status, v) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("completed")),
        "{v}"
    );
    let history: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["requested", "approved", "completed"]);
    let after = s.order("amy", id).await;
    assert_eq!(
        refunded(&after),
        1550,
        "one phone, no freight: {}",
        after["refunds"]
    );
    let (status, v) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("invalid_case_state")),
        "completed once"
    );
    assert_eq!(refunded(&s.order("amy", id).await), 1550);
    // The other phone may still be claimed, not a third one.
    let (status, v) = s
        .open_case("amy", id, &body(&jd, "refund_only", "PHONE", 2))
        .await;
    assert_eq!(
        (status, code(&v)),
        (422, Some("quantity_exceeds_received")),
        "{v}"
    );
    assert_eq!(
        s.open_case("amy", id, &body(&jd, "refund_only", "PHONE", 1))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn return_refund_of_the_whole_package_refunds_its_freight_too() {
    let s = Stack::spawn(config()).await;
    let (order, _, _, jd) = received(&s, "bea").await;
    let id = order["id"].as_str().unwrap();
    let (status, case) = s
        .open_case("bea", id, &body(&jd, "return_refund", "PHONE", 2))
        .await;
    assert_eq!(status, 201, "{case}");
    let cid = case["id"].as_str().unwrap();
    assert_eq!(
        s.case(
            "staff-1",
            true,
            cid,
            "review",
            Some(&json!({"decision": "approve", "note": "send it back"}))
        )
        .await
        .0,
        200
    );
    let (status, v) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("invalid_case_state")),
        "not before the return"
    );
    let (status, v) = s
        .case(
            "bea",
            false,
            cid,
            "return-shipment",
            Some(&json!({"carrier": "SF", "tracking_no": "R2"})),
        )
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("return_shipped")),
        "{v}"
    );
    let (status, v) = s.case("bea", false, cid, "withdraw", None).await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("invalid_case_state")),
        "the goods are on their way"
    );
    assert_eq!(s.case("staff-1", true, cid, "complete", None).await.0, 200);
    let after = s.order("bea", id).await;
    // 2 x 1,550 and the package's freight (single: all 1,000 on the largest).
    assert_eq!(refunded(&after), 3100 + 1000, "{}", after["refunds"]);
    assert_eq!(after["status"], "completed");
    let events: Vec<&str> = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "case_requested",
        "case_approved",
        "case_return_shipped",
        "case_completed",
        "refund_recorded",
    ] {
        assert!(events.contains(&e), "{e} in {events:?}");
    }
    let (status, got) = s.case("bea", false, cid, "", None).await;
    assert_eq!(status, 200);
    assert_eq!(got["history"].as_array().unwrap().len(), 4);
    assert!(got["refund_id"].is_string(), "{got}");
}

#[tokio::test]
async fn exchange_sends_a_new_package_through_the_forward_queue() {
    let s = Stack::spawn(config()).await;
    let (order, own, _, _) = received(&s, "cal").await;
    let id = order["id"].as_str().unwrap();
    let (_, case) = s
        .open_case("cal", id, &body(&own, "exchange", "TEA", 1))
        .await;
    let cid = case["id"].as_str().unwrap();
    assert_eq!(
        s.case(
            "staff-1",
            true,
            cid,
            "review",
            Some(&json!({"decision": "approve", "note": "ok"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        s.case(
            "cal",
            false,
            cid,
            "return-shipment",
            Some(&json!({"carrier": "SF", "tracking_no": "R3"}))
        )
        .await
        .0,
        200
    );
    let (status, done) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(status, 200, "{done}");
    let new_pkg = done["exchange_package_id"].as_str().unwrap().to_owned();
    assert_eq!(s.drain(1).await, 1, "the exchange package is forwarded");
    let after = s.order("cal", id).await;
    let p = after["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == new_pkg.as_str())
        .unwrap();
    assert_eq!(p["status"], "forwarded", "{p}");
    assert_eq!(p["exchange_for"], cid);
    assert_eq!(p["lines"][0]["sku"], "TEA");
    assert_eq!(
        after["status"], "completed",
        "the replacement does not reopen the order"
    );
    assert_eq!(refunded(&after), 0, "an exchange refunds nothing");
    assert_eq!(s.sim.forwards_for(&new_pkg), 1);
}

#[tokio::test]
async fn illegal_openings_are_refused_with_their_codes() {
    let s = Stack::spawn(config()).await;
    let order = forwarded(&s, "dan").await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (own, drop, jd) = mixed_ids(&order);
    // Not received yet.
    let (status, v) = s
        .open_case("dan", &id, &body(&own, "refund_only", "TEA", 1))
        .await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("package_not_received")),
        "{v}"
    );
    // Received now: the window closes AFTER_SALES_DAYS (7) later.
    assert_eq!(s.report("S-1", &drop, "received").await.0, 200);
    let lamp = body(&drop, "refund_only", "LAMP", 1);
    let now = Timestamp::now();
    assert_eq!(
        s.open_case_at("dan", &id, &lamp, now.plus_secs(8 * 86_400))
            .await,
        Err("after_sales_window_closed")
    );
    assert_eq!(s.report("jd", &jd, "received").await.0, 200);
    // More than received.
    let (status, v) = s
        .open_case("dan", &id, &body(&jd, "refund_only", "PHONE", 3))
        .await;
    assert_eq!(
        (status, code(&v)),
        (422, Some("quantity_exceeds_received")),
        "{v}"
    );
    // 0 and 10 pieces of evidence.
    for n in [0usize, 10] {
        let mut b = body(&jd, "refund_only", "PHONE", 1);
        b["evidence"] = json!((0..n)
            .map(|i| format!("https://img.example.com/{i}.jpg"))
            .collect::<Vec<_>>());
        let (status, v) = s.open_case("dan", &id, &b).await;
        assert_eq!(
            (status, code(&v)),
            (400, Some("invalid_evidence")),
            "{n}: {v}"
        );
    }
    // Another user: not found.
    let (status, v) = s
        .open_case("eve", &id, &body(&jd, "refund_only", "PHONE", 1))
        .await;
    assert_eq!((status, code(&v)), (404, Some("order_not_found")));
    // One open case per line.
    let (status, case) = s
        .open_case("dan", &id, &body(&jd, "refund_only", "PHONE", 1))
        .await;
    assert_eq!(status, 201, "{case}");
    let cid = case["id"].as_str().unwrap();
    let (status, v) = s
        .open_case("dan", &id, &body(&jd, "return_refund", "PHONE", 1))
        .await;
    assert_eq!((status, code(&v)), (409, Some("case_already_open")), "{v}");
    // Cross-user on every case route.
    for (step, b) in [
        ("", None),
        ("review", Some(json!({"decision": "approve", "note": "x"}))),
        (
            "return-shipment",
            Some(json!({"carrier": "SF", "tracking_no": "1"})),
        ),
        ("complete", None),
        ("withdraw", None),
    ] {
        let (status, v) = s.case("eve", false, cid, step, b.as_ref()).await;
        assert_eq!(
            (status, code(&v)),
            (404, Some("case_not_found")),
            "{step}: {v}"
        );
    }
    // Withdrawing frees the line.
    let (status, v) = s.case("dan", false, cid, "withdraw", None).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("withdrawn")),
        "{v}"
    );
    assert_eq!(
        s.open_case("dan", &id, &body(&jd, "return_refund", "PHONE", 2))
            .await
            .0,
        201
    );
    // A staff rejection ends a case too.
    let stored = s.order("dan", &id).await;
    let open = stored["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "requested")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = s
        .case(
            "staff-1",
            true,
            &open,
            "review",
            Some(&json!({"decision": "reject", "note": "no proof"})),
        )
        .await;
    assert_eq!((status, v["status"].as_str()), (200, Some("rejected")));
    assert_eq!(v["history"][1]["note"], "no proof");
}

/// Staff approve and, for goods that come back, the owner ships them back.
async fn approve_and_return(s: &Stack, user: &str, cid: &str, kind: &str) {
    let ok = json!({"decision": "approve", "note": "ok"});
    assert_eq!(
        s.case("staff-1", true, cid, "review", Some(&ok)).await.0,
        200
    );
    if kind != "refund_only" {
        let back = json!({"carrier": "SF", "tracking_no": "R9"});
        assert_eq!(
            s.case(user, false, cid, "return-shipment", Some(&back))
                .await
                .0,
            200
        );
    }
}

/// SPEC 2.8 (hole 6): completing an exchange takes stock for its lines; the
/// exchange package carries the paid value of what it replaces, so rejecting
/// it refunds that value; a rejected (refunded) package takes no exchange;
/// short stock is refused and the case is completed as a refund instead.
#[tokio::test]
async fn exchanges_take_stock_carry_value_and_refund_on_rejection() {
    let s = Stack::spawn(config()).await;
    let (order, own, drop, _) = received(&s, "eli").await;
    let id = order["id"].as_str().unwrap();
    let lamp_before = s.t.available("LAMP").await;
    let (status, case) = s
        .open_case("eli", id, &body(&drop, "exchange", "LAMP", 1))
        .await;
    assert_eq!(status, 201, "{case}");
    let cid = case["id"].as_str().unwrap();
    approve_and_return(&s, "eli", cid, "exchange").await;
    let (status, done) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        s.t.available("LAMP").await,
        lamp_before - 1,
        "the replacement's unit is taken"
    );
    let new_pkg = done["exchange_package_id"].as_str().unwrap().to_owned();
    let after = s.order("eli", id).await;
    let p = integration_tests::answers::package(&after, &new_pkg);
    assert_eq!(
        (p["goods_cents"].as_i64(), p["freight_cents"].as_i64()),
        (Some(2100), Some(0))
    );
    assert_eq!(p["lines"][0]["line_total_cents"], 2100);
    // Forwarded, shipped, rejected: its value comes back, its unit does not.
    s.drain(1).await;
    assert_eq!(s.report("S-1", &new_pkg, "shipped").await.0, 200);
    let (status, v) = s.report("S-1", &new_pkg, "rejected").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(true)), "{v}");
    let after = s.order("eli", id).await;
    assert_eq!(refunded(&after), 2100, "{}", after["refunds"]);
    assert_eq!(
        s.t.available("LAMP").await,
        lamp_before - 1,
        "rejected goods are not restocked"
    );
    // The rejected replacement was refunded: no exchange of it.
    let (status, v) = s
        .open_case("eli", id, &body(&new_pkg, "exchange", "LAMP", 1))
        .await;
    assert_eq!(
        (status, code(&v)),
        (409, Some("exchange_of_refunded_package")),
        "{v}"
    );
    // Out of stock for an exchange: refused, then completed as a refund.
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 1300, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 0})).await;
    let (_, case) = s
        .open_case("eli", id, &body(&own, "exchange", "TEA", 1))
        .await;
    let cid = case["id"].as_str().unwrap();
    approve_and_return(&s, "eli", cid, "exchange").await;
    let (status, v) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!((status, code(&v)), (409, Some("out_of_stock")), "{v}");
    let as_refund = json!({"as": "refund", "note": "no tea left"});
    let (status, v) = s
        .case("staff-1", true, cid, "complete", Some(&as_refund))
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("completed")),
        "{v}"
    );
    assert!(v["exchange_package_id"].is_null(), "{v}");
    assert_eq!(refunded(&s.order("eli", id).await), 2100 + 1300);
    assert_eq!(s.t.available("TEA").await, 0);
}

/// SPEC 2.8 (hole 6): an exchange package is open to after-sales like any
/// received package; its refund is the value it carries.
#[tokio::test]
async fn an_exchange_package_is_open_to_after_sales() {
    let s = Stack::spawn(config()).await;
    let (order, _, drop, _) = received(&s, "fay").await;
    let id = order["id"].as_str().unwrap();
    let (_, case) = s
        .open_case("fay", id, &body(&drop, "exchange", "LAMP", 1))
        .await;
    let cid = case["id"].as_str().unwrap();
    approve_and_return(&s, "fay", cid, "exchange").await;
    let (_, done) = s.case("staff-1", true, cid, "complete", None).await;
    let new_pkg = done["exchange_package_id"].as_str().unwrap().to_owned();
    s.drain(1).await;
    assert_eq!(s.report("S-1", &new_pkg, "received").await.0, 200);
    let (status, case) = s
        .open_case("fay", id, &body(&new_pkg, "refund_only", "LAMP", 1))
        .await;
    assert_eq!(status, 201, "{case}");
    let cid = case["id"].as_str().unwrap();
    approve_and_return(&s, "fay", cid, "refund_only").await;
    let (status, v) = s.case("staff-1", true, cid, "complete", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(refunded(&s.order("fay", id).await), 2100);
}

/// SPEC 2.8 proof: a presigned PUT under the owner's own prefix (moto's
/// S3), a case citing only its owner's keys, and staff reading the proof
/// through a presigned GET.
#[tokio::test]
async fn proof_goes_up_under_the_owners_prefix_and_staff_read_it_back() {
    let s = Stack::spawn(config()).await;
    let upload = |user: &str, body: Value| {
        let mut e = Event::new("POST", "/after-sales/uploads", "/after-sales/uploads").json(&body);
        if !user.is_empty() {
            e = e.user(user);
        }
        let req = e.build();
        let a = &s.after_sales;
        async move { integration_tests::decode(after_sales::handle(a, req).await) }
    };
    let proof: Vec<u8> = (0..2048u32).map(|i| (i * 7 % 251) as u8).collect();
    let len = proof.len().to_string();
    let before = domain::time::Timestamp::now();
    let (status, up) = upload(
        "ivy",
        json!({"content_type": "image/png", "bytes": proof.len()}),
    )
    .await;
    assert_eq!(status, 200, "{up}");
    let key = up["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("uploads/ivy/") && key.ends_with(".png"),
        "{key}"
    );
    let expires = domain::time::Timestamp::parse(up["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expires >= before.plus_secs(900)
            && expires <= domain::time::Timestamp::now().plus_secs(900)
    );
    let url = up["upload_url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Signature=")
            && url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    let (status, body) = integration_tests::http_send(
        "PUT",
        url,
        &[("content-type", "image/png"), ("content-length", &len)],
        proof.clone(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    for (user, bad, want) in [
        (
            "ivy",
            json!({"content_type": "text/html", "bytes": 10}),
            400,
        ),
        (
            "ivy",
            json!({"content_type": "image/png", "bytes": 10_485_761}),
            400,
        ),
        ("ivy", json!({"content_type": "image/png", "bytes": 0}), 400),
        ("", json!({"content_type": "image/png", "bytes": 10}), 401),
    ] {
        assert_eq!(upload(user, bad.clone()).await.0, want, "{user} {bad}");
    }
    // Another user's key is not proof of this case.
    let (_, theirs) = upload("max", json!({"content_type": "image/jpeg", "bytes": 10})).await;
    let (order, own, _, _) = received(&s, "ivy").await;
    let id = order["id"].as_str().unwrap();
    let with = |evidence: Value| {
        json!({"package_id": own, "kind": "refund_only", "lines": [{"sku": "TEA", "qty": 1}],
               "reason": "cracked", "evidence": evidence})
    };
    let (status, v) = s.open_case("ivy", id, &with(json!([theirs["key"]]))).await;
    assert_eq!((status, code(&v)), (400, Some("invalid_evidence")), "{v}");
    let (status, v) = s
        .open_case("ivy", id, &with(json!(["uploads/ivy2/x.png"])))
        .await;
    assert_eq!(
        (status, code(&v)),
        (400, Some("invalid_evidence")),
        "a prefix of the prefix: {v}"
    );
    let (status, case) = s
        .open_case(
            "ivy",
            id,
            &with(json!([key, "https://img.example.com/1.jpg"])),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(
        case["evidence"],
        json!([key, "https://img.example.com/1.jpg"]),
        "the owner sees its keys"
    );
    let cid = case["id"].as_str().unwrap();
    let (status, staff) = s.case("staff-1", true, cid, "", None).await;
    assert_eq!(status, 200, "{staff}");
    let shown = staff["evidence"][0].as_str().unwrap();
    assert!(
        shown.starts_with("http") && shown.contains(&key) && shown.contains("X-Amz-Signature="),
        "{shown}"
    );
    assert_eq!(
        staff["evidence"][1], "https://img.example.com/1.jpg",
        "URLs stay as they are"
    );
    let (status, got) = integration_tests::http_send("GET", shown, &[], Vec::new()).await;
    assert_eq!(
        (status, got),
        (200, proof),
        "staff download what was uploaded"
    );
}
