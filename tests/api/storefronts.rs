//! SPEC 2.13: several storefronts on one back end. Their settings are
//! staff's; a buyer's request names its storefront (`x-storefront` locally);
//! a SKU is sold where it is listed, at that storefront's price, from ONE
//! stock; an order keeps its storefront's terms.

use domain::config::Config;
use futures::future::join_all;
use integration_tests::stack::{emulator_sdk, Stack, PAYMENT_SECRET};
use integration_tests::{place_body, Event, Func, TestApp};
use serde_json::{json, Value};

async fn put_storefront(t: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let req = Event::new("PUT", "/storefronts/{id}", &format!("/storefronts/{id}"))
        .path_param("id", id)
        .user("boss")
        .staff()
        .json(&body)
        .build();
    t.call(Func::Catalog, req).await
}

async fn place_in(t: &TestApp, storefront: &str, user: &str, lines: Value) -> (u16, Value) {
    let req = Event::new("POST", "/orders", "/orders")
        .user(user)
        .header("x-storefront", storefront)
        .json(&place_body(lines))
        .build();
    t.call(Func::Place, req).await
}

#[tokio::test]
async fn storefronts_are_staff_settings_and_an_unknown_one_is_404() {
    let t = TestApp::spawn().await;
    let body = json!({"name": "WeChat mini-program", "freight_cents": 500,
                      "app_client_ids": ["mp-client"],
                      "secret_names": {"payment_webhook": "orders/mp/payment"}});
    let req = Event::new("PUT", "/storefronts/{id}", "/storefronts/mp")
        .path_param("id", "mp")
        .user("mallory")
        .json(&body)
        .build();
    let (status, v) = t.call(Func::Catalog, req).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );

    let (status, v) = put_storefront(&t, "mp", body.clone()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["freight_cents"], 500);
    assert_eq!(v["secret_names"]["payment_webhook"], "orders/mp/payment");

    let (status, v) = put_storefront(&t, "Bad_Id", json!({"name": "x"})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "{v}"
    );
    let (status, v) = put_storefront(&t, "mp2", json!({"name": "x", "payment_ttl_secs": 5})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("invalid_storefront")),
        "{v}"
    );

    let list = Event::new("GET", "/storefronts", "/storefronts")
        .user("boss")
        .staff()
        .build();
    let (status, v) = t.call(Func::Catalog, list).await;
    assert_eq!(status, 200, "{v}");
    let ids: Vec<&str> = v["storefronts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["default", "mp"],
        "the implicit default, then the stored"
    );

    // A staff user limited to another storefront sees neither its settings nor it listed.
    let limited = Event::new("GET", "/storefronts/{id}", "/storefronts/mp")
        .path_param("id", "mp")
        .user("clerk")
        .staff()
        .header("x-storefronts", "default")
        .build();
    let (status, v) = t.call(Func::Catalog, limited).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "{v}"
    );

    t.sku("TEA", 1000, "lock_on_place", 5, None).await;
    let (status, v) = place_in(&t, "nowhere", "u1", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["storefront"], "nowhere");
    let (status, v) = place_in(&t, "", "u1", json!([{"sku": "TEA", "qty": 1}])).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "an empty x-storefront names none: {v}"
    );
    assert_eq!(t.available("TEA").await, 5, "nothing taken");
}

