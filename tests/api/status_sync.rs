//! SPEC 2.5: package status from suppliers, staff and owners; the derived
//! order status; rejection refunds; automatic receipt.

use domain::config::Config;
use domain::config::FreightPolicy;
use domain::time::Timestamp;
use integration_tests::answers::{mixed_ids, package, package_of, refunded};
use integration_tests::stack::Stack;
use serde_json::{json, Value};

/// Own warehouse, a dropship supplier and JD, goods 6,500 (freight 1,000 is
/// charged): apportioned freight is 200 / 323 / 477.
async fn catalog(s: &Stack) {
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 1300, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 2100, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "deduct_on_pay", "available": 10})).await;
    s.t.put_sku("PHONE", json!({"name": "Phone", "price_cents": 1550, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": 10, "per_user_limit": 2})).await;
}

fn config(policy: FreightPolicy) -> Config {
    Config {
        intercept_window_secs: 0,
        freight_policy: policy,
        ..Config::default()
    }
}

/// A paid mixed order whose three packages are with their suppliers.
pub async fn forwarded(s: &Stack, user: &str) -> Value {
    catalog(s).await;
    let order = s
        .placed(
            user,
            json!([{"sku": "TEA", "qty": 1}, {"sku": "LAMP", "qty": 1}, {"sku": "PHONE", "qty": 2}]),
        )
        .await;
    assert_eq!(s.pay_order(&order, &format!("pay-{user}")).await.0, 200);
    assert_eq!(s.drain(1).await, 3);
    s.order(user, order["id"].as_str().unwrap()).await
}

async fn ship_all(s: &Stack, order: &Value) {
    let (own, drop, jd) = mixed_ids(order);
    assert_eq!(s.ship(&own, "SF", "SF100").await.0, 200);
    assert_eq!(s.report("S-1", &drop, "shipped").await.0, 200);
    let (status, v) = s.report("jd", &jd, "awaiting_receipt").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["package_status"], "shipped",
        "JD's awaiting receipt is shipped"
    );
    assert_eq!(v["order_status"], "shipped");
}

async fn reject_one_receive_others(policy: FreightPolicy, reject: usize, expect_refund: i64) {
    let s = Stack::spawn(config(policy)).await;
    let order = forwarded(&s, "ana").await;
    let id = order["id"].as_str().unwrap();
    let (own, drop, jd) = mixed_ids(&order);
    // Our warehouse has no callback to reject with: only suppliers reject.
    assert!(reject > 0);
    let packages = [own, drop, jd];
    ship_all(&s, &order).await;
    let reject_id = &packages[reject];
    let supplier = if reject == 2 { "jd" } else { "S-1" };
    assert_eq!(s.report(supplier, reject_id, "rejected").await.0, 200);
    let mid = s.order("ana", id).await;
    assert_eq!(mid["status"], "shipped", "{mid}");
    for (i, p) in packages.iter().enumerate() {
        if i == reject {
            continue;
        }
        let (status, v) = if i == 0 {
            s.confirm_receipt("ana", p).await
        } else {
            s.report(if i == 2 { "jd" } else { "S-1" }, p, "received")
                .await
        };
        assert_eq!(status, 200, "{v}");
    }
    let done = s.order("ana", id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(refunded(&done), expect_refund, "{}", done["refunds"]);
    let rejected = package(&done, reject_id);
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["shipped_at"].is_string() && rejected["rejected_at"].is_string());
    let refunds = s.peek("RefundQueue").await;
    let sent: i64 = refunds
        .iter()
        .filter(|m| m["type"] == "refund")
        .map(|m| m["amount_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(sent, expect_refund, "the refund went to the refund queue");
}

#[tokio::test]
async fn apportioned_reject_refunds_goods_and_its_freight_share() {
    // LAMP 2,100 + its apportioned freight 323.
    reject_one_receive_others(FreightPolicy::Apportioned, 1, 2100 + 323).await;
}

#[tokio::test]
async fn single_reject_of_a_package_without_freight_refunds_goods_only() {
    reject_one_receive_others(FreightPolicy::Single, 1, 2100).await;
}

#[tokio::test]
async fn single_reject_of_the_freight_package_refunds_the_whole_freight() {
    // PHONE x2 = 3,100 is the largest package: it carries all 1,000 freight.
    reject_one_receive_others(FreightPolicy::Single, 2, 3100 + 1000).await;
}

#[tokio::test]
async fn all_rejected_closes_the_order_and_gives_the_limit_back() {
    let s = Stack::spawn(config(FreightPolicy::Apportioned)).await;
    catalog(&s).await;
    let order = s
        .placed(
            "bo",
            json!([{"sku": "LAMP", "qty": 1}, {"sku": "PHONE", "qty": 2}]),
        )
        .await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.pay_order(&order, "pay-bo").await.0, 200);
    assert_eq!(s.drain(1).await, 2);
    let (status, v) = place_phone(&s, "bo").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("purchase_limit")),
        "the paid order holds the limit: {v}"
    );
    let (drop, jd) = (package_of(&order, "dropship"), package_of(&order, "jd"));
    assert_eq!(s.report("S-1", &drop, "shipped").await.0, 200);
    assert_eq!(s.report("S-1", &drop, "rejected").await.0, 200);
    assert_eq!(s.order("bo", id).await["status"], "partially_shipped");
    assert_eq!(s.report("jd", &jd, "rejected").await.0, 200);
    let closed = s.order("bo", id).await;
    assert_eq!(closed["status"], "closed", "{closed}");
    assert_eq!(refunded(&closed), closed["total_cents"].as_i64().unwrap());
    assert_eq!(
        s.t.available("PHONE").await,
        8,
        "rejected goods are not restocked"
    );
    let (status, v) = place_phone(&s, "bo").await;
    assert_eq!(
        status, 201,
        "the limit came back when the order closed: {v}"
    );
}

