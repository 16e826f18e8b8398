//! SPEC 2.11's work queues on DynamoDB Local: every entry joins and leaves
//! its queue with the transition that starts or ends the work (however often
//! or in whatever order events come), lists are paginated oldest first, a
//! role that may not read a list gets 403, the attention list is ended by
//! staff, and staff search orders by status or user.

use domain::config::Config;
use integration_tests::answers::package_with_sku;
use integration_tests::stack::Stack;
use integration_tests::{decode, Event, Func};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A caller: user, roles, warehouse.
type Who = (&'static str, Option<&'static str>, Option<&'static str>);
const ADMIN: Who = ("ada", Some("admin"), None);
const SUPPORT: Who = ("sue", Some("support"), None);
const WH1: Who = ("wes", Some("warehouse"), Some("WH-1"));
const BUYER: Who = ("rita", None, None);

fn as_who(mut e: Event, w: Who) -> lambda_http::Request {
    e = e.user(w.0);
    if let Some(r) = w.1 {
        e = e.header("x-user-role", r);
    }
    if let Some(wh) = w.2 {
        e = e.header("x-warehouse", wh);
    }
    e.build()
}

async fn read_with(
    b: &backoffice::Backoffice,
    w: Who,
    path: &str,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let mut e = Event::new("GET", path, path);
    for (k, v) in query {
        e = e.query(k, v);
    }
    decode(backoffice::handle(b, as_who(e, w)).await)
}

async fn read(s: &Stack, w: Who, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    read_with(&s.backoffice, w, path, query).await
}

/// Every entry of a list, page by page (`limit` each), and the page count.
async fn read_all(
    s: &Stack,
    w: Who,
    path: &str,
    key: &str,
    query: &[(&str, &str)],
    limit: &str,
) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("limit", limit));
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let (status, v) = read(s, w, path, &q).await;
        assert_eq!(status, 200, "{path} {q:?}: {v}");
        pages += 1;
        let got = v[key].as_array().unwrap();
        assert!(got.len() <= limit.parse().unwrap(), "{v}");
        all.extend(got.iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => {
                assert!(!got.is_empty(), "no empty page before the end: {v}");
                cursor = Some(c.to_owned());
            }
            None => return (all, pages),
        }
    }
}

fn subjects(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect()
}

