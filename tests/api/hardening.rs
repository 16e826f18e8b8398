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
        (
            "due_sk",
            format!("{}#{poison}", Timestamp::from_unix(1_700_000_000)),
        ),
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
            shard: None,
            delta: 2,
        }],
        limit_releases: vec![(tea, 3)],
        payment: None,
        case: None,
        queue: Default::default(),
    };
    match s.t.app.store.commit(&change).await {
        Err(CommitError::Store(e)) => assert!(e.to_string().contains("limit"), "{e}"),
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

/// A store on which someone else always writes first, once.
struct Interfering {
    inner: adapters::DynamoStore,
    interfered: std::sync::atomic::AtomicBool,
}

impl Orders for Interfering {
    async fn idempotency(
        &self,
        user: &domain::ids::UserId,
        key: &domain::ids::IdempotencyKey,
    ) -> Result<Option<domain::ports::IdempotencyRecord>, domain::error::StoreError> {
        self.inner.idempotency(user, key).await
    }
    async fn create_order(
        &self,
        order: &domain::order::Order,
        idempotency: Option<&domain::ports::IdempotencyRecord>,
    ) -> Result<(), domain::ports::CreateOrderError> {
        self.inner.create_order(order, idempotency).await
    }
    async fn get_order(
        &self,
        id: &OrderId,
    ) -> Result<Option<domain::order::Order>, domain::error::StoreError> {
        self.inner.get_order(id).await
    }
    async fn list_orders(
        &self,
        user: &domain::ids::UserId,
        storefront: Option<&domain::storefront::StorefrontId>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<domain::ports::OrderPage, domain::ports::ListError> {
        self.inner
            .list_orders(user, storefront, limit, cursor)
            .await
    }
}

impl Ledger for Interfering {
    async fn commit(&self, c: &Change<'_>) -> Result<(), CommitError> {
        if !self
            .interfered
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let current = self.inner.get_order(&c.order.id).await?.unwrap();
            let bumped = current.next();
            let other = Change {
                order: &bumped,
                stock: Vec::new(),
                limit_releases: Vec::new(),
                payment: None,
                case: None,
                queue: Default::default(),
            };
            self.inner.commit(&other).await?;
        }
        self.inner.commit(c).await
    }
    async fn payment(
        &self,
        id: &str,
    ) -> Result<Option<domain::ports::PaymentRecord>, domain::error::StoreError> {
        self.inner.payment(id).await
    }

    async fn payments_on(
        &self,
        storefront: &domain::storefront::StorefrontId,
        channel: domain::payment::refund::PaymentChannel,
        date: &str,
    ) -> Result<Vec<domain::ports::PaymentRecord>, domain::error::StoreError> {
        self.inner.payments_on(storefront, channel, date).await
    }
    async fn due_orders(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderId>, domain::error::StoreError> {
        self.inner.due_orders(now, limit).await
    }
    async fn clear_outbox(
        &self,
        order: &domain::order::Order,
    ) -> Result<bool, domain::error::StoreError> {
        self.inner.clear_outbox(order).await
    }
    async fn get_case(
        &self,
        id: &domain::ids::CaseId,
    ) -> Result<Option<domain::after_sales::case::AfterSalesCase>, domain::error::StoreError> {
        self.inner.get_case(id).await
    }
    fn out_of_time(&self) -> bool {
        Ledger::out_of_time(&self.inner)
    }
}

/// Hole 7: a change that must be decided again stops when the request's
/// time is spent, and answers 503 `busy` with `Retry-After`.
#[tokio::test]
async fn a_change_out_of_time_answers_busy() {
    let s = Stack::spawn(Config::default()).await;
    s.t.sku("TEA", 100, "lock_on_place", 10, None).await;
    let caller = domain::ids::Caller::buyer(domain::ids::UserId::parse("rex").unwrap());
    let cancel = |store: adapters::DynamoStore, id: OrderId| {
        let publisher = s.cancel.publisher.clone();
        let caller = caller.clone();
        let cfg = s.t.app.config.clone();
        async move {
            let store = Interfering {
                inner: store,
                interfered: false.into(),
            };
            domain::order::cancel::cancel_order(
                &store,
                &publisher,
                &cfg,
                &caller,
                &id,
                None,
                Timestamp::now(),
            )
            .await
        }
    };
    // With time to spare, the change is decided again and lands.
    let order = s.placed("rex", json!([{"sku": "TEA", "qty": 1}])).await;
    let id = OrderId::parse(order["id"].as_str().unwrap()).unwrap();
    let done = cancel(s.t.app.store.clone(), id).await.unwrap();
    assert_eq!(done.status().as_str(), "cancelled");
    // Out of time: no second try.
    let order = s.placed("rex", json!([{"sku": "TEA", "qty": 1}])).await;
    let id = OrderId::parse(order["id"].as_str().unwrap()).unwrap();
    let spent = s.t.app.store.until(std::time::Instant::now());
    let err = cancel(spent, id.clone()).await.unwrap_err();
    let resp = adapters::http::ApiError::from(err).into_response();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(
        s.stored(id.as_str()).await.status().as_str(),
        "pending_payment",
        "nothing but the other writer's change landed"
    );
    assert_eq!(s.t.available("TEA").await, 9);
}

/// Hole 5: an order driven through its longest life (the most lines, the
/// longest strings every cap allows, every package shipped and received, as
/// many after-sales cases as allowed) stays well under DynamoDB's 400 KB.
#[tokio::test]
async fn the_longest_life_of_an_order_stays_well_under_the_item_limit() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let source = |i: usize| match i % 3 {
        0 => json!({"kind": "self", "warehouse": "WH-1"}),
        1 => json!({"kind": "dropship", "supplier": "S-1"}),
        _ => json!({"kind": "jd"}),
    };
    for i in 0..50 {
        s.t.put_sku(
            &format!("LONG-{i:02}-{}", "X".repeat(50)),
            json!({"name": "长".repeat(200), "price_cents": 100, "source": source(i),
                   "stock_policy": "lock_on_place", "available": 10_000}),
        )
        .await;
    }
    let lines: Vec<Value> = (0..50)
        .map(|i| json!({"sku": format!("LONG-{i:02}-{}", "X".repeat(50)), "qty": 999}))
        .collect();
    let body = json!({
        "lines": lines,
        "address": {"name": "名".repeat(100), "phone": "9".repeat(32), "line1": "路".repeat(200),
                    "city": "市".repeat(100), "postcode": "0".repeat(16)},
        "note": "备".repeat(500),
    });
    let req = integration_tests::Event::new("POST", "/orders", "/orders")
        .user("long")
        .json(&body)
        .build();
    let (status, order) = s.t.call(integration_tests::Func::Place, req).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(s.pay_order(&order, &"p".repeat(128)).await.0, 200);
    assert_eq!(s.drain(1).await, 3);
    let long = "T".repeat(64);
    let forwarded = s.order("long", &id).await;
    for p in forwarded["packages"].as_array().unwrap() {
        let pid = p["id"].as_str().unwrap();
        match p["source"]["kind"].as_str().unwrap() {
            "self" => {
                assert_eq!(s.ship(pid, &"C".repeat(64), &long).await.0, 200);
                assert_eq!(s.confirm_receipt("long", pid).await.0, 200);
            }
            kind => {
                let supplier = if kind == "jd" { "jd" } else { "S-1" };
                for status in ["shipped", "received"] {
                    let cb = json!({"package_id": pid, "status": status, "tracking_no": long, "at": integration_tests::now()});
                    assert_eq!(s.supplier(supplier, &cb).await.0, 200);
                }
            }
        }
    }
    let own = integration_tests::answers::package_of(&forwarded, "self");
    let sku = |i: usize| format!("LONG-{:02}-{}", i * 3, "X".repeat(50));
    let evidence: Vec<String> = (0..9)
        .map(|i| format!("https://img.example.com/{i}/{}", "e".repeat(990)))
        .collect();
    for i in 0..domain::after_sales::MAX_CASES_PER_ORDER {
        let case = json!({"package_id": own, "kind": "return_refund",
            "lines": [{"sku": sku(i % 17), "qty": 1}], "reason": "理".repeat(500), "evidence": evidence});
        let (status, v) = s.open_case("long", &id, &case).await;
        assert_eq!(status, 201, "case {i}: {v}");
        let cid = v["id"].as_str().unwrap();
        let note = json!({"decision": "reject", "note": "否".repeat(500)});
        assert_eq!(
            s.case("staff-1", true, cid, "review", Some(&note)).await.0,
            200
        );
    }
    let case = json!({"package_id": own, "kind": "refund_only",
        "lines": [{"sku": sku(0), "qty": 1}], "reason": "again", "evidence": ["https://img.example.com/a.jpg"]});
    let (status, v) = s.open_case("long", &id, &case).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("too_many_cases"))
    );
    let stored = s.stored(&id).await;
    let bytes = serde_json::to_vec(&stored).unwrap().len();
    eprintln!("the longest life: {bytes} bytes of order");
    assert!(bytes < 200_000, "{bytes} bytes");
}