async fn place_phone(s: &Stack, user: &str) -> (u16, Value) {
    s.t.place(user, json!([{"sku": "PHONE", "qty": 2}]), None)
        .await
}

#[tokio::test]
async fn out_of_order_duplicate_and_stale_callbacks_change_nothing_twice() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "cy").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, jd) = mixed_ids(&order);
    // Received before shipped: both steps recorded.
    let (status, v) = s.report("jd", &jd, "received").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(true)), "{v}");
    let after = s.order("cy", id).await;
    let p = package(&after, &jd);
    assert_eq!(p["status"], "received");
    assert!(p["shipped_at"].is_string() && p["received_at"].is_string());
    // Late "shipped": acknowledged, ignored.
    let (status, v) = s.report("jd", &jd, "shipped").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(false)));
    assert_eq!(v["package_status"], "received");
    // Rejected twice, then shipped after rejected: one refund.
    for _ in 0..2 {
        assert_eq!(s.report("S-1", &drop, "rejected").await.0, 200);
    }
    let (status, v) = s.report("S-1", &drop, "shipped").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(false)));
    let stored = s.order("cy", id).await;
    assert_eq!(refunded(&stored), 2100, "{}", stored["refunds"]);
    assert_eq!(
        stored["status"], "partially_shipped",
        "our parcel is not out"
    );
    let version = s.stored(id).await.version();
    // Intercept answers without an intercept pending: nothing.
    let (status, v) = s.report("jd", &jd, "intercepted").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(false)));
    assert_eq!(s.stored(id).await.version(), version);
}

#[tokio::test]
async fn forged_wrong_supplier_and_self_operated_callbacks_are_refused() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "di").await;
    let id = order["id"].as_str().unwrap();
    let (own, drop, jd) = mixed_ids(&order);
    let version = s.stored(id).await.version();
    let body = json!({"package_id": drop, "status": "shipped", "at": integration_tests::now()})
        .to_string();
    let (status, v) = s.supplier_raw("S-1", &body, None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let forged = domain::payment::signature::sign(b"not-the-secret", body.as_bytes());
    assert_eq!(s.supplier_raw("S-1", &body, Some(&forged)).await.0, 401);
    let (status, v) = s.report("S-2", &drop, "shipped").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("wrong_supplier"))
    );
    assert_eq!(s.report("S-1", &jd, "shipped").await.0, 403, "a JD package");
    assert_eq!(
        s.report("jd", &own, "shipped").await.0,
        403,
        "self-operated"
    );
    let unknown = format!("{}-P09", id);
    assert_eq!(s.report("S-1", &unknown, "shipped").await.0, 404);
    let (status, v) = s
        .supplier("S-1", &json!({"package_id": drop, "status": "lost"}))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(s.stored(id).await.version(), version, "nothing changed");
    // Staff ship only self-operated packages; others may not ship at all.
    let (status, v) = s.ship(&drop, "SF", "SF1").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("not_self_operated"))
    );
    let (status, v) = s
        .ship_as("di", &own, &json!({"carrier": "SF", "tracking_no": "1"}))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // Receipt of a package that has not shipped.
    let (status, v) = s.confirm_receipt("di", &own).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("package_not_shipped"))
    );
    // Another user: not found, on every package route.
    let (status, _) = s.confirm_receipt("eve", &own).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_order_answer_lists_what_the_caller_may_do() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "fay").await;
    let id = order["id"].as_str().unwrap();
    let (own, _, _) = mixed_ids(&order);
    let actions = |o: &Value| -> Vec<String> {
        o["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a["package_id"].as_str() {
                Some(p) => format!("{}:{}", a["action"].as_str().unwrap(), p),
                None => a["action"].as_str().unwrap().to_owned(),
            })
            .collect()
    };
    assert_eq!(actions(&order), ["cancel", "repurchase"]);
    let (_, shipped) = s.ship(&own, "SF", "SF9").await;
    assert_eq!(
        actions(&s.order("fay", id).await),
        [format!("confirm_receipt:{own}"), "repurchase".into()]
    );
    assert_eq!(package(&shipped, &own)["tracking_no"], "SF9");
    assert_eq!(package(&shipped, &own)["carrier"], "SF");
    assert_eq!(s.confirm_receipt("fay", &own).await.0, 200);
    assert_eq!(
        actions(&s.order("fay", id).await),
        [format!("after_sales:{own}"), "repurchase".into()]
    );
    let last = s.order("fay", id).await;
    let timeline: Vec<&str> = last["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(timeline.first(), Some(&"placed"));
    assert!(
        timeline.ends_with(&["package_shipped", "package_received"]),
        "{timeline:?}"
    );
}

