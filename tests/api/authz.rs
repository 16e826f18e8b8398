//! The authorization matrix (OWASP API1 and API5): every route of the route
//! table, tried by every kind of caller (nobody, the owner, another user,
//! admin, support, a support user limited to another storefront, the
//! warehouse of the parcel and another warehouse), each answer checked
//! against SPEC 2.10 / 2.11's rules written out below. "Allowed" means the
//! request got past authorization: its answer is the route's own (a success,
//! or a 400/409/422 about the request or the state), never 401, 403 or 404.
//! The match over `RouteId` is exhaustive: a new route does not compile
//! until it has its row here.

use domain::config::Config;
use integration_tests::answers::package_with_sku;
use integration_tests::stack::{supplier_secret, Stack, PAYMENT_SECRET};
use integration_tests::{decode, place_body, Event, Func};
use routes::RouteId;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Owner,
    Other,
    Admin,
    Support,
    /// Support limited to the `app` storefront; every object here is `default`'s.
    Limited,
    /// The warehouse the parcel ships from.
    Wh1,
    /// Another warehouse.
    Wh2,
}
use Caller::*;

const CALLERS: [Caller; 8] = [Nobody, Owner, Other, Admin, Support, Limited, Wh1, Wh2];

fn dress(mut e: Event, c: Caller) -> lambda_http::Request {
    let (user, role, warehouse, storefronts) = match c {
        Nobody => return e.build(),
        Owner => ("rita", None, None, None),
        Other => ("otto", None, None, None),
        Admin => ("ada", Some("admin"), None, None),
        Support => ("sue", Some("support"), None, None),
        Limited => ("lia", Some("support"), None, Some("app")),
        Wh1 => ("wes", Some("warehouse"), Some("WH-1"), None),
        Wh2 => ("wyn", Some("warehouse"), Some("WH-2"), None),
    };
    e = e.user(user);
    if let Some(r) = role {
        e = e.header("x-user-role", r);
    }
    if let Some(w) = warehouse {
        e = e.header("x-warehouse", w);
    }
    if let Some(s) = storefronts {
        e = e.header("x-storefronts", s);
    }
    e.build()
}

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Allowed,
    Status(u16),
}

/// The rules: who may call which route on these objects.
fn want(id: RouteId, c: Caller) -> Want {
    use RouteId::*;
    let allowed = |who: &[Caller]| -> bool { who.contains(&c) };
    let signed_in = c != Nobody;
    // A route for one object: allowed callers pass, nobody is 401, a
    // caller without the route's role is 403 (`role`), anyone else is 404
    // (it is someone else's: never say it exists).
    let rule = |ok: &[Caller], role: &[Caller]| -> Want {
        if !signed_in {
            Want::Status(401)
        } else if allowed(ok) {
            Want::Allowed
        } else if allowed(role) {
            Want::Status(404)
        } else {
            Want::Status(403)
        }
    };
    let buyers_route = |ok: &[Caller]| -> Want {
        if !signed_in {
            Want::Status(401)
        } else if allowed(ok) {
            Want::Allowed
        } else {
            Want::Status(404)
        }
    };
    match id {
        GetSku
        | NotifyPayment
        | NotifyPaymentInStorefront
        | SupplierPackageStatus
        | NotifyRefund
        | NotifyRefundInStorefront
        | NotifyWechatPayment
        | NotifyWechatPaymentInStorefront
        | NotifyWechatRefund
        | NotifyWechatRefundInStorefront => Want::Allowed,
        // Catalog and storefront writes: an admin limited to no storefront.
        PutSku | PutStorefront => rule(&[Admin], &[]),
        // Storefront settings: staff who handle orders (a limited user sees
        // its own storefronts only: `default` is not one of them).
        ListStorefronts => rule(&[Admin, Support, Limited], &[]),
        GetStorefront => rule(&[Admin, Support], &[Limited]),
        // Anyone signed in: their own orders, their own uploads.
        CreateOrder | ListOrders | UploadProof => rule(&CALLERS[1..], &[]),
        RepurchaseOrder => buyers_route(&[Owner]),
        // The order page: its owner and staff serving its storefront; a
        // warehouse user opens none.
        GetOrder | CancelOrder | ConfirmReceipt | GetAfterSalesCase => {
            buyers_route(&[Owner, Admin, Support])
        }
        // The owner's own steps; staff who see the object have no part in
        // them (403), staff of another storefront do not see it (404).
        OpenAfterSalesCase | ShipAfterSalesReturn | WithdrawAfterSalesCase | StartWechatPayment => {
            if matches!(c, Admin | Support) {
                rule(&[], &[])
            } else {
                buyers_route(&[Owner])
            }
        }
        // Shipping: an admin, or the parcel's warehouse. Without a shipping
        // role, whoever sees the order (its owner, support) is refused (403);
        // anyone else, another warehouse included, does not see it (404).
        ShipPackage => rule(&[Admin, Wh1], &[Wh2, Other, Limited]),
        // Staff steps on an object: 403 to its owner, 404 to whoever does
        // not see it.
        ResolvePackage
        | ReviewAfterSalesCase
        | CompleteAfterSalesCase
        | AddOrderNote
        | AcknowledgeAttention
        | RetryRefund
        | RecordRefundOffline => rule(&[Admin, Support], &[Limited, Other, Wh1, Wh2]),
        StaffPackages => rule(&[Admin, Wh1], &[]),
        StaffAfterSales | StaffAttention | StaffOrders => rule(&[Admin, Support, Limited], &[]),
        StaffSummary => rule(&[Admin, Support, Limited, Wh1, Wh2], &[]),
    }
}

