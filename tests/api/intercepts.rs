//! SPEC 2.6 finished: every `cancel_requested` order ends, whether the
//! supplier answers at once, later by callback, refuses, or ships instead;
//! and a cancel that meets a forward in flight still stops the package.

use crate::status_sync::forwarded;
use domain::config::Config;
use integration_tests::answers::{events, mixed_ids, package, refunded};
use integration_tests::stack::Stack;
use serde_json::{json, Value};
use std::time::Duration;
use supplier_sim::InterceptMode;

fn no_window() -> Config {
    Config {
        intercept_window_secs: 0,
        ..Config::default()
    }
}

/// Cancels a forwarded order whose suppliers answer intercepts later.
async fn cancel_pending(s: &Stack, user: &str) -> Value {
    let order = forwarded(s, user).await;
    s.sim.set_intercept(InterceptMode::Pending);
    let id = order["id"].as_str().unwrap();
    let (status, v) = s.cancel_order(user, id).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("cancel_requested")),
        "{v}"
    );
    assert_eq!(s.drain(1).await, 3, "one intercept per package");
    let stored = s.order(user, id).await;
    assert!(stored["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "intercept_requested"));
    stored
}

#[tokio::test]
async fn intercepts_confirmed_later_by_callback_cancel_the_order() {
    let s = Stack::spawn(no_window()).await;
    let order = cancel_pending(&s, "ivy").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, jd) = mixed_ids(&order);
    assert_eq!(s.report("S-1", &drop, "intercepted").await.0, 200);
    assert_eq!(s.report("jd", &jd, "intercepted").await.0, 200);
    // Our warehouse answers through its own channel: the sweep asks it again.
    assert_eq!(s.order("ivy", id).await["status"], "cancel_requested");
    s.sim.set_intercept(InterceptMode::Accept);
    s.ask_intercepts_again().await;
    let done = s.order("ivy", id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(refunded(&done), done["total_cents"].as_i64().unwrap());
    assert_eq!(s.t.available("TEA").await, 10);
    assert_eq!(s.t.available("PHONE").await, 10);
    assert_eq!(
        s.t.available("LAMP").await,
        10,
        "deducted at payment, given back"
    );
    // A late duplicate changes nothing.
    let (status, v) = s.report("jd", &jd, "intercepted").await;
    assert_eq!((status, v["applied"].as_bool()), (200, Some(false)));
    assert_eq!(
        refunded(&s.order("ivy", id).await),
        done["total_cents"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn an_intercept_refused_by_callback_fails_the_cancel() {
    let s = Stack::spawn(no_window()).await;
    let order = cancel_pending(&s, "jan").await;
    let id = order["id"].as_str().unwrap();
    let (own, drop, jd) = mixed_ids(&order);
    assert_eq!(s.report("S-1", &drop, "intercept_refused").await.0, 200);
    assert_eq!(s.report("jd", &jd, "intercepted").await.0, 200);
    s.sim.set_intercept(InterceptMode::Accept);
    s.ask_intercepts_again().await;
    let done = s.order("jan", id).await;
    assert_eq!(done["status"], "awaiting_shipment", "{done}");
    assert_eq!(package(&done, &drop)["status"], "forwarded");
    assert_eq!(package(&done, &jd)["status"], "cancelled");
    assert_eq!(package(&done, &own)["status"], "cancelled");
    // JD: 1,550 x 2 + all the freight (single policy, largest package).
    assert_eq!(refunded(&done), 3100 + 1000 + 1300);
    assert!(events(&done).iter().any(|e| e == "cancel_failed"));
    assert_eq!(s.t.available("PHONE").await, 10);
}

#[tokio::test]
async fn an_intercept_answered_by_shipping_fails_the_cancel() {
    let s = Stack::spawn(no_window()).await;
    let order = cancel_pending(&s, "kit").await;
    let id = order["id"].as_str().unwrap();
    let (_, drop, jd) = mixed_ids(&order);
    assert_eq!(s.report("jd", &jd, "shipped").await.0, 200);
    assert_eq!(s.report("S-1", &drop, "intercepted").await.0, 200);
    s.sim.set_intercept(InterceptMode::Accept);
    s.ask_intercepts_again().await;
    let done = s.order("kit", id).await;
    assert_eq!(done["status"], "shipped", "{done}");
    assert_eq!(package(&done, &jd)["status"], "shipped");
    assert!(events(&done).iter().any(|e| e == "cancel_failed"));
    assert_eq!(refunded(&done), 2100 + 1300, "the stopped packages only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_meeting_a_forward_in_flight_intercepts_it() {
    let s = Stack::spawn(no_window()).await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 2100, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let order = s.placed("lou", json!([{"sku": "LAMP", "qty": 1}])).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let pkg = order["packages"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.pay_order(&order, "pay-lou").await.0, 200);
    // The supplier holds its answer while the forward is in flight.
    s.sim.hold(true);
    let stack = std::sync::Arc::new(s);
    let forwarding = tokio::spawn({
        let stack = stack.clone();
        async move { stack.deliver(2).await }
    });
    let s = &*stack;
    let mut claimed = false;
    for _ in 0..100 {
        if s.stored(&id).await.packages()[0]
            .forwarding_until()
            .is_some()
        {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        claimed,
        "the forward took the package before calling the supplier"
    );
    let (status, v) = s.cancel_order("lou", &id).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("cancel_requested")),
        "{v}"
    );
    assert_eq!(v["packages"][0]["status"], "intercept_requested");
    s.sim.hold(false);
    let d = forwarding.await.unwrap();
    assert!(d.failed.is_empty(), "{d:?}");
    let mid = s.order("lou", &id).await;
    assert!(
        mid["packages"][0]["supplier_ref"].is_string(),
        "the reference is recorded: {mid}"
    );
    assert_eq!(mid["packages"][0]["status"], "intercept_requested");
    s.drain(1).await;
    let done = s.order("lou", &id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(refunded(&done), done["total_cents"].as_i64().unwrap());
    assert_eq!(s.sim.forwards_for(&pkg), 1);
    assert_eq!(
        s.sim.intercepts_for(&pkg),
        1,
        "the supplier was asked to stop it"
    );
    assert_eq!(s.t.available("LAMP").await, 10);
}

/// SPEC 2.6 (hole 2): an intercept answered `pending` is asked again every
/// `INTERCEPT_RETRY_SECS` by the sweep and handed to staff after
/// `INTERCEPT_GIVE_UP_SECS`; staff resolve each as the supplier's answer
/// would, and the `cancel_requested` order ends.
#[tokio::test]
async fn pending_intercepts_are_asked_again_then_resolved_by_staff() {
    let s = Stack::spawn(no_window()).await;
    let order = cancel_pending(&s, "mia").await;
    let id = order["id"].as_str().unwrap();
    let (own, drop, jd) = mixed_ids(&order);
    let now = domain::time::Timestamp::now();
    let early = s.sweep_at(now.plus_secs(60)).await;
    assert_eq!(early.intercepts_asked, 0, "{early:?}");
    let asked = s.sweep_at(now.plus_secs(601)).await;
    assert_eq!(asked.intercepts_asked, 3, "{asked:?}");
    s.drain(1).await;
    for p in [&own, &drop, &jd] {
        assert_eq!(s.sim.intercepts_for(p), 2, "asked twice: {p}");
    }
    let handed = s.sweep_at(now.plus_secs(86_401)).await;
    assert_eq!(handed.intercepts_to_staff, 3, "{handed:?}");
    let staff = s.order_as_staff(id).await;
    assert_eq!(staff["status"], "cancel_requested");
    assert_eq!(staff["attention"].as_array().unwrap().len(), 3, "{staff}");
    let resolve = |outcome: &str| json!({"outcome": outcome, "note": "phoned the supplier"});
    assert_eq!(
        s.resolve_as("staff-1", true, &own, &resolve("intercepted"))
            .await
            .0,
        200
    );
    assert_eq!(
        s.resolve_as("staff-1", true, &drop, &resolve("intercepted"))
            .await
            .0,
        200
    );
    let (status, v) = s
        .resolve_as("staff-1", true, &jd, &resolve("shipped"))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "shipped", "the cancel failed: {v}");
    assert!(events(&v).iter().any(|e| e == "cancel_failed"));
    assert_eq!(v["attention"], json!([]));
    assert_eq!(
        refunded(&v),
        1300 + 2100,
        "the stopped packages only (freight on JD's)"
    );
    let (status, v) = s
        .resolve_as("staff-1", true, &jd, &resolve("retry_forward"))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("nothing_to_resolve"))
    );
}
