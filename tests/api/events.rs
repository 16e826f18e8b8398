//! Order events (README "Order events"): the table's stream in DynamoDB
//! Local, EventsFunction's handler, a bus in the EventBridge emulator and a
//! rule filling a queue, as a consumer would have it.

use domain::config::Config;
use integration_tests::events::EventTap;
use integration_tests::stack::Stack;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn no_window() -> Config {
    Config {
        intercept_window_secs: 0,
        ..Config::default()
    }
}

/// A lamp from a dropship supplier and tea from our warehouse, paid.
async fn paid_two_packages(s: &Stack, user: &str) -> (Value, String, String) {
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 12900, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let order = s
        .placed(
            user,
            json!([{"sku": "LAMP", "qty": 1}, {"sku": "TEA", "qty": 2}]),
        )
        .await;
    assert_eq!(s.pay_order(&order, &format!("pay-{user}")).await.0, 200);
    let package = |kind: &str| {
        order["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["source"]["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (lamp, tea) = (package("dropship"), package("self"));
    (order, lamp, tea)
}

/// (type, subject) of an event's detail: the package, refund or case it is
/// about, or "" for the order itself.
fn what(d: &Value) -> (String, String) {
    let c = &d["change"];
    let subject = ["package_id", "refund_id", "case_id"]
        .iter()
        .find_map(|k| {
            c[*k]
                .as_str()
                .filter(|_| !d["type"].as_str().unwrap().starts_with("order."))
        })
        .unwrap_or("");
    (d["type"].as_str().unwrap().to_owned(), subject.to_owned())
}

#[tokio::test]
async fn an_order_life_tells_each_change_once_and_only_its_change() {
    let s = Stack::spawn_streaming(no_window()).await;
    let tap = EventTap::create(&s).await;
    let (order, lamp, tea) = paid_two_packages(&s, "eve").await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(s.drain(1).await, 2, "both packages forwarded");
    assert_eq!(s.report("S-1", &lamp, "shipped").await.0, 200);
    assert_eq!(s.ship(&tea, "SF", "SF-1").await.0, 200);
    assert_eq!(s.confirm_receipt("eve", &lamp).await.0, 200);
    assert_eq!(s.confirm_receipt("eve", &tea).await.0, 200);
    // Another order, cancelled before payment: its events are its own.
    let other = s.placed("eve", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(
        s.cancel_order("eve", other["id"].as_str().unwrap()).await.0,
        200
    );

    let delivered = tap.pump().await;
    assert_eq!(delivered.sent_to_failure_queue, 0);
    let envelopes = tap.received().await;
    let schema = testkit::schema::Schema::new(
        serde_json::from_str(include_str!("../../docs/events.schema.json")).unwrap(),
    );
    for e in &envelopes {
        let errors = schema.errors(&e["detail"]);
        assert!(
            errors.is_empty(),
            "{} breaks docs/events.schema.json: {errors:#?}",
            e["detail"]
        );
        assert_eq!(e["source"], "order-system");
        assert_eq!(e["detail-type"], e["detail"]["type"], "{e}");
        assert_eq!(e["detail"]["storefront"], "default");
        assert_eq!(e["detail"]["user_id"], "eve");
    }
    let ours: Vec<&Value> = envelopes
        .iter()
        .map(|e| &e["detail"])
        .filter(|d| d["order_id"] == id.as_str())
        .collect();
    let seen: BTreeMap<(String, String), u64> = ours
        .iter()
        .map(|d| (what(d), d["sequence"].as_u64().unwrap()))
        .collect();
    assert_eq!(seen.len(), ours.len(), "no change told twice: {ours:#?}");
    let e = |t: &str, subject: &str| (t.to_owned(), subject.to_owned());
    let want: BTreeSet<(String, String)> = [
        e("order.placed", ""),
        e("order.paid", ""),
        e("package.forwarded", &lamp),
        e("package.forwarded", &tea),
        e("package.shipped", &lamp),
        e("order.partially_shipped", ""),
        e("package.shipped", &tea),
        e("order.shipped", ""),
        e("package.received", &lamp),
        e("package.received", &tea),
        e("order.completed", ""),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), want);

    // Consumers order by sequence: the order's version at each change.
    let seq = |t: &str, subject: &str| seen[&e(t, subject)];
    assert!(seq("order.placed", "") < seq("order.paid", ""));
    assert!(seq("order.paid", "") < seq("package.forwarded", &lamp));
    assert!(seq("package.forwarded", &lamp) < seq("package.shipped", &lamp));
    assert_eq!(
        seq("package.shipped", &lamp),
        seq("order.partially_shipped", "")
    );
    assert_eq!(seq("package.shipped", &tea), seq("order.shipped", ""));
    assert_eq!(
        seq("package.received", &tea).max(seq("package.received", &lamp)),
        seq("order.completed", "")
    );
    let stored = s.stored(&id).await;
    assert_eq!(
        seq("order.completed", ""),
        stored.version(),
        "the last change is the stored version"
    );

    // The change only: a placement's lines and money, a payment's amount,
    // a shipment's tracking number; never the address or the timeline.
    let placed = ours.iter().find(|d| d["type"] == "order.placed").unwrap();
    assert_eq!(placed["change"]["total_cents"], order["total_cents"]);
    assert_eq!(placed["change"]["lines"].as_array().unwrap().len(), 2);
    let paid = ours.iter().find(|d| d["type"] == "order.paid").unwrap();
    assert_eq!(paid["change"]["amount_cents"], order["total_cents"]);
    assert_eq!(paid["change"]["payment_id"], "pay-eve");
    assert_eq!(
        (
            paid["change"]["from"].as_str(),
            paid["change"]["to"].as_str()
        ),
        (Some("pending_payment"), Some("awaiting_shipment"))
    );
    let shipped = ours
        .iter()
        .find(|d| d["type"] == "package.shipped" && d["change"]["package_id"] == tea.as_str())
        .unwrap();
    assert_eq!(shipped["change"]["tracking_no"], "SF-1");
    for d in &ours {
        assert!(d.get("address").is_none() && d["change"].get("timeline").is_none());
        assert_eq!(
            d["id"].as_str().unwrap(),
            format!(
                "{id}:{}:{}{}",
                d["sequence"],
                d["type"].as_str().unwrap(),
                {
                    let (_, subject) = what(d);
                    if subject.is_empty() {
                        String::new()
                    } else {
                        format!(":{subject}")
                    }
                }
            )
        );
    }

    let mut cancelled: Vec<String> = envelopes
        .iter()
        .map(|e| &e["detail"])
        .filter(|d| d["order_id"] == other["id"])
        .map(|d| d["type"].as_str().unwrap().to_owned())
        .collect();
    cancelled.sort();
    assert_eq!(
        cancelled,
        ["order.cancelled", "order.placed", "package.cancelled"]
    );
}

#[tokio::test]
async fn a_stream_record_delivered_twice_tells_the_same_events_under_the_same_ids() {
    let s = Stack::spawn_streaming(no_window()).await;
    let tap = EventTap::create(&s).await;
    paid_two_packages(&s, "ida").await;
    let records = tap.poll().await;
    tap.deliver(records.clone()).await;
    let once = tap.received().await;
    assert!(once.len() >= 2, "placed and paid: {once:#?}");
    tap.deliver(records).await;
    let again = tap.received().await;
    let by_id = |v: &[Value]| -> BTreeMap<String, Value> {
        v.iter()
            .map(|e| {
                (
                    e["detail"]["id"].as_str().unwrap().to_owned(),
                    e["detail"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        by_id(&once).len(),
        once.len(),
        "ids are unique within a delivery"
    );
    assert_eq!(by_id(&again), by_id(&once), "the same ids, the same events");
}

#[tokio::test]
async fn a_publish_that_keeps_failing_is_retried_then_described_on_the_failure_queue() {
    let s = Stack::spawn_streaming(no_window()).await;
    let tap = EventTap::create(&s).await;
    let broken = EventTap::create_publishing_to(&s, Some("no-such-bus")).await;
    s.t.put_sku("TEA", json!({"name": "Tea", "price_cents": 3900, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    s.placed("ann", json!([{"sku": "TEA", "qty": 1}])).await;
    let records = broken.poll().await;
    let placed_seq = records
        .iter()
        .find(|r| r["dynamodb"]["Keys"]["sk"]["S"] == "ORDER")
        .map(|r| r["dynamodb"]["SequenceNumber"].clone())
        .expect("the order's record");
    let d = broken.deliver(records.clone()).await;
    let template = adapters::local_streams::StreamSource::from_template().unwrap();
    assert_eq!(
        d.invocations,
        template.max_retries as usize + 1,
        "tried, then retried"
    );
    assert_eq!(d.sent_to_failure_queue, 1);
    assert!(tap.received().await.is_empty(), "nothing was published");
    let failed = broken.failed_batches().await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(
        failed[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(
        failed[0]["DDBStreamBatchInfo"]["startSequenceNumber"],
        placed_seq
    );
    // The records are still in the stream: replayed, they publish.
    assert_eq!(tap.deliver(records).await.sent_to_failure_queue, 0);
    let got = tap.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["detail-type"], "order.placed");
}

/// A payment that did not pay the order (a second one) is refunded as it
/// came: its `refund.recorded` names that payment, not the order's.
#[tokio::test]
async fn a_refund_names_the_payment_it_returns() {
    let s = Stack::spawn_streaming(no_window()).await;
    let tap = EventTap::create(&s).await;
    let (order, _, _) = paid_two_packages(&s, "uma").await;
    assert_eq!(s.pay_order(&order, "pay-uma-again").await.0, 409);
    tap.pump().await;
    let got = tap.received().await;
    let paid = got
        .iter()
        .find(|e| e["detail-type"] == "order.paid")
        .expect("order.paid");
    assert_eq!(paid["detail"]["change"]["payment_id"], "pay-uma");
    let refund = got
        .iter()
        .find(|e| e["detail-type"] == "refund.recorded")
        .expect("refund.recorded");
    let change = &refund["detail"]["change"];
    assert_eq!(change["payment_id"], "pay-uma-again");
    assert_eq!(change["amount_cents"], order["total_cents"]);
}
