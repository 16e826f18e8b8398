//! SPEC 2.11's roles on the routes that exist today: `admin` (`staff` read
//! as admin) may do everything, the catalog and storefront writes only when
//! limited to no storefront; `support` handles orders but neither writes
//! the catalog nor ships; `warehouse` ships its own warehouse's parcels
//! (another warehouse's is 404) and sees nothing else. Without the role for
//! a route: 403; an object that is someone else's: 404.

use domain::config::Config;
use integration_tests::stack::Stack;
use integration_tests::{place_body, Event, Func};
use serde_json::{json, Value};

/// A caller: a user id and its role headers.
#[derive(Clone, Copy)]
struct Who {
    user: &'static str,
    roles: Option<&'static str>,
    warehouse: Option<&'static str>,
    storefronts: Option<&'static str>,
}

const fn who(user: &'static str, roles: Option<&'static str>) -> Who {
    Who {
        user,
        roles,
        warehouse: None,
        storefronts: None,
    }
}

const BUYER: Who = who("rita", None);
const ADMIN: Who = who("ada", Some("admin"));
const STAFF: Who = who("sam", Some("staff"));
const SUPPORT: Who = who("sue", Some("support"));
const LIMITED_ADMIN: Who = Who {
    storefronts: Some("default"),
    ..who("lia", Some("admin"))
};
const WH1: Who = Who {
    warehouse: Some("WH-1"),
    ..who("wes", Some("warehouse"))
};
const WH2: Who = Who {
    warehouse: Some("WH-2"),
    ..who("wyn", Some("warehouse"))
};
const SUPPORT_AND_WH1: Who = Who {
    warehouse: Some("WH-1"),
    ..who("wsu", Some("support,warehouse"))
};

fn as_who(e: Event, w: Who) -> lambda_http::Request {
    let mut e = e.user(w.user);
    if let Some(r) = w.roles {
        e = e.header("x-user-role", r);
    }
    if let Some(wh) = w.warehouse {
        e = e.header("x-warehouse", wh);
    }
    if let Some(sf) = w.storefronts {
        e = e.header("x-storefronts", sf);
    }
    e.build()
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test]
async fn each_role_may_do_what_spec_2_11_says_and_nothing_else() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let sku = json!({"name": "Mug", "price_cents": 1500, "source": {"kind": "self", "warehouse": "WH-1"},
                     "stock_policy": "lock_on_place", "available": 50});
    let put_sku = |w: Who| {
        as_who(
            Event::new("PUT", "/skus/{sku}", "/skus/ROLE-MUG")
                .path_param("sku", "ROLE-MUG")
                .json(&sku),
            w,
        )
    };
    for (w, want) in [
        (ADMIN, 200),
        (STAFF, 200),
        (SUPPORT, 403),
        (WH1, 403),
        (BUYER, 403),
        (LIMITED_ADMIN, 403),
    ] {
        let (status, v) = s.t.call(Func::Catalog, put_sku(w)).await;
        assert_eq!(status, want, "PUT /skus as {}: {v}", w.user);
    }
    let put_sf = |w: Who| {
        as_who(
            Event::new("PUT", "/storefronts/{id}", "/storefronts/app")
                .path_param("id", "app")
                .json(&json!({"name": "App"})),
            w,
        )
    };
    for (w, want) in [
        (ADMIN, 200),
        (SUPPORT, 403),
        (LIMITED_ADMIN, 403),
        (WH1, 403),
    ] {
        let (status, v) = s.t.call(Func::Catalog, put_sf(w)).await;
        assert_eq!(status, want, "PUT /storefronts as {}: {v}", w.user);
    }
    let list_sf = |w: Who| as_who(Event::new("GET", "/storefronts", "/storefronts"), w);
    for (w, want) in [
        (SUPPORT, 200),
        (LIMITED_ADMIN, 200),
        (WH1, 403),
        (BUYER, 403),
    ] {
        let (status, v) = s.t.call(Func::Catalog, list_sf(w)).await;
        assert_eq!(status, want, "GET /storefronts as {}: {v}", w.user);
    }

    // A paid order with a WH-1 parcel.
    let (status, order) =
        s.t.call(
            Func::Place,
            Event::new("POST", "/orders", "/orders")
                .user(BUYER.user)
                .json(&place_body(json!([{"sku": "ROLE-MUG", "qty": 1}])))
                .build(),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let (status, v) = s.pay_order(&order, "pay-roles").await;
    assert_eq!(status, 200, "{v}");
    let id = order["id"].as_str().unwrap();
    let pkg = order["packages"][0]["id"].as_str().unwrap();

    let get = |w: Who| {
        as_who(
            Event::new("GET", "/orders/{id}", &format!("/orders/{id}")).path_param("id", id),
            w,
        )
    };
    for (w, want) in [
        (BUYER, 200),
        (SUPPORT, 200),
        (ADMIN, 200),
        (WH1, 404),
        (who("otto", None), 404),
    ] {
        let (status, v) = s.t.call(Func::Orders, get(w)).await;
        assert_eq!(status, want, "GET the order as {}: {v}", w.user);
    }

    let ship = |w: Who| {
        as_who(
            Event::new(
                "POST",
                "/packages/{package_id}/ship",
                &format!("/packages/{pkg}/ship"),
            )
            .path_param("package_id", pkg)
            .json(&json!({"carrier": "SF", "tracking_no": "SF-ROLES"})),
            w,
        )
    };
    for (w, want, why) in [
        (BUYER, 403, "the owner has no shipping role"),
        (SUPPORT, 403, "support does not ship"),
        (
            WH2,
            404,
            "another warehouse's parcel does not exist for WH-2",
        ),
    ] {
        let (status, v) =
            integration_tests::decode(status_sync::handle(&s.status_sync, ship(w)).await);
        assert_eq!(status, want, "{why}: {v}");
        if want == 403 {
            assert_eq!(code(&v), Some("forbidden"), "{v}");
        }
    }
    let (_, v) = s.t.get_order(BUYER.user, id).await;
    assert_eq!(
        v["packages"][0]["status"], "pending",
        "nobody shipped it: {v}"
    );
    // A support user who is also WH-1's has the union: ships it.
    let (status, v) =
        integration_tests::decode(status_sync::handle(&s.status_sync, ship(SUPPORT_AND_WH1)).await);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["packages"][0]["status"], "shipped", "{v}");
    let (status, v) =
        integration_tests::decode(status_sync::handle(&s.status_sync, ship(WH1)).await);
    assert_eq!(status, 200, "shipping again answers as it is: {v}");
    // A warehouse user is shown its own parcels and where they go, nothing
    // else of the order (no other package, money, refunds, timeline).
    assert_eq!(v["packages"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["packages"][0]["source"]["warehouse"], "WH-1", "{v}");
    assert!(v["address"].is_object(), "{v}");
    assert!(v["timeline"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["freight_cents"], 0, "{v}");
    assert!(v["actions"].as_array().unwrap().is_empty(), "{v}");
    let (_, v) = s.t.get_order(BUYER.user, id).await;
    assert!(
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "package_shipped" && e["actor"] == "staff:wsu"),
        "{v}"
    );
}

