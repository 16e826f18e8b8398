use integration_tests::{Event, Func, TestApp};
use serde_json::json;

#[tokio::test]
async fn another_users_order_is_not_found_but_staff_see_it() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 3900, "lock_on_place", 10, None).await;
    let (_, order) = t
        .place("owner", json!([{"sku": "TEA", "qty": 1}]), None)
        .await;
    let id = order["id"].as_str().unwrap();
    let (status, v) = t.get_order("stranger", id).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, missing) = t.get_order("owner", "01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (404, &json!("order_not_found")),
        "same answer as for a missing order"
    );
    let (status, _) = t.get_order("owner", "not-an-id").await;
    assert_eq!(status, 404);
    let staff = Event::new("GET", "/orders/{id}", "/orders/x")
        .path_param("id", id)
        .user("helpdesk")
        .staff();
    let (status, v) = t.call(Func::Orders, staff.build()).await;
    assert_eq!((status, v["id"].as_str()), (200, Some(id)));
}

#[tokio::test]
async fn list_is_newest_first_and_paginates_with_an_opaque_cursor() {
    let t = TestApp::spawn().await;
    t.sku("TEA", 100, "lock_on_place", 100, None).await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        let (status, o) = t
            .place("lister", json!([{"sku": "TEA", "qty": 1}]), None)
            .await;
        assert_eq!(status, 201);
        placed.push(o["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    t.place("someone-else", json!([{"sku": "TEA", "qty": 1}]), None)
        .await;
    placed.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let mut e = Event::new("GET", "/orders", "/orders")
            .user("lister")
            .query("limit", "2");
        if let Some(c) = &cursor {
            e = e.query("cursor", c);
        }
        let (status, v) = t.call(Func::Orders, e.build()).await;
        assert_eq!(status, 200, "{v}");
        for o in v["orders"].as_array().unwrap() {
            assert_eq!(o["user_id"], "lister");
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert_eq!(page, 2);
                break;
            }
        }
    }
    assert_eq!(seen, placed);

    for (name, value) in [
        ("cursor", "garbage!!"),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
    ] {
        let e = Event::new("GET", "/orders", "/orders")
            .user("lister")
            .query(name, value);
        let (status, v) = t.call(Func::Orders, e.build()).await;
        assert_eq!(status, 400, "{name}={value}: {v}");
    }
    let (status, v) = t
        .call(
            Func::Orders,
            Event::new("GET", "/orders", "/orders").build(),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, v) = t
        .call(
            Func::Orders,
            Event::new("GET", "/orders", "/orders")
                .user("nobody")
                .build(),
        )
        .await;
    assert_eq!(
        (status, v),
        (200, json!({"orders": [], "next_cursor": null}))
    );
}

/// One user's list, page by page with `limit`: (order ids, cursor) per page.
async fn list_pages(t: &TestApp, user: &str, limit: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut e = Event::new("GET", "/orders", "/orders")
            .user(user)
            .query("limit", limit);
        if let Some(c) = &cursor {
            e = e.query("cursor", c);
        }
        let (status, v) = t.call(Func::Orders, e.build()).await;
        assert_eq!(status, 200, "{v}");
        let ids: Vec<String> = v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        cursor = v["next_cursor"].as_str().map(str::to_owned);
        pages.push((ids, cursor.clone()));
        if cursor.is_none() || pages.len() > 10 {
            return pages;
        }
    }
}

#[tokio::test]
async fn large_orders_past_one_dynamodb_page_are_all_listed() {
    const ORDERS: usize = 45;
    let t = TestApp::spawn().await;
    // 50 lines of the longest SKU ids and names: some 25 KB per stored order.
    let skus: Vec<String> = (0..50)
        .map(|i| format!("BIG-{i:02}-{}", "X".repeat(57)))
        .collect();
    for (i, sku) in skus.iter().enumerate() {
        t.put_sku(sku, json!({"name": format!("{i:02} {}", "n".repeat(197)), "price_cents": 100, "source": {"kind": "self", "warehouse": "WH-1"}, "stock_policy": "deduct_on_pay", "available": 100_000}))
            .await;
    }
    let lines: Vec<_> = skus.iter().map(|s| json!({"sku": s, "qty": 1})).collect();
    let lines = json!(lines);
    let mut placed = Vec::new();
    for _ in 0..ORDERS / 5 {
        let batch =
            futures::future::join_all((0..5).map(|_| t.place("hoarder", lines.clone(), None)))
                .await;
        for (status, o) in batch {
            assert_eq!(status, 201, "{o}");
            placed.push(o["id"].as_str().unwrap().to_owned());
        }
    }
    placed.sort();
    placed.reverse();

    // The stored orders really pass DynamoDB's 1 MB page: one query of the
    // index stops short of them.
    let client = t.app.store.client();
    let one_page = client
        .query()
        .table_name(t.app.store.table())
        .index_name(adapters::dynamo::keys::USER_ORDERS_INDEX)
        .key_condition_expression("user_pk = :u")
        .expression_attribute_values(
            ":u",
            aws_sdk_dynamodb::types::AttributeValue::S(adapters::dynamo::keys::user_orders(
                &domain::ids::UserId::parse("hoarder").unwrap(),
            )),
        )
        .send()
        .await
        .expect("query");
    assert!(
        one_page.last_evaluated_key.is_some() && one_page.items().len() < ORDERS,
        "one page of 1 MB held all {} orders: make them larger",
        one_page.items().len()
    );

    let pages = list_pages(&t, "hoarder", "100").await;
    assert_eq!(pages.len(), 1, "one page, no cursor: {pages:?}");
    assert_eq!(pages[0].0, placed, "every order, newest first");

    let pages = list_pages(&t, "hoarder", "30").await;
    let sizes: Vec<usize> = pages.iter().map(|(ids, _)| ids.len()).collect();
    assert_eq!(sizes, [30, ORDERS - 30], "{pages:?}");
    assert!(pages[0].1.is_some());
    let seen: Vec<String> = pages.into_iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(seen, placed);
}
