//! SPEC 2.12 through WeChat Pay (API v3), played by the simulator with keys
//! generated at its start, on the real queue and table: an order paid
//! through a JSAPI prepay and the signed, encrypted notification (forged,
//! stale, undecryptable and repeated ones); a wrong amount paid back; a
//! rejected parcel's refund in each of WeChat's answers, abnormal and
//! closed refunds retried by staff, a crash after WeChat made the refund,
//! and a silent refund found by the sweep's query.

use domain::config::Config;
use integration_tests::answers::{count_events, refund};
use integration_tests::stack::PUBLIC_BASE_URL;
use integration_tests::wechat::{lamp_order, rejected, retry_refund, stack, TOTAL};
use integration_tests::Event;
use serde_json::json;
use supplier_sim::{Forgery, WechatRefundMode};

#[tokio::test]
async fn an_order_is_paid_through_wechat_pay_once() {
    let s = stack(Config::default()).await;
    let order = lamp_order(&s, "ann").await;
    let id = order["id"].as_str().unwrap();
    // Only its buyer starts the payment.
    assert_eq!(s.start_wechat("eve", id, "oEve").await.0, 404);
    let e = Event::new(
        "POST",
        "/orders/{id}/pay/wechatpay",
        &format!("/orders/{id}/pay/wechatpay"),
    )
    .path_param("id", id)
    .user("ada")
    .header("x-user-role", "admin")
    .json(&json!({"openid": "oAda"}));
    let (status, v) = integration_tests::decode(pay::handle(&s.pay, e.build()).await);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("owner_only")),
        "{v}"
    );
    assert_eq!(s.start_wechat("ann", id, "bad openid!").await.0, 400);

    let (status, params) = s.start_wechat("ann", id, "oAnn_1").await;
    assert_eq!(status, 200, "{params}");
    assert_eq!(params["appId"], supplier_sim::wechatpay::APPID);
    assert_eq!(params["signType"], "RSA");
    assert!(
        params["package"]
            .as_str()
            .unwrap()
            .starts_with("prepay_id=wx"),
        "{params}"
    );
    assert!(
        params["paySign"].as_str().is_some_and(|p| p.len() > 300),
        "{params}"
    );
    assert!(params["timeStamp"].as_str().unwrap().parse::<i64>().is_ok());
    let prepay = &s.sim.wechat_prepays()[id];
    assert_eq!(prepay.amount_cents as i64, TOTAL);
    assert_eq!(prepay.openid, "oAnn_1");
    assert_eq!(
        prepay.notify_url,
        format!("{PUBLIC_BASE_URL}/payments/wechatpay/notify/default")
    );
    let deadline =
        domain::time::Timestamp::parse(order["payment_deadline"].as_str().unwrap()).unwrap();
    let expire = domain::time::Timestamp::parse(&prepay.time_expire).unwrap();
    assert_eq!(
        expire.unix(),
        deadline.unix(),
        "time_expire is the payment deadline"
    );

    // Spoiled notifications: 401, and the order is as it was.
    for forgery in [Forgery::Signature, Forgery::Stale, Forgery::Undecryptable] {
        s.sim.forge_wechat(forgery);
        s.sim.wechat_pay(id, None).unwrap();
        let answers = s.wechat_notifications().await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].0, 401, "{forgery:?}: {:?}", answers[0].1);
        assert_eq!(answers[0].1["error"]["code"], "invalid_signature");
    }
    s.sim.forge_wechat(Forgery::None);
    assert_eq!(s.order("ann", id).await["status"], "pending_payment");

    let t = s.sim.wechat_pay(id, None).unwrap();
    let notes = s.sim.take_wechat_notifications();
    // A body changed after signing.
    let mut changed = notes[0].clone();
    changed.body = changed.body.replacen("\"id\":\"", "\"id\":\"X", 1);
    assert_eq!(s.wechat_notify(&changed).await.0, 401);
    // The real one, three times (WeChat resends until answered).
    for _ in 0..3 {
        let (status, v) = s.wechat_notify(&notes[0]).await;
        assert_eq!(status, 204, "{v}");
    }
    let paid = s.order("ann", id).await;
    assert_eq!(paid["status"], "awaiting_shipment", "{paid}");
    assert_eq!(paid["payment_id"], t.transaction_id.as_str());
    assert_eq!(paid["payment_channel"], "wechatpay");
    assert_eq!(count_events(&paid, "paid"), 1);
    assert!(paid["refunds"].as_array().unwrap().is_empty(), "{paid}");
    // Paid: no second payment starts.
    assert_eq!(s.start_wechat("ann", id, "oAnn_1").await.0, 409);
}