/// The objects every probe points at.
struct Fixture {
    /// Paid, handed over: a WH-1 parcel and a supplier's parcel.
    order: String,
    mug: String,
    lamp: String,
    /// Unpaid, for the cancel route.
    unpaid: String,
    /// Unpaid, for the payment notifications.
    to_pay: (String, i64),
    /// A received parcel with an open case.
    case: String,
    received_order: String,
    received: String,
    /// A late event waiting for staff.
    item: String,
    /// A refund the gateway closed (failed).
    refund: String,
    /// Unpaid, for WeChat Pay; its payment's notification, and a refund
    /// notification about a refund it does not have.
    wx: String,
    wx_paid: supplier_sim::WechatNotification,
    wx_refund: supplier_sim::WechatNotification,
}

async fn place(s: &Stack, user: &str, skus: &[&str]) -> Value {
    let lines: Vec<Value> = skus.iter().map(|k| json!({"sku": k, "qty": 1})).collect();
    s.placed(user, json!(lines)).await
}

async fn fixture(s: &Stack) -> Fixture {
    for (sku, source) in [
        ("MUG", json!({"kind": "self", "warehouse": "WH-1"})),
        ("LAMP", json!({"kind": "dropship", "supplier": "S-1"})),
    ] {
        let body = json!({"name": sku, "price_cents": 1500, "source": source,
                          "stock_policy": "lock_on_place", "available": 100});
        let req = dress(
            Event::new("PUT", "/skus/{sku}", &format!("/skus/{sku}"))
                .path_param("sku", sku)
                .json(&body),
            Admin,
        );
        assert_eq!(s.t.call(Func::Catalog, req).await.0, 200);
    }
    let (status, v) =
        s.t.call(
            Func::Catalog,
            dress(
                Event::new("PUT", "/storefronts/{id}", "/storefronts/app")
                    .path_param("id", "app")
                    .json(&json!({"name": "App"})),
                Admin,
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let order = place(s, "rita", &["MUG", "LAMP"]).await;
    assert_eq!(s.pay_order(&order, "pay-authz-1").await.0, 200);
    let received_order = place(s, "rita", &["MUG"]).await;
    assert_eq!(s.pay_order(&received_order, "pay-authz-2").await.0, 200);
    let late = place(s, "rita", &["LAMP"]).await;
    assert_eq!(s.pay_order(&late, "pay-authz-3").await.0, 200);
    let late_id = late["id"].as_str().unwrap();
    assert_eq!(s.cancel_order("rita", late_id).await.0, 200);
    s.drain(1).await;
    s.sim.set_refund_mode(supplier_sim::RefundMode::Fail);
    s.drain_refunds(1).await;
    s.sim.set_refund_mode(supplier_sim::RefundMode::Succeed);
    let refund = format!("{late_id}-R01");
    let cancelled = s.order("rita", late_id).await;
    assert_eq!(
        cancelled["refunds"][0]["id"],
        refund.as_str(),
        "{cancelled}"
    );
    assert_eq!(cancelled["refunds"][0]["status"], "failed", "{cancelled}");
    let received = package_with_sku(&received_order, "MUG");
    assert_eq!(s.ship(&received, "SF", "SF-A").await.0, 200);
    assert_eq!(s.confirm_receipt("rita", &received).await.0, 200);
    let (status, case) = s
        .open_case(
            "rita",
            received_order["id"].as_str().unwrap(),
            &json!({"package_id": received, "kind": "refund_only", "lines": [{"sku": "MUG", "qty": 1}],
                    "reason": "chipped", "evidence": ["https://img.example/a.jpg"]}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(
        s.report("S-1", &package_with_sku(&late, "LAMP"), "shipped")
            .await
            .0,
        200
    );
    let (_, late_now) =
        s.t.call(
            Func::Orders,
            dress(
                Event::new("GET", "/orders/{id}", &format!("/orders/{late_id}"))
                    .path_param("id", late_id),
                Admin,
            ),
        )
        .await;
    let item = late_now["attention"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["kind"] == "late_event"))
        .map(|a| a["id"].as_str().unwrap().to_owned());
    let unpaid = place(s, "rita", &["MUG"]).await;
    let to_pay = place(s, "rita", &["MUG"]).await;
    let wx = place(s, "rita", &["MUG"]).await;
    let wx_id = wx["id"].as_str().unwrap().to_owned();
    assert_eq!(s.start_wechat("rita", &wx_id, "oRita").await.0, 200);
    let t = s.sim.wechat_pay(&wx_id, None).unwrap();
    let wx_paid = s.sim.take_wechat_notifications().remove(0);
    let client = integration_tests::stack::wechatpay(&s.sim).client;
    let creds = adapters::secrets::parse_wechatpay(
        &serde_json::to_string(&s.sim.wechat_credentials()).unwrap(),
    )
    .unwrap()
    .unwrap();
    let stray = domain::payment::refund::RefundRequest {
        storefront: domain::storefront::StorefrontId::default_id(),
        channel: domain::payment::refund::PaymentChannel::Wechatpay,
        provider_no: format!("{wx_id}-R09"),
        payment_id: t.transaction_id,
        amount_cents: domain::money::Cents(1),
        payment_cents: domain::money::Cents(1500),
        reason: "authz".into(),
        provider_refund_id: None,
    };
    let url = format!(
        "{}/payments/wechatpay/refund-notify/default",
        integration_tests::stack::PUBLIC_BASE_URL
    );
    client.create_refund(&creds, &stray, &url).await.unwrap();
    let wx_refund = s.sim.take_wechat_notifications().remove(0);
    Fixture {
        wx: wx_id,
        wx_paid,
        wx_refund,
        mug: package_with_sku(&order, "MUG"),
        lamp: package_with_sku(&order, "LAMP"),
        order: order["id"].as_str().unwrap().to_owned(),
        unpaid: unpaid["id"].as_str().unwrap().to_owned(),
        to_pay: (
            to_pay["id"].as_str().unwrap().to_owned(),
            to_pay["total_cents"].as_i64().unwrap(),
        ),
        case: case["id"].as_str().unwrap().to_owned(),
        received_order: received_order["id"].as_str().unwrap().to_owned(),
        received,
        item: item.expect("the late event's attention item"),
        refund,
    }
}

/// The probe of a route: a request an allowed caller would make.
fn probe(id: RouteId, f: &Fixture) -> Event {
    use RouteId::*;
    let r = routes::route(id);
    let at = |param: &str, value: &str| {
        Event::new(
            r.method,
            r.path,
            &r.path.replace(&format!("{{{param}}}"), value),
        )
        .path_param(param, value)
    };
    let plain = || Event::new(r.method, r.path, r.path);
    let signed = |e: Event, secret: &str, body: Value| {
        let text = body.to_string();
        let sig = domain::payment::signature::sign(secret.as_bytes(), text.as_bytes());
        e.raw_body(&text).header("x-signature", &sig)
    };
    let wechat = |e: Event, n: &supplier_sim::WechatNotification| {
        n.headers
            .iter()
            .fold(e.raw_body(&n.body), |e, (k, v)| e.header(k, v))
    };
    let payment = json!({"order_id": f.to_pay.0, "payment_id": "pay-authz-y",
                         "amount_cents": f.to_pay.1, "paid_at": integration_tests::now()});
    match id {
        GetSku => at("sku", "MUG"),
        PutSku => at("sku", "AUTHZ-NEW").json(&json!({"name": "New", "price_cents": 100,
            "source": {"kind": "jd"}, "stock_policy": "deduct_on_pay", "available": 1})),
        ListStorefronts => plain(),
        GetStorefront => at("id", "default"),
        PutStorefront => at("id", "app").json(&json!({"name": "App"})),
        CreateOrder => plain().json(&place_body(json!([{"sku": "MUG", "qty": 1}]))),
        RepurchaseOrder => at("id", &f.order).query("dry_run", "true"),
        ListOrders => plain(),
        GetOrder => at("id", &f.order),
        CancelOrder => at("id", &f.unpaid).json(&json!({"reason": "changed my mind"})),
        NotifyPayment => signed(plain(), PAYMENT_SECRET, payment),
        NotifyPaymentInStorefront => signed(at("storefront", "default"), PAYMENT_SECRET, payment),
        SupplierPackageStatus => signed(
            at("supplier", "S-1"),
            &supplier_secret("S-1"),
            json!({"package_id": f.lamp, "status": "shipped", "tracking_no": "T-1",
                   "at": integration_tests::now()}),
        ),
        ShipPackage => {
            at("package_id", &f.mug).json(&json!({"carrier": "SF", "tracking_no": "SF-M"}))
        }
        ResolvePackage => at("package_id", &f.lamp)
            .json(&json!({"outcome": "shipped", "note": "the supplier says it left"})),
        ConfirmReceipt => at("package_id", &f.received),
        UploadProof => plain().json(&json!({"content_type": "image/jpeg", "bytes": 1000})),
        OpenAfterSalesCase => at("id", &f.received_order).json(&json!({
            "package_id": f.received, "kind": "refund_only", "lines": [{"sku": "MUG", "qty": 1}],
            "reason": "again", "evidence": ["https://img.example/b.jpg"]})),
        GetAfterSalesCase => at("case_id", &f.case),
        ReviewAfterSalesCase => {
            at("case_id", &f.case).json(&json!({"decision": "approve", "note": "fine"}))
        }
        ShipAfterSalesReturn => {
            at("case_id", &f.case).json(&json!({"carrier": "SF", "tracking_no": "SF-R"}))
        }
        CompleteAfterSalesCase => at("case_id", &f.case).json(&json!({"note": "refunded"})),
        WithdrawAfterSalesCase => at("case_id", &f.case),
        AddOrderNote => at("id", &f.order).json(&json!({"text": "called the buyer"})),
        StaffPackages => plain().query("queue", "to_ship").query("warehouse", "WH-1"),
        StaffAfterSales => plain().query("status", "requested"),
        StaffAttention | StaffSummary => plain(),
        StaffOrders => plain().query("status", "awaiting_shipment"),
        AcknowledgeAttention => {
            at("item_id", &f.item).json(&json!({"note": "settled with the supplier"}))
        }
        NotifyRefund => signed(plain(), PAYMENT_SECRET, refund_word(f)),
        NotifyRefundInStorefront => {
            signed(at("storefront", "default"), PAYMENT_SECRET, refund_word(f))
        }
        StartWechatPayment => at("id", &f.wx).json(&json!({"openid": "oRita"})),
        NotifyWechatPayment => wechat(plain(), &f.wx_paid),
        NotifyWechatPaymentInStorefront => wechat(at("storefront", "default"), &f.wx_paid),
        NotifyWechatRefund => wechat(plain(), &f.wx_refund),
        NotifyWechatRefundInStorefront => wechat(at("storefront", "default"), &f.wx_refund),
        RetryRefund => at("refund_id", &f.refund),
        RecordRefundOffline => {
            at("refund_id", &f.refund).json(&json!({"note": "paid by bank transfer"}))
        }
    }
}

/// The gateway's word on the fixture's refund (it is settled: nothing changes).
fn refund_word(f: &Fixture) -> Value {
    json!({"refund_id": f.refund, "status": "succeeded"})
}

async fn send(s: &Stack, function: &str, req: lambda_http::Request) -> (u16, Value) {
    match function {
        "catalog" => s.t.call(Func::Catalog, req).await,
        "place" => s.t.call(Func::Place, req).await,
        "orders" => s.t.call(Func::Orders, req).await,
        "pay" => decode(pay::handle(&s.pay, req).await),
        "cancel" => decode(cancel::handle(&s.cancel, req).await),
        "status-sync" => decode(status_sync::handle(&s.status_sync, req).await),
        "after-sales" => decode(after_sales::handle(&s.after_sales, req).await),
        "backoffice" => decode(backoffice::handle(&s.backoffice, req).await),
        "refund" => decode(refund::handle_http(&s.refund, req).await),
        other => panic!("no handler for {other}"),
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_rules_say() {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..Config::default()
    })
    .await;
    let f = fixture(&s).await;
    let mut wrong = Vec::new();
    let mut tried = 0;
    for route in routes::ROUTES {
        // Refusals first: a refused call must change nothing the allowed
        // ones then find.
        let mut callers = CALLERS.to_vec();
        callers.sort_by_key(|c| want(route.id, *c) == Want::Allowed);
        for c in callers {
            let (status, v) = send(&s, route.function, dress(probe(route.id, &f), c)).await;
            tried += 1;
            let ok = match want(route.id, c) {
                Want::Allowed => status < 500 && ![401, 403, 404].contains(&status),
                Want::Status(code) => status == code,
            };
            if !ok {
                wrong.push(format!(
                    "{} as {c:?}: {status} (want {:?}) {}",
                    route.key(),
                    want(route.id, c),
                    v["error"]
                ));
            }
        }
    }
    assert_eq!(tried, routes::ROUTES.len() * CALLERS.len());
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
