//! SPEC 2.12 reconciliation against the simulator's WeChat Pay trade bill,
//! on the real table: a clean day finds nothing; each kind of difference
//! injected into the bill is found, reported and put on its order's
//! attention list once; a day without trade is no statement, not an error.

use domain::config::Config;
use domain::time::Timestamp;
use integration_tests::answers::package_with_sku;
use integration_tests::stack::Stack;
use integration_tests::wechat::{self, rejected, retry_refund, TOTAL};
use integration_tests::Event;
use reconcile::{Ask, Outcome};
use serde_json::{json, Value};
use supplier_sim::BillEdit;

async fn stack() -> Stack {
    wechat::stack(Config::default()).await
}

/// A day of trade: a paid order, one paid then rejected and refunded, one
/// paid through the gateway (not WeChat's). (paid, refunded) as (order id,
/// transaction), and the refund number.
async fn a_day(s: &Stack) -> ((String, String), (String, String), String) {
    let kept = s.placed("ann", json!([{"sku": "LAMP", "qty": 1}])).await;
    let (status, t1) = s.pay_wechat("ann", &kept, None).await;
    assert_eq!(status, 204);
    let back = s.placed("bob", json!([{"sku": "LAMP", "qty": 1}])).await;
    let (status, t2) = s.pay_wechat("bob", &back, None).await;
    assert_eq!(status, 204);
    s.drain(1).await;
    let package = package_with_sku(&back, "LAMP");
    assert_eq!(s.report("S-1", &package, "rejected").await.0, 200);
    s.drain_refunds(1).await;
    s.wechat_notifications().await;
    let back_id = back["id"].as_str().unwrap().to_owned();
    let refund_no = format!("{back_id}-R01");
    let order = s.order("bob", &back_id).await;
    assert_eq!(order["refunds"][0]["status"], "succeeded", "{order}");
    let gw = s.placed("cat", json!([{"sku": "LAMP", "qty": 1}])).await;
    assert_eq!(s.pay_order(&gw, "pay-gw-1").await.0, 200);
    (
        (kept["id"].as_str().unwrap().to_owned(), t1),
        (back_id, t2),
        refund_no,
    )
}

async fn run(s: &Stack, date: &str) -> Outcome {
    let ask = Ask {
        date: Some(date.to_owned()),
        storefront: None,
        plan: false,
    };
    reconcile::run(&s.reconcile, &ask, Timestamp::now())
        .await
        .expect("reconciled")
}

fn kinds(out: &Outcome) -> Vec<String> {
    let v = serde_json::to_value(out).unwrap();
    let mut k: Vec<String> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["differences"].as_array().cloned().unwrap_or_default())
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

