//! Holes a review found (issue 7): each test here failed before its fix.

use aws_sdk_dynamodb::types::AttributeValue;
use domain::config::Config;
use domain::ids::{OrderId, SkuId};
use domain::ports::{Change, CommitError, Ledger, Orders, StockMove};
use domain::time::Timestamp;
use integration_tests::stack::Stack;
use serde_json::{json, Value};

async fn limited_deduct_skus(s: &Stack, n: usize) -> Value {
    for i in 0..n {
        s.t.put_sku(
            &format!("L{i:02}"),
            json!({"name": format!("Limited {i}"), "price_cents": 100, "source": {"kind": "self", "warehouse": "WH-1"},
                   "stock_policy": "deduct_on_pay", "available": 10, "per_user_limit": 5}),
        )
        .await;
    }
    json!((0..n)
        .map(|i| json!({"sku": format!("L{i:02}"), "qty": 1}))
        .collect::<Vec<_>>())
}

/// Hole 1: a paid cancel of 50 limited `deduct_on_pay` lines needs 101
/// transaction items; such an order must not be placed at all.
#[tokio::test]
async fn an_order_is_placed_only_if_its_largest_later_step_fits_one_transaction() {
    let s = Stack::spawn(Config::default()).await;
    let lines = limited_deduct_skus(&s, 50).await;
    let (status, v) = s.t.place("max", lines, None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("too_many_lines")),
        "{v}"
    );
    // 49 such lines fit every step: placing, paying and a paid cancel.
    let lines = json!(v_lines(49));
    let order = s.placed("max", lines).await;
    assert_eq!(s.pay_order(&order, "pay-max").await.0, 200);
    let (status, v) = s.cancel_order("max", order["id"].as_str().unwrap()).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("cancelled")),
        "{v}"
    );
    assert_eq!(s.t.available("L00").await, 10, "deducted and given back");
}

fn v_lines(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"sku": format!("L{i:02}"), "qty": 1}))
        .collect()
}

/// Hole 4: one order that cannot be read must not stop the sweep.
#[tokio::test]
async fn a_poison_order_does_not_stop_the_sweep() {
    let s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        ..Config::default()
    })
    .await;
    s.t.sku("TEA", 100, "lock_on_place", 10, None).await;
    let order = s.placed("pat", json!([{"sku": "TEA", "qty": 1}])).await;
    // A malformed order item that is due before the good one.
    let poison = OrderId::generate(&Timestamp::from_unix(1_700_000_000));
    let item = [
        ("pk", format!("ORDER#{poison}")),
        ("sk", "ORDER".into()),
        ("entity", "order".into()),
        ("due_pk", "DUE#0".into()),
        ("due_sk", format!("2020-01-01T00:00:00.000Z#{poison}")),
        ("status", "no such status".into()),
    ];
    s.t.app
        .store
        .client()
        .put_item()
        .table_name(s.t.app.store.table())
        .set_item(Some(
            item.into_iter()
                .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let summary = s.sweep().await;
    assert_eq!((summary.failed, summary.expired), (1, 1), "{summary:?}");
    let stored = s.order("pat", order["id"].as_str().unwrap()).await;
    assert_eq!(stored["status"], "cancelled");
}

/// Hole 10: a give-back that would take a limit counter below zero is
/// refused as a broken invariant, never written, and not called out of stock.
#[tokio::test]
async fn a_limit_release_never_goes_below_zero() {
    let s = Stack::spawn(Config::default()).await;
    s.t.sku("TEA", 100, "lock_on_place", 10, Some(3)).await;
    let order = s.placed("quin", json!([{"sku": "TEA", "qty": 2}])).await;
    let id = OrderId::parse(order["id"].as_str().unwrap()).unwrap();
    let stored = s.t.app.store.get_order(&id).await.unwrap().unwrap();
    let next = stored.next();
    let tea = SkuId::parse("TEA").unwrap();
    let change = Change {
        order: &next,
        stock: vec![StockMove {
            sku: tea.clone(),
            delta: 2,
        }],
        limit_releases: vec![(tea, 3)],
        payment: None,
        case: None,
    };
    match s.t.app.store.commit(&change).await {
        Err(CommitError::Store(e)) => assert!(e.0.contains("limit"), "{e}"),
        other => panic!("expected a refused release, got {other:?}"),
    }
    assert_eq!(s.t.available("TEA").await, 8, "nothing was written");
    let (status, _) =
        s.t.place("quin", json!([{"sku": "TEA", "qty": 1}]), None)
            .await;
    assert_eq!(status, 201, "the counter still says 2 held");
    let (status, _) =
        s.t.place("quin", json!([{"sku": "TEA", "qty": 1}]), None)
            .await;
    assert_eq!(status, 422, "and the limit still holds");
}
