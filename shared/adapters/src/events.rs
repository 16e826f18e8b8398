//! Order events on EventBridge (the `events` feature: EventsFunction only).
//! The table's stream is the outbox: a record exists only for a committed
//! write, and its two images give the events
//! ([`domain::order::events::between`]).

use crate::app::{required, StartupError};
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use domain::order::events::OrderEvent;
use domain::order::Order;

/// The `source` of every order event.
pub const SOURCE: &str = "order-system";
/// PutEvents takes at most 10 entries and 256 KiB per call.
const MAX_ENTRIES: usize = 10;
const MAX_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("PutEvents: {0}")]
    Call(String),
    /// EventBridge took the call but refused some entries.
    #[error("{count} of {sent} events refused, first {id}: {code}")]
    Refused {
        count: usize,
        sent: usize,
        id: String,
        code: String,
    },
    #[error("event {0} is larger than an EventBridge entry may be")]
    TooLarge(String),
}

/// The bus the order events go to (`EVENT_BUS_NAME`).
#[derive(Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        Ok(Self::new(
            aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(sdk)
                    .interceptor(crate::xray::XRayInterceptor::default())
                    .build(),
            ),
            required("EVENT_BUS_NAME")?,
        ))
    }

    /// Puts `events` on the bus, in calls of at most 10 entries and 256 KiB.
    /// All or error: a refused entry fails the whole put, and the stream
    /// record is delivered again (the same ids: consumers drop what they saw).
    pub async fn put(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        let mut batch: Vec<(String, PutEventsRequestEntry)> = Vec::new();
        let mut bytes = 0;
        for e in events {
            let detail = serde_json::to_string(e).map_err(|x| PublishError::Call(x.to_string()))?;
            // EventBridge counts the detail, detail type, source and resources.
            let size = detail.len() + e.kind.as_str().len() + SOURCE.len() + 64;
            if size > MAX_BYTES {
                return Err(PublishError::TooLarge(e.id.clone()));
            }
            if batch.len() == MAX_ENTRIES || bytes + size > MAX_BYTES {
                self.send(std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += size;
            let entry = PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus)
                .source(SOURCE)
                .detail_type(e.kind.as_str())
                .detail(detail)
                .time(DateTime::from_millis(e.at.unix_millis()))
                .build();
            batch.push((e.id.clone(), entry));
        }
        if !batch.is_empty() {
            self.send(batch).await?;
        }
        Ok(())
    }

    async fn send(&self, batch: Vec<(String, PutEventsRequestEntry)>) -> Result<(), PublishError> {
        let sent = batch.len();
        let (ids, entries): (Vec<String>, Vec<PutEventsRequestEntry>) = batch.into_iter().unzip();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| PublishError::Call(DisplayErrorContext(e).to_string()))?;
        if out.failed_entry_count == 0 {
            return Ok(());
        }
        let results = out.entries.unwrap_or_default();
        let (i, first) = results
            .iter()
            .enumerate()
            .find(|(_, r)| r.error_code.is_some())
            .map(|(i, r)| (i, r.error_code.clone().unwrap_or_default()))
            .unwrap_or((0, "unknown".to_owned()));
        Err(PublishError::Refused {
            count: out.failed_entry_count as usize,
            sent,
            id: ids.get(i).cloned().unwrap_or_default(),
            code: first,
        })
    }
}

/// The order a stream image holds: None for an empty image (an insert's
/// old one) and for every item that is not an order (stock, limits...).
pub fn order_of(image: &serde_dynamo::Item) -> Result<Option<Order>, String> {
    let is_order = matches!(
        image.get(crate::dynamo::keys::ENTITY),
        Some(serde_dynamo::AttributeValue::S(e)) if e == "order"
    );
    if !is_order {
        return Ok(None);
    }
    serde_dynamo::from_item(image.clone())
        .map(Some)
        .map_err(|e| format!("an order image does not decode: {e}"))
}
