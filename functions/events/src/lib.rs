//! The order events: each record of the table's stream (an order written,
//! both images) becomes the events of that change
//! ([`domain::order::events::between`]) on the EventBridge bus. Records are
//! taken in order; the first that cannot be published is reported as the
//! batch's failure, so Lambda retries from it (and, once its retries are
//! spent, hands the batch to the on-failure queue).

use adapters::events::{order_of, EventBus};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::order::events::{between, OrderEvent};

pub struct Events {
    pub bus: EventBus,
}

/// The events one stream record makes (none for anything but an order).
pub fn events_of(record: &EventRecord) -> Result<Vec<OrderEvent>, String> {
    let old = order_of(&record.change.old_image)?;
    let Some(new) = order_of(&record.change.new_image)? else {
        return Ok(Vec::new());
    };
    Ok(between(old.as_ref(), &new))
}

pub async fn handle(e: &Events, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut published = 0;
    for record in &event.records {
        let seq = record.change.sequence_number.clone();
        let result = match events_of(record) {
            Ok(events) if events.is_empty() => Ok(0),
            Ok(events) => e
                .bus
                .put(&events)
                .await
                .map(|()| events.len())
                .map_err(|x| x.to_string()),
            Err(why) => Err(why),
        };
        match result {
            Ok(n) => published += n,
            Err(why) => {
                metrics::counter!("EventPublishFailures").increment(1);
                tracing::error!(sequence = seq.as_deref(), error = %why, "order events not published; the batch is retried from this record");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = seq;
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    metrics::counter!("EventsPublished").increment(published as u64);
    tracing::info!(records = event.records.len(), published, "stream batch");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// events/events-stream.json (records as Lambda hands them: a SKU
    /// written, an order placed, the order paid).
    #[test]
    fn the_sample_batch_tells_placed_then_paid_and_nothing_for_stock() {
        let event: Event =
            serde_json::from_str(include_str!("../../../events/events-stream.json")).unwrap();
        let told: Vec<Vec<&'static str>> = event
            .records
            .iter()
            .map(|r| {
                events_of(r)
                    .unwrap()
                    .iter()
                    .map(|e| e.kind.as_str())
                    .collect()
            })
            .collect();
        assert_eq!(told, [vec![], vec!["order.placed"], vec!["order.paid"]]);
    }
}