#[tokio::test]
async fn a_wrong_amount_taken_by_wechat_pay_goes_back() {
    let s = stack(Config::default()).await;
    let order = lamp_order(&s, "bob").await;
    let id = order["id"].as_str().unwrap();
    let short = (TOTAL - 100) as u64;
    let (status, transaction) = s.pay_wechat("bob", &order, Some(short)).await;
    assert_eq!(status, 204, "processed: WeChat must not send it again");
    let after = s.order("bob", id).await;
    assert_eq!(after["status"], "pending_payment", "{after}");
    let r = &after["refunds"][0];
    assert_eq!(r["amount_cents"].as_u64(), Some(short));
    assert_eq!(r["payment_id"], transaction.as_str());
    assert_eq!(r["channel"], "wechatpay");
    assert_eq!(s.drain_refunds(1).await, 1);
    let made = s.sim.wechat_refunds();
    let w = &made[r["id"].as_str().unwrap()];
    assert_eq!(
        (w.transaction_id.as_str(), w.amount_cents, w.total_cents),
        (transaction.as_str(), short, short)
    );
    let answers = s.wechat_notifications().await;
    assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), vec![204]);
    let settled = s.order("bob", id).await;
    assert_eq!(settled["refunds"][0]["status"], "succeeded", "{settled}");
    assert_eq!(settled["status"], "pending_payment");
}