async fn attention(s: &Stack, id: &str) -> Vec<Value> {
    let v = s.order_as_admin(id).await;
    v["attention"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "reconciliation_difference")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_clean_day_has_no_difference() {
    let s = stack().await;
    let ((kept, _), (back, _), _) = a_day(&s).await;
    let today = Timestamp::now().shanghai_date();
    let out = run(&s, &today).await;
    assert!(out.is_clean(), "{out:?}");
    assert_eq!(
        out.accounts.len(),
        1,
        "one merchant account for every storefront here"
    );
    let report = out.accounts[0].report.as_ref().unwrap();
    assert!(report.statement);
    assert_eq!(
        report.payments_checked, 2,
        "the two WeChat payments, not the gateway's"
    );
    assert_eq!(report.refunds_checked, 1);
    assert!(attention(&s, &kept).await.is_empty());
    assert!(attention(&s, &back).await.is_empty());
    // A day without trade: NO_STATEMENT_EXIST, nothing to compare.
    let empty = run(&s, "2001-01-01").await;
    assert!(empty.is_clean(), "{empty:?}");
    assert!(!empty.accounts[0].report.as_ref().unwrap().statement);
}

/// The deployment's pre-traffic check: the accounts named, their
/// credentials read, nothing asked of WeChat (which is down here).
#[tokio::test]
async fn a_plan_names_the_accounts_and_asks_the_provider_nothing() {
    let s = stack().await;
    s.sim.wechat_unavailable_next(100);
    let ask = Ask {
        date: None,
        storefront: None,
        plan: true,
    };
    let plan = reconcile::run(&s.reconcile, &ask, Timestamp::now())
        .await
        .expect("a plan");
    assert_eq!(plan.errors, 0);
    assert_eq!(plan.accounts.len(), 1);
    assert_eq!(plan.accounts[0].mchid, s.sim.wechat_credentials().mchid);
    assert!(plan.accounts[0].report.is_none());
    let real = run(&s, &Timestamp::now().shanghai_date()).await;
    assert_eq!(real.errors, 1, "the same day for real meets WeChat down");
}

#[tokio::test]
async fn every_kind_of_difference_is_found_and_raised_once() {
    let s = stack().await;
    let ((kept, t1), (back, _), refund_no) = a_day(&s).await;
    // Money the provider took for an order of ours that never heard of it
    // (a lost notification), and for no order at all.
    let lost = s.placed("dan", json!([{"sku": "LAMP", "qty": 1}])).await;
    let lost_id = lost["id"].as_str().unwrap().to_owned();
    s.sim.edit_wechat_bill(BillEdit::ExtraPayment {
        out_trade_no: lost_id.clone(),
        transaction_id: "4200009999".into(),
        amount_cents: TOTAL as u64,
    });
    s.sim.edit_wechat_bill(BillEdit::ExtraPayment {
        out_trade_no: "NOT-OURS-1".into(),
        transaction_id: "4200009998".into(),
        amount_cents: 100,
    });
    // A payment we kept that the bill lacks; a refund of another amount.
    s.sim.edit_wechat_bill(BillEdit::DropPayment {
        transaction_id: t1.clone(),
    });
    s.sim.edit_wechat_bill(BillEdit::ChangeRefund {
        out_refund_no: refund_no.clone(),
        amount_cents: Some((TOTAL - 1) as u64),
        status: None,
    });
    let today = Timestamp::now().shanghai_date();
    let out = run(&s, &today).await;
    assert_eq!(
        kinds(&out),
        vec![
            "payment_not_at_provider",
            "payment_not_kept",
            "payment_not_kept",
            "refund_differs"
        ],
        "{out:?}"
    );
    assert!(!out.is_clean());
    let report = out.accounts[0].report.as_ref().unwrap();
    assert_eq!(
        report.raised, 3,
        "the foreign payment has no order to raise on"
    );
    let on_kept = attention(&s, &kept).await;
    assert_eq!(on_kept.len(), 1);
    assert!(
        on_kept[0]["cause"].as_str().unwrap().contains(&t1),
        "{on_kept:?}"
    );
    assert_eq!(on_kept[0]["actions"], json!(["acknowledge"]));
    assert_eq!(attention(&s, &lost_id).await.len(), 1);
    let on_back = attention(&s, &back).await;
    assert!(on_back[0]["cause"].as_str().unwrap().contains(&refund_no));
    // Again: the same report, nothing raised twice (acknowledged or not).
    let item = on_kept[0]["id"].as_str().unwrap();
    let e = Event::new(
        "POST",
        "/staff/attention/{item_id}/acknowledge",
        &format!("/staff/attention/{item}/acknowledge"),
    )
    .path_param("item_id", item)
    .user("sue")
    .header("x-user-role", "support")
    .json(&json!({"note": "the bank confirmed it"}));
    let (status, v) = integration_tests::decode(backoffice::handle(&s.backoffice, e.build()).await);
    assert_eq!(status, 200, "{v}");
    let again = run(&s, &today).await;
    assert_eq!(kinds(&again), kinds(&out));
    assert_eq!(again.accounts[0].report.as_ref().unwrap().raised, 0);
    assert!(attention(&s, &kept).await.is_empty());
}

/// A refund WeChat closed and staff sent again under a new number: the
/// bill has both numbers, the closed one agreeing with the order.
#[tokio::test]
async fn a_closed_then_retried_refund_reconciles() {
    let s = stack().await;
    s.sim
        .set_wechat_refund_mode(supplier_sim::WechatRefundMode::Closed);
    let (_, rid, _) = rejected(&s, "eve").await;
    s.drain_refunds(1).await;
    s.wechat_notifications().await;
    s.sim
        .set_wechat_refund_mode(supplier_sim::WechatRefundMode::Succeed);
    retry_refund(&s, &rid).await;
    assert_eq!(s.sim.wechat_refunds().len(), 2);
    let out = run(&s, &Timestamp::now().shanghai_date()).await;
    assert!(out.is_clean(), "{out:?}");
    assert_eq!(out.accounts[0].report.as_ref().unwrap().refunds_checked, 2);
    // Had the closed number paid, it would be a difference.
    s.sim.edit_wechat_bill(BillEdit::ChangeRefund {
        out_refund_no: rid.clone(),
        amount_cents: None,
        status: Some("SUCCESS".into()),
    });
    let out = run(&s, &Timestamp::now().shanghai_date()).await;
    assert_eq!(kinds(&out), vec!["refund_differs"], "{out:?}");
}

/// The bill is a picture of its day: a refund it shows `PROCESSING` that
/// has settled since agrees, and an abnormal refund applied for again (to
/// the merchant's account, still owed to the buyer) agrees with its
/// `SUCCESS` row; a `SUCCESS` row for a refund we hold as pending does not.
#[tokio::test]
async fn later_states_agree_with_the_days_picture() {
    let s = stack().await;
    s.sim
        .set_wechat_refund_mode(supplier_sim::WechatRefundMode::Abnormal);
    let (id, rid, _) = rejected(&s, "fay").await;
    s.drain_refunds(1).await;
    s.wechat_notifications().await;
    retry_refund(&s, &rid).await;
    let after = s.order("fay", &id).await;
    assert_eq!(after["refunds"][0]["to_merchant"], true, "{after}");
    let today = Timestamp::now().shanghai_date();
    let out = run(&s, &today).await;
    assert!(out.is_clean(), "{out:?}");
    s.sim.edit_wechat_bill(BillEdit::ChangeRefund {
        out_refund_no: rid.clone(),
        amount_cents: None,
        status: Some("PROCESSING".into()),
    });
    assert!(run(&s, &today).await.is_clean());
    // A refund still pending here that the bill calls paid.
    let other = s.placed("gil", json!([{"sku": "LAMP", "qty": 1}])).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    assert_eq!(s.pay_wechat("gil", &other, None).await.0, 204);
    s.drain(1).await;
    assert_eq!(
        s.report("S-1", &package_with_sku(&other, "LAMP"), "rejected")
            .await
            .0,
        200
    );
    s.sim
        .set_wechat_refund_mode(supplier_sim::WechatRefundMode::Succeed);
    s.sim.forge_wechat_answers(true);
    let d = s.deliver_refunds(1).await;
    assert_eq!(
        d.failed.len(),
        1,
        "an answer that does not verify is not believed"
    );
    s.sim.forge_wechat_answers(false);
    let pending = s.order("gil", &other_id).await;
    assert_eq!(pending["refunds"][0]["status"], "pending", "{pending}");
    let out = run(&s, &today).await;
    assert_eq!(kinds(&out), vec!["refund_differs"], "{out:?}");
}
