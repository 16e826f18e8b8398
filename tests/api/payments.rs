//! SPEC 2.3: signed, idempotent payment notifications.

use domain::config::Config;
use futures::future::join_all;
use integration_tests::stack::Stack;
use serde_json::{json, Value};

fn no_window() -> Config {
    Config {
        intercept_window_secs: 0,
        ..Config::default()
    }
}

async fn catalog(s: &Stack) {
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 100, "per_user_limit": 5})).await;
    s.t.put_sku("MUG", json!({"name": "Mug", "price_cents": 2500, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "deduct_on_pay", "available": 50})).await;
    s.t.put_sku("CABLE", json!({"name": "Cable", "price_cents": 1900, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay", "available": 1})).await;
}

fn payment_events(order: &Value) -> usize {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "paid")
        .count()
}

#[tokio::test]
async fn paying_moves_the_order_on_and_queues_each_package() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s
        .placed(
            "ann",
            json!([{"sku": "TEA", "qty": 2}, {"sku": "MUG", "qty": 3}]),
        )
        .await;
    let (status, paid) = s.pay_order(&order, "pay-1").await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "awaiting_shipment");
    let id = order["id"].as_str().unwrap();
    assert_eq!(
        s.stored(id).await.received_cents().0 as i64,
        order["total_cents"].as_i64().unwrap()
    );
    for internal in ["outbox", "version", "received_cents", "payment", "address"] {
        assert!(
            paid.get(internal).is_none(),
            "{internal} shown to the provider"
        );
    }
    assert_eq!(
        s.t.available("MUG").await,
        47,
        "deduct_on_pay taken at payment"
    );
    assert_eq!(
        s.t.available("TEA").await,
        98,
        "lock_on_place untouched by payment"
    );
    // One forward message per package, consumed by the forward function.
    let handled = s.drain(1).await;
    assert_eq!(handled, 2);
    let after = s.order("ann", order["id"].as_str().unwrap()).await;
    for p in after["packages"].as_array().unwrap() {
        assert_eq!(p["status"], "forwarded", "{p}");
        assert!(p["supplier_ref"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert!(
        s.stored(id).await.outbox().is_empty(),
        "published and cleared"
    );
    let version = s.stored(id).await.version();
    // The same notification again: 200, nothing changes, nothing more is queued.
    let (status, again) = s.pay_order(&order, "pay-1").await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], after["status"]);
    assert_eq!(s.stored(id).await.version(), version);
    assert_eq!(s.depth("ForwardQueue").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_concurrent_deliveries_make_one_transition() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s
        .placed(
            "bea",
            json!([{"sku": "TEA", "qty": 1}, {"sku": "MUG", "qty": 1}]),
        )
        .await;
    let answers = join_all((0..5).map(|_| s.pay_order(&order, "pay-same"))).await;
    for (status, v) in &answers {
        assert_eq!(*status, 200, "{v}");
        assert_eq!(v["status"], "awaiting_shipment");
    }
    let stored = s.order("bea", order["id"].as_str().unwrap()).await;
    assert_eq!(payment_events(&stored), 1);
    assert_eq!(s.t.available("MUG").await, 49, "deducted once");
    // Forward messages: one set (a set may be re-sent, never a second transition).
    let mut bodies = Vec::new();
    loop {
        let out = s
            .sqs
            .receive_message()
            .queue_url(&s.queues["ForwardQueue"])
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            bodies.push(m.body().unwrap().to_owned());
            s.sqs
                .delete_message()
                .queue_url(&s.queues["ForwardQueue"])
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(bodies.len(), 2, "{bodies:?}");
}

#[tokio::test]
async fn bad_notifications_change_nothing() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s.placed("cat", json!([{"sku": "MUG", "qty": 1}])).await;
    let good = json!({"order_id": order["id"], "payment_id": "p-1", "amount_cents": order["total_cents"], "paid_at": integration_tests::now()}).to_string();
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("forged signature", good.clone(), Some(domain::payment::signature::sign(b"wrong-secret", good.as_bytes())), 401, "invalid_signature"),
        ("missing signature", good.clone(), None, 401, "invalid_signature"),
        ("garbage signature", good.clone(), Some("not-hex".into()), 401, "invalid_signature"),
        ("wrong amount", json!({"order_id": order["id"], "payment_id": "p-2", "amount_cents": 1, "paid_at": integration_tests::now()}).to_string(), None, 409, "amount_mismatch"),
        ("unknown order", json!({"order_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "payment_id": "p-3", "amount_cents": 100, "paid_at": integration_tests::now()}).to_string(), None, 404, "order_not_found"),
        ("malformed json", "{\"order_id\":".to_owned(), None, 400, "invalid_json"),
        ("missing fields", json!({"order_id": order["id"]}).to_string(), None, 400, "invalid_request"),
        ("negative amount", json!({"order_id": order["id"], "payment_id": "p-4", "amount_cents": -5, "paid_at": integration_tests::now()}).to_string(), None, 400, "invalid_request"),
        ("bad time", json!({"order_id": order["id"], "payment_id": "p-5", "amount_cents": 5, "paid_at": "yesterday"}).to_string(), None, 400, "invalid_request"),
    ];
    for (name, body, sig, want_status, want_code) in cases {
        let sig = match (name, sig) {
            ("missing signature", _) => None,
            (_, Some(s)) => Some(s),
            (_, None) => Some(domain::payment::signature::sign(
                integration_tests::stack::PAYMENT_SECRET.as_bytes(),
                body.as_bytes(),
            )),
        };
        let (status, v) = s.notify_raw(&body, sig.as_deref()).await;
        assert_eq!(
            (status, v["error"]["code"].as_str().unwrap_or_default()),
            (want_status, want_code),
            "{name}: {v}"
        );
    }
    let stored = s.order("cat", order["id"].as_str().unwrap()).await;
    assert_eq!(stored, order, "order unchanged");
    assert_eq!(s.t.available("MUG").await, 50);
    assert_eq!(s.t.count_entities("payment").await, 0);
    assert_eq!(s.depth("ForwardQueue").await, 0);
}

#[tokio::test]
async fn short_deduct_on_pay_stock_closes_and_refunds() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s
        .placed(
            "dee",
            json!([{"sku": "TEA", "qty": 2}, {"sku": "CABLE", "qty": 2}]),
        )
        .await;
    assert_eq!(s.t.available("TEA").await, 98);
    let (status, v) = s.pay_order(&order, "pay-short").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "out_of_stock");
    assert_eq!(
        v["error"]["details"]["skus"],
        json!([{"sku": "CABLE", "requested": 2, "available": 1}])
    );
    let stored = s.order("dee", order["id"].as_str().unwrap()).await;
    assert_eq!(stored["status"], "closed");
    assert_eq!(stored["close_reason"], "out_of_stock");
    assert_eq!(stored["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(stored["refunds"][0]["amount_cents"], order["total_cents"]);
    assert_eq!(stored["refunds"][0]["status"], "pending");
    assert_eq!(s.t.available("TEA").await, 100, "reservation released");
    assert_eq!(s.t.available("CABLE").await, 1);
    let refunds = s.peek("RefundQueue").await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount_cents"], order["total_cents"]);
    // The limit count came back too: the user can buy the full limit again.
    let (status, _) =
        s.t.place("dee", json!([{"sku": "TEA", "qty": 5}]), None)
            .await;
    assert_eq!(status, 201);
    // A redelivery answers the same way and changes nothing.
    let (status, again) = s.pay_order(&order, "pay-short").await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("out_of_stock"))
    );
    assert_eq!(
        again["error"]["details"], v["error"]["details"],
        "replayed exactly"
    );
    let text = v.to_string();
    assert!(
        !text.contains("13800000000") && !text.contains("Demo Road"),
        "the provider never sees the address: {text}"
    );
    assert_eq!(s.order("dee", order["id"].as_str().unwrap()).await, stored);
}

#[tokio::test]
async fn paying_a_cancelled_order_refunds_and_refunds_never_exceed_payments() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s.placed("eve", json!([{"sku": "TEA", "qty": 1}])).await;
    let id = order["id"].as_str().unwrap();
    let (status, _) = s.cancel_order("eve", id).await;
    assert_eq!(status, 200);
    let (status, v) = s.pay_order(&order, "late-1").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("order_closed"))
    );
    let (status, _) = s.pay_order(&order, "late-2").await;
    assert_eq!(status, 409);
    let (status, _) = s.pay_order(&order, "late-1").await;
    assert_eq!(status, 409, "a replay answers as the first time");
    let stored = s.order("eve", id).await;
    assert_eq!(stored["status"], "cancelled");
    let refunded: i64 = stored["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(refunded, 2 * order["total_cents"].as_i64().unwrap());
    assert_eq!(s.stored(id).await.received_cents().0 as i64, refunded);
    assert_eq!(s.peek("RefundQueue").await.len(), 2);
}

