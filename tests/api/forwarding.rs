//! SPEC 2.4: forwarding through SQS, exactly once per package on top of
//! at-least-once delivery, failures retried alone and then dead-lettered.

use domain::config::Config;
use domain::messages::{Message, Publisher};
use domain::time::Timestamp;
use integration_tests::stack::Stack;
use serde_json::{json, Value};

async fn paid_order(s: &Stack, user: &str) -> serde_json::Value {
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 12900, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    s.t.put_sku("CABLE", json!({"name": "Cable", "price_cents": 1900, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay", "available": 10})).await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let order = s.placed(user, json!([{"sku": "LAMP", "qty": 1}, {"sku": "CABLE", "qty": 2}, {"sku": "TEA", "qty": 1}])).await;
    assert_eq!(s.pay_order(&order, &format!("pay-{user}")).await.0, 200);
    order
}

fn no_window() -> Config {
    Config {
        intercept_window_secs: 0,
        ..Config::default()
    }
}

#[tokio::test]
async fn each_package_reaches_its_supplier_with_a_reference() {
    let s = Stack::spawn(no_window()).await;
    let order = paid_order(&s, "kim").await;
    assert_eq!(s.drain(1).await, 3);
    let stored = s.order("kim", order["id"].as_str().unwrap()).await;
    let mut channels: Vec<String> = s
        .sim
        .received()
        .iter()
        .map(|r| format!("{:?}:{}", r.channel, r.target))
        .collect();
    channels.sort();
    assert_eq!(channels, ["Dropship:S-1", "Jd:jd", "Warehouse:WH-1"]);
    for p in stored["packages"].as_array().unwrap() {
        assert_eq!(p["status"], "forwarded");
        let r = s
            .sim
            .received()
            .into_iter()
            .find(|r| r.package_id == p["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            Some(p["supplier_ref"].as_str().unwrap().to_owned()),
            r.reference
        );
    }
    assert!(stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "package_forwarded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_message_three_times_reaches_the_supplier_once() {
    let s = Stack::spawn(no_window()).await;
    let order = paid_order(&s, "lee").await;
    assert_eq!(s.drain(1).await, 3);
    let package = order["packages"][0]["id"].as_str().unwrap().to_owned();
    s.sim.reset();
    // Fresh order: its forward message, delivered three times in one batch.
    let order2 = paid_order(&s, "lee2").await;
    let first = order2["packages"][0]["id"].as_str().unwrap().to_owned();
    // Drop the automatic messages, then publish one package's message three times.
    s.sqs
        .purge_queue()
        .queue_url(&s.queues["ForwardQueue"])
        .send()
        .await
        .unwrap();
    let message = Message::Forward {
        package_id: domain::ids::PackageId::parse(&first).unwrap(),
        not_before: Timestamp::now(),
    };
    s.forward
        .publisher
        .publish(
            &[message.clone(), message.clone(), message],
            Timestamp::now(),
        )
        .await
        .unwrap();
    let d = s.deliver(1).await;
    assert_eq!(
        d.received, 3,
        "three copies in one batch, handled concurrently"
    );
    assert!(
        d.failed.len() <= 2,
        "a copy may be told to come back while another holds the package"
    );
    s.drain(2).await;
    let all: Vec<_> = s
        .sim
        .received()
        .into_iter()
        .filter(|r| r.package_id == first)
        .collect();
    assert_eq!(all.len(), 1, "the supplier saw one submission: {all:?}");
    assert_eq!(s.sim.forwards_for(&package), 0);
}

/// A paid order whose automatic forward messages are removed, so a test can
/// publish exactly the messages it wants; returns its package ids.
async fn quiet_paid_order(s: &Stack, user: &str) -> (serde_json::Value, Vec<String>) {
    let order = paid_order(s, user).await;
    s.sqs
        .purge_queue()
        .queue_url(&s.queues["ForwardQueue"])
        .send()
        .await
        .unwrap();
    let pkgs = order["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    (order, pkgs)
}

fn forward_message(package: &str) -> Message {
    Message::Forward {
        package_id: domain::ids::PackageId::parse(package).unwrap(),
        not_before: Timestamp::now(),
    }
}

async fn send_garbage(s: &Stack) {
    s.sqs
        .send_message()
        .queue_url(&s.queues["ForwardQueue"])
        .message_body(r#"{"type":"teleport"}"#)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn only_the_failed_message_of_a_batch_is_reported() {
    let s = Stack::spawn(no_window()).await;
    let (_, pkgs) = quiet_paid_order(&s, "max").await;
    s.forward
        .publisher
        .publish(&[forward_message(&pkgs[0])], Timestamp::now())
        .await
        .unwrap();
    send_garbage(&s).await;
    let d = s.deliver(1).await;
    assert_eq!(
        (d.received, d.failed.len()),
        (2, 1),
        "only the one nobody understands is reported"
    );
    assert_eq!(s.sim.forwards_for(&pkgs[0]), 1);
}

#[tokio::test]
async fn a_supplier_refusal_is_retried_alone() {
    let s = Stack::spawn(no_window()).await;
    let (order, pkgs) = quiet_paid_order(&s, "ned").await;
    s.sim.fail_next(1);
    let two = [forward_message(&pkgs[0]), forward_message(&pkgs[1])];
    s.forward
        .publisher
        .publish(&two, Timestamp::now())
        .await
        .unwrap();
    let d = s.deliver(1).await;
    assert_eq!(
        (d.received, d.failed.len()),
        (2, 1),
        "only the refused package comes back"
    );
    let d = s.deliver(3).await;
    assert_eq!(
        (d.received, d.failed.len()),
        (1, 0),
        "and goes through on redelivery"
    );
    assert_eq!(s.sim.forwards_for(&pkgs[0]), 1);
    assert_eq!(s.sim.forwards_for(&pkgs[1]), 1);
    let stored = s.order("ned", order["id"].as_str().unwrap()).await;
    assert_eq!(stored["packages"][0]["status"], "forwarded");
    assert_eq!(stored["packages"][1]["status"], "forwarded");
}

#[tokio::test]
async fn a_supplier_that_keeps_failing_ends_in_the_dead_letter_queue() {
    let s = Stack::spawn(no_window()).await;
    let (order, pkgs) = quiet_paid_order(&s, "oli").await;
    s.sim.fail_always(true);
    s.forward
        .publisher
        .publish(&[forward_message(&pkgs[1])], Timestamp::now())
        .await
        .unwrap();
    send_garbage(&s).await;
    // Retried until maxReceiveCount (5), then moved to the DLQ by SQS.
    for _ in 0..12 {
        s.deliver(2).await;
        if s.depth("ForwardQueue").await == 0 {
            break;
        }
    }
    assert_eq!(s.depth("ForwardQueue").await, 0);
    let dead = s.peek("ForwardDeadLetterQueue").await;
    let types: Vec<&str> = dead.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"teleport") && types.contains(&"forward"),
        "{dead:?}"
    );
    let attempts = s
        .sim
        .received()
        .iter()
        .filter(|r| r.package_id == pkgs[1])
        .count();
    assert_eq!(attempts, 5, "tried once per receive");
    let id = order["id"].as_str().unwrap();
    let stored = s.order("oli", id).await;
    assert_eq!(
        stored["packages"][1]["status"], "pending",
        "left for an operator to redrive"
    );
    // The order says so, once, and staff may cancel and refund that package.
    let failed: Vec<&Value> = stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "package_forward_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{}", stored["timeline"]);
    assert_eq!(failed[0]["package_id"], pkgs[1].as_str());
    let staff_view = s.order_as_staff(id).await;
    assert!(
        staff_view["actions"]
            .as_array()
            .unwrap()
            .contains(&json!({"action": "cancel_package", "package_id": pkgs[1]})),
        "{}",
        staff_view["actions"]
    );
    let body = json!({"package_id": pkgs[1], "reason": "supplier unreachable"});
    let (status, v) = s.cancel_as("oli", false, id, &body).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, v) = s.cancel_as("staff-1", true, id, &body).await;
    assert_eq!(status, 200, "{v}");
    // Its hand-over was attempted: the supplier may have it, so it is
    // intercepted, not refunded at once (SPEC 2.6).
    let p = integration_tests::answers::package(&v, &pkgs[1]);
    assert_eq!(p["status"], "intercept_requested", "{v}");
    assert_eq!(v["refunds"], json!([]), "{v}");
}

/// Hole 1 and 2 of the second review (SPEC 2.6, 2.11): a package whose
/// hand-over the queue gave up on goes on the attention list; the owner's
/// cancel intercepts it instead of refunding at once; nobody can answer
/// (no reference), so the sweep hands the intercept to staff after
/// `INTERCEPT_GIVE_UP_SECS`, and staff resolve it: cancelled and refunded.
#[tokio::test]
async fn a_handover_given_up_is_intercepted_on_cancel_and_resolved_by_staff() {
    let s = Stack::spawn(no_window()).await;
    let (order, pkgs) = quiet_paid_order(&s, "pia").await;
    let id = order["id"].as_str().unwrap();
    let total = order["total_cents"].as_i64().unwrap();
    s.sim.fail_always(true);
    s.forward
        .publisher
        .publish(&[forward_message(&pkgs[1])], Timestamp::now())
        .await
        .unwrap();
    for _ in 0..8 {
        s.deliver(2).await;
        if s.depth("ForwardQueue").await == 0 {
            break;
        }
    }
    let staff = s.order_as_staff(id).await;
    let items = staff["attention"].as_array().expect("attention for staff");
    assert_eq!(items.len(), 1, "{staff}");
    assert_eq!(items[0]["kind"], "forward_failed");
    assert_eq!(items[0]["package_id"], pkgs[1].as_str());
    assert_eq!(items[0]["actions"], json!(["resolve"]));
    assert!(
        s.order("pia", id).await.get("attention").is_none(),
        "staff only"
    );
    // The owner cancels: the package never handed over is cancelled at once,
    // the one that may be with its supplier is intercepted.
    let (status, v) = s.cancel_order("pia", id).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("cancel_requested")),
        "{v}"
    );
    let p1 = integration_tests::answers::package(&v, &pkgs[1]);
    assert_eq!(p1["status"], "intercept_requested");
    let kept = p1["goods_cents"].as_i64().unwrap() + p1["freight_cents"].as_i64().unwrap();
    assert_eq!(
        integration_tests::answers::refunded(&v),
        total - kept,
        "all but the intercepted package: {}",
        v["refunds"]
    );
    let staff = s.order_as_staff(id).await;
    assert_eq!(
        staff["attention"],
        json!([]),
        "the hand-over item ended with the cancel"
    );
    // Asked again while within the give-up time, then handed to staff.
    let now = Timestamp::now();
    let asked = s.sweep_at(now.plus_secs(601)).await;
    assert_eq!(asked.intercepts_asked, 1, "{asked:?}");
    let handed = s.sweep_at(now.plus_secs(86_401)).await;
    assert_eq!(handed.intercepts_to_staff, 1, "{handed:?}");
    let again = s.sweep_at(now.plus_secs(90_000)).await;
    assert_eq!(
        (again.intercepts_asked, again.intercepts_to_staff),
        (0, 0),
        "{again:?}"
    );
    let staff = s.order_as_staff(id).await;
    let items = staff["attention"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{staff}");
    assert_eq!(items[0]["kind"], "intercept_unanswered");
    assert!(staff["actions"]
        .as_array()
        .unwrap()
        .contains(&json!({"action": "resolve", "package_id": pkgs[1]})));
    // Only staff resolve; a bad outcome is 400; then intercepted.
    let body = json!({"outcome": "intercepted", "note": "supplier says it never took it"});
    assert_eq!(s.resolve_as("pia", false, &pkgs[1], &body).await.0, 403);
    let bad = json!({"outcome": "lost", "note": "x"});
    assert_eq!(s.resolve_as("staff-1", true, &pkgs[1], &bad).await.0, 400);
    let (status, v) = s.resolve_as("staff-1", true, &pkgs[1], &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "cancelled", "{v}");
    assert_eq!(integration_tests::answers::refunded(&v), total);
    assert_eq!(v["attention"], json!([]));
    assert!(v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["event"] == "attention_ended"
            && t["cause"]
                .as_str()
                .unwrap()
                .ends_with("supplier says it never took it")));
    // Nothing left to resolve.
    let (status, v) = s.resolve_as("staff-1", true, &pkgs[1], &body).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("nothing_to_resolve"))
    );
}
