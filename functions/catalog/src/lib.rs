//! `PUT /skus/{sku}` (staff) and `GET /skus/{sku}`.

use adapters::http::{self, ApiError};
use adapters::App;
use domain::catalog::{CatalogError, Sku, SkuInput};
use domain::ids::SkuId;
use domain::ports::Catalog;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let app = &http::for_request(app, &req);
    let result = match *req.method() {
        Method::GET => get(app, &req).await,
        Method::PUT => put(app, &req).await,
        _ => Err(ApiError::method_not_allowed()),
    };
    http::respond(StatusCode::OK, result)
}

/// A malformed SKU id names nothing we sell: not found.
fn sku_param(req: &Request) -> Result<SkuId, CatalogError> {
    let raw = http::path_param(req, "sku").unwrap_or_default();
    SkuId::parse(&raw).map_err(|_| CatalogError::NotFound(raw))
}

async fn get(app: &App, req: &Request) -> Result<Sku, ApiError> {
    let sku = sku_param(req)?;
    let found = app.store.get_sku(&sku).await?;
    found.ok_or_else(|| CatalogError::NotFound(sku.to_string()).into())
}

async fn put(app: &App, req: &Request) -> Result<Sku, ApiError> {
    let caller = http::caller(req, app.auth)?;
    if !caller.is_staff {
        return Err(CatalogError::Forbidden.into());
    }
    let sku = sku_param(req)?;
    let input: SkuInput = http::parse_json(http::body(req)?)?;
    let stored = app.store.put_sku(&input.validate(sku)?).await?;
    tracing::info!(sku = %stored.sku, by = %caller.user, "sku saved");
    Ok(stored)
}
