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
