//! `PUT /skus/{sku}` (staff), `GET /skus/{sku}`; the storefronts (SPEC 2.13,
//! staff): `PUT /storefronts/{id}`, `GET /storefronts/{id}`, `GET /storefronts`.

use adapters::http::{self, ApiError, RouteId};
use adapters::App;
use domain::catalog::{CatalogError, Sku, SkuInput};
use domain::ids::SkuId;
use domain::ports::{Catalog, Storefronts};
use domain::storefront::{self, Storefront, StorefrontError, StorefrontId, StorefrontInput};
use domain::time::Timestamp;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let app = &http::for_request(app, &req);
    let result = match http::route(&req, "catalog") {
        Ok(RouteId::GetSku) => get(app, &req).await.map(|s| json!(s)),
        Ok(RouteId::PutSku) => put(app, &req).await.map(|s| json!(s)),
        Ok(
            route @ (RouteId::ListStorefronts | RouteId::GetStorefront | RouteId::PutStorefront),
        ) => storefronts(app, &req, route).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

async fn storefronts(app: &App, req: &Request, route: RouteId) -> Result<Value, ApiError> {
    let caller = http::caller(app, req).await?;
    if !caller.is_staff() {
        return Err(StorefrontError::Forbidden.into());
    }
    let id = http::path_param(req, "id").unwrap_or_default();
    match route {
        RouteId::ListStorefronts => {
            let mut all = app.store.list_storefronts().await?;
            if !all.iter().any(|sf| sf.id.is_default()) {
                all.insert(0, Storefront::implicit_default());
            }
            all.retain(|sf| caller.serves(&sf.id));
            Ok(json!({ "storefronts": all }))
        }
        RouteId::GetStorefront => {
            let id = StorefrontId::parse(&id)?;
            if !caller.serves(&id) {
                return Err(storefront::UnknownStorefront(id.to_string()).into());
            }
            Ok(json!(storefront::find(&app.store, &id).await?))
        }
        _ => {
            let id = StorefrontId::parse(&id)?;
            // SPEC 2.11: storefront writes need an admin with no storefront limit.
            if !caller.is_admin_of_all() {
                return Err(StorefrontError::Forbidden.into());
            }
            let input: StorefrontInput = http::parse_json(http::body(req)?)?;
            let sf = input.validate(id, Timestamp::now())?;
            app.store.put_storefront(&sf).await?;
            tracing::info!(storefront = %sf.id, by = %caller.user, "storefront saved");
            Ok(json!(sf))
        }
    }
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
    // SPEC 2.11: catalog writes need an admin with no storefront limit.
    if !caller.is_admin_of_all() {
        return Err(CatalogError::Forbidden.into());
    }
    let sku = sku_param(req)?;
    let input: SkuInput = http::parse_json(http::body(req)?)?;
    let stored = app.store.put_sku(&input.validate(sku)?).await?;
    tracing::info!(sku = %stored.sku, by = %caller.user, "sku saved");
    Ok(stored)
}