/// `POST /orders/{id}/notes` (SPEC 2.11): support and admin write a note on
/// the order's timeline; the owner, a warehouse user and a buyer cannot
/// (403); a staff user limited to another storefront does not see the order
/// (404); an empty or malformed note is 400 and changes nothing.
#[tokio::test]
async fn support_and_admin_write_notes_on_an_orders_timeline() {
    let s = Stack::spawn(Config::default()).await;
    s.t.sku("NOTE-TEA", 700, "lock_on_place", 5, None).await;
    let (status, order) =
        s.t.place(BUYER.user, json!([{"sku": "NOTE-TEA", "qty": 1}]), None)
            .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap();
    let note = |w: Who, body: Value| {
        as_who(
            Event::new("POST", "/orders/{id}/notes", &format!("/orders/{id}/notes"))
                .path_param("id", id)
                .json(&body),
            w,
        )
    };
    let call =
        |req| async { integration_tests::decode(backoffice::handle(&s.backoffice, req).await) };
    let text = json!({"text": "  buyer called: leave it at the door  "});
    let other_storefront = Who {
        storefronts: Some("app"),
        ..SUPPORT
    };
    // The owner is refused; who does not see the order finds none.
    for (w, want) in [(BUYER, 403), (WH1, 404), (other_storefront, 404)] {
        let (status, v) = call(note(w, text.clone())).await;
        assert_eq!(status, want, "a note by {}: {v}", w.user);
    }
    for bad in [
        json!({"text": "   "}),
        json!({"text": 5}),
        json!({"note": "x"}),
    ] {
        let (status, v) = call(note(SUPPORT, bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let (_, v) = s.t.get_order(BUYER.user, id).await;
    assert!(
        !v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "note_added"),
        "nothing was written: {v}"
    );
    let (status, v) = call(note(SUPPORT, text.clone())).await;
    assert_eq!(status, 201, "{v}");
    assert!(
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "note"),
        "{v}"
    );
    let (status, _) = call(note(ADMIN, json!({"text": "refund approved by phone"}))).await;
    assert_eq!(status, 201);
    let (_, v) = s.t.get_order(BUYER.user, id).await;
    let notes: Vec<(&str, &str)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "note_added")
        .map(|e| (e["actor"].as_str().unwrap(), e["cause"].as_str().unwrap()))
        .collect();
    assert_eq!(
        notes,
        [
            ("staff:sue", "buyer called: leave it at the door"),
            ("staff:ada", "refund approved by phone")
        ]
    );
    assert!(
        !v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "note"),
        "the owner is not offered staff actions: {v}"
    );
}