/// Two storefronts sell one scarce SKU at different prices and freight:
/// concurrent buyers in both never oversell the one stock, and each order
/// costs its storefront's price plus its storefront's freight, computed
/// here from the settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_storefronts_share_one_scarce_stock_each_at_its_own_price_and_freight() {
    let env = Config::default();
    let t = TestApp::spawn_with(env.clone()).await;
    let (app_freight, app_free_over) = (500_u64, 100_000_u64);
    let (status, v) = put_storefront(
        &t,
        "app",
        json!({"name": "App", "freight_cents": app_freight,
               "free_shipping_over_cents": app_free_over, "after_sales_days": 15,
               "customer_service_phone": "400-222-3333"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (base_price, app_price, units) = (3_000_u64, 2_500_u64, 10_i64);
    t.put_sku(
        "SCARCE",
        json!({"name": "Scarce", "price_cents": base_price,
               "source": {"kind": "self", "warehouse": "WH-1"},
               "stock_policy": "lock_on_place", "available": units,
               "prices": {"app": app_price}}),
    )
    .await;

    let buyers = (0..30).map(|i| {
        let t = &t;
        async move {
            let sf = if i % 2 == 0 { "default" } else { "app" };
            let (status, v) = place_in(
                t,
                sf,
                &format!("b-{i}"),
                json!([{"sku": "SCARCE", "qty": 1}]),
            )
            .await;
            (sf, status, v)
        }
    });
    let results = join_all(buyers).await;
    let sold: Vec<&(&str, u16, Value)> = results.iter().filter(|r| r.1 == 201).collect();
    for (_, status, v) in &results {
        assert!(
            *status == 201 || (*status == 409 && v["error"]["code"] == "out_of_stock"),
            "{status} {v}"
        );
    }
    assert_eq!(sold.len() as i64, units, "exactly the one stock was sold");
    assert_eq!(t.available("SCARCE").await, 0);
    let freight = |goods: u64, flat: u64, over: u64| if goods >= over { 0 } else { flat };
    for (sf, _, order) in &sold {
        let (price, shipping) = match *sf {
            "app" => (app_price, freight(app_price, app_freight, app_free_over)),
            _ => (
                base_price,
                freight(base_price, env.freight.0, env.free_shipping_over.0),
            ),
        };
        assert_eq!(order["storefront"], *sf, "{order}");
        assert_eq!(order["lines"][0]["unit_price_cents"], price, "{order}");
        assert_eq!(order["freight_cents"], shipping, "{order}");
        assert_eq!(order["total_cents"], price + shipping, "{order}");
    }
    assert!(
        sold.iter().any(|r| r.0 == "app") && sold.iter().any(|r| r.0 == "default"),
        "both storefronts sold some: {:?}",
        sold.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(t.count_entities("order").await as i64, units);
}

#[tokio::test]
async fn a_sku_listed_in_one_storefront_is_refused_in_another() {
    let t = TestApp::spawn().await;
    let (status, v) = put_storefront(&t, "web", json!({"name": "Web mall"})).await;
    assert_eq!(status, 200, "{v}");
    t.put_sku(
        "WEB-ONLY",
        json!({"name": "Web only", "price_cents": 800,
               "source": {"kind": "self", "warehouse": "WH-1"},
               "stock_policy": "lock_on_place", "available": 3,
               "storefronts": ["web"]}),
    )
    .await;
    let (status, v) = place_in(&t, "default", "u1", json!([{"sku": "WEB-ONLY", "qty": 1}])).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("not_listed_here")),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["skus"], json!(["WEB-ONLY"]));
    assert_eq!(v["error"]["details"]["storefront"], "default");
    assert_eq!(t.available("WEB-ONLY").await, 3, "nothing taken");
    let (status, v) = place_in(&t, "web", "u1", json!([{"sku": "WEB-ONLY", "qty": 1}])).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["storefront"], "web");
    assert_eq!(t.available("WEB-ONLY").await, 2);
}

