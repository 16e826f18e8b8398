//! The back office's routes (SPEC 2.11): staff notes, the work queues, the
//! attention list and its acknowledgement, order search and the summary.

use adapters::http::{self, ApiError, RouteId};
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::backoffice::acknowledge::{acknowledge, AcknowledgeInput};
use domain::backoffice::notes::{add_note, Note, NoteError};
use domain::backoffice::queues::QueuePage;
use domain::backoffice::work::{self, Paging, WorkError};
use domain::ids::{Caller, WarehouseId};
use domain::order::read::{parse_limit, parse_order_id};
use domain::ports::Storefronts;
use domain::storefront::StorefrontId;
use domain::time::Timestamp;
use domain::view::OrderView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Backoffice {
    pub app: App,
    pub publisher: SqsPublisher,
}

pub async fn handle(b: &Backoffice, req: Request) -> Response<Body> {
    let b = &http::for_request(b, &req);
    match http::route(&req, "backoffice") {
        Ok(RouteId::AddOrderNote) => http::respond(StatusCode::CREATED, note(b, &req).await),
        Ok(RouteId::StaffPackages) => http::respond(StatusCode::OK, packages(b, &req).await),
        Ok(RouteId::StaffAfterSales) => http::respond(StatusCode::OK, after_sales(b, &req).await),
        Ok(RouteId::StaffAttention) => http::respond(StatusCode::OK, attention(b, &req).await),
        Ok(RouteId::StaffOrders) => http::respond(StatusCode::OK, search(b, &req).await),
        Ok(RouteId::StaffSummary) => http::respond(StatusCode::OK, summary(b, &req).await),
        Ok(RouteId::AcknowledgeAttention) => {
            http::respond(StatusCode::OK, acknowledge_item(b, &req).await)
        }
        Ok(_) => ApiError::no_route().into_response(),
        Err(e) => e.into_response(),
    }
}

async fn note(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&b.app, req).await?;
    let id = parse_order_id(http::path_param(req, "id").as_deref())
        .map_err(|_| ApiError::from(NoteError::NotFound))?;
    let note = Note::parse(http::body(req)?)?;
    let order = add_note(
        &b.app.store,
        &b.publisher,
        &caller,
        &id,
        &note,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(order = %order.id, by = %caller.user, "note added");
    Ok(order_answer(b, &order, &caller))
}

fn order_answer(b: &Backoffice, order: &domain::order::Order, caller: &Caller) -> Value {
    json!(OrderView::new(
        order,
        caller,
        &b.app.config,
        Timestamp::now()
    ))
}

/// The caller, the storefronts its read covers and its page. A caller
/// without any role the list may serve (`warehouse`: warehouse users read
/// too) is refused before anything else is looked at.
async fn staff_read(
    b: &Backoffice,
    req: &Request,
    warehouse: bool,
) -> Result<(Caller, Vec<StorefrontId>, Paging), ApiError> {
    let caller = http::caller(&b.app, req).await?;
    let reads = caller.is_staff() || (warehouse && caller.roles.warehouse.is_some());
    if !reads {
        return Err(WorkError::Forbidden.into());
    }
    let known: Vec<StorefrontId> = b
        .app
        .store
        .list_storefronts()
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let storefronts = work::storefronts_to_read(
        http::query_param(req, "storefront").as_deref(),
        &caller,
        &known,
    )?;
    let limit = parse_limit(http::query_param(req, "limit").as_deref())
        .map_err(|_| WorkError::InvalidLimit)?;
    let cursor = http::query_param(req, "cursor");
    Ok((caller, storefronts, Paging { limit, cursor }))
}

fn page(key: &str, p: QueuePage) -> Value {
    json!({ key: p.entries, "next_cursor": p.next_cursor })
}

async fn packages(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let (caller, storefronts, paging) = staff_read(b, req, true).await?;
    let store = &b.app.store;
    // Parsed whatever the queue: a malformed one is refused, not ignored.
    let warehouse = http::query_param(req, "warehouse")
        .map(|w| WarehouseId::parse(&w).map_err(|e| WorkError::InvalidRequest(e.to_string())))
        .transpose()?;
    let p = match http::query_param(req, "queue").as_deref() {
        Some("to_ship") => work::pick_list(store, &caller, warehouse, storefronts, paging).await?,
        Some("overdue") => {
            work::overdue(
                store,
                &caller,
                &b.app.config,
                storefronts,
                paging,
                Timestamp::now(),
            )
            .await?
        }
        _ => {
            return Err(WorkError::InvalidRequest("queue must be to_ship or overdue".into()).into())
        }
    };
    Ok(page("packages", p))
}

async fn after_sales(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let (caller, storefronts, paging) = staff_read(b, req, false).await?;
    let status = work::parse_case_status(http::query_param(req, "status").as_deref())?;
    let p = work::after_sales(&b.app.store, &caller, status, storefronts, paging).await?;
    Ok(page("cases", p))
}

async fn attention(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let (caller, storefronts, paging) = staff_read(b, req, false).await?;
    let p = work::attention(&b.app.store, &caller, storefronts, paging).await?;
    Ok(page("items", p))
}

fn time_param(req: &Request, name: &str) -> Result<Option<Timestamp>, WorkError> {
    http::query_param(req, name)
        .map(|t| {
            Timestamp::parse(&t)
                .map_err(|_| WorkError::InvalidRequest(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

async fn search(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let (caller, storefronts, paging) = staff_read(b, req, false).await?;
    let by = work::parse_search(
        http::query_param(req, "status").as_deref(),
        http::query_param(req, "user_id").as_deref(),
    )?;
    let range = (time_param(req, "from")?, time_param(req, "to")?);
    let found = work::search(&b.app.store, &caller, by, range, storefronts, paging).await?;
    let orders: Vec<Value> = found
        .orders
        .iter()
        .map(|o| order_answer(b, o, &caller))
        .collect();
    Ok(json!({ "orders": orders, "next_cursor": found.next_cursor }))
}

async fn summary(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let (caller, storefronts, _) = staff_read(b, req, true).await?;
    let s = work::summary(
        &b.app.store,
        &caller,
        &b.app.config,
        storefronts,
        Timestamp::now(),
    )
    .await?;
    Ok(json!(s))
}

async fn acknowledge_item(b: &Backoffice, req: &Request) -> Result<Value, ApiError> {
    let caller = http::caller(&b.app, req).await?;
    let item = http::path_param(req, "item_id").unwrap_or_default();
    let note = AcknowledgeInput::parse(http::body(req)?)?;
    let order = acknowledge(
        &b.app.store,
        &b.publisher,
        &caller,
        &item,
        &note,
        Timestamp::now(),
    )
    .await?;
    tracing::info!(order = %order.id, item = %item, by = %caller.user, "attention item acknowledged");
    Ok(order_answer(b, &order, &caller))
}

impl http::RequestScoped for Backoffice {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