/// A queue that is down.
struct Down;

impl domain::messages::Publisher for Down {
    async fn publish(
        &self,
        _: &[domain::messages::Message],
        _: Timestamp,
    ) -> Result<(), domain::error::StoreError> {
        Err(domain::error::StoreError::Failed("queue down".into()))
    }
}

/// Hole 8: messages published late, after the order moved on, are taken out
/// of its outbox, so no later step sends them again.
#[tokio::test]
async fn a_message_published_once_is_not_sent_again_by_later_steps() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    s.t.sku("TEA", 100, "lock_on_place", 10, None).await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 2100, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let order = s
        .placed(
            "sam",
            json!([{"sku": "TEA", "qty": 1}, {"sku": "LAMP", "qty": 1}]),
        )
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let store = &s.t.app.store;
    let cfg = &s.t.app.config;
    let now = Timestamp::now();
    // Paid while the queue is down: two forward messages wait in the outbox.
    let notice = domain::payment::pay::PaymentNotice {
        order_id: OrderId::parse(&id).unwrap(),
        payment_id: "pay-sam".into(),
        amount_cents: domain::money::Cents(order["total_cents"].as_u64().unwrap()),
        paid_at: now,
        storefront: Default::default(),
        channel: Default::default(),
    };
    let paid = domain::payment::pay::apply_payment(store, &Down, cfg, &notice, now)
        .await
        .unwrap()
        .order;
    assert_eq!(paid.outbox().len(), 2);
    // The supplier rejects its package, queue still down: a refund joins them.
    let lamp = integration_tests::answers::package_of(&order, "dropship");
    let cb = domain::fulfilment::packages::StatusCallback {
        package_id: domain::ids::PackageId::parse(&lamp).unwrap(),
        status: domain::fulfilment::packages::CallbackStatus::Rejected,
        tracking_no: None,
        at: None,
    };
    domain::fulfilment::packages::supplier_status(store, &Down, cfg, "S-1", &cb, now)
        .await
        .unwrap();
    assert_eq!(s.stored(&id).await.outbox().len(), 3);
    // The payment's late publication lands after the order moved on.
    let publisher = &s.forward.publisher;
    domain::transition::flush_outbox(store, publisher, &paid, now)
        .await
        .unwrap();
    assert_eq!(
        s.stored(&id).await.outbox().len(),
        1,
        "only the refund is left"
    );
    // A later step publishes what is left, not the forwards again.
    let tea = integration_tests::answers::package_of(&order, "self");
    assert_eq!(s.ship(&tea, "SF", "SF1").await.0, 200);
    assert_eq!(s.depth("ForwardQueue").await, 2, "each forward sent once");
    assert_eq!(s.peek("RefundQueue").await.len(), 1);
    assert!(s.stored(&id).await.outbox().is_empty());
    // Nothing is left for the sweep.
    assert_eq!(
        s.sweep_at(now.plus_secs(60)).await,
        domain::order::sweep::SweepSummary::default()
    );
}

