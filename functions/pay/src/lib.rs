//! Payments (SPEC 2.3, 2.12, 2.13): the gateway's signed `POST
//! /payments/notify[/{storefront}]`; WeChat Pay's `POST
//! /payments/wechatpay/notify[/{storefront}]` (verified and decrypted with
//! the storefront's credentials); and `POST /orders/{id}/pay/wechatpay`,
//! which starts a WeChat payment for the mini-program. The bare
//! notification routes are `default`'s.

use adapters::http::{self, ApiError, RouteId};
use adapters::secrets::PaymentSecrets;
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::ids::OrderId;
use domain::payment::pay::{apply_payment, PayError, PaymentNotice};
use domain::payment::refund::{PaymentChannel, ProviderError};
use domain::payment::start::{self, PayParams, PaymentStarter, PrepayRequest, StartInput};
use domain::storefront;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use suppliers::wechatpay::{Transaction, WechatPay};

#[derive(Clone)]
pub struct Pay {
    pub app: App,
    pub publisher: SqsPublisher,
    pub secrets: PaymentSecrets,
    pub wechatpay: WechatPay,
}

pub async fn handle(pay: &Pay, req: Request) -> Response<Body> {
    let pay = &http::for_request(pay, &req);
    match http::route(&req, "pay") {
        Ok(RouteId::NotifyPayment | RouteId::NotifyPaymentInStorefront) => {
            http::respond(StatusCode::OK, notify(pay, &req).await)
        }
        Ok(RouteId::StartWechatPayment) => {
            http::respond(StatusCode::OK, start_wechat(pay, &req).await)
        }
        Ok(RouteId::NotifyWechatPayment | RouteId::NotifyWechatPaymentInStorefront) => {
            match notify_wechat(pay, &req).await {
                Ok(()) => http::no_content(),
                Err(e) => e.into_response(),
            }
        }
        Ok(_) => ApiError::no_route().into_response(),
        Err(e) => e.into_response(),
    }
}

async fn notify(pay: &Pay, req: &Request) -> Result<serde_json::Value, ApiError> {
    // The storefront's secret verifies the body before anything is read.
    let sf = http::route_storefront(&pay.app, req).await?;
    // A storefront with no secret cannot be paid: nothing verifies.
    let secret = pay.secrets.for_storefront(&sf).await?;
    let body = match secret {
        Some(secret) => http::signed_body(req, &secret)?,
        None => http::verified_body(req, |_, _| false)?,
    };
    let mut notice = PaymentNotice::parse(body)?;
    notice.storefront = sf.id;
    let paid = apply_payment(
        &pay.app.store,
        &pay.publisher,
        &pay.app.config,
        &notice,
        Timestamp::now(),
    )
    .await?;
    if !paid.replayed {
        tracing::info!(order = %paid.order.id, storefront = %paid.order.storefront, payment = %notice.payment_id, "order paid");
    }
    Ok(json!(OrderView::for_payment_provider(&paid.order)))
}

/// `POST /payments/wechatpay/notify[/{storefront}]`: verified and decrypted
/// with the storefront's credentials (else 401, nothing changes); once
/// processed, 204 whatever became of the order (paid, or the money
/// recorded for refund), as WeChat resends anything else for a day.
async fn notify_wechat(pay: &Pay, req: &Request) -> Result<(), ApiError> {
    let http::WechatNotification {
        storefront: sf,
        credentials: creds,
        event,
        resource: plain,
    } = http::wechatpay_notification(&pay.app, &pay.secrets, req).await?;
    let t: Transaction = serde_json::from_slice(&plain)
        .map_err(|e| http::wechatpay_unverified(format!("{event}: not a transaction: {e}")))?;
    if t.mchid != creds.mchid || t.appid != creds.appid {
        return Err(http::wechatpay_unverified(format!(
            "for merchant {} / app {}, not this storefront's",
            t.mchid, t.appid
        )));
    }
    if t.trade_state != "SUCCESS" {
        tracing::info!(order = %t.out_trade_no, state = %t.trade_state, "WeChat Pay notification without payment");
        return Ok(());
    }
    let Ok(order_id) = OrderId::parse(&t.out_trade_no) else {
        tracing::error!(out_trade_no = %t.out_trade_no, transaction = %t.transaction_id, "WeChat Pay took money for no order of ours (reconciliation reports it)");
        return Ok(());
    };
    let now = Timestamp::now();
    let notice = PaymentNotice {
        order_id,
        payment_id: t.transaction_id.clone(),
        amount_cents: domain::money::Cents(t.amount.total),
        paid_at: t
            .success_time
            .as_deref()
            .and_then(|s| Timestamp::parse(s).ok())
            .unwrap_or(now),
        storefront: sf.id.clone(),
        channel: PaymentChannel::Wechatpay,
    };
    match apply_payment(
        &pay.app.store,
        &pay.publisher,
        &pay.app.config,
        &notice,
        now,
    )
    .await
    {
        Ok(paid) => {
            tracing::info!(order = %paid.order.id, storefront = %sf.id, payment = %notice.payment_id, replayed = paid.replayed, "order paid by WeChat Pay");
            Ok(())
        }
        // Not processed: WeChat sends it again.
        Err(e @ (PayError::Store(_) | PayError::Illegal(_))) => Err(e.into()),
        Err(e) => {
            tracing::warn!(order = %notice.order_id, payment = %notice.payment_id, outcome = %e, "WeChat Pay payment processed without paying the order");
            Ok(())
        }
    }
}

/// Asks WeChat Pay for a JSAPI prepay with the order's storefront's credentials.
struct Starter<'a>(&'a Pay);

impl PaymentStarter for Starter<'_> {
    async fn prepay(&self, req: &PrepayRequest) -> Result<PayParams, ProviderError> {
        let pay = self.0;
        let sf = storefront::find(&pay.app.store, &req.storefront)
            .await
            .map_err(|e| ProviderError::Temporary(e.to_string()))?;
        let creds = pay
            .secrets
            .wechatpay(&sf)
            .await
            .map_err(|e| ProviderError::Temporary(e.to_string()))?
            .ok_or(ProviderError::NotFound)?;
        let url = pay
            .wechatpay
            .notify_url("notify", &sf.id)
            .ok_or(ProviderError::NotFound)?;
        pay.wechatpay.client.prepay(&creds, req, &url).await
    }
}

async fn start_wechat(pay: &Pay, req: &Request) -> Result<PayParams, ApiError> {
    let caller = http::caller(&pay.app, req).await?;
    let id = OrderId::parse(&http::path_param(req, "id").unwrap_or_default())
        .map_err(|_| ApiError::from(start::StartError::OrderNotFound))?;
    let openid = StartInput::parse(http::body(req)?)?;
    let params = start::start_payment(
        &pay.app.store,
        &Starter(pay),
        &caller,
        &id,
        openid,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(order = %id, "WeChat payment started");
    Ok(params)
}

impl http::RequestScoped for Pay {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
