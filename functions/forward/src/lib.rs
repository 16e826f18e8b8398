//! The forward-queue consumer (SPEC 2.4). Each failed message is reported in
//! the partial batch response, so only it is retried (and, after
//! maxReceiveCount, moved to the dead-letter queue).

use adapters::sqs::SqsPublisher;
use adapters::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use domain::fulfil::{handle as handle_message, parse_message, FulfilError, Handled};
use domain::time::Timestamp;
use suppliers::SupplierRouter;

pub struct Forward {
    pub app: App,
    pub publisher: SqsPublisher,
    pub suppliers: SupplierRouter,
}

async fn one(f: &Forward, m: &SqsMessage) -> Result<Handled, FulfilError> {
    let message = parse_message(m.body.as_deref().unwrap_or_default())?;
    handle_message(
        &f.app.store,
        &f.publisher,
        &f.suppliers,
        &message,
        Timestamp::now(),
    )
    .await
}

pub async fn handle(f: &Forward, event: SqsEvent) -> SqsBatchResponse {
    let results = futures::future::join_all(event.records.iter().map(|m| one(f, m))).await;
    let mut response = SqsBatchResponse::default();
    for (m, result) in event.records.iter().zip(results) {
        let id = m.message_id.clone().unwrap_or_default();
        match result {
            Ok(handled) => tracing::info!(message = %id, ?handled, "handled"),
            Err(e) => {
                tracing::warn!(message = %id, error = %e, "will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
