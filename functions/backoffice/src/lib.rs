//! The back office's routes (SPEC 2.11): so far `POST /orders/{id}/notes`
//! (support, admin).

use adapters::http::{self, ApiError, RouteId};
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::backoffice::notes::{add_note, Note, NoteError};
use domain::order::read::parse_order_id;
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
    Ok(json!(OrderView::new(
        &order,
        &caller,
        &b.app.config,
        Timestamp::now()
    )))
}

impl http::RequestScoped for Backoffice {
    fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