async fn put_sku(s: &Stack, sku: &str, source: Value) {
    let body = json!({"name": format!("Item {sku}"), "price_cents": 1500, "source": source,
                      "stock_policy": "lock_on_place", "available": 100});
    let (status, v) =
        s.t.call(
            Func::Catalog,
            as_who(
                Event::new("PUT", "/skus/{sku}", &format!("/skus/{sku}"))
                    .path_param("sku", sku)
                    .json(&body),
                ADMIN,
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

/// Places and pays an order of `skus` (one each) for `user`.
async fn paid(s: &Stack, user: &str, skus: &[&str], pay: &str) -> Value {
    let lines: Vec<Value> = skus.iter().map(|k| json!({"sku": k, "qty": 1})).collect();
    let order = s.placed(user, json!(lines)).await;
    let (status, v) = s.pay_order(&order, pay).await;
    assert_eq!(status, 200, "{v}");
    order
}

fn windowless() -> Config {
    Config {
        intercept_window_secs: 0,
        ..Config::default()
    }
}

#[tokio::test]
async fn the_pick_list_and_the_supplier_queue_follow_each_parcel() {
    let s = Stack::spawn(windowless()).await;
    put_sku(&s, "MUG", json!({"kind": "self", "warehouse": "WH-1"})).await;
    put_sku(&s, "PAN", json!({"kind": "self", "warehouse": "WH-2"})).await;
    put_sku(&s, "LAMP", json!({"kind": "dropship", "supplier": "S-1"})).await;
    let a = paid(&s, "rita", &["MUG", "PAN", "LAMP"], "pay-pick-a").await;
    let b = paid(&s, "otto", &["MUG"], "pay-pick-b").await;
    let (a_mug, a_pan, a_lamp) = (
        package_with_sku(&a, "MUG"),
        package_with_sku(&a, "PAN"),
        package_with_sku(&a, "LAMP"),
    );
    let b_mug = package_with_sku(&b, "MUG");
    // Paid, inside no window yet handed over: no pick list.
    let (_, v) = read(&s, WH1, "/staff/packages", &[("queue", "to_ship")]).await;
    assert_eq!(v["packages"], json!([]), "nothing handed over yet: {v}");
    assert_eq!(s.drain(1).await, 4, "four hand-overs");

    let (status, v) = read(&s, WH1, "/staff/packages", &[("queue", "to_ship")]).await;
    assert_eq!(status, 200, "{v}");
    let list = v["packages"].as_array().unwrap();
    assert_eq!(
        subjects(list).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([a_mug.clone(), b_mug.clone()]),
        "WH-1's parcels only: {v}"
    );
    assert!(list[0]["since"].as_str() <= list[1]["since"].as_str());
    let mine = list
        .iter()
        .find(|e| e["subject"] == a_mug.as_str())
        .unwrap();
    assert_eq!(mine["order_id"], a["id"]);
    assert_eq!(mine["scope"], "WH-1");
    assert_eq!(
        mine["lines"],
        json!([{"sku": "MUG", "name": "Item MUG", "qty": 1}])
    );
    assert_eq!(mine["address"], a["address"]);
    assert_eq!(v["next_cursor"], Value::Null);

    // Who may read which list.
    for (w, query, want) in [
        (WH1, ("queue", "to_ship"), 200),
        (BUYER, ("queue", "to_ship"), 403),
        (SUPPORT, ("queue", "to_ship"), 403),
        (SUPPORT, ("queue", "overdue"), 200),
        (WH1, ("queue", "overdue"), 403),
        (ADMIN, ("queue", "everything"), 400),
    ] {
        let (status, v) = read(&s, w, "/staff/packages", &[query]).await;
        assert_eq!(status, want, "{} {query:?}: {v}", w.0);
    }
    let (status, _) = read(
        &s,
        WH1,
        "/staff/packages",
        &[("queue", "to_ship"), ("warehouse", "WH-2")],
    )
    .await;
    assert_eq!(status, 403, "another warehouse's pick list");
    // A malformed warehouse is refused whatever the queue (Schemathesis ST201).
    for queue in ["to_ship", "overdue"] {
        let (status, v) = read(
            &s,
            ADMIN,
            "/staff/packages",
            &[("queue", queue), ("warehouse", "")],
        )
        .await;
        assert_eq!(status, 400, "{queue} with an empty warehouse: {v}");
    }
    for path in ["/staff/attention", "/staff/after-sales", "/staff/orders"] {
        let (status, v) = read(&s, WH1, path, &[("status", "shipped")]).await;
        assert_eq!(status, 403, "{path} is not the warehouse's: {v}");
    }
    let (_, v) = read(&s, ADMIN, "/staff/packages", &[("queue", "to_ship")]).await;
    let scopes: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["scope"].as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        ["WH-1", "WH-1", "WH-2"],
        "every warehouse, grouped: {v}"
    );

    // The supplier's parcel is not overdue after 48 hours' default; it is
    // with SHIP_OVERDUE_HOURS=0.
    let (_, v) = read(&s, SUPPORT, "/staff/packages", &[("queue", "overdue")]).await;
    assert_eq!(v["packages"], json!([]), "{v}");
    let mut late = s.backoffice.clone();
    late.app.config.ship_overdue_hours = 0;
    let (_, v) = read_with(&late, SUPPORT, "/staff/packages", &[("queue", "overdue")]).await;
    assert_eq!(
        subjects(v["packages"].as_array().unwrap()),
        vec![a_lamp.clone()]
    );

    let (status, v) = read(&s, ADMIN, "/staff/summary", &[]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"to_ship": {"WH-1": 2, "WH-2": 1}, "overdue": 0, "attention": 0,
               "after_sales": {"requested": 0, "approved": 0, "return_shipped": 0}})
    );
    let (_, v) = read(&s, WH1, "/staff/summary", &[]).await;
    assert_eq!(v, json!({"to_ship": {"WH-1": 2}}), "its own pick list only");

    // The staff `actions` offer `ship` exactly for what is on a pick list,
    // to whoever ships from its warehouse.
    let ships = |v: &Value| -> BTreeSet<String> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "ship")
            .map(|a| a["package_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let a_id = a["id"].as_str().unwrap();
    let view_as = |w: Who| {
        let path = format!("/orders/{a_id}");
        s.t.call(
            Func::Orders,
            as_who(
                Event::new("GET", "/orders/{id}", &path).path_param("id", a_id),
                w,
            ),
        )
    };
    let (_, admin_view) = view_as(ADMIN).await;
    assert_eq!(
        ships(&admin_view),
        BTreeSet::from([a_mug.clone(), a_pan.clone()]),
        "{admin_view}"
    );
    let (_, support_view) = view_as(SUPPORT).await;
    assert_eq!(
        ships(&support_view),
        BTreeSet::new(),
        "support does not ship"
    );
    let (_, owner_view) = view_as(BUYER).await;
    assert_eq!(ships(&owner_view), BTreeSet::new());

    // Shipped (twice: the second changes nothing): off the pick list.
    for _ in 0..2 {
        let (status, v) = s.ship(&a_mug, "SF", "SF-1").await;
        assert_eq!(status, 200, "{v}");
    }
    let (_, v) = read(&s, WH1, "/staff/packages", &[("queue", "to_ship")]).await;
    assert_eq!(
        subjects(v["packages"].as_array().unwrap()),
        vec![b_mug.clone()]
    );
    // Received before it was reported shipped, then shipped late: off the
    // supplier queue, and it does not come back.
    assert_eq!(s.report("S-1", &a_lamp, "received").await.0, 200);
    assert_eq!(s.report("S-1", &a_lamp, "shipped").await.0, 200);
    let (_, v) = read_with(&late, SUPPORT, "/staff/packages", &[("queue", "overdue")]).await;
    assert_eq!(v["packages"], json!([]), "{v}");
    // A cancel of the handed-over order asks the warehouse to intercept: the
    // parcel leaves the pick list.
    let (status, v) = s.cancel_order("otto", b["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = read(&s, WH1, "/staff/packages", &[("queue", "to_ship")]).await;
    assert_eq!(v["packages"], json!([]), "{v}");
    let (_, v) = read(&s, ADMIN, "/staff/summary", &[]).await;
    assert_eq!(v["to_ship"], json!({"WH-2": 1}), "{v}");
    assert_eq!(
        read(
            &s,
            WH1,
            "/staff/packages",
            &[("queue", "to_ship"), ("warehouse", "WH-1")]
        )
        .await
        .1["packages"],
        json!([])
    );
    let (_, v) = read(
        &s,
        ADMIN,
        "/staff/packages",
        &[("queue", "to_ship"), ("warehouse", "WH-2")],
    )
    .await;
    assert_eq!(subjects(v["packages"].as_array().unwrap()), vec![a_pan]);
}

#[tokio::test]
async fn a_queue_reads_page_by_page_oldest_first_across_every_partition() {
    let s = Stack::spawn(windowless()).await;
    for (sku, wh) in [("P1", "PG-1"), ("P2", "PG-2"), ("P3", "PG-3")] {
        put_sku(&s, sku, json!({"kind": "self", "warehouse": wh})).await;
    }
    let mut expected = BTreeSet::new();
    for i in 0..5 {
        let o = paid(
            &s,
            &format!("pager-{i}"),
            &["P1", "P2", "P3"],
            &format!("pay-page-{i}"),
        )
        .await;
        for sku in ["P1", "P2", "P3"] {
            expected.insert(package_with_sku(&o, sku));
        }
    }
    assert_eq!(s.drain(1).await, 15);
    let (all, pages) = read_all(
        &s,
        ADMIN,
        "/staff/packages",
        "packages",
        &[("queue", "to_ship")],
        "4",
    )
    .await;
    assert_eq!(pages, 4, "15 entries, 4 a page");
    let got: Vec<String> = subjects(&all);
    assert_eq!(got.len(), 15, "each once: {got:?}");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let keys: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e["scope"].as_str().unwrap().to_owned(),
                e["since"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "grouped by warehouse, oldest first within one"
    );
    let (one, pages) = read_all(
        &s,
        ADMIN,
        "/staff/packages",
        "packages",
        &[("queue", "to_ship"), ("warehouse", "PG-2")],
        "1",
    )
    .await;
    assert_eq!((one.len(), pages), (5, 5));
    // A cursor resumes only the list it came from.
    let (_, v) = read(
        &s,
        ADMIN,
        "/staff/packages",
        &[("queue", "to_ship"), ("warehouse", "PG-2"), ("limit", "2")],
    )
    .await;
    let cursor = v["next_cursor"].as_str().unwrap();
    for bad in [cursor, "bm9wZQ", "!!"] {
        let warehouse = if bad == cursor { "PG-3" } else { "PG-2" };
        let (status, v) = read(
            &s,
            ADMIN,
            "/staff/packages",
            &[
                ("queue", "to_ship"),
                ("warehouse", warehouse),
                ("cursor", bad),
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("invalid_cursor")),
            "{v}"
        );
    }
}

#[tokio::test]
async fn a_case_moves_through_the_after_sales_queue_and_leaves_it_when_done() {
    let s = Stack::spawn(windowless()).await;
    put_sku(&s, "MUG", json!({"kind": "self", "warehouse": "WH-1"})).await;
    let order = paid(&s, "rita", &["MUG"], "pay-case-q").await;
    let id = order["id"].as_str().unwrap();
    let pkg = package_with_sku(&order, "MUG");
    s.drain(1).await;
    assert_eq!(s.ship(&pkg, "SF", "SF-9").await.0, 200);
    assert_eq!(s.confirm_receipt("rita", &pkg).await.0, 200);
    let body = json!({"package_id": pkg, "kind": "return_refund", "lines": [{"sku": "MUG", "qty": 1}],
                      "reason": "cracked", "evidence": ["https://img.example/1.jpg"]});
    let (status, case) = s.open_case("rita", id, &body).await;
    assert_eq!(status, 201, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();
    let in_status = |st: &'static str| {
        let s = &s;
        async move {
            let (status, v) = read(s, SUPPORT, "/staff/after-sales", &[("status", st)]).await;
            assert_eq!(status, 200, "{v}");
            subjects(v["cases"].as_array().unwrap())
        }
    };
    assert_eq!(in_status("requested").await, vec![case_id.clone()]);
    let staff_actions = |v: &Value| -> Vec<Value> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a.get("case_id").is_some())
            .cloned()
            .collect()
    };
    assert_eq!(
        staff_actions(&s.order_as_staff(id).await),
        [json!({"action": "review", "case_id": case_id})]
    );
    let review = json!({"decision": "approve", "note": "send it back"});
    assert_eq!(
        s.case("sue", true, &case_id, "review", Some(&review))
            .await
            .0,
        200
    );
    assert_eq!(in_status("requested").await, Vec::<String>::new());
    assert_eq!(in_status("approved").await, vec![case_id.clone()]);
    let ret = json!({"carrier": "SF", "tracking_no": "SF-BACK"});
    for _ in 0..2 {
        let (status, v) = s
            .case("rita", false, &case_id, "return-shipment", Some(&ret))
            .await;
        assert!(status == 200 || status == 409, "{v}");
    }
    assert_eq!(in_status("approved").await, Vec::<String>::new());
    assert_eq!(in_status("return_shipped").await, vec![case_id.clone()]);
    let (_, v) = read(&s, ADMIN, "/staff/summary", &[]).await;
    assert_eq!(
        v["after_sales"],
        json!({"requested": 0, "approved": 0, "return_shipped": 1})
    );
    let (status, v) = read(
        &s,
        SUPPORT,
        "/staff/after-sales",
        &[("status", "completed")],
    )
    .await;
    assert_eq!(status, 400, "not a queue: {v}");
    assert_eq!(
        staff_actions(&s.order_as_staff(id).await),
        [json!({"action": "complete", "case_id": case_id})]
    );
    let done = json!({"note": "received back"});
    let (status, v) = s.case("sue", true, &case_id, "complete", Some(&done)).await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = read(&s, SUPPORT, "/staff/after-sales", &[]).await;
    assert_eq!(v["cases"], json!([]), "completed: off every status: {v}");
}

#[tokio::test]
async fn the_attention_list_holds_what_needs_a_person_until_staff_end_it() {
    let s = Stack::spawn(windowless()).await;
    put_sku(&s, "LAMP", json!({"kind": "dropship", "supplier": "S-1"})).await;
    // Cancelled and refunded in the window, then reported shipped twice: one
    // late event.
    let order = paid(&s, "jon", &["LAMP"], "pay-late-q").await;
    let id = order["id"].as_str().unwrap();
    let lamp = package_with_sku(&order, "LAMP");
    assert_eq!(s.cancel_order("jon", id).await.0, 200);
    for _ in 0..2 {
        assert_eq!(s.report("S-1", &lamp, "shipped").await.0, 200);
    }
    let (status, v) = read(&s, SUPPORT, "/staff/attention", &[]).await;
    assert_eq!(status, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    let item = &items[0];
    assert_eq!(item["kind"], "late_event");
    assert_eq!(item["order_id"], id);
    assert_eq!(item["package_id"], lamp.as_str());
    assert_eq!(item["actions"], json!(["acknowledge"]));
    let item_id = item["subject"].as_str().unwrap().to_owned();
    let staff_view = s.order_as_staff(id).await;
    assert_eq!(staff_view["attention"][0]["id"], item_id.as_str());
    assert!(
        staff_view["actions"]
            .as_array()
            .unwrap()
            .contains(&json!({"action": "acknowledge", "item_id": item_id})),
        "{staff_view}"
    );

    let ack = |w: Who, item: &str, body: Value| {
        let path = format!("/staff/attention/{item}/acknowledge");
        as_who(
            Event::new("POST", "/staff/attention/{item_id}/acknowledge", &path)
                .path_param("item_id", item)
                .json(&body),
            w,
        )
    };
    let note = json!({"note": "supplier confirmed: nothing shipped"});
    // Its owner is refused; who does not see the order finds no item.
    let owner: Who = ("jon", None, None);
    for (w, want) in [(owner, 403), (BUYER, 404), (WH1, 404)] {
        let (status, v) =
            decode(backoffice::handle(&s.backoffice, ack(w, &item_id, note.clone())).await);
        assert_eq!(status, want, "{}: {v}", w.0);
    }
    let (status, v) = decode(
        backoffice::handle(&s.backoffice, ack(SUPPORT, &item_id, json!({"note": " "}))).await,
    );
    assert_eq!(status, 400, "{v}");
    let other = format!("{}-A07", id);
    let (status, _) =
        decode(backoffice::handle(&s.backoffice, ack(SUPPORT, &other, note.clone())).await);
    assert_eq!(status, 404);
    for _ in 0..2 {
        let (status, v) =
            decode(backoffice::handle(&s.backoffice, ack(SUPPORT, &item_id, note.clone())).await);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["attention"], json!([]), "{v}");
    }
    let (_, v) = read(&s, SUPPORT, "/staff/attention", &[]).await;
    assert_eq!(v["items"], json!([]), "{v}");
    let stored = s.order_as_staff(id).await;
    let ended: Vec<&Value> = stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["event"] == "attention_ended")
        .collect();
    assert_eq!(ended.len(), 1, "once: {stored}");
    assert_eq!(ended[0]["actor"], "staff:sue");
    assert!(ended[0]["cause"]
        .as_str()
        .unwrap()
        .contains("nothing shipped"));
}

