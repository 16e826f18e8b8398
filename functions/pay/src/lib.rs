//! `POST /payments/notify[/{storefront}]` (SPEC 2.3, 2.13): signed by the
//! payment provider with the storefront's secret; the bare route is `default`.

use adapters::http::{self, ApiError, RouteId};
use adapters::secrets::PaymentSecrets;
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::payment::pay::{apply_payment, PaymentNotice};
use domain::storefront::{self, StorefrontId};
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

#[derive(Clone)]
pub struct Pay {
    pub app: App,
    pub publisher: SqsPublisher,
    pub secrets: PaymentSecrets,
}

pub async fn handle(pay: &Pay, req: Request) -> Response<Body> {
    let pay = &http::for_request(pay, &req);
    let result = match http::route(&req, "pay") {
        Ok(RouteId::NotifyPayment | RouteId::NotifyPaymentInStorefront) => notify(pay, &req).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

async fn notify(pay: &Pay, req: &Request) -> Result<serde_json::Value, ApiError> {
    // The storefront's secret verifies the body before anything is read.
    let id = match http::path_param(req, "storefront") {
        Some(raw) => StorefrontId::parse(&raw)?,
        None => StorefrontId::default_id(),
    };
    let sf = storefront::find(&pay.app.store, &id).await?;
    tracing::Span::current().record("storefront", sf.id.as_str());
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

impl http::RequestScoped for Pay {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