#[tokio::test]
async fn receipt_is_confirmed_automatically_except_for_jd() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "gus").await;
    let id = order["id"].as_str().unwrap();
    let (own, drop, jd) = mixed_ids(&order);
    ship_all(&s, &order).await;
    let now = Timestamp::now();
    let early = s.sweep_at(now.plus_secs(9 * 86_400)).await;
    assert_eq!(early.confirmed, 0, "{early:?}");
    let summary = s.sweep_at(now.plus_secs(11 * 86_400)).await;
    assert_eq!(summary.confirmed, 2, "{summary:?}");
    let stored = s.order("gus", id).await;
    assert_eq!(package(&stored, &own)["status"], "received");
    assert_eq!(package(&stored, &drop)["status"], "received");
    assert_eq!(
        package(&stored, &jd)["status"],
        "shipped",
        "JD reports its own receipt"
    );
    assert_eq!(stored["status"], "shipped");
    let again = s.sweep_at(now.plus_secs(12 * 86_400)).await;
    assert_eq!(again.confirmed, 0, "nothing left due: {again:?}");
    assert_eq!(s.report("jd", &jd, "received").await.0, 200);
    assert_eq!(s.order("gus", id).await["status"], "completed");
}

/// SPEC 2.5 (hole 9): a supplier's `at` is taken between the package's
/// previous event and now. A shipment "a month ago" is not confirmed by the
/// next sweep, a receipt "a month ago" does not close the after-sales window,
/// and a future time is now.
#[tokio::test]
async fn a_suppliers_event_time_is_clamped_between_the_previous_event_and_now() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "ivy").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, jd) = mixed_ids(&order);
    let before = Timestamp::now();
    let month_ago = Timestamp::from_unix_millis(before.unix_millis() - 30 * 86_400_000);
    let shipped = json!({"package_id": drop, "status": "shipped", "at": month_ago});
    assert_eq!(s.supplier("S-1", &shipped).await.0, 200);
    let stored = s.order("ivy", id).await;
    let forwarded_at = stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["event"] == "package_forwarded" && t["package_id"] == drop.as_str())
        .map(|t| Timestamp::parse(t["at"].as_str().unwrap()).unwrap())
        .next_back()
        .expect("the package was forwarded");
    let shipped_at =
        Timestamp::parse(package(&stored, &drop)["shipped_at"].as_str().unwrap()).unwrap();
    assert!(
        shipped_at >= forwarded_at,
        "{shipped_at} before the hand-over at {forwarded_at}"
    );
    let day_later = s.sweep_at(Timestamp::now().plus_secs(86_400)).await;
    assert_eq!(
        day_later.confirmed, 0,
        "confirmed a day after shipping: {day_later:?}"
    );
    // Received "a month ago": the after-sales window is open.
    let received = json!({"package_id": drop, "status": "received", "at": month_ago});
    assert_eq!(s.supplier("S-1", &received).await.0, 200);
    let case = json!({"package_id": drop, "kind": "refund_only", "lines": [{"sku": "LAMP", "qty": 1}],
                      "reason": "broken", "evidence": ["https://example.com/p.jpg"]});
    let (status, v) = s.open_case("ivy", id, &case).await;
    assert_eq!(status, 201, "{v}");
    // A time in the future is now.
    let future = Timestamp::now().plus_secs(30 * 86_400);
    let jd_shipped = json!({"package_id": jd, "status": "shipped", "at": future});
    assert_eq!(s.supplier("jd", &jd_shipped).await.0, 200);
    let after = Timestamp::now();
    let stored = s.order("ivy", id).await;
    let jd_at = Timestamp::parse(package(&stored, &jd)["shipped_at"].as_str().unwrap()).unwrap();
    assert!(jd_at <= after, "{jd_at} is in the future");
}