#[tokio::test]
async fn a_second_payment_of_a_paid_order_is_refunded() {
    let s = Stack::spawn(no_window()).await;
    catalog(&s).await;
    let order = s.placed("fay", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(s.pay_order(&order, "first").await.0, 200);
    let (status, v) = s.pay_order(&order, "second").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("already_paid"))
    );
    let stored = s.order("fay", order["id"].as_str().unwrap()).await;
    assert_eq!(stored["status"], "awaiting_shipment");
    assert_eq!(stored["refunds"][0]["amount_cents"], order["total_cents"]);
    assert_eq!(stored["refunds"][0]["reason"], "duplicate_payment");
    // SPEC 2.12: refunded against the second payment, the first one kept;
    // the refund's message names it too, for the channel that pays it back.
    assert_eq!(stored["refunds"][0]["payment_id"], "second", "{stored}");
    let messages = s.peek("RefundQueue").await;
    assert!(
        messages
            .iter()
            .any(|m| m.to_string().contains("\"payment_id\":\"second\"")),
        "{messages:?}"
    );
    // A later refund (the owner cancels: intercepted or not, money back)
    // returns the kept payment.
    let (status, v) = s.cancel_order("fay", order["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    let stored = s.order("fay", order["id"].as_str().unwrap()).await;
    let against: Vec<(&str, &str)> = stored["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap(),
                r["payment_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        against,
        [("duplicate_payment", "second"), ("cancelled", "first")],
        "{stored}"
    );
}

/// A repeated notification (same payment id) is answered from one read of
/// the order, which records how each of its payments ended: no failed
/// transaction, no read of the payment record, the same answer.
#[tokio::test]
async fn a_repeated_notification_costs_one_read() {
    use integration_tests::throttle::WriteLimit;
    let counted = WriteLimit::unlimited();
    let s = Stack::spawn_on(
        integration_tests::dynamo_client_limited(&counted),
        Config::default(),
    )
    .await;
    s.t.sku("TEA", 1300, "lock_on_place", 10, None).await;
    let order = s.placed("rae", json!([{"sku": "TEA", "qty": 1}])).await;
    let (status, first) = s.pay_order(&order, "pay-rae").await;
    assert_eq!(status, 200, "{first}");
    counted.take_calls();
    let (status, again) = s.pay_order(&order, "pay-rae").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["status"], "awaiting_shipment");
    let calls = counted.take_calls();
    assert_eq!(calls.get("GetItem"), Some(&1), "{calls:?}");
    assert_eq!(calls.len(), 1, "nothing but one read: {calls:?}");
    // The same for a payment that was refunded (a second payment of the order).
    let (status, v) = s.pay_order(&order, "pay-rae-2").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("already_paid")),
        "{v}"
    );
    counted.take_calls();
    let (status, v) = s.pay_order(&order, "pay-rae-2").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("already_paid")),
        "{v}"
    );
    let calls = counted.take_calls();
    assert_eq!(
        (calls.get("GetItem"), calls.len()),
        (Some(&1), 1),
        "{calls:?}"
    );
    assert_eq!(refunded_count(&s, &order).await, 1, "refunded once");
}

async fn refunded_count(s: &Stack, order: &Value) -> usize {
    s.order("rae", order["id"].as_str().unwrap()).await["refunds"]
        .as_array()
        .unwrap()
        .len()
}