#[tokio::test]
async fn a_rejected_parcel_goes_back_to_the_wechat_payment_once() {
    let s = stack(Config::default()).await;
    s.sim.set_wechat_refund_mode(WechatRefundMode::NotifyTwice);
    let (id, rid, transaction) = rejected(&s, "cat").await;
    let before = s.order("cat", &id).await;
    let r = refund(&before, &rid);
    assert_eq!(
        (r["status"].as_str(), r["channel"].as_str()),
        (Some("pending"), Some("wechatpay"))
    );
    assert_eq!(r["payment_id"], transaction.as_str());
    // The message delivered twice.
    let bodies = s.peek("RefundQueue").await;
    assert_eq!(bodies.len(), 1);
    s.sqs
        .send_message()
        .queue_url(&s.queues["RefundQueue"])
        .message_body(bodies[0].to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(s.drain_refunds(1).await, 2);
    let mid = s.order("cat", &id).await;
    assert_eq!(refund(&mid, &rid)["status"], "processing", "{mid}");
    let answers = s.wechat_notifications().await;
    assert_eq!(
        answers.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![204, 204]
    );
    let after = s.order("cat", &id).await;
    let r = refund(&after, &rid);
    assert_eq!(r["status"], "succeeded", "{after}");
    assert_eq!(count_events(&after, "refund_succeeded"), 1);
    let made = s.sim.wechat_refunds();
    assert_eq!(made.len(), 1, "{made:?}");
    let w = &made[&rid];
    assert_eq!(r["provider_refund_id"], w.refund_id.as_str());
    assert_eq!(w.transaction_id, transaction);
    assert_eq!(
        (w.amount_cents as i64, w.total_cents as i64),
        (TOTAL, TOTAL)
    );
    assert_eq!(w.requests, 1, "sent once");
    assert_eq!(
        w.notify_url,
        format!("{PUBLIC_BASE_URL}/payments/wechatpay/refund-notify/default")
    );
}

#[tokio::test]
async fn an_abnormal_refund_applied_for_again_is_still_owed_to_the_buyer() {
    let s = stack(Config::default()).await;
    s.sim.set_wechat_refund_mode(WechatRefundMode::Abnormal);
    let (id, rid, _) = rejected(&s, "dan").await;
    s.drain_refunds(1).await;
    assert_eq!(
        s.wechat_notifications()
            .await
            .iter()
            .map(|a| a.0)
            .collect::<Vec<_>>(),
        vec![204]
    );
    let failed = s.order_as_admin(&id).await;
    let r = refund(&failed, &rid);
    assert_eq!(
        (r["status"].as_str(), r["failure"].as_str()),
        (Some("failed"), Some("abnormal")),
        "{failed}"
    );
    assert!(
        failed["attention"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "refund_failed"),
        "{failed}"
    );
    // The buyer cannot retry it; support can.
    assert_eq!(
        s.refund_action("retry", &rid, "dan", "buyer", None).await.0,
        403
    );
    let (status, v) = s.refund_action("retry", &rid, "sue", "support", None).await;
    assert_eq!(status, 200, "{v}");
    // WeChat refuses the first apply: the refund is not closed, the message
    // comes back, and the next delivery applies.
    s.sim.wechat_refuse_next(1);
    let d = s.deliver_refunds(1).await;
    assert_eq!((d.received, d.failed.len()), (1, 1));
    assert_eq!(
        refund(&s.order("dan", &id).await, &rid)["status"],
        "pending"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    s.drain_refunds(2).await;
    let answers = s.wechat_notifications().await;
    assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), vec![204]);
    // MERCHANT_BANK_CARD: the money went to the shop's account, not the
    // buyer's. Still owed: failed, to_merchant, for staff to pay offline.
    let after = s.order_as_admin(&id).await;
    let r = refund(&after, &rid);
    assert_eq!(
        (r["status"].as_str(), r["to_merchant"].as_bool()),
        (Some("failed"), Some(true)),
        "{after}"
    );
    let items = after["attention"].as_array().unwrap();
    assert!(
        !items.iter().any(|a| a["kind"] == "refund_failed"),
        "{after}"
    );
    let item = items
        .iter()
        .find(|a| a["kind"] == "refund_to_merchant")
        .expect("refund_to_merchant");
    assert_eq!(item["actions"], json!(["record_refund_offline"]));
    let w = &s.sim.wechat_refunds()[&rid];
    assert_eq!(
        (w.requests, w.abnormal_applications),
        (1, 1),
        "applied for again, never sent twice"
    );
    assert_eq!(s.sim.wechat_refunds().len(), 1);
    // Not applied for a third time; paid by the shop, recorded offline.
    assert_eq!(
        s.refund_action("retry", &rid, "sue", "support", None)
            .await
            .0,
        409
    );
    let (status, v) = s
        .refund_action(
            "record-offline",
            &rid,
            "sue",
            "support",
            Some(json!({"note": "bank transfer to the buyer"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let paid = s.order_as_admin(&id).await;
    let r = refund(&paid, &rid);
    assert_eq!(
        (r["status"].as_str(), r["offline"].as_bool()),
        (Some("succeeded"), Some(true))
    );
    assert!(paid["attention"].as_array().unwrap().is_empty(), "{paid}");
}

#[tokio::test]
async fn a_closed_refund_is_sent_again_under_a_new_number() {
    let s = stack(Config::default()).await;
    s.sim.set_wechat_refund_mode(WechatRefundMode::Closed);
    let (id, rid, transaction) = rejected(&s, "eli").await;
    s.drain_refunds(1).await;
    s.wechat_notifications().await;
    let failed = s.order_as_admin(&id).await;
    assert_eq!(refund(&failed, &rid)["failure"], "closed", "{failed}");
    s.sim.set_wechat_refund_mode(WechatRefundMode::Succeed);
    retry_refund(&s, &rid).await;
    let after = s.order("eli", &id).await;
    let r = refund(&after, &rid);
    assert_eq!(r["status"], "succeeded", "{after}");
    assert_eq!(r["provider_no"], format!("{rid}-2"));
    let made = s.sim.wechat_refunds();
    assert_eq!(
        made.keys().cloned().collect::<Vec<_>>(),
        vec![rid.clone(), format!("{rid}-2")]
    );
    let paid_back: u64 = made
        .values()
        .filter(|w| w.status == "SUCCESS")
        .map(|w| w.amount_cents)
        .sum();
    assert_eq!(paid_back as i64, TOTAL, "the closed one never paid");
    assert!(made.values().all(|w| w.transaction_id == transaction));
}

#[tokio::test]
async fn a_time_out_after_wechat_made_the_refund_sends_nothing_twice() {
    let s = stack(Config::default()).await;
    s.sim.set_wechat_refund_mode(WechatRefundMode::TimeOut);
    s.sim.wechat_time_out_ms(2_500);
    let (id, rid, _) = rejected(&s, "fay").await;
    let d = s.deliver_refunds(1).await;
    assert_eq!(
        (d.received, d.failed.len()),
        (1, 1),
        "the time-out comes back"
    );
    assert_eq!(
        refund(&s.order("fay", &id).await, &rid)["status"],
        "pending"
    );
    s.sim.set_wechat_refund_mode(WechatRefundMode::Succeed);
    s.sim.wechat_unavailable_next(1);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    s.drain_refunds(2).await;
    let after = s.order("fay", &id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    let made = s.sim.wechat_refunds();
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[&rid].requests, 2,
        "the same out_refund_no again, one refund"
    );
}

#[tokio::test]
async fn a_silent_refund_is_found_by_the_sweeps_query() {
    let s = stack(Config {
        refund_query_secs: 1,
        ..Config::default()
    })
    .await;
    s.sim
        .set_wechat_refund_mode(WechatRefundMode::ProcessSilently);
    let (id, rid, _) = rejected(&s, "gus").await;
    s.drain_refunds(1).await;
    assert_eq!(
        refund(&s.order("gus", &id).await, &rid)["status"],
        "processing"
    );
    assert!(s.sim.take_wechat_notifications().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    s.sweep().await;
    s.drain_refunds(1).await;
    let after = s.order("gus", &id).await;
    assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    assert_eq!(s.sim.wechat_refunds()[&rid].requests, 1);
}

/// Refund notifications are verified and decrypted like payments': a bad
/// signature, a stale or an undecryptable one is 401 and moves nothing;
/// the sweep's query then finds the truth.
#[tokio::test]
async fn spoiled_refund_notifications_change_nothing() {
    let s = stack(Config {
        refund_query_secs: 1,
        ..Config::default()
    })
    .await;
    let mut spoiled = Vec::new();
    for (user, mode, forgery) in [
        ("hal", WechatRefundMode::BadSignature, Forgery::None),
        ("ian", WechatRefundMode::ProcessThenNotify, Forgery::Stale),
        (
            "jo",
            WechatRefundMode::ProcessThenNotify,
            Forgery::Undecryptable,
        ),
    ] {
        let (id, rid, _) = rejected(&s, user).await;
        s.sim.set_wechat_refund_mode(mode);
        s.sim.forge_wechat(forgery);
        s.drain_refunds(1).await;
        s.sim.forge_wechat(Forgery::None);
        let answers = s.wechat_notifications().await;
        assert_eq!(answers.len(), 1, "{mode:?} {forgery:?}");
        assert_eq!(
            answers[0].0, 401,
            "{mode:?} {forgery:?}: {:?}",
            answers[0].1
        );
        let now = s.order(user, &id).await;
        assert_eq!(refund(&now, &rid)["status"], "processing", "{now}");
        assert_eq!(count_events(&now, "refund_succeeded"), 0);
        spoiled.push((user, id, rid));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    s.sweep().await;
    s.drain_refunds(1).await;
    for (user, id, rid) in spoiled {
        let after = s.order(user, &id).await;
        assert_eq!(refund(&after, &rid)["status"], "succeeded", "{after}");
    }
    assert_eq!(
        s.sim
            .wechat_refunds()
            .values()
            .map(|w| w.requests)
            .sum::<u32>(),
        3
    );
}
