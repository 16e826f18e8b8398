//! `PUT /skus/{sku}` (staff), `GET /skus/{sku}`; the storefronts (SPEC 2.13,
//! staff): `PUT /storefronts/{id}`, `GET /storefronts/{id}`, `GET /storefronts`.

use adapters::http::{self, ApiError};
use adapters::App;
use domain::catalog::{CatalogError, Sku, SkuInput};
use domain::ids::SkuId;
use domain::ports::{Catalog, Storefronts};
use domain::storefront::{self, Storefront, StorefrontError, StorefrontId, StorefrontInput};
use domain::time::Timestamp;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let app = &http::for_request(app, &req);
    if req.uri().path().contains("/storefronts") {
        return storefronts(app, &req).await;
    }
    let result = match *req.method() {
        Method::GET => get(app, &req).await,
        Method::PUT => put(app, &req).await,
        _ => Err(ApiError::method_not_allowed()),
    };
    http::respond(StatusCode::OK, result)
}

async fn storefronts(app: &App, req: &Request) -> Response<Body> {
    let result = async {
        let caller = http::caller(app, req).await?;
        if !caller.is_staff {
            return Err(StorefrontError::Forbidden.into());
        }
        let id = http::path_param(req, "id");
        match (req.method().clone(), id) {
            (Method::GET, None) => {
                let mut all = app.store.list_storefronts().await?;
                if !all.iter().any(|sf| sf.id.is_default()) {
                    all.insert(0, Storefront::implicit_default());
                }
                all.retain(|sf| caller.serves(&sf.id));
                Ok(json!({ "storefronts": all }))
            }
            (Method::GET, Some(raw)) => {
                let id = StorefrontId::parse(&raw)?;
                if !caller.serves(&id) {
                    return Err(storefront::UnknownStorefront(raw).into());
                }
                Ok(json!(storefront::find(&app.store, &id).await?))
            }
            (Method::PUT, Some(raw)) => {
                let id = StorefrontId::parse(&raw)?;
                if !caller.serves(&id) {
                    return Err(StorefrontError::Forbidden.into());
                }
                let input: StorefrontInput = http::parse_json(http::body(req)?)?;
                let sf = input.validate(id, Timestamp::now())?;
                app.store.put_storefront(&sf).await?;
                tracing::info!(storefront = %sf.id, by = %caller.user, "storefront saved");
                Ok(json!(sf))
            }
            _ => Err(ApiError::method_not_allowed()),
        }
    }
    .await;
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
    let caller = http::caller(app, req).await?;
    if !caller.is_staff {
        return Err(CatalogError::Forbidden.into());
    }
    let sku = sku_param(req)?;
    let input: SkuInput = http::parse_json(http::body(req)?)?;
    let stored = app.store.put_sku(&input.validate(sku)?).await?;
    tracing::info!(sku = %stored.sku, by = %caller.user, "sku saved");
    Ok(stored)
}
