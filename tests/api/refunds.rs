//! SPEC 2.12: refunds executed through the payment's channel (the gateway,
//! played by the simulator), on the real queue and table: each provider
//! answer, notifications (twice, forged), late notifications found by the
//! sweep's query, duplicated messages, a crash after the provider acted,
//! failures on the attention list with staff's retry and offline record,
//! and a second payment refunded against itself.

use domain::config::Config;
use integration_tests::answers::{count_events, package_with_sku, refund};
use integration_tests::stack::{Stack, PAYMENT_SECRET};
use integration_tests::Event;
use serde_json::json;
use supplier_sim::RefundMode;

const LAMP_CENTS: i64 = 2500;
const FREIGHT: i64 = 1000;

async fn stack(cfg: Config) -> Stack {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..cfg
    })
    .await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": LAMP_CENTS, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 100}))
        .await;
    s
}

/// A paid, forwarded order of one lamp whose parcel the supplier rejected:
/// its goods and freight are refunded (recorded, not sent yet).
async fn rejected(s: &Stack, user: &str, payment: &str) -> (String, String) {
    let order = s.placed(user, json!([{"sku": "LAMP", "qty": 1}])).await;
    assert_eq!(
        order["total_cents"].as_i64(),
        Some(LAMP_CENTS + FREIGHT),
        "{order}"
    );
    assert_eq!(s.pay_order(&order, payment).await.0, 200);
    s.drain(1).await;
    let package = package_with_sku(&order, "LAMP");
    assert_eq!(s.report("S-1", &package, "rejected").await.0, 200);
    let id = order["id"].as_str().unwrap().to_owned();
    (id.clone(), format!("{id}-R01"))
}

#[tokio::test]
async fn a_rejected_parcel_is_paid_back_through_the_gateway_once() {
    let s = stack(Config::default()).await;
    let (id, rid) = rejected(&s, "ann", "pay-r1").await;
    let before = s.order("ann", &id).await;
    let r = refund(&before, &rid);
    assert_eq!(r["status"], "pending");
    assert_eq!(r["payment_id"], "pay-r1");
    assert_eq!(r["channel"], "gateway");
    assert_eq!(r["amount_cents"].as_i64(), Some(LAMP_CENTS + FREIGHT));
    // The message, and the same message delivered twice more.
    let bodies = s.peek("RefundQueue").await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    for _ in 0..2 {
        s.sqs
            .send_message()
            .queue_url(&s.queues["RefundQueue"])
            .message_body(bodies[0].to_string())
            .send()
            .await
            .expect("send");
    }
    assert_eq!(s.drain_refunds(1).await, 3);
    let after = s.order("ann", &id).await;
    let r = refund(&after, &rid);
    assert_eq!(r["status"], "succeeded", "{after}");
    assert!(r["provider_refund_id"]
        .as_str()
        .is_some_and(|g| g.starts_with("GW-")));
    assert_eq!(count_events(&after, "refund_succeeded"), 1);
    let made = s.sim.gateway_refunds();
    assert_eq!(made.len(), 1, "{made:?}");
    let g = &made[&rid];
    assert_eq!(g.payment_id, "pay-r1");
    assert_eq!(g.amount_cents as i64, LAMP_CENTS + FREIGHT);
    assert_eq!(g.storefront, "default");
    assert_eq!(g.requests, 1, "a settled refund is not sent again");
}

