//! SPEC 2.7 / 4: a payment racing the expiry sweep has exactly one winner.

use domain::config::Config;
use futures::future::join_all;
use integration_tests::stack::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pay_versus_expire_has_exactly_one_winner() {
    // Deadline = placement time: every order is due the moment it exists.
    let s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let initial = 100_000;
    s.t.put_sku("HOT", json!({"name": "Hot", "price_cents": 100, "source": {"kind": "jd"}, "stock_policy": "lock_on_place", "available": initial, "per_user_limit": 999})).await;
    s.t.put_sku("DOP", json!({"name": "Dop", "price_cents": 50, "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay", "available": initial})).await;
    let trials = 200;
    let mut paid = 0;
    let mut expired = 0;
    for round in 0..(trials / 10) {
        let outcomes = join_all((0..10).map(|i| {
            let s = &s;
            async move {
                let user = format!("racer-{round}-{i}");
                let order = s
                    .placed(
                        &user,
                        json!([{"sku": "HOT", "qty": 2}, {"sku": "DOP", "qty": 1}]),
                    )
                    .await;
                let id = order["id"].as_str().unwrap().to_owned();
                let payment_id = format!("pay-{id}");
                // Stagger the two sides a little, each way, so both get to win.
                let lag = std::time::Duration::from_millis(((round * 10 + i) % 8) as u64 * 10);
                let pay = async {
                    if i % 2 == 0 {
                        tokio::time::sleep(lag).await;
                    }
                    s.pay_order(&order, &payment_id).await
                };
                let sweep = async {
                    if i % 2 == 1 {
                        tokio::time::sleep(lag).await;
                    }
                    s.sweep().await
                };
                // Trials 8 and 9 of each round are not races: one side surely
                // first, so both outcomes are always exercised.
                let (status, answer) = match i {
                    8 => {
                        let paid = pay.await;
                        sweep.await;
                        paid
                    }
                    9 => {
                        sweep.await;
                        pay.await
                    }
                    _ => tokio::join!(pay, sweep).0,
                };
                let stored = s.order(&user, &id).await;
                (status, answer, stored, order)
            }
        }))
        .await;
        for (status, answer, stored, order) in outcomes {
            let refunded: i64 = stored["refunds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["amount_cents"].as_i64().unwrap())
                .sum();
            match stored["status"].as_str().unwrap() {
                "awaiting_shipment" => {
                    assert_eq!(status, 200, "{answer}");
                    assert_eq!(refunded, 0);
                    paid += 1;
                }
                "cancelled" => {
                    assert_eq!(stored["close_reason"], "expired");
                    assert_eq!(
                        (status, answer["error"]["code"].as_str()),
                        (409, Some("order_closed")),
                        "{answer}"
                    );
                    assert_eq!(
                        refunded,
                        order["total_cents"].as_i64().unwrap(),
                        "the payment ended as a refund"
                    );
                    expired += 1;
                }
                other => panic!("unexpected status {other}: {stored}"),
            }
        }
    }
    assert_eq!(paid + expired, trials);
    assert!(
        paid >= trials / 10 && expired >= trials / 10,
        "paid {paid}, expired {expired}"
    );
    // Stock released exactly once: only paid orders still hold it.
    assert_eq!(s.t.available("HOT").await, initial - 2 * paid);
    assert_eq!(s.t.available("DOP").await, initial - paid);
    // Nothing is left due.
    let again = s.sweep().await;
    assert_eq!(again.expired, 0);
    eprintln!("{trials} trials: payment won {paid}, expiry won {expired}");
}