/// A payment notification is verified with its storefront's secret (from
/// the secret store, by the name in the storefront's settings) before
/// anything is read, and must be the order's storefront: another
/// storefront's secret, or the bare route (`default`) for an order of
/// another storefront, is 401 and changes nothing.
#[tokio::test]
async fn a_payment_is_verified_with_the_secret_of_the_orders_storefront() {
    let s = Stack::spawn(Config::default()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&emulator_sdk());
    let app_secret = format!("app-secret-{}", ulid::Ulid::new());
    let name = format!("orders/app/payment-{}", ulid::Ulid::new());
    secrets
        .create_secret()
        .name(&name)
        .secret_string(&app_secret)
        .send()
        .await
        .expect("the secret store (moto) answers");
    let (status, v) = put_storefront(
        &s.t,
        "app",
        json!({"name": "App", "secret_names": {"payment_webhook": name}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = put_storefront(&s.t, "web", json!({"name": "Web"})).await;
    assert_eq!(status, 200, "{v}");
    let pay = pay::Pay {
        secrets: adapters::secrets::PaymentSecrets::new(
            &emulator_sdk(),
            Some(PAYMENT_SECRET.to_owned()),
            true,
        ),
        ..s.pay.clone()
    };
    s.t.sku("APP-TEA", 1500, "lock_on_place", 5, None).await;
    let (status, order) = place_in(&s.t, "app", "ann", json!([{"sku": "APP-TEA", "qty": 1}])).await;
    assert_eq!(status, 201, "{order}");
    let notice = json!({"order_id": order["id"], "payment_id": "pay-app-1",
                        "amount_cents": order["total_cents"], "paid_at": integration_tests::now()});
    let web_secret = adapters::secrets::dev_payment_secret(
        &domain::storefront::StorefrontId::parse("web").unwrap(),
    );
    for (route, secret, why) in [
        (
            Some("app"),
            PAYMENT_SECRET,
            "the default storefront's secret on app's route",
        ),
        (
            None,
            PAYMENT_SECRET,
            "the bare route (default) for an order of app",
        ),
        (
            Some("web"),
            web_secret.as_str(),
            "web's own secret, for an order of app",
        ),
    ] {
        let (status, v) = s.notify_in(&pay, route, secret, &notice).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (401, Some("invalid_signature")),
            "{why}: {v}"
        );
    }
    // A storefront whose named secret cannot be read verifies nothing: 401, not 500.
    let lost = json!({"name": "Lost",
        "secret_names": {"payment_webhook": format!("orders/none-{}", ulid::Ulid::new())}});
    let (status, v) = put_storefront(&s.t, "lost", lost).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = s
        .notify_in(&pay, Some("lost"), PAYMENT_SECRET, &notice)
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_signature")),
        "{v}"
    );
    let (status, v) = s
        .notify_in(&pay, Some("gone"), PAYMENT_SECRET, &notice)
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "{v}"
    );
    let (status, stored) = s.t.get_order("ann", order["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        stored["status"], "pending_payment",
        "nothing changed: {stored}"
    );

    let (status, v) = s.notify_in(&pay, Some("app"), &app_secret, &notice).await;
    assert_eq!(status, 200, "{v}");
    let (_, stored) = s.t.get_order("ann", order["id"].as_str().unwrap()).await;
    assert_eq!(stored["status"], "awaiting_shipment", "paid: {stored}");
    assert_eq!(stored["storefront"], "app");
    // Cancelled before forwarding: the refund goes back through app's account.
    let (status, v) = s.cancel_order("ann", order["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    let refunds = s.peek("RefundQueue").await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount_cents"], order["total_cents"]);
    assert_eq!(refunds[0]["storefront"], "app", "{refunds:?}");
}

async fn list(t: &TestApp, user: &str, storefront: Option<&str>, query: &[(&str, &str)]) -> Value {
    let mut e = Event::new("GET", "/orders", "/orders").user(user);
    if let Some(sf) = storefront {
        e = e.header("x-storefront", sf);
    }
    for (k, v) in query {
        e = e.query(k, v);
    }
    let (status, v) = t.call(Func::Orders, e.build()).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET /orders` lists the caller's orders in the request's storefront;
/// `?storefront=all` lists them all, newest first, page by page.
#[tokio::test]
async fn a_buyers_list_is_per_storefront_and_all_across() {
    let t = TestApp::spawn().await;
    put_storefront(&t, "app", json!({"name": "App"})).await;
    t.sku("LIST-TEA", 500, "lock_on_place", 10, None).await;
    let line = json!([{"sku": "LIST-TEA", "qty": 1}]);
    let mut placed = Vec::new();
    for sf in ["default", "app", "default"] {
        let (status, v) = place_in(&t, sf, "lena", line.clone()).await;
        assert_eq!(status, 201, "{v}");
        placed.push((sf, v["id"].as_str().unwrap().to_owned()));
    }
    let of = |sf: &str| -> Vec<String> {
        placed
            .iter()
            .rev()
            .filter(|(s, _)| *s == sf || sf == "all")
            .map(|(_, id)| id.clone())
            .collect()
    };
    assert_eq!(ids(&list(&t, "lena", None, &[]).await), of("default"));
    assert_eq!(ids(&list(&t, "lena", Some("app"), &[]).await), of("app"));
    assert_eq!(
        ids(&list(&t, "lena", Some("app"), &[("storefront", "all")]).await),
        of("all")
    );
    // Page by page, the filter holds across pages.
    let first = list(&t, "lena", None, &[("limit", "1")]).await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = list(&t, "lena", None, &[("limit", "1"), ("cursor", &cursor)]).await;
    assert_eq!([ids(&first), ids(&second)].concat(), of("default"));
    assert!(second["next_cursor"].is_null(), "{second}");
    assert!(ids(&list(&t, "otto", None, &[("storefront", "all")]).await).is_empty());
    // Present, it must name one (Schemathesis ST201: an empty value was taken as left out).
    let req = Event::new("GET", "/orders", "/orders")
        .user("lena")
        .query("storefront", "")
        .build();
    let (status, v) = t.call(Func::Orders, req).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("unknown_storefront")),
        "{v}"
    );
}

/// Staff limited to some storefronts (`x-storefronts`) neither read nor act
/// on another storefront's order: 404, as if it did not exist; on their
/// own storefront's, and for unlimited staff, everything works.
#[tokio::test]
async fn staff_limited_to_one_storefront_cannot_read_or_act_on_anothers_order() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    put_storefront(&s.t, "app", json!({"name": "App"})).await;
    s.t.sku("STAFF-TEA", 700, "lock_on_place", 10, None).await;
    let line = json!([{"sku": "STAFF-TEA", "qty": 1}]);
    let (_, in_app) = place_in(&s.t, "app", "amy", line.clone()).await;
    let (_, at_home) = place_in(&s.t, "default", "amy", line.clone()).await;
    let app_secret = adapters::secrets::dev_payment_secret(
        &domain::storefront::StorefrontId::parse("app").unwrap(),
    );
    let pay = |o: &Value| {
        json!({"order_id": o["id"], "payment_id": format!("pay-{}", o["id"].as_str().unwrap()),
               "amount_cents": o["total_cents"], "paid_at": integration_tests::now()})
    };
    let (status, v) = s
        .notify_in(&s.pay, Some("app"), &app_secret, &pay(&in_app))
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = s
        .notify_in(&s.pay, None, PAYMENT_SECRET, &pay(&at_home))
        .await;
    assert_eq!(status, 200, "{v}");

    let as_clerk = |e: Event| {
        e.user("clerk")
            .staff()
            .header("x-storefronts", "default")
            .build()
    };
    let get =
        |id: &str| Event::new("GET", "/orders/{id}", &format!("/orders/{id}")).path_param("id", id);
    let ship = |pkg: &str| {
        Event::new(
            "POST",
            "/packages/{package_id}/ship",
            &format!("/packages/{pkg}/ship"),
        )
        .path_param("package_id", pkg)
        .json(&json!({"carrier": "SF", "tracking_no": "SF100"}))
    };
    let app_id = in_app["id"].as_str().unwrap();
    let home_id = at_home["id"].as_str().unwrap();
    let app_pkg = in_app["packages"][0]["id"].as_str().unwrap();
    let home_pkg = at_home["packages"][0]["id"].as_str().unwrap();

    let (status, v) = s.t.call(Func::Orders, as_clerk(get(app_id))).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("order_not_found")),
        "{v}"
    );
    let (status, v) = integration_tests::decode(
        status_sync::handle(&s.status_sync, as_clerk(ship(app_pkg))).await,
    );
    assert_eq!(status, 404, "shipping another storefront's package: {v}");
    let cancel = Event::new(
        "POST",
        "/orders/{id}/cancel",
        &format!("/orders/{app_id}/cancel"),
    )
    .path_param("id", app_id)
    .json(&json!({"reason": "clerk"}));
    let (status, v) = integration_tests::decode(cancel::handle(&s.cancel, as_clerk(cancel)).await);
    assert_eq!(status, 404, "cancelling another storefront's order: {v}");
    let (_, v) = s.t.get_order("amy", app_id).await;
    assert_eq!(v["status"], "awaiting_shipment", "nothing changed: {v}");

    // Their own storefront's order: read and shipped.
    let (status, v) = s.t.call(Func::Orders, as_clerk(get(home_id))).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = integration_tests::decode(
        status_sync::handle(&s.status_sync, as_clerk(ship(home_pkg))).await,
    );
    assert_eq!(status, 200, "{v}");
    // Unlimited staff: any storefront's.
    let boss = |e: Event| e.user("boss").staff().build();
    let (status, v) = s.t.call(Func::Orders, boss(get(app_id))).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) =
        integration_tests::decode(status_sync::handle(&s.status_sync, boss(ship(app_pkg))).await);
    assert_eq!(status, 200, "{v}");
}

/// Buying again in another storefront: its prices, its listing. The report
/// names the price change to that storefront's price and leaves out, as
/// `not_listed_here`, what it does not sell; the new order is placed there.
#[tokio::test]
async fn buying_again_in_another_storefront_reports_its_prices_and_listing() {
    let t = TestApp::spawn().await;
    put_storefront(&t, "app", json!({"name": "App"})).await;
    let sku = |id: &str, extra: Value| {
        let mut body = json!({"name": id, "price_cents": 1200,
            "source": {"kind": "self", "warehouse": "WH-1"},
            "stock_policy": "lock_on_place", "available": 10});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    t.put_sku(
        "AGAIN-TEA",
        sku("AGAIN-TEA", json!({"prices": {"app": 900}})),
    )
    .await;
    t.put_sku(
        "HOME-ONLY",
        sku("HOME-ONLY", json!({"storefronts": ["default"]})),
    )
    .await;
    let (status, first) = place_in(
        &t,
        "default",
        "bob",
        json!([{"sku": "AGAIN-TEA", "qty": 2}, {"sku": "HOME-ONLY", "qty": 1}]),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().unwrap();
    let req = Event::new(
        "POST",
        "/orders/{id}/repurchase",
        &format!("/orders/{id}/repurchase"),
    )
    .path_param("id", id)
    .user("bob")
    .header("x-storefront", "app")
    .build();
    let (status, v) = t.call(Func::Place, req).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["report"]["price_changes"],
        json!([{"sku": "AGAIN-TEA", "old_price_cents": 1200, "new_price_cents": 900}])
    );
    assert_eq!(v["report"]["unavailable"][0]["sku"], "HOME-ONLY", "{v}");
    assert_eq!(
        v["report"]["unavailable"][0]["reason"], "not_listed_here",
        "{v}"
    );
    let again = &v["order"];
    assert_eq!(again["storefront"], "app");
    assert_eq!(again["lines"].as_array().unwrap().len(), 1, "{again}");
    assert_eq!(again["lines"][0]["unit_price_cents"], 900);
    assert_eq!(again["goods_cents"], 1800);
}

/// Deployed, the storefront of a buyer's request is the one whose
/// `app_client_ids` name the app client the JWT was issued to (`client_id`,
/// or `aud` in an ID token); a client no storefront names is `default`. A
/// staff user's limit is the `custom:storefronts` claim.
#[tokio::test]
async fn deployed_the_jwts_app_client_picks_the_storefront() {
    let t = TestApp::spawn().await;
    let (status, v) = put_storefront(
        &t,
        "mp",
        json!({"name": "Mini-program", "app_client_ids": ["mp-client-1"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    t.put_sku(
        "JWT-TEA",
        json!({"name": "Tea", "price_cents": 1000, "source": {"kind": "self", "warehouse": "WH-1"},
               "stock_policy": "lock_on_place", "available": 10, "prices": {"mp": 800}}),
    )
    .await;
    let jwt = t.with_jwt_auth();
    let place = |claims: Value| {
        Event::new("POST", "/orders", "/orders")
            // A header names nothing deployed: only the token counts.
            .header("x-storefront", "default")
            .claims(claims)
            .json(&place_body(json!([{"sku": "JWT-TEA", "qty": 1}])))
            .build()
    };
    let cases = [
        (json!({"sub": "jo", "client_id": "mp-client-1"}), "mp", 800),
        (json!({"sub": "jo", "aud": "mp-client-1"}), "mp", 800),
        (
            json!({"sub": "jo", "client_id": "web-client"}),
            "default",
            1000,
        ),
        (json!({"sub": "jo"}), "default", 1000),
    ];
    let mut in_mp = None;
    for (claims, sf, price) in cases {
        let (status, v) =
            integration_tests::decode(place::handle(&jwt, place(claims.clone())).await);
        assert_eq!(status, 201, "{claims}: {v}");
        assert_eq!(v["storefront"], sf, "{claims}");
        assert_eq!(v["lines"][0]["unit_price_cents"], price, "{claims}");
        if sf == "mp" {
            in_mp = Some(v["id"].as_str().unwrap().to_owned());
        }
    }
    let id = in_mp.unwrap();
    let get = |claims: Value| {
        Event::new("GET", "/orders/{id}", &format!("/orders/{id}"))
            .path_param("id", &id)
            .claims(claims)
            .build()
    };
    let limited =
        json!({"sub": "sue", "cognito:groups": "[staff]", "custom:storefronts": "default"});
    let (status, v) = integration_tests::decode(orders::handle(&jwt, get(limited)).await);
    assert_eq!(status, 404, "{v}");
    let serving =
        json!({"sub": "sue", "cognito:groups": "[staff]", "custom:storefronts": "default,mp"});
    let (status, v) = integration_tests::decode(orders::handle(&jwt, get(serving)).await);
    assert_eq!(status, 200, "{v}");
}

/// An order keeps its storefront's after-sales terms from its placement:
/// its service phone on the case, and its window (`after_sales_days: 0`
/// closes at receipt, while `default`'s 7 days are open).
#[tokio::test]
async fn an_order_keeps_its_storefronts_after_sales_window_and_phone() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let strict =
        json!({"name": "Strict", "after_sales_days": 0, "customer_service_phone": "400-000-0001"});
    put_storefront(&s.t, "strict", strict).await;
    put_storefront(
        &s.t,
        "kind",
        json!({"name": "Kind", "after_sales_days": 30, "customer_service_phone": "400-999-8888"}),
    )
    .await;
    s.t.sku("TERMS-MUG", 900, "lock_on_place", 10, None).await;
    let mut received = Vec::new();
    for sf in ["strict", "kind"] {
        let (status, o) = place_in(&s.t, sf, "tom", json!([{"sku": "TERMS-MUG", "qty": 1}])).await;
        assert_eq!(status, 201, "{o}");
        let secret = adapters::secrets::dev_payment_secret(
            &domain::storefront::StorefrontId::parse(sf).unwrap(),
        );
        let notice = json!({"order_id": o["id"], "payment_id": format!("pay-{sf}"),
                            "amount_cents": o["total_cents"], "paid_at": integration_tests::now()});
        let (status, v) = s.notify_in(&s.pay, Some(sf), &secret, &notice).await;
        assert_eq!(status, 200, "{v}");
        let pkg = o["packages"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(s.ship(&pkg, "SF", "SF9").await.0, 200);
        assert_eq!(s.confirm_receipt("tom", &pkg).await.0, 200);
        received.push((o["id"].as_str().unwrap().to_owned(), pkg));
    }
    let case = |pkg: &str| {
        json!({"package_id": pkg, "kind": "refund_only", "lines": [{"sku": "TERMS-MUG", "qty": 1}],
               "reason": "broken", "evidence": ["https://img.example.com/1.jpg"]})
    };
    let (status, v) = s
        .open_case("tom", &received[0].0, &case(&received[0].1))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("after_sales_window_closed")),
        "strict's window closed at receipt: {v}"
    );
    let (status, v) = s
        .open_case("tom", &received[1].0, &case(&received[1].1))
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["customer_service_phone"], "400-999-8888", "{v}");
    assert_eq!(v["storefront"], "kind", "{v}");
}
