//! Package status sync (SPEC 2.5): `POST /suppliers/{supplier}/package-status`
//! (signed), `POST /packages/{package_id}/ship` (staff) and
//! `POST /packages/{package_id}/confirm-receipt` (owner or staff), and
//! `POST /packages/{package_id}/resolve` (staff, SPEC 2.11: an intercept
//! nobody answered, a hand-over the queue gave up on).

use adapters::http::{self, ApiError, RouteId};
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::fulfilment::packages::{self, Resolve, Shipment, StatusCallback, SyncError};
use domain::ids::PackageId;
use domain::payment::signature::SupplierSecrets;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct StatusSync {
    pub app: App,
    pub publisher: SqsPublisher,
    /// `SUPPLIER_WEBHOOK_SECRETS`: each supplier's own key.
    pub secrets: SupplierSecrets,
}

pub async fn handle(s: &StatusSync, req: Request) -> Response<Body> {
    let s = &http::for_request(s, &req);
    let result = match http::route(&req, "status-sync") {
        Ok(RouteId::SupplierPackageStatus) => {
            let supplier = http::path_param(&req, "supplier").unwrap_or_default();
            callback(s, &req, &supplier).await
        }
        Ok(RouteId::ShipPackage) => ship(s, &req).await,
        Ok(RouteId::ResolvePackage) => resolve(s, &req).await,
        Ok(RouteId::ConfirmReceipt) => confirm(s, &req).await,
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

async fn callback(s: &StatusSync, req: &Request, supplier: &str) -> Result<Value, ApiError> {
    let body = http::verified_body(req, |body, sig| s.secrets.verify(supplier, body, sig))?;
    let cb = StatusCallback::parse(body)?;
    let synced = packages::supplier_status(
        &s.app.store,
        &s.publisher,
        &s.app.config,
        supplier,
        &cb,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(package = %synced.package_id, supplier, status = ?cb.status, applied = synced.applied, "supplier status");
    Ok(json!(synced))
}

fn package_id(req: &Request) -> Result<PackageId, ApiError> {
    http::path_param(req, "package_id")
        .and_then(|p| PackageId::parse(&p).ok())
        .ok_or_else(|| SyncError::NotFound.into())
}

async fn ship(s: &StatusSync, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&s.app, req).await?;
    let id = package_id(req)?;
    let shipment = Shipment::parse(http::body(req)?)?;
    let now = Timestamp::now();
    let order = packages::ship(
        &s.app.store,
        &s.publisher,
        &s.app.config,
        &caller,
        &id,
        &shipment,
        now,
    )
    .await?;
    tracing::info!(package = %id, by = %caller.user, "package shipped by staff");
    Ok(json!(OrderView::new(&order, &caller, &s.app.config, now)))
}

async fn confirm(s: &StatusSync, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&s.app, req).await?;
    let id = package_id(req)?;
    let now = Timestamp::now();
    let order = packages::confirm_receipt(&s.app.store, &s.publisher, &caller, &id, now).await?;
    tracing::info!(package = %id, by = %caller.user, "receipt confirmed");
    Ok(json!(OrderView::new(&order, &caller, &s.app.config, now)))
}

async fn resolve(s: &StatusSync, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&s.app, req).await?;
    let id = package_id(req)?;
    let body = Resolve::parse(http::body(req)?)?;
    let now = Timestamp::now();
    let order = packages::resolve(
        &s.app.store,
        &s.publisher,
        &s.app.config,
        &caller,
        &id,
        &body,
        now,
    )
    .await?;
    tracing::info!(package = %id, by = %caller.user, outcome = ?body.outcome, "package resolved by staff");
    Ok(json!(OrderView::new(&order, &caller, &s.app.config, now)))
}

impl http::RequestScoped for StatusSync {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
