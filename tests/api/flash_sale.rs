//! SPEC 2.1 flash sales: a SKU's stock in S shard items; no unit sold twice,
//! none lost, whatever the placements, cancels, expiries and re-balances.

use domain::config::Config;
use futures::future::join_all;
use integration_tests::stack::Stack;
use integration_tests::throttle::WriteLimit;
use integration_tests::{dynamo_client_limited, place_body, with_deadline, Event, Func, TestApp};
use serde_json::{json, Value};

async fn hot(t: &TestApp, sku: &str, policy: &str, available: u64, shards: u8) -> Value {
    t.put_sku(
        sku,
        json!({"name": "Flash item", "price_cents": 990, "source": {"kind": "self", "warehouse": "WH-1"},
               "stock_policy": policy, "available": available, "stock_shards": shards}),
    )
    .await
}

/// Every shard item of a SKU (each under a partition key of its own), read
/// straight from the table.
async fn shards(t: &TestApp, sku: &str) -> Vec<i64> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = t
            .app
            .store
            .client()
            .scan()
            .table_name(t.app.store.table())
            .filter_expression("begins_with(pk, :shard)")
            .expression_attribute_values(":shard", AttributeValue::S(format!("SKU#{sku}#SHARD#")))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        found.extend(
            out.items()
                .iter()
                .map(|i| i["available"].as_n().unwrap().parse::<i64>().unwrap()),
        );
        start = out.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

