//! `POST /orders/{id}/cancel` (SPEC 2.6), by the owner or staff.

use adapters::http::{self, ApiError, RouteId};
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::order::cancel::{cancel_order, cancel_package, parse_body, CancelError};
use domain::order::read::parse_order_id;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

#[derive(Clone)]
pub struct Cancel {
    pub app: App,
    pub publisher: SqsPublisher,
}

pub async fn handle(c: &Cancel, req: Request) -> Response<Body> {
    let c = &http::for_request(c, &req);
    let result = match http::route(&req, "cancel") {
        Ok(RouteId::CancelOrder) => cancel(c, &req).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

async fn cancel(c: &Cancel, req: &Request) -> Result<serde_json::Value, ApiError> {
    let caller = http::caller(&c.app, req).await?;
    let id = parse_order_id(http::path_param(req, "id").as_deref())
        .map_err(|_| ApiError::from(CancelError::NotFound))?;
    let body = parse_body(http::body(req)?)?;
    let store = &c.app.store;
    let now = Timestamp::now();
    let order = match &body.package_id {
        // Staff only (403 first); a package of another order is not in this one.
        Some(package) if caller.is_staff() && package.order_id() != id => {
            return Err(CancelError::NotFound.into())
        }
        Some(package) => {
            cancel_package(
                store,
                &c.publisher,
                &c.app.config,
                &caller,
                package,
                body.reason,
                now,
            )
            .await?
        }
        None => {
            cancel_order(
                store,
                &c.publisher,
                &c.app.config,
                &caller,
                &id,
                body.reason,
                now,
            )
            .await?
        }
    };
    tracing::info!(order = %order.id, status = order.status().as_str(), by = %caller.user, "cancel");
    Ok(json!(OrderView::new(
        &order,
        &caller,
        &c.app.config,
        Timestamp::now()
    )))
}

impl http::RequestScoped for Cancel {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
