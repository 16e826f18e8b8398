//! `POST /orders` (SPEC 2.2) and `POST /orders/{id}/repurchase` (SPEC 2.9).

use adapters::http::{self, ApiError, RouteId};
use adapters::App;
use domain::checkout::place::{place_order, PlaceRequest, Placed};
use domain::checkout::repurchase::{repurchase, RepurchaseError};
use domain::ids::{Caller, IdempotencyKey};
use domain::order::read::parse_order_id;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let app = &http::for_request(app, &req);
    let result = match http::route(&req, "place") {
        Ok(RouteId::RepurchaseOrder) => buy_again(app, &req).await,
        Ok(RouteId::CreateOrder) => place(app, &req).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    result.unwrap_or_else(ApiError::into_response)
}

/// The `Idempotency-Key`, if sent. A key that is present but not valid (not
/// visible ASCII, empty, too long) is 400: taking it for "no key" would let a
/// retry place a second order.
fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let invalid = |message: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", message)
    };
    match http::header_text(req, "idempotency-key") {
        None => Ok(None),
        Some(Err(_)) => Err(invalid(
            "invalid Idempotency-Key: must be printable ASCII without spaces".to_owned(),
        )),
        Some(Ok(raw)) => IdempotencyKey::parse(&raw)
            .map(Some)
            .map_err(|e| invalid(e.to_string())),
    }
}

fn log_placed(placed: &Placed, caller: &Caller) {
    if !placed.replayed {
        tracing::info!(order = %placed.order.id, user = %caller.user, storefront = %placed.order.storefront, total = placed.order.total_cents.0, "order placed");
    }
}

/// 201 for a new order, 200 (with `idempotent-replayed: true`) for a replay.
fn created(placed: &Placed, body: &serde_json::Value) -> Response<Body> {
    let status = if placed.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = http::json_response(status, body);
    if placed.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

async fn place(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = http::caller(app, req).await?;
    let key = idempotency_key(req)?;
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
    log_placed(&placed, &caller);
    let view = OrderView::new(&placed.order, &caller, &app.config, Timestamp::now());
    Ok(created(&placed, &json!(view)))
}

async fn buy_again(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = http::caller(app, req).await?;
    let key = idempotency_key(req)?;
    let id = parse_order_id(http::path_param(req, "id").as_deref())
        .map_err(|_| ApiError::from(RepurchaseError::NotFound))?;
    let dry_run = match http::query_param(req, "dry_run").as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "dry_run must be true or false",
            ))
        }
    };
    match repurchase(
        &app.store,
        &app.config,
        &caller,
        &id,
        key,
        dry_run,
        Timestamp::now(),
    )
    .await
    {
        Ok((report, None)) => Ok(http::json_response(
            StatusCode::OK,
            &json!({ "report": report, "order": null }),
        )),
        Ok((report, Some(placed))) => {
            log_placed(&placed, &caller);
            Ok(created(
                &placed,
                &json!({ "report": report, "order": OrderView::new(&placed.order, &caller, &app.config, Timestamp::now()) }),
            ))
        }
        Err(RepurchaseError::NothingToBuy(report)) => {
            // SPEC 2.9: 409 with the report, beside the usual error object.
            let err = ApiError::from(RepurchaseError::NothingToBuy(report.clone()));
            let body = json!({
                "error": { "code": err.code, "message": err.message, "details": err.details },
                "report": report,
                "order": null,
            });
            Ok(http::json_response(StatusCode::CONFLICT, &body))
        }
        Err(e) => Err(e.into()),
    }
}