#[tokio::test]
async fn staff_search_orders_by_status_or_user_within_a_time_range() {
    let s = Stack::spawn(windowless()).await;
    put_sku(&s, "MUG", json!({"kind": "self", "warehouse": "WH-1"})).await;
    let before = domain::time::Timestamp::now();
    let mut paid_ids = Vec::new();
    for i in 0..3 {
        paid_ids.push(paid(&s, "finn", &["MUG"], &format!("pay-search-{i}")).await["id"].clone());
    }
    let middle = domain::time::Timestamp::now();
    let unpaid = s.placed("finn", json!([{"sku": "MUG", "qty": 1}])).await;
    let ids = |v: &Value| -> Vec<Value> {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect()
    };
    let (status, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[("status", "awaiting_shipment")],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let mut newest_first = paid_ids.clone();
    newest_first.reverse();
    assert_eq!(ids(&v), newest_first, "{v}");
    let (_, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[("status", "pending_payment")],
    )
    .await;
    assert_eq!(ids(&v), [unpaid["id"].clone()]);
    let (_, v) = read(&s, SUPPORT, "/staff/orders", &[("user_id", "finn")]).await;
    assert_eq!(ids(&v).len(), 4);
    assert_eq!(ids(&v)[0], unpaid["id"], "newest first");
    let (_, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[("user_id", "finn"), ("to", &middle.to_string())],
    )
    .await;
    assert_eq!(ids(&v), newest_first, "to is exclusive: {v}");
    let (_, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[
            ("status", "awaiting_shipment"),
            ("from", &before.to_string()),
            ("limit", "2"),
        ],
    )
    .await;
    assert_eq!(ids(&v), newest_first[..2]);
    let cursor = v["next_cursor"].as_str().unwrap().to_owned();
    let (_, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[
            ("status", "awaiting_shipment"),
            ("from", &before.to_string()),
            ("limit", "2"),
            ("cursor", &cursor),
        ],
    )
    .await;
    assert_eq!(ids(&v), newest_first[2..]);
    assert_eq!(v["next_cursor"], Value::Null);
    // The order leaves its status's index with its change.
    let (status, _) = s.cancel_order("finn", unpaid["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (_, v) = read(
        &s,
        SUPPORT,
        "/staff/orders",
        &[("status", "pending_payment")],
    )
    .await;
    assert_eq!(ids(&v), Vec::<Value>::new());
    for bad in [
        vec![],
        vec![("status", "awaiting_shipment"), ("user_id", "finn")],
        vec![("status", "lost")],
        vec![("user_id", "finn"), ("from", "yesterday")],
        vec![("user_id", "finn"), ("storefront", "NotAnId")],
    ] {
        let (status, v) = read(&s, SUPPORT, "/staff/orders", &bad).await;
        assert_eq!(status, 400, "{bad:?}: {v}");
    }
    // A cursor from before `from` (or made up) is refused, never a 500.
    let early = v_cursor_of(&s, "finn").await;
    for (by, value) in [("status", "awaiting_shipment"), ("user_id", "finn")] {
        for cursor in [early.0.as_str(), early.1.as_str(), "czE6IQ", "dTE6IQ"] {
            let later = domain::time::Timestamp::now().plus_secs(3600).to_string();
            let (status, v) = read(
                &s,
                SUPPORT,
                "/staff/orders",
                &[(by, value), ("from", &later), ("cursor", cursor)],
            )
            .await;
            assert_eq!(
                (status, v["error"]["code"].as_str()),
                (400, Some("invalid_cursor")),
                "{by} from {later} with cursor {cursor}: {v}"
            );
        }
    }
    let limited: Who = ("lia", Some("support"), None);
    let e = Event::new("GET", "/staff/orders", "/staff/orders")
        .query("user_id", "finn")
        .query("storefront", "default")
        .header("x-storefronts", "app");
    let (status, v) = decode(backoffice::handle(&s.backoffice, as_who(e, limited)).await);
    assert_eq!(status, 403, "a storefront it does not serve: {v}");
}

/// A status-search cursor and a user-search cursor of `user`'s orders (pages of one).
async fn v_cursor_of(s: &Stack, user: &str) -> (String, String) {
    let (_, by_status) = read(
        s,
        SUPPORT,
        "/staff/orders",
        &[("status", "awaiting_shipment"), ("limit", "1")],
    )
    .await;
    let (_, by_user) = read(
        s,
        SUPPORT,
        "/staff/orders",
        &[("user_id", user), ("limit", "1")],
    )
    .await;
    (
        by_status["next_cursor"]
            .as_str()
            .expect("a status cursor")
            .to_owned(),
        by_user["next_cursor"]
            .as_str()
            .expect("a user cursor")
            .to_owned(),
    )
}
