//! The WeChat Pay client against the simulator's WeChat Pay (keys generated
//! at its start): signed requests it accepts, answers and notifications we
//! verify and decrypt, refunds sent once per number, the bill hash-checked.

use domain::ids::OrderId;
use domain::money::Cents;
use domain::payment::refund::{
    PaymentChannel, ProviderError, ProviderState, RefundFailure, RefundRequest,
};
use domain::payment::start::PrepayRequest;
use domain::storefront::StorefrontId;
use domain::time::Timestamp;
use std::time::Duration;
use supplier_sim::{BillEdit, Simulator, WechatRefundMode};
use suppliers::wechatpay::bill::{self, BillRow};
use suppliers::wechatpay::crypto::SignedHeaders;
use suppliers::wechatpay::{Credentials, Transaction, WechatPayClient};

async fn setup() -> (Simulator, WechatPayClient, Credentials) {
    let sim = Simulator::start("jd").await;
    let client = WechatPayClient::new(&sim.wechat_url(), Duration::from_millis(1500)).unwrap();
    let values = serde_json::to_value(sim.wechat_credentials()).unwrap();
    let creds = Credentials::from_values(|k| values[k].as_str().map(str::to_owned))
        .unwrap()
        .expect("configured");
    (sim, client, creds)
}

fn open(
    c: &Credentials,
    n: &supplier_sim::WechatNotification,
) -> Result<(String, Vec<u8>), String> {
    let h = SignedHeaders::from_headers(|name| {
        n.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())?;
    c.open_notification(&h, n.body.as_bytes())
        .map_err(|e| e.to_string())
}

fn refund(no: &str, payment: &str, cents: u64) -> RefundRequest {
    RefundRequest {
        storefront: StorefrontId::default_id(),
        channel: PaymentChannel::Wechatpay,
        provider_no: no.into(),
        payment_id: payment.into(),
        amount_cents: Cents(cents),
        payment_cents: Cents(10_000),
        reason: "rejected parcel".into(),
        provider_refund_id: None,
    }
}

/// Prepay, the buyer pays, the notification verifies and decrypts to the
/// transaction; the pay parameters are signed for `wx.requestPayment`.
#[tokio::test]
async fn a_prepaid_order_is_paid_and_notified() {
    let (sim, client, creds) = setup().await;
    let order = OrderId::generate(&Timestamp::now());
    let req = PrepayRequest {
        storefront: StorefrontId::default_id(),
        order_id: order.clone(),
        description: "Order".into(),
        amount_cents: Cents(12_345),
        expires_at: Timestamp::now().plus_secs(600),
        openid: "oUser_1".into(),
    };
    let params = client
        .prepay(&creds, &req, "http://x/payments/wechatpay/notify/default")
        .await
        .unwrap();
    assert_eq!(params.app_id, supplier_sim::wechatpay::APPID);
    assert!(params.package.starts_with("prepay_id=wx"));
    assert_eq!(params.sign_type, "RSA");
    let again = client.prepay(&creds, &req, "http://x/n").await.unwrap();
    assert_eq!(again.package, params.package, "one prepay per order");
    let p = &sim.wechat_prepays()[order.as_str()];
    assert_eq!(
        (p.amount_cents, p.requests, p.openid.as_str()),
        (12_345, 2, "oUser_1")
    );
    assert!(p.time_expire.ends_with("+08:00"), "{}", p.time_expire);

    let t = sim.wechat_pay(order.as_str(), None).unwrap();
    let notes = sim.take_wechat_notifications();
    assert_eq!(notes.len(), 1);
    let (event, plain) = open(&creds, &notes[0]).unwrap();
    assert_eq!(event, "TRANSACTION.SUCCESS");
    let paid: Transaction = serde_json::from_slice(&plain).unwrap();
    assert_eq!(paid.transaction_id, t.transaction_id);
    assert_eq!(paid.out_trade_no, order.as_str());
    assert_eq!(
        (paid.amount.total, paid.trade_state.as_str()),
        (12_345, "SUCCESS")
    );
    assert_eq!(paid.mchid, creds.mchid);

    // A body changed after signing does not verify.
    let mut forged = notes[0].clone();
    forged.body = forged
        .body
        .replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESZ");
    assert!(open(&creds, &forged).is_err());
}

/// Each refund mode, the number sent twice making one refund, queries.
#[tokio::test]
async fn refunds_follow_the_modes_and_are_made_once() {
    let (sim, client, creds) = setup().await;
    let r = refund("O-R01", "4200000001", 3_000);
    let first = client
        .create_refund(&creds, &r, "http://x/n")
        .await
        .unwrap();
    assert_eq!(first.state, ProviderState::Succeeded);
    let again = client
        .create_refund(&creds, &r, "http://x/n")
        .await
        .unwrap();
    assert_eq!(again.provider_refund_id, first.provider_refund_id);
    assert_eq!(sim.wechat_refunds()["O-R01"].requests, 2);
    assert_eq!(sim.wechat_refunds().len(), 1);

    for (mode, no, answered, settled) in [
        (
            WechatRefundMode::ProcessThenNotify,
            "O-R02",
            ProviderState::Processing,
            "SUCCESS",
        ),
        (
            WechatRefundMode::Abnormal,
            "O-R03",
            ProviderState::Processing,
            "ABNORMAL",
        ),
        (
            WechatRefundMode::Closed,
            "O-R04",
            ProviderState::Processing,
            "CLOSED",
        ),
    ] {
        sim.set_wechat_refund_mode(mode);
        sim.take_wechat_notifications();
        let got = client
            .create_refund(&creds, &refund(no, "4200000001", 100), "http://x/n")
            .await
            .unwrap();
        assert_eq!(got.state, answered, "{mode:?}");
        let q = client
            .query_refund(&creds, &refund(no, "4200000001", 100))
            .await
            .unwrap();
        assert_eq!(Some(q.state), suppliers::wechatpay::refund_state(settled));
        let notes = sim.take_wechat_notifications();
        assert_eq!(notes.len(), 1, "{mode:?}");
        let (event, plain) = open(&creds, &notes[0]).unwrap();
        assert_eq!(event, format!("REFUND.{settled}"));
        let res: suppliers::wechatpay::RefundResource = serde_json::from_slice(&plain).unwrap();
        assert_eq!(
            (res.out_refund_no.as_str(), res.refund_status.as_str()),
            (no, settled)
        );
    }

    // Abnormal, applied for again: succeeds under the same number.
    let mut abnormal = refund("O-R03", "4200000001", 100);
    abnormal.provider_refund_id = None;
    let applied = client.apply_abnormal(&creds, &abnormal).await.unwrap();
    assert_eq!(applied.state, ProviderState::Processing);
    assert_eq!(sim.wechat_refunds()["O-R03"].status, "SUCCESS");
    assert_eq!(sim.wechat_refunds()["O-R03"].abnormal_applications, 1);

    // Unknown numbers, temporary errors, bad signatures on notifications.
    assert_eq!(
        client
            .query_refund(&creds, &refund("NONE-R01", "p", 1))
            .await
            .unwrap_err(),
        ProviderError::NotFound
    );
    sim.wechat_unavailable_next(1);
    assert!(matches!(
        client
            .create_refund(&creds, &refund("O-R05", "4200000001", 100), "http://x/n")
            .await,
        Err(ProviderError::Temporary(_))
    ));
    assert!(!sim.wechat_refunds().contains_key("O-R05"));
    sim.set_wechat_refund_mode(WechatRefundMode::BadSignature);
    sim.take_wechat_notifications();
    client
        .create_refund(&creds, &refund("O-R05", "4200000001", 100), "http://x/n")
        .await
        .unwrap();
    let bad = sim.take_wechat_notifications();
    assert!(open(&creds, &bad[0]).unwrap_err().contains("signature"));
    // More than the payment: refused for good.
    sim.set_wechat_refund_mode(WechatRefundMode::Succeed);
    assert!(matches!(
        client
            .create_refund(&creds, &refund("O-R06", "4200000001", 10_001), "http://x/n")
            .await,
        Err(ProviderError::Refused(_))
    ));
    let _ = RefundFailure::Abnormal;
}

/// A time-out after WeChat made the refund: sent again, the same refund.
#[tokio::test]
async fn a_timed_out_refund_is_found_by_its_number() {
    let (sim, _, creds) = setup().await;
    let client = WechatPayClient::new(&sim.wechat_url(), Duration::from_millis(300)).unwrap();
    sim.set_wechat_refund_mode(WechatRefundMode::TimeOut);
    sim.wechat_time_out_ms(1_000);
    let r = refund("T-R01", "4200000009", 500);
    assert!(matches!(
        client.create_refund(&creds, &r, "http://x/n").await,
        Err(ProviderError::Temporary(_))
    ));
    sim.set_wechat_refund_mode(WechatRefundMode::Succeed);
    let got = client
        .create_refund(&creds, &r, "http://x/n")
        .await
        .unwrap();
    assert_eq!(got.state, ProviderState::Succeeded);
    let made = sim.wechat_refunds();
    assert_eq!((made.len(), made["T-R01"].requests), (1, 2));
}

/// The bill of today holds what happened, hash-checked; an edited one
/// shows the edit; a day without trade is NO_STATEMENT_EXIST (None).
#[tokio::test]
async fn the_trade_bill_is_downloaded_and_read() {
    let (sim, client, creds) = setup().await;
    let order = OrderId::generate(&Timestamp::now());
    let req = PrepayRequest {
        storefront: StorefrontId::default_id(),
        order_id: order.clone(),
        description: "Order".into(),
        amount_cents: Cents(2_050),
        expires_at: Timestamp::now().plus_secs(600),
        openid: "oU".into(),
    };
    client.prepay(&creds, &req, "http://x/n").await.unwrap();
    let t = sim.wechat_pay(order.as_str(), None).unwrap();
    let no = format!("{order}-R01");
    client
        .create_refund(&creds, &refund(&no, &t.transaction_id, 550), "http://x/n")
        .await
        .unwrap();
    let today = supplier_sim::wechatpay::beijing_today();
    let file = client
        .trade_bill(&creds, &today)
        .await
        .unwrap()
        .expect("a bill");
    let rows = bill::parse(&file).unwrap();
    assert!(rows.contains(&BillRow::Payment {
        transaction_id: t.transaction_id.clone(),
        out_trade_no: order.to_string(),
        amount_cents: Cents(2_050),
    }));
    assert!(rows.iter().any(
        |r| matches!(r, BillRow::Refund { out_refund_no, amount_cents, status, .. }
        if *out_refund_no == no && *amount_cents == Cents(550) && status == "SUCCESS")
    ));

    sim.edit_wechat_bill(BillEdit::ChangeRefund {
        out_refund_no: no.clone(),
        amount_cents: Some(600),
        status: None,
    });
    let rows = bill::parse(&client.trade_bill(&creds, &today).await.unwrap().unwrap()).unwrap();
    assert!(rows
        .iter()
        .any(|r| matches!(r, BillRow::Refund { amount_cents, .. } if *amount_cents == Cents(600))));

    assert_eq!(client.trade_bill(&creds, "2001-01-01").await.unwrap(), None);
    assert!(client.trade_bill(&creds, "yesterday").await.is_err());
}

/// An answer that does not verify is not acted on: temporary, and the
/// same number again finds the refund WeChat made.
#[tokio::test]
async fn an_answer_that_does_not_verify_is_not_believed() {
    let (sim, client, creds) = setup().await;
    sim.forge_wechat_answers(true);
    let r = refund("F-R01", "4200000007", 200);
    assert!(matches!(
        client.create_refund(&creds, &r, "http://x/n").await,
        Err(ProviderError::Temporary(m)) if m.contains("not WeChat Pay's")
    ));
    assert!(matches!(
        client.query_refund(&creds, &r).await,
        Err(ProviderError::Temporary(_))
    ));
    sim.forge_wechat_answers(false);
    let got = client
        .create_refund(&creds, &r, "http://x/n")
        .await
        .unwrap();
    assert_eq!(got.state, ProviderState::Succeeded);
    assert_eq!(sim.wechat_refunds()["F-R01"].requests, 2);
    // A refusal is believed only when it verifies too.
    sim.wechat_refuse_next(1);
    sim.forge_wechat_answers(true);
    assert!(matches!(
        client
            .create_refund(&creds, &refund("F-R02", "4200000007", 200), "http://x/n")
            .await,
        Err(ProviderError::Temporary(_))
    ));
}