#[tokio::test]
async fn processing_then_notified_twice_settles_once() {
    let s = stack(Config::default()).await;
    s.sim.set_refund_mode(RefundMode::NotifyTwice);
    let (id, rid) = rejected(&s, "bob", "pay-r2").await;
    s.drain_refunds(1).await;
    let mid = s.order("bob", &id).await;
    assert_eq!(refund(&mid, &rid)["status"], "processing", "{mid}");
    let answers = s.refund_notifications().await;
    assert_eq!(answers.len(), 2);
    for (status, v) in &answers {
        assert_eq!(*status, 200, "{v}");
        assert_eq!(v["status"], "succeeded");
    }
    let after = s.order("bob", &id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded");
    assert_eq!(count_events(&after, "refund_processing"), 1);
    assert_eq!(count_events(&after, "refund_succeeded"), 1);
    assert_eq!(s.sim.gateway_refunds().len(), 1);
}

#[tokio::test]
async fn forged_stale_or_unknown_notifications_change_nothing() {
    let s = stack(Config::default()).await;
    s.sim.set_refund_mode(RefundMode::BadSignature);
    let (id, rid) = rejected(&s, "cat", "pay-r3").await;
    s.drain_refunds(1).await;
    let answers = s.refund_notifications().await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 401, "{:?}", answers[0].1);
    let body = json!({"refund_id": rid, "status": "succeeded"}).to_string();
    let sign = |key: &str| domain::payment::signature::sign(key.as_bytes(), body.as_bytes());
    // Another storefront's secret, on its route: not this order's account.
    s.t.call(
        integration_tests::Func::Catalog,
        Event::new("PUT", "/storefronts/{id}", "/storefronts/app")
            .path_param("id", "app")
            .user("ada")
            .header("x-user-role", "admin")
            .json(&json!({"name": "App"}))
            .build(),
    )
    .await;
    let (status, v) = s
        .refund_notify_raw(Some("app"), &body, Some(&sign("dev-payment-secret-app")))
        .await;
    assert_eq!(status, 401, "{v}");
    assert_eq!(
        s.refund_notify_raw(None, &body, Some(&sign("wrong")))
            .await
            .0,
        401
    );
    assert_eq!(s.refund_notify_raw(None, &body, None).await.0, 401);
    let unknown = json!({"refund_id": format!("{id}-R09"), "status": "succeeded"}).to_string();
    let sig = domain::payment::signature::sign(PAYMENT_SECRET.as_bytes(), unknown.as_bytes());
    assert_eq!(s.refund_notify_raw(None, &unknown, Some(&sig)).await.0, 404);
    let odd = json!({"refund_id": rid, "status": "paid"}).to_string();
    let sig = domain::payment::signature::sign(PAYMENT_SECRET.as_bytes(), odd.as_bytes());
    assert_eq!(s.refund_notify_raw(None, &odd, Some(&sig)).await.0, 400);
    let still = s.order("cat", &id).await;
    assert_eq!(refund(&still, &rid)["status"], "processing", "{still}");
    // The genuine word settles it; the same word again is a no-op.
    for _ in 0..2 {
        let (status, v) = s
            .refund_notify_raw(None, &body, Some(&sign(PAYMENT_SECRET)))
            .await;
        assert_eq!((status, v["status"].as_str()), (200, Some("succeeded")));
    }
    assert_eq!(
        count_events(&s.order("cat", &id).await, "refund_succeeded"),
        1
    );
}

