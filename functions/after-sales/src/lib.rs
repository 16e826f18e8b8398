//! After-sales (SPEC 2.8): `POST /after-sales/uploads` (a presigned PUT for
//! proof), `POST /orders/{id}/after-sales`, `GET /after-sales/{case_id}`, and
//! the case's steps `review` (staff), `return-shipment`, `complete` (staff)
//! and `withdraw`. Staff see cited proof as presigned GETs.

use adapters::http::{self, ApiError, RouteId};
use adapters::proofs::S3Proofs;
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::after_sales::case::AfterSalesCase;
use domain::after_sales::uploads::{self, UploadRequest};
use domain::after_sales::{self, CaseError, CaseStep, OpenCase};
use domain::ids::Caller;
use domain::ids::CaseId;
use domain::order::read::parse_order_id;
use domain::time::Timestamp;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct AfterSales {
    pub app: App,
    pub publisher: SqsPublisher,
    pub proofs: S3Proofs,
}

pub async fn handle(a: &AfterSales, req: Request) -> Response<Body> {
    let a = &http::for_request(a, &req);
    let step = match http::route(&req, "after-sales") {
        Ok(RouteId::UploadProof) => return http::respond(StatusCode::OK, upload(a, &req).await),
        Ok(RouteId::OpenAfterSalesCase) => {
            return http::respond(StatusCode::CREATED, open(a, &req).await)
        }
        Ok(RouteId::GetAfterSalesCase) => return http::respond(StatusCode::OK, get(a, &req).await),
        Ok(RouteId::ReviewAfterSalesCase) => {
            http::body(&req).and_then(|b| Ok(CaseStep::parse_review(b)?))
        }
        Ok(RouteId::ShipAfterSalesReturn) => {
            http::body(&req).and_then(|b| Ok(CaseStep::parse_return(b)?))
        }
        Ok(RouteId::CompleteAfterSalesCase) => {
            http::body(&req).and_then(|b| Ok(CaseStep::parse_complete(b)?))
        }
        Ok(RouteId::WithdrawAfterSalesCase) => Ok(CaseStep::Withdraw),
        Ok(_) => Err(ApiError::no_route()),
        Err(e) => Err(e),
    };
    let result = match step {
        Ok(step) => advance(a, &req, &step).await,
        Err(e) => Err(e),
    };
    http::respond(StatusCode::OK, result)
}

fn case_id(req: &Request) -> Result<CaseId, ApiError> {
    http::path_param(req, "case_id")
        .and_then(|c| CaseId::parse(&c).ok())
        .ok_or_else(|| CaseError::NotFound.into())
}

async fn open(a: &AfterSales, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&a.app, req).await?;
    let order_id = parse_order_id(http::path_param(req, "id").as_deref())
        .map_err(|_| ApiError::from(CaseError::OrderNotFound))?;
    let body = OpenCase::parse(http::body(req)?)?;
    let case = after_sales::open_case(
        &a.app.store,
        &a.publisher,
        &a.app.config,
        &caller,
        &order_id,
        &body,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(case = %case.id, by = %caller.user, "after-sales case opened");
    shown(a, &caller, case).await
}

async fn upload(a: &AfterSales, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&a.app, req).await?;
    let body = UploadRequest::parse(http::body(req)?)?;
    let upload = uploads::request_upload(&a.proofs, &caller, &body, Timestamp::now()).await?;
    tracing::info!(key = %upload.key, by = %caller.user, "proof upload URL issued");
    Ok(json!(upload))
}

/// A case as `caller` sees it: staff get each cited key as a presigned GET.
async fn shown(
    a: &AfterSales,
    caller: &Caller,
    mut case: AfterSalesCase,
) -> Result<Value, ApiError> {
    if caller.is_staff() {
        case.evidence = uploads::evidence_for_staff(&a.proofs, &case.evidence).await?;
    }
    Ok(json!(case))
}

async fn get(a: &AfterSales, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&a.app, req).await?;
    let id = case_id(req)?;
    let case = after_sales::get_case(&a.app.store, &caller, &id).await?;
    shown(a, &caller, case).await
}

async fn advance(a: &AfterSales, req: &Request, step: &CaseStep) -> Result<Value, ApiError> {
    let caller = http::caller(&a.app, req).await?;
    let id = case_id(req)?;
    let case = after_sales::step_case(
        &a.app.store,
        &a.publisher,
        &caller,
        &id,
        step,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(case = %case.id, status = case.status().as_str(), by = %caller.user, "after-sales step");
    shown(a, &caller, case).await
}

impl http::RequestScoped for AfterSales {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