/// Hole 12: deployed, secrets come from Secrets Manager (here the emulator);
/// a JSON secret may hold several; locally the environment stands in.
#[tokio::test]
async fn secrets_are_read_from_the_secret_store_at_cold_start() {
    use adapters::secrets::Secrets;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SQS").expect("the emulator");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("local", "local", None, None, "tests"),
        ))
        .build();
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let unique = ulid::Ulid::new().to_string();
    let plain = client
        .create_secret()
        .name(format!("payment-{unique}"))
        .secret_string("s3cret-from-the-store")
        .send()
        .await
        .unwrap();
    let jd = client
        .create_secret()
        .name(format!("jd-{unique}"))
        .secret_string(r#"{"JD_APP_SECRET": "app-s", "JD_ACCESS_TOKEN": "tok"}"#)
        .send()
        .await
        .unwrap();
    let suppliers = client
        .create_secret()
        .name(format!("suppliers-{unique}"))
        .secret_string(r#"{"S-1": "one", "jd": "jd-key"}"#)
        .send()
        .await
        .unwrap();
    let env = |k: &str| match k {
        "SUPPLIER_WEBHOOK_SECRETS_ARN" => suppliers.arn().map(str::to_owned),
        "PAYMENT_WEBHOOK_SECRET_ARN" => plain.arn().map(str::to_owned),
        "PAYMENT_WEBHOOK_SECRET" => Some("ignored when the ARN is set".into()),
        "JD_APP_SECRET_ARN" | "JD_ACCESS_TOKEN_ARN" => jd.arn().map(str::to_owned),
        "SUPPLIER_WEBHOOK_SECRET" => Some("local-fallback".into()),
        _ => None,
    };
    let names = [
        "PAYMENT_WEBHOOK_SECRET",
        "JD_APP_SECRET",
        "JD_ACCESS_TOKEN",
        "SUPPLIER_WEBHOOK_SECRET",
        "SUPPLIER_WEBHOOK_SECRETS",
        "MISSING_SECRET",
    ];
    let secrets = Secrets::load_with(&sdk, &names, env).await.unwrap();
    assert_eq!(
        secrets.get("PAYMENT_WEBHOOK_SECRET"),
        Some("s3cret-from-the-store")
    );
    assert_eq!(secrets.get("JD_APP_SECRET"), Some("app-s"));
    assert_eq!(secrets.get("JD_ACCESS_TOKEN"), Some("tok"));
    assert_eq!(
        secrets.get("SUPPLIER_WEBHOOK_SECRET"),
        Some("local-fallback")
    );
    assert!(secrets.required("MISSING_SECRET").is_err());
    // Each supplier's own key, from one secret holding the map (SPEC 2.5).
    let per_supplier = secrets.supplier_secrets().unwrap();
    let body = b"{}";
    let by_one = domain::payment::signature::sign(b"one", body);
    assert!(per_supplier.verify("S-1", body, Some(&by_one)));
    assert!(!per_supplier.verify("jd", body, Some(&by_one)));
    assert!(!format!("{secrets:?}").contains("s3cret"), "never printed");
    // A secret that cannot be read stops the cold start with its name.
    let broken = |k: &str| {
        (k == "PAYMENT_WEBHOOK_SECRET_ARN")
            .then(|| "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope".to_owned())
    };
    let err = Secrets::load_with(&sdk, &["PAYMENT_WEBHOOK_SECRET"], broken)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAYMENT_WEBHOOK_SECRET"), "{err}");
}

/// Hole 10 of the second review: when an order's messages are published
/// after it moved on, the messages it gained meanwhile are not taken for old
/// ones: the sweep leaves them to their writer for the grace period.
#[tokio::test]
async fn messages_gained_meanwhile_keep_their_grace_after_a_late_clear() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": 2100, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 10})).await;
    let order = s.placed("sol", json!([{"sku": "LAMP", "qty": 1}])).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let store = &s.t.app.store;
    let cfg = &s.t.app.config;
    let now = Timestamp::now();
    let paid_at = Timestamp::from_unix_millis(now.unix_millis() - 25_000);
    // Paid 25 s ago while the queue was down: the forward waits in the outbox.
    let notice = domain::payment::pay::PaymentNotice {
        order_id: OrderId::parse(&id).unwrap(),
        payment_id: "pay-sol".into(),
        amount_cents: domain::money::Cents(order["total_cents"].as_u64().unwrap()),
        paid_at,
        storefront: Default::default(),
        channel: Default::default(),
    };
    let paid = domain::payment::pay::apply_payment(store, &Down, cfg, &notice, paid_at)
        .await
        .unwrap()
        .order;
    // Rejected now, the queue still down: a refund joins the outbox.
    let lamp = integration_tests::answers::package_of(&order, "dropship");
    let cb = domain::fulfilment::packages::StatusCallback {
        package_id: domain::ids::PackageId::parse(&lamp).unwrap(),
        status: domain::fulfilment::packages::CallbackStatus::Rejected,
        tracking_no: None,
        at: None,
    };
    domain::fulfilment::packages::supplier_status(store, &Down, cfg, "S-1", &cb, now)
        .await
        .unwrap();
    // The payment's late publication removes the forward only.
    domain::transition::flush_outbox(store, &s.forward.publisher, &paid, now)
        .await
        .unwrap();
    let stored = s.stored(&id).await;
    assert_eq!(stored.outbox().len(), 1, "the refund is left");
    assert!(
        stored.outbox_since() >= Some(now),
        "the refund's age is not the forward's: {:?}",
        stored.outbox_since()
    );
    // 35 s after the forward was written, 10 s after the refund: not yet the sweep's.
    let summary = s.sweep_at(now.plus_secs(10)).await;
    assert_eq!(summary.republished, 0, "{summary:?}");
    let summary = s.sweep_at(now.plus_secs(60)).await;
    assert_eq!(summary.republished, 1, "{summary:?}");
}