/// SPEC 2.5 (hole 8): an event that can no longer apply changes no state and
/// no money, but stays on the timeline and goes on the attention list, once
/// however often it is repeated.
#[tokio::test]
async fn late_events_are_kept_for_staff_and_change_no_money() {
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    catalog(&s).await;
    // Cancelled in the intercept window, refunded, then reported shipped.
    let order = s.placed("jon", json!([{"sku": "LAMP", "qty": 1}])).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.pay_order(&order, "pay-jon").await.0, 200);
    assert_eq!(s.cancel_order("jon", id).await.0, 200);
    let drop = package_of(&order, "dropship");
    for _ in 0..2 {
        let (status, v) = s.report("S-1", &drop, "shipped").await;
        assert_eq!((status, v["applied"].as_bool()), (200, Some(false)), "{v}");
    }
    let staff = s.order_as_staff(id).await;
    assert_eq!(staff["status"], "cancelled");
    assert_eq!(package(&staff, &drop)["status"], "cancelled");
    assert_eq!(refunded(&staff), order["total_cents"].as_i64().unwrap());
    let items = staff["attention"].as_array().unwrap();
    assert_eq!(items.len(), 1, "once: {staff}");
    assert_eq!(items[0]["kind"], "late_event");
    assert_eq!(items[0]["package_id"], drop.as_str());
    assert_eq!(items[0]["actions"], json!(["acknowledge"]));
    let late = staff["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["event"] == "late_event")
        .count();
    assert_eq!(late, 1);
    // A rejection after the receipt was confirmed automatically.
    s.drain(1).await; // the cancelled order's forward message, dropped
    let order = forwarded(&s, "kim").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, _) = mixed_ids(&order);
    assert_eq!(s.report("S-1", &drop, "shipped").await.0, 200);
    let swept = s.sweep_at(Timestamp::now().plus_secs(11 * 86_400)).await;
    assert!(swept.confirmed >= 1, "{swept:?}");
    let before = refunded(&s.order("kim", id).await);
    let (status, v) = s.report("S-1", &drop, "rejected").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(false)), "{v}");
    let staff = s.order_as_staff(id).await;
    assert_eq!(package(&staff, &drop)["status"], "received");
    assert_eq!(refunded(&staff), before, "no money moves");
    assert_eq!(staff["attention"][0]["kind"], "late_event", "{staff}");
    // An ordinary stale event (shipped after received) raises nothing.
    assert_eq!(s.report("S-1", &drop, "shipped").await.0, 200);
    assert_eq!(
        s.order_as_staff(id).await["attention"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// SPEC 2.5 (hole 4): each supplier signs with its own secret; one supplier's
/// valid signature does not move another supplier's package, and a supplier
/// without a secret is refused.
#[tokio::test]
async fn one_supplier_cannot_sign_for_another() {
    use integration_tests::stack::supplier_secret;
    let s = Stack::spawn(config(FreightPolicy::Single)).await;
    let order = forwarded(&s, "lea").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, _) = mixed_ids(&order);
    let version = s.stored(id).await.version();
    let body = json!({"package_id": drop, "status": "rejected", "at": integration_tests::now()})
        .to_string();
    // S-2's own key, on S-1's path (S-1 supplies the package).
    let by_s2 =
        domain::payment::signature::sign(supplier_secret("S-2").as_bytes(), body.as_bytes());
    let (status, v) = s.supplier_raw("S-1", &body, Some(&by_s2)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_signature")),
        "{v}"
    );
    // A supplier nobody gave a secret.
    let by_s10 =
        domain::payment::signature::sign(supplier_secret("S-10").as_bytes(), body.as_bytes());
    assert_eq!(s.supplier_raw("S-10", &body, Some(&by_s10)).await.0, 401);
    assert_eq!(s.stored(id).await.version(), version, "nothing changed");
    // S-1's own key moves it.
    let (status, v) = s.report("S-1", &drop, "rejected").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(true)), "{v}");
}