/// Units of `sku` held by orders that are not cancelled or closed.
async fn held(s: &Stack, ids: &[String], sku: &str) -> i64 {
    let mut held = 0;
    for id in ids {
        let o = s.stored(id).await;
        if matches!(o.status().as_str(), "cancelled" | "closed") {
            continue;
        }
        held += o
            .lines
            .iter()
            .filter(|l| l.sku.as_str() == sku)
            .map(|l| i64::from(l.qty))
            .sum::<i64>();
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_of_a_hundred_units_on_sixteen_shards() {
    let t = TestApp::spawn().await;
    let sku = hot(&t, "FLASH", "lock_on_place", 100, 16).await;
    assert_eq!(
        (sku["available"].as_i64(), sku["stock_shards"].as_i64()),
        (Some(100), Some(16))
    );
    assert_eq!(shards(&t, "FLASH").await.len(), 16);
    let results = join_all((0..500).map(|i| {
        let t = &t;
        async move {
            t.place(
                &format!("fan-{i}"),
                json!([{"sku": "FLASH", "qty": 1}]),
                None,
            )
            .await
        }
    }))
    .await;
    let mut sold = 0;
    for (status, v) in &results {
        match status {
            201 => sold += 1,
            409 => assert_eq!(v["error"]["code"], "out_of_stock", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    let left = shards(&t, "FLASH").await;
    assert!(left.iter().all(|a| *a >= 0), "{left:?}");
    assert_eq!(sold, 100, "exactly the stock was sold");
    assert_eq!(left.iter().sum::<i64>(), 0);
    assert_eq!(t.available("FLASH").await, 0);
    assert_eq!(t.count_entities("order").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_placing_cancelling_and_expiring_conserves_every_unit() {
    let s = Stack::spawn(Config {
        payment_ttl_secs: 0,
        ..Config::default()
    })
    .await;
    hot(&s.t, "STORM", "lock_on_place", 60, 8).await;
    let placed = join_all((0..80).map(|i| {
        let s = &s;
        async move {
            s.t.place(
                &format!("storm-{i}"),
                json!([{"sku": "STORM", "qty": 1}]),
                None,
            )
            .await
        }
    }))
    .await;
    let ids: Vec<String> = placed
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, o)| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 60);
    // Cancel a third, expire the rest concurrently with the cancels.
    let s = &s;
    let cancels = join_all(ids.iter().step_by(3).map(|id| async move {
        let user = s.stored_user(id).await;
        s.cancel_order(&user, id).await
    }));
    let (cancelled, _) = futures::join!(cancels, s.sweep());
    assert!(cancelled.iter().all(|(status, _)| *status == 200));
    s.sweep().await;
    let left: i64 = shards(&s.t, "STORM").await.iter().sum();
    assert_eq!(
        left + held(s, &ids, "STORM").await,
        60,
        "every unit accounted for"
    );
    assert_eq!(left, 60, "all were released, each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_the_shard_count_mid_sale_loses_nothing() {
    let s = Stack::spawn(Config::default()).await;
    hot(&s.t, "RESHARD", "lock_on_place", 300, 16).await;
    let buyers = join_all((0..200).map(|i| {
        let s = &s;
        async move {
            s.t.place(
                &format!("r-{i}"),
                json!([{"sku": "RESHARD", "qty": 1}]),
                None,
            )
            .await
        }
    }));
    let rebalance = async {
        let mut answers = Vec::new();
        for n in [4u8, 32, 1, 8] {
            let body = json!({"name": "Flash item", "price_cents": 990, "source": {"kind": "self", "warehouse": "WH-1"},
                              "stock_policy": "lock_on_place", "stock_shards": n});
            answers.push(s.t.put_sku("RESHARD", body).await);
        }
        answers
    };
    let (placed, answers) = futures::join!(buyers, rebalance);
    assert_eq!(answers.last().unwrap()["stock_shards"], 8);
    let ids: Vec<String> = placed
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, o)| o["id"].as_str().unwrap().to_owned())
        .collect();
    for (status, v) in &placed {
        assert!(*status == 201 || *status == 409, "{status}: {v}");
    }
    let available = s.t.available("RESHARD").await;
    assert_eq!(
        available + held(&s, &ids, "RESHARD").await,
        300,
        "{available} left, {} sold",
        ids.len()
    );
    // Cancelling gives each unit back to the shard it came from, even one a
    // re-balance removed meanwhile; the SKU still counts it.
    for id in ids.iter().take(20) {
        let user = s.stored_user(id).await;
        assert_eq!(s.cancel_order(&user, id).await.0, 200);
    }
    assert_eq!(
        s.t.available("RESHARD").await + held(&s, &ids, "RESHARD").await,
        300
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stock_deducted_at_payment_works_the_same_on_shards() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    hot(&s.t, "PAYHOT", "deduct_on_pay", 5, 4).await;
    let mut orders = Vec::new();
    for i in 0..8 {
        orders.push(
            s.placed(&format!("p-{i}"), json!([{"sku": "PAYHOT", "qty": 1}]))
                .await,
        );
    }
    let s = &s;
    let paid = join_all(
        orders
            .iter()
            .enumerate()
            .map(|(i, o)| async move { s.pay_order(o, &format!("pay-{i}")).await }),
    )
    .await;
    let ok = paid.iter().filter(|(status, _)| *status == 200).count();
    let short = paid
        .iter()
        .filter(|(status, v)| *status == 409 && v["error"]["code"] == "out_of_stock")
        .count();
    assert_eq!((ok, short), (5, 3), "{paid:?}");
    assert_eq!(shards(&s.t, "PAYHOT").await.iter().sum::<i64>(), 0);
    // A paid cancel gives the unit back to its shard.
    let first = paid.iter().position(|(status, _)| *status == 200).unwrap();
    let id = orders[first]["id"].as_str().unwrap();
    assert_eq!(s.cancel_order(&format!("p-{first}"), id).await.0, 200);
    assert_eq!(s.t.available("PAYHOT").await, 1);
}

/// Under a model of DynamoDB's write limit per partition (tests/src/throttle.rs),
/// a throttled placement backs off and tries again within its request's
/// time, and ends in 201, 409 or 503 `busy` with Retry-After, never a 500;
/// buyers who come back after a 503 buy exactly the stock, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttled_placements_back_off_and_sell_exactly_the_stock() {
    // 50 transactions a second per partition, 2 at once.
    let limit = WriteLimit::per_partition(100.0, 4.0);
    let t = TestApp::spawn_on(dynamo_client_limited(&limit), Config::default()).await;
    hot(&t, "HOT", "lock_on_place", 40, 4).await;
    let buy = |i: usize| {
        let t = &t;
        async move {
            let mut busy = 0;
            loop {
                let req = Event::new("POST", "/orders", "/orders")
                    .user(&format!("hot-{i}"))
                    .header("idempotency-key", &format!("hot-{i}"))
                    .json(&place_body(json!([{"sku": "HOT", "qty": 1}])))
                    .build();
                let (status, v, headers) = t
                    .call_with_headers(Func::Place, with_deadline(req, 1_500))
                    .await;
                match status {
                    503 => {
                        assert_eq!(v["error"]["code"], "busy", "{v}");
                        assert!(headers.contains_key("retry-after"));
                        busy += 1;
                        assert!(busy < 50, "buyer {i} was never served");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    201 | 409 => return (status, v, busy),
                    other => panic!("unexpected {other}: {v}"),
                }
            }
        }
    };
    let results = join_all((0..120).map(buy)).await;
    let sold = results.iter().filter(|r| r.0 == 201).count();
    for (status, v, _) in &results {
        if *status == 409 {
            assert_eq!(v["error"]["code"], "out_of_stock", "{v}");
        }
    }
    assert!(
        limit.throttled() > 0,
        "the model never throttled: the test proves nothing"
    );
    assert_eq!(sold, 40, "exactly the stock was sold");
    let left = shards(&t, "HOT").await;
    assert!(left.iter().all(|a| *a == 0), "{left:?}");
    assert_eq!(t.count_entities("order").await, 40);
}

/// Once a sale is over, late buyers are told so from the shards as read: no
/// write is tried (each would cost a write unit on an empty shard, the
/// capacity a sale runs on). Under a limit that admits no write after the
/// shards' creation, every late buyer still gets 409 and nothing is
/// throttled.
#[tokio::test]
async fn late_buyers_of_a_sold_out_sale_cost_no_write() {
    let limit = WriteLimit::per_partition(0.0, 2.0).only_keys_starting_with(&["SKU#"]);
    let t = TestApp::spawn_on(dynamo_client_limited(&limit), Config::default()).await;
    let sku = hot(&t, "GONE", "lock_on_place", 0, 8).await;
    assert_eq!(sku["stock_shards"], 8);
    for i in 0..20 {
        let (status, v) = t
            .place(
                &format!("late-{i}"),
                json!([{"sku": "GONE", "qty": 1}]),
                None,
            )
            .await;
        assert_eq!(status, 409, "{v}");
        assert_eq!(v["error"]["code"], "out_of_stock");
        assert_eq!(v["error"]["details"]["skus"][0]["available"], 0, "{v}");
    }
    assert_eq!(
        limit.throttled(),
        0,
        "a placement tried to write to a shard"
    );
    assert_eq!(
        limit.take_items_read().get("SKU#GONE#SHARD#"),
        None,
        "stock set to nothing leaves a sold-out hint: no late buyer reads a shard"
    );
}

/// SPEC 2.1's sold-out hint (issue 12): the buyer who finds a sharded SKU
/// sold out (freshly read) leaves a hint on the SKU's item, so later buyers
/// are answered from that item without reading every shard; stock given
/// back (a cancel) clears it, and the unit sells again.
#[tokio::test]
async fn a_sold_out_hint_spares_late_buyers_the_shards_until_a_release_clears_it() {
    let limit = WriteLimit::unlimited();
    let s = Stack::spawn_on(dynamo_client_limited(&limit), Config::default()).await;
    hot(&s.t, "HINT", "lock_on_place", 2, 4).await;
    let first = s.placed("h-1", json!([{"sku": "HINT", "qty": 1}])).await;
    s.placed("h-2", json!([{"sku": "HINT", "qty": 1}])).await;
    let shard_reads = |limit: &WriteLimit| {
        limit
            .take_items_read()
            .get("SKU#HINT#SHARD#")
            .copied()
            .unwrap_or(0)
    };
    shard_reads(&limit);
    // The first buyer to find it empty reads the shards (and leaves the hint).
    let (status, v) =
        s.t.place("h-3", json!([{"sku": "HINT", "qty": 1}]), None)
            .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    assert!(
        shard_reads(&limit) >= 4,
        "the first late buyer reads every shard"
    );
    for i in 0..10 {
        let (status, v) =
            s.t.place(
                &format!("h-late-{i}"),
                json!([{"sku": "HINT", "qty": 1}]),
                None,
            )
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (409, Some("out_of_stock")),
            "{v}"
        );
        assert_eq!(v["error"]["details"]["skus"][0]["available"], 0, "{v}");
    }
    assert_eq!(shard_reads(&limit), 0, "late buyers read no shard");
    assert_eq!(s.t.available("HINT").await, 0);

    let (status, v) = s.cancel_order("h-1", first["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        s.t.available("HINT").await,
        1,
        "the unit is back, the hint gone"
    );
    let (status, v) =
        s.t.place("h-4", json!([{"sku": "HINT", "qty": 1}]), None)
            .await;
    assert_eq!(status, 201, "the unit given back sells again: {v}");
    assert!(shard_reads(&limit) > 0);
    let (status, v) =
        s.t.place("h-5", json!([{"sku": "HINT", "qty": 1}]), None)
            .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    let left = shards(&s.t, "HINT").await;
    assert_eq!(left.iter().sum::<i64>(), 0, "{left:?}");
}

/// Hole 11 of the second review: a placement's retries stop at its request's
/// deadline however long its SKU's partition stays throttled (the deadline
/// is attached where every handler starts): 503 `busy` well before the
/// 12 rounds of backoff (about 4 s) an unbounded placement would wait.
#[tokio::test]
async fn a_throttled_placement_answers_busy_within_its_deadline() {
    // After the SKU is written, its partition admits nothing.
    let limit = WriteLimit::per_partition(0.0, 2.0).only_keys_starting_with(&["SKU#"]);
    let t = TestApp::spawn_on(dynamo_client_limited(&limit), Config::default()).await;
    t.sku("STUCK", 100, "lock_on_place", 10, None).await;
    let req = Event::new("POST", "/orders", "/orders")
        .user("late")
        .json(&place_body(json!([{"sku": "STUCK", "qty": 1}])))
        .build();
    let started = std::time::Instant::now();
    let (status, v, headers) = t
        .call_with_headers(Func::Place, with_deadline(req, 1_000))
        .await;
    let took = started.elapsed();
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("busy")),
        "{v}"
    );
    assert!(headers.contains_key("retry-after"));
    assert!(limit.throttled() > 0, "the model never throttled");
    assert!(
        took < std::time::Duration::from_millis(2_500),
        "answered after {took:?}, past its 1 s deadline"
    );
    assert_eq!(t.count_entities("order").await, 0);
}

/// SPEC 2.1 (hole 5): a line may take from several shards in its one
/// transaction, so any quantity up to `available` can be bought: 64 shards
/// of 100 units (one or two each) sell 3 units to one buyer, then all the
/// rest to another, and a unit more is out of stock.
#[tokio::test]
async fn one_line_takes_from_several_shards() {
    let t = TestApp::spawn().await;
    hot(&t, "WIDE", "lock_on_place", 100, 64).await;
    let before = shards(&t, "WIDE").await;
    assert!(before.iter().all(|a| *a <= 2), "{before:?}");
    let (status, v) = t
        .place("w-1", json!([{"sku": "WIDE", "qty": 3}]), None)
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(t.available("WIDE").await, 97);
    let (status, v) = t
        .place("w-2", json!([{"sku": "WIDE", "qty": 97}]), None)
        .await;
    assert_eq!(status, 201, "{v}");
    assert!(shards(&t, "WIDE").await.iter().all(|a| *a == 0));
    let (status, v) = t
        .place("w-3", json!([{"sku": "WIDE", "qty": 1}]), None)
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    assert_eq!(t.count_entities("order").await, 2);
}

/// Holes 3 and 5 at payment: a `deduct_on_pay` line takes from as many
/// shards as it needs; on a sold-out SKU of many shards (more than the
/// transition's retries) the payment closes the order and refunds it (409),
/// never 503; cancelling gives every unit back to its shard.
#[tokio::test]
async fn payment_takes_from_several_shards_and_a_sold_out_sale_closes_at_once() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    hot(&s.t, "WIDEPAY", "deduct_on_pay", 40, 32).await;
    let big = s
        .placed("wp-1", json!([{"sku": "WIDEPAY", "qty": 5}]))
        .await;
    let late = s
        .placed("wp-2", json!([{"sku": "WIDEPAY", "qty": 36}]))
        .await;
    let (status, v) = s.pay_order(&big, "pay-wp-1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.t.available("WIDEPAY").await, 35);
    let (status, v) = s.pay_order(&late, "pay-wp-2").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["status"], "closed", "{v}");
    assert_eq!(v["error"]["details"]["skus"][0]["available"], 35, "{v}");
    assert_eq!(s.t.available("WIDEPAY").await, 35, "nothing taken");
    // Every one of 32 shards sold out: closed at once (it answered 503
    // after 20 shards tried one by one).
    hot(&s.t, "GONEPAY", "deduct_on_pay", 0, 32).await;
    let gone = s
        .placed("wp-3", json!([{"sku": "GONEPAY", "qty": 1}]))
        .await;
    let (status, v) = s.pay_order(&gone, "pay-wp-3").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    let id = big["id"].as_str().unwrap();
    assert_eq!(s.cancel_order("wp-1", id).await.0, 200);
    assert_eq!(s.t.available("WIDEPAY").await, 40);
    assert_eq!(shards(&s.t, "WIDEPAY").await.iter().sum::<i64>(), 40);
}

/// Hole 7: re-sharding a SKU leaves its pending `deduct_on_pay` orders
/// payable: the payment takes from the shards the SKU has now, whatever it
/// had at placement (1 -> 8, and 8 -> 1).
#[tokio::test]
async fn payment_after_a_reshard_takes_from_the_shards_there_are_now() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    hot(&s.t, "GROW", "deduct_on_pay", 10, 1).await;
    hot(&s.t, "SHRINK", "deduct_on_pay", 10, 8).await;
    let grow = s.placed("g-1", json!([{"sku": "GROW", "qty": 2}])).await;
    let shrink = s.placed("g-2", json!([{"sku": "SHRINK", "qty": 3}])).await;
    let reshard = |n: u8| {
        json!({"name": "Flash item", "price_cents": 990, "source": {"kind": "self", "warehouse": "WH-1"},
               "stock_policy": "deduct_on_pay", "stock_shards": n})
    };
    assert_eq!(s.t.put_sku("GROW", reshard(8)).await["stock_shards"], 8);
    assert_eq!(s.t.put_sku("SHRINK", reshard(1)).await["stock_shards"], 1);
    let (status, v) = s.pay_order(&grow, "pay-g-1").await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = s.pay_order(&shrink, "pay-g-2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(s.t.available("GROW").await, 8);
    assert_eq!(s.t.available("SHRINK").await, 7);
    for (user, order) in [("g-1", &grow), ("g-2", &shrink)] {
        assert_eq!(
            s.cancel_order(user, order["id"].as_str().unwrap()).await.0,
            200
        );
    }
    assert_eq!(s.t.available("GROW").await, 10);
    assert_eq!(s.t.available("SHRINK").await, 10);
}

/// Staff restock a sharded SKU whose sold-out hint holds (here: created
/// with nothing to sell): the re-balance reads the shards themselves, not
/// the hint, and the units sell. (The review found every such PUT answered
/// 503: the hint had hidden the shard items the re-balance must write over.)
#[tokio::test]
async fn staff_restock_a_sold_out_sharded_sku() {
    let t = TestApp::spawn().await;
    hot(&t, "AGAIN", "lock_on_place", 0, 4).await;
    let (status, v) = t
        .place("r-1", json!([{"sku": "AGAIN", "qty": 1}]), None)
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("out_of_stock")),
        "{v}"
    );
    let sku = hot(&t, "AGAIN", "lock_on_place", 8, 4).await;
    assert_eq!(sku["available"], 8, "{sku}");
    let (status, v) = t
        .place("r-2", json!([{"sku": "AGAIN", "qty": 3}]), None)
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(t.available("AGAIN").await, 5);
    assert_eq!(shards(&t, "AGAIN").await.iter().sum::<i64>(), 5);
}