/// Completing an exchange writes the order, the case, a lock per case line,
/// a stock take per stock item and the case's queue entry: 49 lines need 101
/// items. Too many for one transaction: staff are told to complete it as a
/// refund (409), never a 500; and a refund of the same case still completes.
#[tokio::test]
async fn an_exchange_too_large_for_one_transaction_is_refused_with_a_way_out() {
    let s = Stack::spawn(Config::default()).await;
    let lines = limited_deduct_skus(&s, 49).await;
    let order = s.placed("xl", lines.clone()).await;
    assert_eq!(s.pay_order(&order, "pay-xl").await.0, 200);
    let pkg = order["packages"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(order["packages"].as_array().unwrap().len(), 1);
    assert_eq!(s.ship(&pkg, "SF", "SF-XL").await.0, 200);
    assert_eq!(s.confirm_receipt("xl", &pkg).await.0, 200);
    let body = json!({"package_id": pkg, "kind": "exchange", "lines": lines,
                      "reason": "wrong colour", "evidence": ["https://img.example.com/x.jpg"]});
    let (status, case) = s
        .open_case("xl", order["id"].as_str().unwrap(), &body)
        .await;
    assert_eq!(status, 201, "{case}");
    let cid = case["id"].as_str().unwrap();
    let approve = json!({"decision": "approve", "note": "ok"});
    assert_eq!(
        s.case("staff-1", true, cid, "review", Some(&approve))
            .await
            .0,
        200
    );
    let back = json!({"carrier": "SF", "tracking_no": "BACK-XL"});
    assert_eq!(
        s.case("xl", false, cid, "return-shipment", Some(&back))
            .await
            .0,
        200
    );
    let (status, v) = s
        .case(
            "staff-1",
            true,
            cid,
            "complete",
            Some(&json!({"note": "swap"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("exchange_too_large")),
        "{v}"
    );
    assert_eq!(s.t.available("L00").await, 9, "nothing taken");
    let (status, v) = s
        .case(
            "staff-1",
            true,
            cid,
            "complete",
            Some(&json!({"note": "refund instead", "as": "refund"})),
        )
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("completed")),
        "{v}"
    );
}
