//! The forward-queue consumer (SPEC 2.4). Each failed message is reported in
//! the partial batch response, so only it is retried (and, after
//! maxReceiveCount, moved to the dead-letter queue).

use adapters::sqs::SqsPublisher;
use adapters::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use domain::fulfilment::fulfil::{
    give_up, handle as handle_message, parse_message, FulfilError, Handled,
};
use domain::time::Timestamp;
use suppliers::SupplierRouter;

pub struct Forward {
    pub app: App,
    pub publisher: SqsPublisher,
    pub suppliers: SupplierRouter,
    /// The queue's `maxReceiveCount`: a message failing on its last receive
    /// goes to the dead-letter queue, so its order is told first.
    pub max_receives: u32,
}

/// `FORWARD_MAX_RECEIVES`, as the template's redrive policy says (5).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

async fn one(f: &Forward, m: &SqsMessage) -> Result<Handled, FulfilError> {
    let message = parse_message(m.body.as_deref().unwrap_or_default())?;
    let now = Timestamp::now();
    let result = handle_message(&f.app.store, &f.publisher, &f.suppliers, &message, now).await;
    if let Err(e) = &result {
        let receives: u32 = m
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if receives >= f.max_receives {
            let cause = format!("gave up after {receives} attempts: {e}");
            if let Err(e) = give_up(&f.app.store, &f.publisher, &message, &cause, now).await {
                tracing::error!(error = %e, "could not record a message given up");
            }
        }
    }
    result
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
                // Ours, not a supplier's or the table's pressure: what a
                // deployment's rollback watches (ForwardInternalErrorAlarm).
                let ours = !matches!(
                    e,
                    FulfilError::Supplier(_)
                        | FulfilError::Busy
                        | FulfilError::Store(domain::error::StoreError::Busy(_))
                );
                metrics::counter!("ForwardRetries").increment(1);
                if ours {
                    metrics::counter!("ForwardInternalErrors").increment(1);
                }
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
