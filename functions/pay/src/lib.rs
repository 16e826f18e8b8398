//! `POST /payments/notify` (SPEC 2.3): signed by the payment provider.

use adapters::http::{self, ApiError};
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::pay::{apply_payment, PaymentNotice};
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

#[derive(Clone)]
pub struct Pay {
    pub app: App,
    pub publisher: SqsPublisher,
    pub secret: String,
}

pub async fn handle(pay: &Pay, req: Request) -> Response<Body> {
    let pay = &http::for_request(pay, &req);
    if req.method() != Method::POST {
        return ApiError::method_not_allowed().into_response();
    }
    let result = notify(pay, &req).await;
    http::respond(StatusCode::OK, result)
}

async fn notify(pay: &Pay, req: &Request) -> Result<serde_json::Value, ApiError> {
    let body = http::signed_body(req, &pay.secret)?;
    let notice = PaymentNotice::parse(body)?;
    let paid = apply_payment(
        &pay.app.store,
        &pay.publisher,
        &pay.app.config,
        &notice,
        Timestamp::now(),
    )
    .await?;
    if !paid.replayed {
        tracing::info!(order = %paid.order.id, payment = %notice.payment_id, "order paid");
    }
    Ok(json!(OrderView::for_payment_provider(&paid.order)))
}

impl http::RequestScoped for Pay {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
