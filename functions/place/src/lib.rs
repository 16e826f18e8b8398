//! `POST /orders` (SPEC 2.2) and `POST /orders/{id}/repurchase` (SPEC 2.9).

use adapters::http::{self, ApiError};
use adapters::App;
use domain::ids::IdempotencyKey;
use domain::place::{place_order, PlaceRequest};
use domain::time::Timestamp;
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    if req.method() != Method::POST {
        return ApiError::method_not_allowed().into_response();
    }
    match place(app, &req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn place(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = http::caller(req, app.auth)?;
    let key = match http::header_value(req, "idempotency-key") {
        None => None,
        Some(raw) => Some(IdempotencyKey::parse(&raw).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                e.to_string(),
            )
        })?),
    };
    let request = PlaceRequest::parse(http::body(req)?)?;
    let placed = place_order(
        &app.store,
        &app.config,
        &caller,
        key,
        &request,
        Timestamp::now(),
    )
    .await?;
    if !placed.replayed {
        tracing::info!(order = %placed.order.id, user = %caller.user, total = placed.order.total_cents.0, "order placed");
    }
    let status = if placed.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = http::json_response(status, &placed.order);
    if placed.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}
