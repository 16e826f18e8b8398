//! `GET /orders/{id}` and `GET /orders?limit=&cursor=`.

use adapters::http::{self, ApiError, RouteId};
use adapters::App;
use domain::order::read;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let app = &http::for_request(app, &req);
    let result = match http::route(&req, "orders") {
        Ok(RouteId::GetOrder) => get(app, &req).await,
        Ok(RouteId::ListOrders) => list(app, &req).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

async fn get(app: &App, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(app, req).await?;
    let id = read::parse_order_id(http::path_param(req, "id").as_deref())?;
    let order = read::get_order(&app.store, &caller, &id).await?;
    Ok(json!(OrderView::new(
        &order,
        &caller,
        &app.config,
        Timestamp::now()
    )))
}

async fn list(app: &App, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(app, req).await?;
    let limit = read::parse_limit(http::query_param(req, "limit").as_deref())?;
    let cursor = http::query_param(req, "cursor").filter(|c| !c.is_empty());
    let scope = read::parse_list_scope(http::query_param(req, "storefront").as_deref(), &caller)?;
    let page = read::list_orders(
        &app.store,
        &caller,
        scope.as_ref(),
        limit,
        cursor.as_deref(),
    )
    .await?;
    let now = Timestamp::now();
    let orders: Vec<OrderView> = page
        .orders
        .iter()
        .map(|o| OrderView::new(o, &caller, &app.config, now))
        .collect();
    Ok(json!({ "orders": orders, "next_cursor": page.next_cursor }))
}