#[tokio::test]
async fn a_late_notification_is_found_by_the_sweeps_query() {
    let s = stack(Config {
        refund_query_secs: 1,
        ..Config::default()
    })
    .await;
    s.sim.set_refund_mode(RefundMode::ProcessSilently);
    let (id, rid) = rejected(&s, "dan", "pay-r4").await;
    s.drain_refunds(1).await;
    assert_eq!(
        refund(&s.order("dan", &id).await, &rid)["status"],
        "processing"
    );
    assert!(s.sim.take_refund_notifications().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let summary = s.sweep().await;
    assert_eq!(summary.refunds_queried, 1, "{summary:?}");
    assert_eq!(s.drain_refunds(1).await, 1);
    let after = s.order("dan", &id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    assert_eq!(
        s.sim.gateway_refunds()[&rid].requests,
        1,
        "asked, not sent again"
    );
    assert_eq!(s.stored(&id).await.due_at(), None, "nothing left to ask");
}

#[tokio::test]
async fn the_provider_unavailable_or_silent_gets_the_same_number_again() {
    let s = stack(Config::default()).await;
    // Two 503s: the message comes back twice, then goes through.
    s.sim.gateway_unavailable_next(2);
    let (id, rid) = rejected(&s, "eve", "pay-r5").await;
    for _ in 0..2 {
        let d = s.deliver_refunds(1).await;
        assert_eq!((d.received, d.failed.len()), (1, 1), "{d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert_eq!(s.drain_refunds(2).await, 1);
    assert_eq!(
        refund(&s.order("eve", &id).await, &rid)["status"],
        "succeeded"
    );
    // A crash between the provider's answer and our write: the gateway
    // made the refund, then said nothing within the client's time-out.
    s.sim.set_refund_mode(RefundMode::TimeOut);
    s.sim.gateway_time_out_ms(3000);
    let (id2, rid2) = rejected(&s, "eve", "pay-r6").await;
    let d = s.deliver_refunds(1).await;
    assert_eq!(d.failed.len(), 1, "timed out: retried");
    assert_eq!(
        refund(&s.order("eve", &id2).await, &rid2)["status"],
        "pending"
    );
    assert_eq!(s.sim.gateway_refunds()[&rid2].requests, 1);
    s.sim.set_refund_mode(RefundMode::Succeed);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(s.drain_refunds(2).await, 1);
    let after = s.order("eve", &id2).await;
    assert_eq!(refund(&after, &rid2)["status"], "succeeded", "{after}");
    let made = s.sim.gateway_refunds();
    assert_eq!(made.len(), 2, "one refund per refund id: {made:?}");
    assert_eq!(made[&rid2].requests, 2, "sent again under the same number");
}

#[tokio::test]
async fn a_failed_refund_waits_on_the_attention_list_until_staff_retry_it() {
    let s = stack(Config::default()).await;
    s.sim.set_refund_mode(RefundMode::ProcessThenFail);
    let (id, rid) = rejected(&s, "fay", "pay-r7").await;
    s.drain_refunds(1).await;
    assert_eq!(s.refund_notifications().await[0].0, 200);
    let failed = s.order_as_admin(&id).await;
    let r = refund(&failed, &rid);
    assert_eq!(
        (r["status"].as_str(), r["failure"].as_str()),
        (Some("failed"), Some("closed"))
    );
    let items = failed["attention"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed}");
    assert_eq!(items[0]["kind"], "refund_failed");
    assert_eq!(items[0]["refund_id"], rid.as_str());
    let actions: Vec<(&str, &str)> = failed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| Some((a["action"].as_str()?, a["refund_id"].as_str()?)))
        .collect();
    assert_eq!(
        actions,
        [
            ("retry_refund", rid.as_str()),
            ("record_refund_offline", rid.as_str())
        ]
    );
    // The staff attention list shows it.
    let (status, list) = integration_tests::decode(
        backoffice::handle(
            &s.backoffice,
            Event::new("GET", "/staff/attention", "/staff/attention")
                .user("sue")
                .header("x-user-role", "support")
                .build(),
        )
        .await,
    );
    assert_eq!(status, 200, "{list}");
    assert!(list.to_string().contains(&rid), "{list}");
    // The owner may not; support retries; a closed refund gets a new number.
    assert_eq!(s.refund_action("retry", &rid, "fay", "", None).await.0, 403);
    assert_eq!(
        s.refund_action("retry", &rid, "otto", "", None).await.0,
        404
    );
    let (status, v) = s.refund_action("retry", &rid, "sue", "support", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(refund(&v, &rid)["status"], "pending");
    assert_eq!(refund(&v, &rid)["provider_no"], format!("{rid}-2"));
    assert_eq!(v["attention"].as_array().unwrap().len(), 0, "{v}");
    let (status, v) = s.refund_action("retry", &rid, "sue", "support", None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("refund_not_failed"))
    );
    s.sim.set_refund_mode(RefundMode::Succeed);
    s.drain_refunds(1).await;
    let after = s.order_as_admin(&id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    let made = s.sim.gateway_refunds();
    assert_eq!(made[&rid].status, "failed");
    assert_eq!(made[&format!("{rid}-2")].status, "succeeded");
    assert_eq!(made.len(), 2);
    // A late word on the first number changes nothing.
    let body = json!({"refund_id": rid, "status": "succeeded"}).to_string();
    let sig = domain::payment::signature::sign(PAYMENT_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(s.refund_notify_raw(None, &body, Some(&sig)).await.0, 200);
    assert_eq!(
        count_events(&s.order_as_admin(&id).await, "refund_succeeded"),
        1
    );
}

#[tokio::test]
async fn staff_record_a_failed_refund_paid_back_offline() {
    let s = stack(Config::default()).await;
    s.sim.set_refund_mode(RefundMode::Fail);
    let (id, rid) = rejected(&s, "gus", "pay-r8").await;
    s.drain_refunds(1).await;
    let (status, v) = s
        .refund_action(
            "record-offline",
            &rid,
            "ada",
            "admin",
            Some(json!({"note": " "})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = s
        .refund_action(
            "record-offline",
            &rid,
            "ada",
            "admin",
            Some(json!({"note": "bank transfer BT-1"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let r = refund(&v, &rid);
    assert_eq!(
        (r["status"].as_str(), r["offline"].as_bool()),
        (Some("succeeded"), Some(true))
    );
    assert_eq!(v["attention"].as_array().unwrap().len(), 0);
    assert!(v.to_string().contains("bank transfer BT-1"));
    assert_eq!(
        s.refund_action("retry", &rid, "ada", "admin", None).await.0,
        409
    );
    assert_eq!(s.stored(&id).await.due_at(), None);
}

#[tokio::test]
async fn a_second_payment_is_refunded_against_itself_and_the_first_by_cancel() {
    let s = stack(Config::default()).await;
    let order = s.placed("hal", json!([{"sku": "LAMP", "qty": 1}])).await;
    let total = order["total_cents"].as_i64().unwrap();
    assert_eq!(s.pay_order(&order, "pay-first").await.0, 200);
    assert_eq!(s.pay_order(&order, "pay-second").await.0, 409);
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.cancel_order("hal", id).await.0, 200);
    s.drain(1).await;
    s.drain_refunds(1).await;
    let made = s.sim.gateway_refunds();
    let by_payment = |p: &str| -> i64 {
        made.values()
            .filter(|g| g.payment_id == p)
            .map(|g| g.amount_cents as i64)
            .sum()
    };
    assert_eq!(by_payment("pay-second"), total);
    assert_eq!(by_payment("pay-first"), total);
    let after = s.order("hal", id).await;
    for r in after["refunds"].as_array().unwrap() {
        assert_eq!(r["status"], "succeeded", "{after}");
    }
}

/// The refund function decides on the order it read before asking the
/// provider; an order changed meanwhile (a staff note) refuses that write,
/// and the provider's word is recorded on the order as it now is.
#[tokio::test]
async fn an_order_changed_while_the_provider_answers_is_read_again() {
    let s = stack(Config::default()).await;
    let (id, rid) = rejected(&s, "ivy", "pay-r9").await;
    s.sim.hold(true);
    let delivery = async {
        s.drain_refunds(1).await;
    };
    let meanwhile = async {
        // The gateway holds the refund call; the order moves on.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let e = Event::new("POST", "/orders/{id}/notes", &format!("/orders/{id}/notes"))
            .path_param("id", &id)
            .user("sue")
            .header("x-user-role", "support")
            .json(&json!({"text": "buyer asked where the money is"}));
        let (status, v) =
            integration_tests::decode(backoffice::handle(&s.backoffice, e.build()).await);
        assert_eq!(status, 201, "{v}");
        s.sim.hold(false);
    };
    tokio::join!(delivery, meanwhile);
    let after = s.order("ivy", &id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    // Both changes kept: the note, then the refund recorded on top of it.
    let events: Vec<&str> = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    let note = events.iter().position(|e| *e == "note_added");
    let settled = events.iter().position(|e| *e == "refund_succeeded");
    assert!(note.is_some() && note < settled, "{events:?}");
    assert_eq!(s.sim.gateway_refunds()[&rid].requests, 1);
}
